/**
 * The policy subcommands: check, render, import. Each returns its exit code:
 * 0 done, 1 invalid input (nothing written), 2 usage error (thrown as UsageError).
 */
import { promises as fs } from 'node:fs';
import { basename, dirname } from 'node:path';
import { hasErrors, UsageError } from '../diagnostic.js';
import { replacedLinkMessage, writeFileAtomic } from '../atomic-write.js';
import { DEFAULT_OUTPUT, DEFAULT_POLICY_DIR } from '../defaults.js';
import { parseOpenShiftFragment } from '../fragment/openshift.js';
import { fragmentToToml } from '../import.js';
import { createLogger, type Logger } from '../log.js';
import { classifyFile, defaultBase, keepCopy } from '../managed-file.js';
import { COMMON_OPTIONS, logSettings, parse } from './args.js';
import { loadAndBuild, printDiagnostics } from './load.js';
import { usage } from './usage.js';
import { readDropIns } from '../drop-ins.js';
import { findShadowing } from '../shadowing.js';
import { managingDaemon } from './daemon-commands.js';
import { DEFAULT_STATE_DIR } from '../daemon/config.js';

export interface CommandIO {
  readonly stdout: (s: string) => void;
  readonly log?: Logger;
}

const POLICY_OPTIONS = {
  ...COMMON_OPTIONS,
  'policy-dir': { type: 'string' },
  base: { type: 'string' },
  'allow-unsafe-fragments': { type: 'boolean' },
} as const;

function summary(conf: { registries: Array<{ mirrors: unknown[] }> } | undefined): { tables: number; mirrors: number } {
  const regs = conf?.registries ?? [];
  return { tables: regs.length, mirrors: regs.reduce((n, r) => n + r.mirrors.length, 0) };
}

export async function checkCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, { ...POLICY_OPTIONS, output: { type: 'string' } });
  if (values.help) return help(io, 'check');
  const log = io.log ?? createLogger(logSettings(values));
  const output = values.output ?? DEFAULT_OUTPUT;
  const base = values.base;
  const loaded = await loadAndBuild({ policyDir: values['policy-dir'] ?? DEFAULT_POLICY_DIR, ...(base !== undefined ? { base } : {}), output, allowUnsafe: values['allow-unsafe-fragments'] === true }, log);
  const shadowing = loaded.conf ? findShadowing(loaded.conf, await readDropIns(output)) : [];
  printDiagnostics([...loaded.diagnostics, ...shadowing]);
  if (hasErrors(loaded.diagnostics)) return 1;
  const { tables, mirrors } = summary(loaded.conf);
  log.info({ fragments: loaded.fragments.length, tables, mirrors }, `policy is valid: ${loaded.fragments.length} fragments, ${tables} tables, ${mirrors} mirrors`);
  return 0;
}

export async function renderCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, { ...POLICY_OPTIONS, output: { type: 'string', short: 'o' }, stdout: { type: 'boolean' }, 'state-dir': { type: 'string' }, force: { type: 'boolean' } });
  if (values.help) return help(io, 'render');
  if (values.stdout && values.output !== undefined) throw new UsageError('--output and --stdout exclude each other');
  const log = io.log ?? createLogger(logSettings(values));
  const output = values.output ?? DEFAULT_OUTPUT;
  const started = performance.now();
  if (!values.stdout && !values.force) {
    const pid = await managingDaemon(values['state-dir'] ?? DEFAULT_STATE_DIR, output);
    if (pid !== undefined) {
      log.error(`${output} is managed by the running mirror-policyd (pid ${pid}); it would be rendered over again. Use --force to write anyway.`);
      return 1;
    }
  }

  // Without --base the host's own file is the base: the copy we kept of it, or (first run) the file itself.
  let base = values.base;
  const state = await classifyFile(output);
  if (base === undefined && !values.stdout && state === 'foreign') {
    const kept = await keepCopy(output);
    log.info({ path: kept }, `kept the host's ${output} as ${kept}; it is the base of every render`);
    base = kept;
  }
  base ??= await defaultBase(output);

  const loaded = await loadAndBuild({ policyDir: values['policy-dir'] ?? DEFAULT_POLICY_DIR, ...(base !== undefined ? { base } : {}), output, allowUnsafe: values['allow-unsafe-fragments'] === true }, log);
  printDiagnostics(loaded.diagnostics);
  if (hasErrors(loaded.diagnostics) || loaded.text === undefined) {
    log.error(`not rendered: the policy has errors; ${values.stdout ? 'nothing printed' : `${output} left as it was`}`);
    return 1;
  }
  if (values.stdout) {
    io.stdout(loaded.text);
    return 0;
  }
  if (state === 'edited') {
    const kept = await keepCopy(output, `${output}.edited-by-hand`);
    log.warn({ path: kept }, `${output} was edited by hand since we wrote it; the edited copy is kept as ${kept}`);
  }
  await fs.mkdir(dirname(output), { recursive: true, mode: 0o755 });
  const written = await writeFileAtomic(output, loaded.text);
  logReplacedLink(log, output, written.replacedLink);
  const { changed } = written;
  const { tables, mirrors } = summary(loaded.conf);
  const ms = Math.round(performance.now() - started);
  log.info({ path: output, changed, fragments: loaded.fragments.length, tables, mirrors, ms }, `${changed ? 'rendered' : 'unchanged'} ${output}: ${loaded.fragments.length} fragments, ${tables} tables, ${mirrors} mirrors, ${ms} ms`);
  return 0;
}

export async function importCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, COMMON_OPTIONS, 1);
  if (values.help) return help(io, 'import');
  const file = positionals[0];
  if (file === undefined) throw new UsageError('import needs a FILE (an OpenShift YAML file)');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    process.stderr.write(`${file}: cannot read: ${(e as Error).message}\n`);
    return 1;
  }
  const parsed = parseOpenShiftFragment(text, file);
  printDiagnostics(parsed.diagnostics);
  if (!parsed.fragment || hasErrors(parsed.diagnostics)) return 1;
  io.stdout(fragmentToToml(parsed.fragment, basename(file)));
  return 0;
}

/** Says so when the write replaced a symbolic link. */
export function logReplacedLink(log: Logger, output: string, target: string | undefined): void {
  if (target !== undefined) log.warn({ path: output, linkTarget: target }, replacedLinkMessage(output, target));
}

function help(io: CommandIO, command: string): number {
  io.stdout(usage(command));
  return 0;
}
