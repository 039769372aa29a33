/**
 * Runs the REAL daemon (`node bin/mirror-policyd run ...`, the built program) in a temp
 * workspace, with a real NOTIFY_SOCKET listener, and gives tests ways to wait for what it
 * does: the output file, its log, sd_notify messages, `status` over the control socket.
 *
 *   const ws = workspace(t);                       // temp dir, removed in teardown
 *   writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['m.example/a']));
 *   const d = await startDaemon(t, ws);            // resolves after READY=1; killed in teardown
 *   await d.waitForOutput((text) => text.includes('m.example/a'));
 *   expect((await d.status()).state).toBe('healthy');
 *   t.equal(await d.stop(), 0);                    // SIGTERM, SIGKILL after 10 s
 *
 * Every wait polls at a bounded interval until a generous deadline (10 s by default) and
 * fails with the daemon's log, so a failure says what the daemon was doing. Tests assert
 * behaviour, never speed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { controlRequest } from '../../src/control/client.js';
import { DEFAULTS, type DaemonConfig } from '../../src/daemon/config.js';
import type { DaemonStatus } from '../../src/daemon/daemon.js';
import { BIN } from './cli.js';
import { startNotifyListener, type NotifyListener } from './notify-listener.js';
import { forCoverage } from './untracked.js';
import { orAfter } from './or-after.js';

export const DEADLINE_MS = 10_000;
const POLL_MS = 40;

/** Minimal view of a tap Test, so the helper does not depend on tap's types. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Workspace {
  readonly dir: string;
  readonly policy: string;
  readonly output: string;
  readonly state: string;
  readonly control: string;
}

/** sun_path is short: keep the workspace (and its control socket) under a short temp dir. */
function tempBase(): string {
  return join(tmpdir(), 'mpd-daemon-XXXXXX', '.ctl-00000000', 's').length <= 90 ? tmpdir() : '/tmp';
}

/** A temp dir with an (empty) policy dir `policy.d` (unless `policy: false`); removed in teardown. */
export function workspace(t: Teardown, opts: { policy?: boolean } = {}): Workspace {
  const dir = mkdtempSync(join(tempBase(), 'mpd-daemon-'));
  const ws = { dir, policy: join(dir, 'policy.d'), output: join(dir, 'out', 'registries.conf'), state: join(dir, 'state'), control: join(dir, 'control.sock') };
  if (opts.policy !== false) mkdirSync(ws.policy, { mode: 0o755 });
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return ws;
}

/** The settings of a daemon run in the test's own process (`new Daemon(...)`) on `ws`: the test user's fragments admitted, no probes. */
export function inProcessConfig(ws: Workspace): DaemonConfig {
  return {
    ...DEFAULTS,
    policyDir: ws.policy,
    output: ws.output,
    stateDir: ws.state,
    controlSocket: ws.control,
    allowUnsafeFragments: true,
    probeIntervalMs: 0,
  };
}

/** A native TOML fragment: one digest-only mirror set. */
export function fragment(source: string, mirrors: readonly string[], extra = ''): string {
  return `[[mirror-set]]\nsource = ${JSON.stringify(source)}\nmirrors = ${JSON.stringify(mirrors)}\n${extra}`;
}

/** Two policy directories under `ws.dir`, one fragment each (quay.io/one → mirror-one.example/x, quay.io/two → mirror-two.example/x): a reload between them shows in the output. */
export function twoPolicyDirs(ws: Workspace): { p1: string; p2: string } {
  const p1 = join(ws.dir, 'p1.d');
  const p2 = join(ws.dir, 'p2.d');
  mkdirSync(p1);
  mkdirSync(p2);
  writeFileSync(join(p1, '10-one.toml'), fragment('quay.io/one', ['mirror-one.example/x']));
  writeFileSync(join(p2, '10-two.toml'), fragment('quay.io/two', ['mirror-two.example/x']));
  return { p1, p2 };
}

/** An ImageDigestMirrorSet with one entry, optionally NeverContactSource. */
export function idms(name: string, source: string, mirrors: readonly string[], never: boolean): string {
  return [
    'apiVersion: config.openshift.io/v1',
    'kind: ImageDigestMirrorSet',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  imageDigestMirrors:',
    `  - source: ${source}`,
    '    mirrors:',
    ...mirrors.map((m) => `    - ${m}`),
    ...(never ? ['    mirrorSourcePolicy: NeverContactSource'] : []),
    '',
  ].join('\n');
}

/**
 * Replaces `path` by rename (temp name `.NAME.tmp`, which the daemon ignores): the daemon can
 * never read it half-written. An in-place write can be read truncated (an empty fragment is
 * valid), which tests that count renders or look at last-good content must not depend on.
 */
