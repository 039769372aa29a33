/**
 * The daemon's commands: `run` (the service), `status` (asks it over the control
 * socket) and `restore` (puts the host's own registries.conf back, for uninstalling).
 */
import { promises as fs } from 'node:fs';
import { readRegularFileSync, writeFileAtomic } from '../output/atomic-write.js';
import { removeOurHosts } from '../containerd/hosts-dir.js';
import { dirname, join } from 'node:path';
import { controlRequest, DEFAULT_REQUEST_TIMEOUT_MS, NotRunningError } from '../control/client.js';
import { formatDiagnostic, UsageError } from '../core/diagnostic.js';
import { DEFAULT_CONFIG, DEFAULTS, resolveConfig, type ConfigValues, type DaemonConfig } from '../daemon/config.js';
import { Daemon, StartError, type DaemonStatus } from '../daemon/daemon.js';
import { FLAG_CONFIG_KEYS, RUN_FLAG_OPTIONS } from '../daemon/run-options.js';
import { fsErrorLine, recordHolder, StateDir } from '../daemon/state-dir.js';
import { oneLine } from '../core/one-line.js';
import { createLogger, type Logger } from '../core/log.js';
import { classifyFile, keepCopy, newestKeptCopy } from '../output/managed-file.js';
import { readTrustedFile, UntrustedFileError } from '../output/private-file.js';
import { utf8Text } from '../registries-conf/parse.js';
import { createNotifier, unsetNotifyEnvironment } from '../systemd/notify.js';
import { COMMON_OPTIONS, logSettings, parse } from './args.js';
import { releaseOptimizingCompilers } from './daemon-process.js';
import type { CommandIO } from './commands.js';
import { logReplacedLink } from './render-output.js';
import { cannotAskReason, controlSocketFor, positiveMs, socketOrigin } from './daemon-ask.js';
import { counted } from '../core/count.js';
import { systemErrorReason } from './main.js';

const RUN_OPTIONS = { ...COMMON_OPTIONS, ...RUN_FLAG_OPTIONS };

type RunValues = ReturnType<typeof parse<typeof RUN_OPTIONS>>['values'];

/** Reads the config file (the default one may be absent) and applies the flags over it. */
async function loadConfig(values: RunValues): Promise<{ config?: DaemonConfig; problems: string[]; unreadable?: true }> {
  const path = values.config ?? DEFAULT_CONFIG;
  let file: { path: string; text: string } | undefined;
  try {
    // --allow-unsafe-fragments on the command line (never from the file itself) lifts its check too.
    file = { path, text: utf8Text(await (values['allow-unsafe-fragments'] === true ? fs.readFile(path) : readTrustedFile(path)), path) };
  } catch (e) {
    if (e instanceof UntrustedFileError) return { problems: [e.message] };
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' || values.config !== undefined) {
      const systemError = systemErrorReason(e);
      const problems = [`${path}: cannot read config file: ${systemError ?? (e as Error).message}`];
      // A file we may not read is a failed system call (exit 1); a path that leads to no file is a
      // wrong --config, and text that is not UTF-8 an invalid configuration (usage errors, exit 2).
      const wrongPath = code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
      return systemError === undefined || wrongPath ? { problems } : { problems, unreadable: true };
    }
  }
  const flags: ConfigValues = {};
  for (const key of FLAG_CONFIG_KEYS) {
    const v = values[key];
    if (v !== undefined) flags[key] = v;
  }
  const r = resolveConfig(file, flags);
  return { config: r.config, problems: r.diagnostics.map(formatDiagnostic) };
}

