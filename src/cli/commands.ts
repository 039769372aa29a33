/**
 * The policy subcommands: check, render, import. Each returns its exit code:
 * 0 done, 1 invalid input (nothing written), 2 usage error (thrown as UsageError).
 * What only an option needs (containerd's files, the local mirror's address, the usage text) is
 * loaded when that option is given: a one-shot render loads no more than it runs (issue #15).
 */
import { promises as fs } from 'node:fs';
import { basename, dirname } from 'node:path';
import { hasErrors, UsageError, type Diagnostic } from '../core/diagnostic.js';
import { writeFileAtomic } from '../output/atomic-write.js';
import { DEFAULT_MAX_FRAGMENT_BYTES, DEFAULT_OUTPUT, DEFAULT_POLICY_DIR, DEFAULT_STATE_DIR, MAX_FRAGMENT_BYTES_SETTING } from '../core/defaults.js';
import { decodeFragment, parseFragment } from '../fragments/index.js';
import { parseOpenShiftFragment } from '../fragments/openshift.js';
import { fragmentToToml } from '../fragments/import.js';
import { createLogger, type Logger } from '../core/log.js';
import { classifyFile, defaultBase, keepCopy } from '../output/managed-file.js';
import { COMMON_OPTIONS, logSettings, parse } from './args.js';
import { diagnosticJson, loadAndBuild, missingPolicyDir, printDiagnostics } from './load.js';
import { unifiedDiff } from './unified-diff.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import { readDropIns } from '../registries-conf/drop-ins.js';
import { findShadowing } from '../merge/shadowing.js';
import { daemonBase, logReplacedLink, managingDaemon } from './render-output.js';
import { counted } from '../core/count.js';
import { contributes } from '../fragments/contribution.js';

export interface CommandIO {
  readonly stdout: (s: string) => void;
  readonly log?: Logger;
}

const POLICY_OPTIONS = {
  ...COMMON_OPTIONS,
  'policy-dir': { type: 'string' },
  base: { type: 'string' },
  'allow-unsafe-fragments': { type: 'boolean' },
  'max-fragment-bytes': { type: 'string' },
} as const;

/** --max-fragment-bytes, with the bounds of the daemon's config key of that name. */
function maxFragmentBytes(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_FRAGMENT_BYTES;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_FRAGMENT_BYTES_SETTING))
    throw new UsageError(`--max-fragment-bytes must be a whole number from 1 to ${MAX_FRAGMENT_BYTES_SETTING}, not ${JSON.stringify(value)}`);
  return n;
}

function summary(conf: { registries: Array<{ mirrors: unknown[] }> } | undefined): { tables: number; mirrors: number } {
  const regs = conf?.registries ?? [];
  return { tables: regs.length, mirrors: regs.reduce((n, r) => n + r.mirrors.length, 0) };
}