export function replaceFile(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `pred` every POLL_MS until it is true or `timeoutMs` passed; then throws with `describe()`. */
export async function pollUntil(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = DEADLINE_MS,
  describe: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok: boolean;
    try {
      ok = await pred();
    } catch {
      ok = false; // e.g. a file not there yet
    }
    if (ok) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe()}`);
    await sleep(POLL_MS);
  }
}

export function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export interface DaemonOptions {
  /** Default 50. */
  readonly debounceMs?: number;
  /** `--config FILE`; default /dev/null, so that a config file of the machine never leaks in. */
  readonly config?: string;
  /** Flags after the standard ones (e.g. ['--base', FILE]). */
  readonly args?: readonly string[];
  /** Replaces the standard flags entirely (everything after `run`). */
  readonly argv?: readonly string[];
  /** Give the daemon a NOTIFY_SOCKET (a real listener). Default true. */
  readonly notify?: boolean;
  /** Extra environment (NOTIFY_SOCKET, WATCHDOG_*, JOURNAL_STREAM of the test runner are removed first). */
  readonly env?: Readonly<Record<string, string>>;
  /** Wait for READY=1 (needs notify) before resolving. Default: true when notify. */
  readonly waitReady?: boolean;
  /** An fd to give the daemon as stdout instead of a pipe (stdout() then stays empty). */
  readonly stdoutFd?: number;
  /**
   * A command that runs the daemon's argv (node, the program, its arguments) by exec, keeping
   * its pid: e.g. `unshare --mount` with a `sh -c '...; exec "$@"'`.
   */
  readonly wrap?: readonly string[];
}

export interface DaemonProcess {
  readonly ws: Workspace;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Undefined without notify. */
  readonly notify: NotifyListener | undefined;
  stdout(): string;
  stderr(): string;
  /** stdout + stderr. */
  log(): string;
  /** Resolves with the exit code (null when killed by a signal) when the process has exited. */
  readonly exited: Promise<number | null>;
  hasExited(): boolean;
  /** Polls `pred` until true (deadline DEADLINE_MS); the error shows the daemon's log. */
  waitFor(pred: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  /** Waits for a log line matching `re`, counting only log text after character `from`. */
  waitForLog(re: RegExp, from?: number, timeoutMs?: number): Promise<void>;
  /** Waits until the output file exists and satisfies `pred`; returns its text. */
  waitForOutput(pred: (text: string) => boolean, what?: string, timeoutMs?: number): Promise<string>;
  /** Waits for an sd_notify message (index >= from). */
  waitForNotify(pred: (m: string) => boolean, from?: number, timeoutMs?: number): Promise<string>;
  /** The daemon's status over the control socket. */
  status(): Promise<DaemonStatus>;
  /** Waits until status() satisfies `pred`; returns that status. */
  waitForStatus(pred: (s: DaemonStatus) => boolean, what: string, timeoutMs?: number): Promise<DaemonStatus>;
  /** SIGTERM, SIGKILL if still running after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Whatever happens to the test process, no daemon outlives it. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

/** The standard flags for `ws`. */
export function runArgs(ws: Workspace, debounceMs = 50, config = '/dev/null'): string[] {
  // Probes off: the made-up mirror hosts of the tests must never be reached for (a test turns them on with its own flag, which wins).
  return [
    '--config',
    config,
    '--policy-dir',
    ws.policy,
    '--output',
    ws.output,
    '--state-dir',
    ws.state,
    '--control-socket',
    ws.control,
    '--allow-unsafe-fragments',
    '--debounce-ms',
    String(debounceMs),
    '--probe-interval-ms',
    '0',
    // containerd's config, never the machine's: none (a test about it passes its own, which wins).
    '--containerd-config',
    join(ws.dir, 'containerd-config.toml'),
  ];
}

/** The flags for `ws` but --policy-dir and --debounce-ms: the config file gives those (a flag would win over it), for tests that edit it and reload. */
export function configFileArgs(ws: Workspace, config: string): string[] {
  return ['--config', config, '--output', ws.output, '--state-dir', ws.state, '--control-socket', ws.control, '--allow-unsafe-fragments'];
}

/** An environment without the test runner's own systemd variables. */
export function cleanEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'JOURNAL_STREAM', 'LISTEN_FDS', 'LISTEN_PID']) delete env[k];
  return { ...env, ...extra };
}

/** Starts `mirror-policyd run` for `ws`; killed (SIGKILL) in teardown if still running. */
export async function startDaemon(t: Teardown, ws: Workspace, opts: DaemonOptions = {}): Promise<DaemonProcess> {
  installExitHook();
  const useNotify = opts.notify ?? true;
  const notify = useNotify ? await startNotifyListener() : undefined;
  const env = cleanEnv({ ...(notify ? { NOTIFY_SOCKET: notify.path } : {}), ...opts.env });
  const args = ['run', ...(opts.argv ?? [...runArgs(ws, opts.debounceMs ?? 50, opts.config), ...(opts.args ?? [])])];
  const argv = [...(opts.wrap ?? []), process.execPath, BIN, ...args];
  const child = spawn(...forCoverage(argv[0] as string, argv.slice(1), env), { env, cwd: ws.dir, stdio: ['ignore', opts.stdoutFd ?? 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', () => {
      code = null;
      live.delete(child);
      resolve(null);
    });
    child.on('close', (c) => {
      code = c;
      live.delete(child);
      resolve(c);
    });
  });
  const hasExited = (): boolean => code !== undefined;

  t.teardown(async () => {
    if (!hasExited()) {
      child.kill('SIGKILL');
      await orAfter(exited, 5000, undefined);
    }
    await notify?.close();
  });

  const describe = (): string =>
    `\n--- daemon pid ${child.pid} ${hasExited() ? `exited ${code}` : 'running'}; stdout:\n${out}--- stderr:\n${err}${notify ? `--- notify: ${JSON.stringify(notify.messages())}` : ''}`;

  const waitFor = (pred: () => boolean | Promise<boolean>, what: string, timeoutMs = DEADLINE_MS): Promise<void> => pollUntil(pred, what, timeoutMs, describe);

  const status = async (): Promise<DaemonStatus> => {
    const res = await controlRequest(ws.control, { cmd: 'status' });
    if (!res.ok) throw new Error(`status: ${res.error}`);
    return res.result as DaemonStatus;
  };

  const d: DaemonProcess = {
    ws,
    pid: child.pid ?? -1,
    child,
    notify,
    stdout: () => out,
    stderr: () => err,
    log: () => out + err,
    exited,
    hasExited,
    waitFor,
    waitForLog: (re, from = 0, timeoutMs) => waitFor(() => re.test((out + err).slice(from)), `a log line matching ${re}`, timeoutMs),
    async waitForOutput(pred, what = 'the output to match', timeoutMs) {
      let text = '';
      await waitFor(
        () => {
          const now = readOrUndefined(ws.output);
          if (now === undefined || !pred(now)) return false;
          text = now;
          return true;
        },
        what,
        timeoutMs,
      );
      return text;
    },
    async waitForNotify(pred, from = 0, timeoutMs = DEADLINE_MS) {
      if (!notify) throw new Error('this daemon has no NOTIFY_SOCKET');
      try {
        return await notify.waitFor(pred, timeoutMs, from);
      } catch (e) {
        throw new Error(`${(e as Error).message}${describe()}`, { cause: e });
      }
    },
    status,
    async waitForStatus(pred, what, timeoutMs) {
      let last: DaemonStatus | undefined;
      await waitFor(
        async () => {
          last = await status();
          return pred(last);
        },
        `status: ${what}`,
        timeoutMs,
      );
      return last as DaemonStatus;
    },
    async stop(graceMs = DEADLINE_MS) {
      if (!hasExited()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      return exited;
    },
  };

  if (opts.waitReady ?? useNotify) {
    // READY=1, or an early exit (then the test sees the log in the error).
    await waitFor(() => hasExited() || (notify?.messages().some((m) => m.startsWith('READY=1')) ?? false), 'READY=1');
    if (hasExited()) throw new Error(`daemon exited (${code}) before READY=1${describe()}`);
  }
  return d;
}

/** True when `path` exists. */
export const exists = (path: string): boolean => existsSync(path);

/** A TOML basic string (JSON's escapes are TOML's for these). */
const tomlString = (s: string): string => JSON.stringify(s);

/** The outputs the after-render command saw, one per changed render. */
export const snapshots = (path: string): string[] => (readOrUndefined(path) ?? '').split('\n=====\n').filter((x) => x.trim() !== '');

/** A config whose after-render command keeps a copy of each output it is run for (what CRI-O would reload). */
export function recordingConfig(ws: Workspace): { config: string; seen: string } {
  const seen = join(ws.dir, 'seen.txt');
  const config = join(ws.dir, 'config.toml');
  writeFileSync(config, `after-render = [["/bin/sh", "-c", ${tomlString(`cat '${ws.output}' >> '${seen}'; printf '\\n=====\\n' >> '${seen}'`)}]]\n`);
  return { config, seen };
}