export async function runCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, RUN_OPTIONS);
  if (values.help) {
    io.stdout((await import('./usage.js')).usage('run')); // the usage text is loaded only to print it
    return 0;
  }
  const loaded = await loadConfig(values);
  if (!loaded.config) {
    for (const p of loaded.problems) process.stderr.write(`${p}\n`);
    if (loaded.unreadable) return 1;
    throw new UsageError('invalid configuration');
  }
  const config = loaded.config;
  const log = createLogger({ level: config.logLevel, format: config.logFormat, fd: 1 });
  const notifier = createNotifier(process.env, log);
  unsetNotifyEnvironment(process.env);
  // A reload reads the config file (and applies the flags over it) when it begins, not when its SIGHUP came.
  const daemon = new Daemon(config, log, notifier, () => loadConfig(values), {
    largePolicy: releaseOptimizingCompilers,
  });
  // Handlers from the start: a signal's default action would kill the daemon while it starts
  // (it already answers `status` then). A stop that comes during the start is acted on after it;
  // a SIGHUP is counted at once (`status`, `mirror-policyd reload`) and its reload runs after it.
  const early: { stop?: string } = {};
  let onStop = (signal: string): void => void (early.stop ??= signal);
  process.on('SIGTERM', () => onStop('SIGTERM'));
  process.on('SIGINT', () => onStop('SIGINT'));
  process.on('SIGHUP', () => daemon.requestReload());
  try {
    await daemon.start();
  } catch (e) {
    // One line, exit 1, for every start-up failure; an fs error that escaped naming is still one line, not a stack.
    const errno = e as NodeJS.ErrnoException;
    if (e instanceof StartError || (typeof errno.code === 'string' && typeof errno.syscall === 'string')) {
      log.fatal(`cannot start: ${e instanceof StartError ? e.message : fsErrorLine(e)}`);
      notifier.close();
      return 1;
    }
    throw e;
  }
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    onStop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: stopping`);
      void daemon.stop().then(() => resolveExit(0));
    };
    if (early.stop) onStop(early.stop);
  });
}

const STATUS_OPTIONS = {
  ...COMMON_OPTIONS,
  json: { type: 'boolean' },
  config: { type: 'string' },
  'control-socket': { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const;

function formatStatus(s: DaemonStatus): string {
  const lines = [
    `mirror-policyd ${s.version}, pid ${s.pid}, since ${s.startedAt}: ${s.state.toUpperCase()}`,
    ...s.degraded.map((d) => `  degraded: ${d}`),
    `policy dir: ${s.policyDir}`,
    `output:     ${s.output}${s.lastRender ? ` (sha256 ${s.lastRender.sha256.slice(0, 12)}, rendered ${s.lastRender.at}, ${counted(s.lastRender.tables, 'table')}, ${counted(s.lastRender.mirrors, 'mirror')})` : ' (not rendered yet)'}`,
    `base:       ${s.base.source}${s.base.path ? ` (${s.base.path})` : ''}`,
    `state dir:  ${s.stateDir}`,
    `renders:    ${s.renders} (${s.renderErrors} failed)`,
    ...formatReloads(s.reloads),
    'fragments:',
    ...(s.fragments.length === 0
      ? ['  (none)']
      : s.fragments.flatMap((f) => [`  ${f.state.padEnd(7)} ${f.file}`, ...[...f.errors, ...(f.warnings ?? [])].map((e) => `          ${e}`)])),
  ];
  if ((s.warnings ?? []).length > 0) lines.push('other warnings:', ...s.warnings.map((w) => `  ${w}`));
  if (s.drift.length > 0) lines.push('drift:', ...s.drift.map((d) => `  ${d.at} ${d.kind}, kept as ${d.savedAs}`));
  if (s.mirrors && s.mirrors.length > 0) {
    lines.push(
      'mirrors (health cache):',
      ...s.mirrors.map(
        (m) =>
          `  ${m.state.padEnd(7)} ${m.endpoint}${m.latencyMs !== undefined ? `  ${m.latencyMs} ms` : ''}${m.lastProbe ? `  probed ${m.lastProbe}` : ''}${m.why ? `  (${m.why})` : ''}`,
      ),
    );
  }
  if (s.healthAwareOrder) {
    const h = s.healthAwareOrder;
    lines.push(
      `health-aware order: ${h.demoted.length > 0 ? `demoted ${h.demoted.join(', ')}` : 'nothing demoted'}; ${h.demotions} demotion(s), ${h.rewrites} rewrite(s), ${h.rewritesLastMinute} in the last minute`,
    );
  }
  if (s.shadowing.length > 0) lines.push('shadowed by registries.conf.d drop-ins:', ...s.shadowing.map((x) => `  ${x}`));
  if (s.localMirror) lines.push(...formatLocalMirror(s.localMirror));
  if (s.containerd) {
    const c = s.containerd;
    lines.push(
      `containerd: ${c.dir}, ${c.hosts.length} host(s)${c.hosts.length > 0 ? `: ${c.hosts.join(', ')}` : ''}`,
      ...c.warnings.map((w) => `  ${w}`),
      ...c.drift.map((d) => `  ${d.at} ${d.host}/hosts.toml edited by hand, kept as ${d.savedAs}`),
    );
  }
  // Names and messages come from outside (a fragment's name, a registry's error): each line is
  // shown as one line, a control character escaped, so none can forge a line or drive the terminal.
  return `${lines.map(oneLine).join('\n')}\n`;
}

/** A line once the daemon was signalled: how many reloads, and how the latest ended (its problems are among the degraded reasons). */
function formatReloads(r: DaemonStatus['reloads'] | undefined): string[] {
  if (r === undefined || r.requested === 0) return [];
  const last = r.last ? `; the last (${r.last.number}, ${r.last.at}): ${r.last.outcome}` : '';
  const running = r.started > r.finished ? `; reload ${r.started} in progress` : '';
  return [`reloads:    ${r.finished} finished for ${r.requested} SIGHUP(s)${running}${last}`];
}

function formatLocalMirror(m: NonNullable<DaemonStatus['localMirror']>): string[] {
  const head = `local mirror: http://${m.address}, ${m.listening ? `listening, in front of ${m.fronted} table(s)` : `NOT listening (${m.error ?? 'stopped'}), not listed`}; credentials ${m.credentials ? 'used' : 'not used'}`;
  const lines = [head, ...m.skipped.map((x) => `  not in [[registry]] "${x.prefix}": ${x.why}`)];
  const st = m.stats;
  if (!st) return lines;
  const r = st.requests;
  lines.push(
    `  requests: ${r.manifests} manifest, ${r.blobs} blob, ${r.base} /v2/, ${r.refused} refused; ${st.inFlight} in flight${st.waiting > 0 ? ` (${st.waiting} waiting for an upstream slot)` : ''}; ${st.bytesSent} bytes sent`,
    `  errors: ${st.errors}; answered at the deadline: ${st.deadlineAnswers}; blobs finished from another source: ${st.midBlobFallbacks}; wrong digests cut: ${st.digestMismatches}`,
    ...Object.entries(st.sources).map(([k, o]) => `  source ${k}: ${o.ok} ok, ${o.absent} absent, ${o.failed} failed`),
  );
  return lines;
}