export async function checkCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...POLICY_OPTIONS,
      output: { type: 'string' },
      json: { type: 'boolean' },
      'containerd-hosts-dir': { type: 'string' },
      'containerd-config': { type: 'string' },
      'local-mirror': { type: 'string' },
    },
    Infinity,
  );
  if (values.help) return help(io, 'check');
  const containerdConfig = containerdConfigOption(values);
  // A usage error, before the policy directory is looked at.
  const fragmentBytes = maxFragmentBytes(values['max-fragment-bytes']);
  const localMirror = values['local-mirror'];
  if (localMirror !== undefined) {
    const { parseLocalMirrorAddress } = await import('../daemon/config.js');
    const address = parseLocalMirrorAddress(localMirror, true);
    if ('problem' in address) throw new UsageError(address.problem);
    if (values['containerd-hosts-dir'] === undefined) throw new UsageError('--local-mirror is about containerd here: it needs --containerd-hosts-dir');
  }
  const log = io.log ?? createLogger(logSettings(values));
  const json = values.json === true;
  const report = (diagnostics: readonly Diagnostic[], facts: Record<string, number> = {}): number => {
    const valid = !hasErrors(diagnostics);
    if (json) io.stdout(`${JSON.stringify({ valid, ...facts, diagnostics: diagnostics.map(diagnosticJson) }, null, 2)}\n`);
    else printDiagnostics(diagnostics);
    return valid ? 0 : 1;
  };
  const policyDir = values['policy-dir'] ?? DEFAULT_POLICY_DIR;
  const missing = await missingPolicyDir(policyDir);
  if (missing) return report([missing]);
  const output = values.output ?? DEFAULT_OUTPUT;
  const base = values.base;
  const loaded = await loadAndBuild(
    {
      policyDir,
      base,
      output,
      allowUnsafe: values['allow-unsafe-fragments'] === true,
      maxFragmentBytes: fragmentBytes,
      candidates: positionals,
    },
    log,
  );
  const shadowing = loaded.conf ? findShadowing(loaded.conf, await readDropIns(output)) : [];
  // What containerd cannot express of the policy, when its hosts directory is managed too (with the
  // local mirror on, most of it is routed through the endpoint: said, not warned about).
  const forContainerd =
    values['containerd-hosts-dir'] !== undefined && loaded.conf
      ? (await import('../containerd/hosts-toml.js')).renderHostsTomls(loaded.conf, localMirror !== undefined ? { localMirror } : {})
      : undefined;
  const hostsDir = values['containerd-hosts-dir'];
  const containerd = [
    ...(forContainerd?.warnings ?? []),
    ...(hostsDir !== undefined && forContainerd && forContainerd.files.length > 0
      ? await criReads(
          hostsDir,
          containerdConfig,
          forContainerd.files.map((f) => f.host),
        )
      : []),
  ];
  if (!json)
    for (const r of forContainerd?.routed ?? [])
      log.info(`containerd: [[registry]] "${r.prefix}" (${r.why}) is served through the local mirror at ${localMirror ?? ''}`);
  const { tables, mirrors } = summary(loaded.conf);
  // Counted: the fragments that give registries.conf something; a file of oc-mirror's companion
  // objects (CatalogSource…) or an emptied one has its own warning and is no fragment in effect.
  const fragments = loaded.fragments.filter(contributes).length;
  const diagnostics = [...loaded.diagnostics, ...shadowing, ...containerd];
  const code = report(diagnostics, { fragments, tables, mirrors });
  if (json) return code;
  if (code === 0)
    log.info({ fragments, tables, mirrors }, `policy is valid: ${counted(fragments, 'fragment')}, ${counted(tables, 'table')}, ${counted(mirrors, 'mirror')}`);
  else logInvalid(log, diagnostics);
  return code;
}

/** Whether containerd's CRI plugin reads `hostsDir`, from its config file (cri-config-file.ts). */
async function criReads(hostsDir: string, configFile: string | undefined, hosts: readonly string[]): Promise<Diagnostic[]> {
  const { criConfigWarnings } = await import('../containerd/cri-config-file.js');
  return criConfigWarnings(hostsDir, hosts, configFile);
}

/** The last line of a failed check: how many problems there are above it (a long list scrolls). */
function logInvalid(log: Logger, diagnostics: readonly Diagnostic[]): void {
  const errors = diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = diagnostics.length - errors;
  log.error({ errors, warnings }, `policy is invalid: ${counted(errors, 'error')}, ${counted(warnings, 'warning')}`);
}

