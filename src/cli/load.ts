/**
 * Shared by check and render: read the policy directory and the base file, run the
 * pipeline, and report what was ignored (debug) and what is wrong (stderr).
 */
import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import { error, formatDiagnostic, type Diagnostic } from '../diagnostic.js';
import type { Logger } from '../log.js';
import { buildRegistriesConf, type PipelineResult, type SourceText } from '../pipeline.js';
import { readPolicyDir } from '../policy-dir.js';

export interface LoadOptions {
  readonly policyDir: string;
  readonly base?: string;
  readonly output: string;
  readonly allowUnsafe: boolean;
}

export interface Loaded extends PipelineResult {
  readonly policyDirExists: boolean;
}

export async function loadAndBuild(opts: LoadOptions, log: Logger): Promise<Loaded> {
  const dir = await readPolicyDir(opts.policyDir, { allowUnsafe: opts.allowUnsafe });
  for (const f of dir.ignored) log.debug({ fragment: f.name, reason: f.why }, `ignored ${f.name}: ${f.why}`);
  const diagnostics: Diagnostic[] = [...dir.diagnostics];
  if (!dir.exists) diagnostics.push({ ...error({ file: opts.policyDir }, 'policy directory does not exist'), severity: 'warning' });
  let base: SourceText | undefined;
  if (opts.base !== undefined) {
    try {
      base = { file: opts.base, text: await fs.readFile(opts.base, 'utf8') };
    } catch (e) {
      diagnostics.push(error({ file: opts.base }, `cannot read base file: ${(e as Error).message}`));
    }
  }
  const result = buildRegistriesConf({ ...(base ? { base } : {}), fragments: dir.fragments }, { file: basename(opts.output) });
  return { ...result, diagnostics: [...diagnostics, ...result.diagnostics], policyDirExists: dir.exists };
}

export function printDiagnostics(ds: readonly Diagnostic[], write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  for (const d of ds) write(formatDiagnostic(d));
}