/** The fields `status` reads and exits by: what answers at the socket may be another program. */
function isStatusAnswer(v: unknown): v is DaemonStatus {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    (s['state'] === 'healthy' || s['state'] === 'degraded') &&
    ['degraded', 'fragments', 'drift', 'shadowing'].every((k) => Array.isArray(s[k])) &&
    typeof s['base'] === 'object' &&
    s['base'] !== null
  );
}

/** `status` exit codes, as LSB init scripts' status action has them (4: status unknown). */
export const STATUS_EXIT = { healthy: 0, degraded: 1, notRunning: 3, unknown: 4 } as const;

/** Exit 0 healthy, 1 degraded, 3 not running, 4 cannot tell (see STATUS_EXIT). */
export async function statusCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, STATUS_OPTIONS);
  if (values.help) {
    io.stdout((await import('./usage.js')).usage('status'));
    return 0;
  }
  logSettings(values); // refused as usage when wrong, as by every command (status writes no log)
  const timeoutMs = positiveMs(values['timeout-ms'], '--timeout-ms', DEFAULT_REQUEST_TIMEOUT_MS);
  const asked = await controlSocketFor(values, (line) => process.stderr.write(`mirror-policyd status: ${line}\n`));
  const socket = asked.path;
  const unknown = (reason: string): number => {
    if (values.json) io.stdout(`${JSON.stringify({ state: 'unknown', reason, controlSocket: socket })}\n`);
    else process.stderr.write(`mirror-policyd status: ${reason}\n`);
    return STATUS_EXIT.unknown;
  };
  let res;
  try {
    res = await controlRequest(socket, { cmd: 'status' }, timeoutMs);
  } catch (e) {
    if (e instanceof NotRunningError) {
      if (values.json) io.stdout(`${JSON.stringify({ state: 'not running', controlSocket: socket })}\n`);
      else process.stderr.write(`mirror-policyd is not running (no answer at ${socket})${socketOrigin(asked)}\n`);
      return STATUS_EXIT.notRunning;
    }
    const reason = cannotAskReason(e, socket);
    if (reason === undefined) throw e;
    return unknown(reason);
  }
  if (!res.ok) return unknown(`the daemon answered with an error: ${res.error}`);
  if (!isStatusAnswer(res.result)) return unknown(`the answer at ${socket} is not a mirror-policyd status`);
  const s = res.result;
  io.stdout(values.json ? `${JSON.stringify(s, null, 2)}\n` : formatStatus(s));
  return s.state === 'healthy' ? STATUS_EXIT.healthy : STATUS_EXIT.degraded;
}