export async function renderCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, {
    ...POLICY_OPTIONS,
    output: { type: 'string', short: 'o' },
    stdout: { type: 'boolean' },
    diff: { type: 'boolean' },
    'state-dir': { type: 'string' },
    force: { type: 'boolean' },
    'containerd-hosts-dir': { type: 'string' },
    'containerd-config': { type: 'string' },
  });
  if (values.help) return help(io, 'render');
  const containerdConfig = containerdConfigOption(values);
  if (values.stdout && values.output !== undefined) throw new UsageError('--output and --stdout exclude each other');
  if (values.stdout && values.diff) throw new UsageError('--diff and --stdout exclude each other');
  // A usage error, before the host's file is kept aside.
  const fragmentBytes = maxFragmentBytes(values['max-fragment-bytes']);
  const log = io.log ?? createLogger(logSettings(values));
  const output = values.output ?? DEFAULT_OUTPUT;
  const policyDir = values['policy-dir'] ?? DEFAULT_POLICY_DIR;
  const started = performance.now();
  const missing = await missingPolicyDir(policyDir);
  if (missing) {
    printDiagnostics([missing]);
    return 1;
  }
  // Reading it would fail with EISDIR, which names no path.
  if ((await fs.stat(output).catch(() => undefined))?.isDirectory()) {
    log.error(`${output} is a directory: --output names the registries.conf file to write`);
    return 1;
  }
  // --stdout and --diff write nothing: no daemon to ask, no copy to keep.
  const writes = !values.stdout && !values.diff;
  if (writes && !values.force) {
    const managed = await managingDaemon(values['state-dir'] ?? DEFAULT_STATE_DIR, output, values['containerd-hosts-dir']);
    if (managed !== undefined) {
      log.error(`${managed.path} is managed by the running mirror-policyd (pid ${managed.pid}); it would be rendered over again. Use --force to write anyway.`);
      return 1;
    }
  }

  // Without --base the host's own file is the base: the copy we kept of it, or (first run) the file
  // itself. A file not ours is kept before it is replaced, with --base too: `restore` puts it back.
  let base = values.base;
  const state = await classifyFile(output);
  if (writes && state === 'foreign') {
    const kept = await keepCopy(output);
    log.info({ path: kept }, `kept the host's ${output} as ${kept}${base === undefined ? '; it is the base of every render' : ''}`);
    base ??= kept;
  }
  if (state === 'foreign') base ??= output; // --diff, --stdout: the file the render would keep and build on
  if (base === undefined && state !== 'foreign') base = await daemonBase(values['state-dir'] ?? DEFAULT_STATE_DIR, output, values['state-dir'] !== undefined);
  base ??= await defaultBase(output);

  const loaded = await loadAndBuild(
    {
      policyDir,
      base,
      output,
      allowUnsafe: values['allow-unsafe-fragments'] === true,
      maxFragmentBytes: fragmentBytes,
      ...(values['containerd-hosts-dir'] !== undefined ? { containerdHostsDir: values['containerd-hosts-dir'] } : {}),
    },
    log,
  );
  printDiagnostics(loaded.diagnostics);
  if (hasErrors(loaded.diagnostics) || loaded.text === undefined) {
    log.error(`not rendered: the policy has errors; ${writes ? `${output} left as it was` : 'nothing printed'}`);
    return 1;
  }
  if (values.stdout) {
    io.stdout(loaded.text);
    return 0;
  }
  if (values.diff) return printDiff(io, log, output, loaded.text);
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
  log.info(
    { path: output, changed, fragments: loaded.fragments.length, tables, mirrors, ms },
    `${changed ? 'rendered' : 'unchanged'} ${output}: ${counted(loaded.fragments.length, 'fragment')}, ${counted(tables, 'table')}, ${counted(mirrors, 'mirror')}, ${ms} ms`,
  );
  const hostsDir = values['containerd-hosts-dir'];
  return hostsDir !== undefined && loaded.conf ? renderContainerdHosts(hostsDir, loaded.conf, log, containerdConfig) : 0;
}

/** `--containerd-config FILE`, which only means something beside `--containerd-hosts-dir`. */
function containerdConfigOption(values: { 'containerd-config'?: string | undefined; 'containerd-hosts-dir'?: string | undefined }): string | undefined {
  const file = values['containerd-config'];
  if (file !== undefined && values['containerd-hosts-dir'] === undefined)
    throw new UsageError('--containerd-config is read to see whether containerd reads the hosts directory: it needs --containerd-hosts-dir');
  return file;
}

