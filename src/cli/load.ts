/**
 * Shared by check and render: read the policy directory (with any candidate files dropped
 * in) and the base file, run the pipeline, and report what was ignored (debug) and what
 * is wrong (stderr), each problem at the path as the user gave it.
 */
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { error, formatLocation, labelledDiagnostic, type Diagnostic, type Location } from '../core/diagnostic.js';
import { FRAGMENT_NAMES, classifyName, decodeFragment, decodeProblemAt } from '../fragments/index.js';
import type { Logger } from '../core/log.js';
import { buildRegistriesConf, type PipelineResult, type SourceText } from '../pipeline/strict.js';
import { DEFAULT_MAX_FRAGMENT_BYTES, oversizeMessage, readPolicyDir } from '../fragments/policy-dir.js';
import { VERSION } from '../core/version.js';
import { INVALID_UTF8, invalidUtf8Line } from '../registries-conf/parse.js';

export interface LoadOptions {
  readonly policyDir: string;
  readonly base?: string;
  readonly output: string;
  readonly allowUnsafe: boolean;
  /** The cap on a fragment's size (default DEFAULT_MAX_FRAGMENT_BYTES), candidates included. */
  readonly maxFragmentBytes?: number;
  /**
   * Files to check as if dropped into the policy directory (`check FILE...`): each goes by
   * its base name and replaces the fragment of that name. Not held to the directory's
   * ownership rules: they apply where the file will live, once it is there.
   */
  readonly candidates?: readonly string[];
  /** containerd's hosts directory rendered too, named in the header. */
  readonly containerdHostsDir?: string;
}

export interface Loaded extends PipelineResult {
  readonly policyDirExists: boolean;
}

/**
 * check and render need the directory: a missing one is a mistake (a mistyped --policy-dir),
 * not an empty policy. An existing, empty directory is a valid, empty policy.
 */
export async function missingPolicyDir(dir: string): Promise<Diagnostic | undefined> {
  try {
    await fs.stat(dir);
    return undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined; // readPolicyDir reports it, with its reason
    return error({ file: dir }, 'policy directory does not exist (create it, or name another with --policy-dir; an empty directory is an empty policy)');
  }
}

async function readCandidate(path: string, maxBytes: number): Promise<{ source?: SourceText; diagnostic?: Diagnostic }> {
  const name = basename(path);
  const cls = classifyName(name);
  if ('ignored' in cls)
    return { diagnostic: error({ file: path }, `the policy directory would ignore a file named "${name}" (${cls.ignored}); name it ${FRAGMENT_NAMES}`) };
  try {
    const bytes = await fs.readFile(path);
    if (bytes.length > maxBytes) return { diagnostic: error({ file: path }, oversizeMessage(bytes.length, maxBytes)) };
    const decoded = decodeFragment(bytes, cls.format);
    if ('problem' in decoded) return { diagnostic: error(decodeProblemAt({ file: path }, decoded), decoded.problem) };
    return { source: { file: name, text: decoded.text } };
  } catch (e) {
    return { diagnostic: error({ file: path }, `cannot read: ${(e as Error).message}`) };
  }
}

/**
 * Diagnostics name fragments by their base names (the daemon's status keeps those); at
 * the command line each is named by its path as the user gave it, so that editors and
 * quickfix lists can open it.
 */
export function withUserPaths(ds: readonly Diagnostic[], paths: ReadonlyMap<string, string>): Diagnostic[] {
  const place = <L extends Location>(at: L): L => {
    const path = paths.get(at.file);
    return path === undefined ? at : { ...at, file: path };
  };
  return ds.map((d) => {
    if (d.related === undefined) return place(d);
    // A message names the other side of a conflict as the location it carries: name it the same way.
    let message = d.message;
    for (const r of d.related) message = message.split(formatLocation(r)).join(formatLocation(place(r)));
    return { ...place(d), message, related: d.related.map(place) };
  });
}

export async function loadAndBuild(opts: LoadOptions, log: Logger): Promise<Loaded> {
  const maxFragmentBytes = opts.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES;
  // A one-shot command: nothing else waits on the event loop, so the read blocks (issue #15).
  const dir = await readPolicyDir(opts.policyDir, { allowUnsafe: opts.allowUnsafe, maxFragmentBytes, blocking: true });
  for (const f of dir.ignored) log.debug({ fragment: f.name, reason: f.why }, `ignored ${f.name}: ${f.why}`);
  const missing = dir.exists ? undefined : await missingPolicyDir(opts.policyDir);
  const diagnostics: Diagnostic[] = missing ? [missing] : [];
  const paths = new Map<string, string>();
  const note = (name: string): void => void (name !== opts.base && paths.set(name, join(opts.policyDir, name)));
  for (const f of dir.fragments) note(f.file);
  for (const d of dir.diagnostics) if (d.file !== opts.policyDir && !d.file.includes('/')) note(d.file);

  let fragments = dir.fragments;
  let dirDiagnostics = dir.diagnostics;
  for (const path of opts.candidates ?? []) {
    const candidate = await readCandidate(path, maxFragmentBytes);
    if (candidate.diagnostic) diagnostics.push(candidate.diagnostic);
    if (!candidate.source) continue;
    const { file } = candidate.source;
    // Same name replaces: the directory's fragment and whatever was said about it are gone.
    fragments = [...fragments.filter((f) => f.file !== file), candidate.source];
    dirDiagnostics = dirDiagnostics.filter((d) => d.file !== file);
    paths.set(file, path);
  }
  diagnostics.unshift(...dirDiagnostics);

  let base: SourceText | undefined;
  if (opts.base !== undefined) {
    let bytes: Buffer | undefined;
    try {
      bytes = await fs.readFile(opts.base);
    } catch (e) {
      diagnostics.push(
        error(
          { file: opts.base },
          `cannot read the base file: ${(e as Error).message}; --base names the registries.conf to render on top of (--base /dev/null for none)`,
        ),
      );
    }
    const badLine = bytes && invalidUtf8Line(bytes);
    if (badLine !== undefined) diagnostics.push(error({ file: opts.base, line: badLine }, `${INVALID_UTF8}: containers/image refuses the whole file`));
    else if (bytes) base = { file: opts.base, text: bytes.toString('utf8') };
  }
  const containerd = opts.containerdHostsDir !== undefined ? { containerdHostsDir: opts.containerdHostsDir } : {};
  const result = buildRegistriesConf({ base, fragments, version: VERSION, ...containerd }, { file: opts.output });
  return { ...result, diagnostics: withUserPaths([...diagnostics, ...result.diagnostics], paths), policyDirExists: dir.exists };
}

export function printDiagnostics(ds: readonly Diagnostic[], write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): void {
  for (const d of ds) write(labelledDiagnostic(d));
}

/** `check --json`: each diagnostic as data, line and column null where unknown. */
export function diagnosticJson(d: Diagnostic): Record<string, unknown> {
  const at = (l: Location): Record<string, unknown> => ({ file: l.file, line: l.line ?? null, column: l.line === undefined ? null : (l.col ?? 1) });
  return { ...at(d), severity: d.severity, message: d.message, ...(d.related ? { related: d.related.map(at) } : {}) };
}