const RESTORE_OPTIONS = {
  ...COMMON_OPTIONS,
  config: { type: 'string' },
  'state-dir': { type: 'string' },
  output: { type: 'string' },
  'containerd-hosts-dir': { type: 'string' },
  force: { type: 'boolean' },
} as const;

/** Puts back the registries.conf we adopted at first start (or removes ours when there was none). */
export async function restoreCommand(args: readonly string[], io: CommandIO): Promise<number> {
  const { values } = parse(args, RESTORE_OPTIONS);
  if (values.help) {
    io.stdout((await import('./usage.js')).usage('restore'));
    return 0;
  }
  const log: Logger = io.log ?? createLogger(logSettings(values));
  // Where the daemon wrote: the flags, else the config file the daemon read (uninstalling must
  // find a state dir, output or containerd hosts dir set there), else the defaults.
  const loaded = await loadConfig({
    config: values.config,
    'state-dir': values['state-dir'],
    output: values.output,
    'containerd-hosts-dir': values['containerd-hosts-dir'],
  });
  // The paths the daemon used may be set in that file: guessing the defaults could report
  // "nothing to restore" while its state sits elsewhere. The state dir given says where.
  if (loaded.config === undefined && values['state-dir'] === undefined) {
    for (const p of loaded.problems) log.error(p);
    log.error(
      `restore needs the paths the daemon used: fix ${values.config ?? DEFAULT_CONFIG}, or give --state-dir (and --output, --containerd-hosts-dir if set there)`,
    );
    return 1;
  }
  for (const p of loaded.problems) log.warn(`${p} (its settings are not used)`);
  const settings = loaded.config ?? DEFAULTS;
  const state = new StateDir(values['state-dir'] ?? settings.stateDir);
  const record = await state.readRecord().catch(() => undefined);
  const output = values.output ?? record?.output ?? settings.output;
  if (record && recordHolder(record, state.dir).running && !values.force) {
    log.error(`mirror-policyd (pid ${record.pid}) is running and would render again; stop it first (or --force)`);
    return 1;
  }
  let original: string | undefined;
  try {
    original = await state.readOriginal(); // undefined: none was adopted
  } catch (e) {
    // Unreadable, or not believed (another user could have written it): never put into place.
    log.error(`cannot restore ${output}: ${(e as Error).message}`);
    return 1;
  }
  // Those the settings name, and those the daemon last managed if another (its setting changed since).
  const recorded = await state.readHostsDirRecord().catch(() => undefined);
  const hostsDirs = new Set([values['containerd-hosts-dir'] ?? settings.containerdHostsDir, recorded]);
  let hostsLeft = false;
  for (const hostsDir of hostsDirs) if (hostsDir !== undefined && !(await removeOurHostsTomls(hostsDir, log))) hostsLeft = true;
  await removeOurRegistriesD(output, log);
  // registries.conf is restored all the same; the exit status says something of ours was left.
  const status = await restoreOutput(output, original, state, log);
  return hostsLeft ? 1 : status;
}