/** `render --containerd-hosts-dir DIR`: containerd's hosts.toml files from the same policy; 1 when one could not be written. */
async function renderContainerdHosts(dir: string, conf: RegistriesConf, log: Logger, containerdConfig: string | undefined): Promise<number> {
  const { updateHostsDir } = await import('../containerd/hosts-dir.js');
  const outcome = await updateHostsDir(dir, conf, containerdConfig !== undefined ? { containerdConfig } : {});
  const { files } = outcome;
  printDiagnostics(outcome.warnings);
  printDiagnostics(outcome.conflicts);
  for (const e of outcome.edited)
    log.warn({ path: dir, host: e.host, savedAs: e.savedAs }, `${e.host}/hosts.toml was edited by hand; the edited copy is kept as ${e.savedAs}`);
  log.info(
    { path: dir, hosts: files.length, written: outcome.written, removed: outcome.removed },
    `containerd hosts in ${dir}: ${files.length} host(s), ${outcome.written.length} written, ${outcome.removed.length} removed, ${outcome.conflicts.length} left alone`,
  );
  return outcome.conflicts.length > 0 ? 1 : 0;
}

/** `render --diff`: what a render would change in OUTPUT, as a unified diff; nothing is written. */
async function printDiff(io: CommandIO, log: Logger, output: string, rendered: string): Promise<number> {
  let current = '';
  try {
    current = await fs.readFile(output, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      process.stderr.write(`${output}: cannot read: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const diff = unifiedDiff(current, rendered, output, `${output} (rendered)`);
  if (diff === '') log.info({ path: output }, `no change: ${output} is what a render would write`);
  else io.stdout(diff);
  return 0;
}

/** How `import` names standard input (`import -`) in messages and in the fragment's header. */
const STDIN_NAME = '<stdin>';

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A native fragment given to `import` (by its name, or by content that is no OpenShift
 * YAML but a valid native fragment): there is nothing to convert; say so, not YAML errors.
 */
function alreadyNative(name: string, text: string, openShiftFailed: boolean): boolean {
  if (name.endsWith('.toml')) return true;
  if (!openShiftFailed || text.trim() === '') return false;
  const toml = parseFragment(name, 'toml', text);
  return toml.fragment !== undefined && !hasErrors(toml.diagnostics);
}

export async function importCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parse(args, COMMON_OPTIONS, 1);
  if (values.help) return help(io, 'import');
  logSettings(values); // refused as usage when wrong, as by every command (import writes no log)
  const file = positionals[0];
  if (file === undefined) throw new UsageError('import needs a FILE (OpenShift objects in YAML or JSON, or - for standard input)');
  const name = file === '-' ? STDIN_NAME : file;
  let bytes: Buffer;
  try {
    bytes = file === '-' ? await readStdin() : await fs.readFile(file);
  } catch (e) {
    process.stderr.write(`${name}: cannot read: ${(e as Error).message}\n`);
    return 1;
  }
  // Decoded as a fragment is (UTF-8, or UTF-16 with its byte order mark), not with U+FFFD for what is not.
  const decoded = decodeFragment(bytes, name.endsWith('.toml') ? 'toml' : 'yaml');
  if ('problem' in decoded) {
    process.stderr.write(`${name}${decoded.line === undefined ? '' : `:${decoded.line}`}: ${decoded.problem}\n`);
    return 1;
  }
  const text = decoded.text;
  const parsed = name.endsWith('.toml') ? undefined : parseOpenShiftFragment(text, name);
  const failed = !parsed?.fragment || hasErrors(parsed.diagnostics);
  if (alreadyNative(name, text, failed)) {
    process.stderr.write(
      `${name}: already a native TOML fragment, nothing to import: put it in the policy directory as it is (mirror-policyd check ${file === '-' ? 'FILE' : file} checks it first)\n`,
    );
    return 1;
  }
  printDiagnostics(parsed?.diagnostics ?? []);
  if (!parsed?.fragment || failed) return 1;
  io.stdout(fragmentToToml(parsed.fragment, file === '-' ? STDIN_NAME : basename(file)));
  return 0;
}

async function help(io: CommandIO, command: string): Promise<number> {
  io.stdout((await import('./usage.js')).usage(command));
  return 0;
}