/** registries.conf as it was before us: the adopted original, `render`'s kept copy, or none (ours removed). */
async function restoreOutput(output: string, original: string | undefined, state: StateDir, log: Logger): Promise<number> {
  const current = await classifyFile(output);
  if (current === 'foreign') return leaveForeign(output, original, log);
  if (current === 'edited') {
    // Ours, edited by hand since: the edit is kept beside it, then ours is undone as any.
    const copy = await keepCopy(output, `${output}.before-restore`);
    log.warn(`${output} was edited since mirror-policyd wrote it: kept as ${copy}`);
  }
  if (original !== undefined) {
    logReplacedLink(log, output, (await writeFileAtomic(output, original)).replacedLink);
    log.info(`restored ${output} from ${state.path('original.conf')}`);
    return 0;
  }
  // No daemon adopted one, but `render` kept the host's file beside ours before replacing it (its newest copy: the host's file as it was last).
  const copyPath = await newestKeptCopy(output);
  const renderCopy = copyPath === undefined ? undefined : readRegularFileSync(copyPath);
  if (renderCopy !== undefined) {
    logReplacedLink(log, output, (await writeFileAtomic(output, renderCopy)).replacedLink); // byte for byte
    log.info(`restored ${output} from ${copyPath}, the host's file \`render\` kept`);
    return 0;
  }
  await fs.rm(output, { force: true });
  log.info(`no original was adopted (there was no ${output} before us); removed ours`);
  return 0;
}

/** containerd's hosts.toml files of ours go (an edited one kept beside it first); others' stay. Whether all of ours went. */
async function removeOurHostsTomls(dir: string, log: Logger): Promise<boolean> {
  const done = await removeOurHosts(dir);
  if (done === undefined) return true; // no hosts dir (containerd not installed): nothing of ours there
  for (const e of done.edited) log.warn(`${join(dir, e.host, 'hosts.toml')} was edited since mirror-policyd wrote it: kept as ${e.savedAs}`);
  if (done.removed.length > 0) log.info(`removed our hosts.toml for ${done.removed.join(', ')} from ${dir}`);
  for (const c of done.conflicts) log.error(`${formatDiagnostic(c)}; containerd still pulls through its mirrors: remove it by hand`);
  return done.conflicts.length === 0;
}

/** The local mirror's registries.d drop-in beside the output, when it is ours (one edited or someone else's stays, said). */
async function removeOurRegistriesD(output: string, log: Logger): Promise<void> {
  const { updateRegistriesD } = await import('../local-mirror/registries-d-file.js'); // YAML: loaded for restore alone, not for `run`
  const done = await updateRegistriesD(join(dirname(output), 'registries.d'), { registries: [] }, undefined);
  if (done.change === 'removed') log.info(`removed ${done.path}`);
  if (done.problem) log.warn(done.problem);
}

/**
 * A file not ours in the output's place (put there while the daemon was stopped) is theirs:
 * restore undoes what we did, never what others did. The original is kept beside it, as the
 * Debian package's purge does (packaging/deb/postrm).
 */
async function leaveForeign(output: string, original: string | undefined, log: Logger): Promise<number> {
  if (original === undefined || (await fs.readFile(output, 'utf8')) === original) {
    log.info(`${output} is not ours; nothing to restore`);
    return 0;
  }
  const beside = `${output}.mirror-policyd-original`;
  await writeFileAtomic(beside, original);
  log.warn(`${output} was not written by mirror-policyd: left as it is; the original adopted at first start is kept as ${beside}`);
  return 0;
}
