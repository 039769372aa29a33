/**
 * Runs the REAL daemon (`node bin/mirror-policyd run`, the built program) for the daemon
 * bench, the crash test and the soak: temp directories, a NOTIFY_SOCKET listener for
 * READY=1, atomic fragment writes as an administrator's tool makes them (temp file, then
 * rename into the policy directory), and /proc figures of the process.
 *
 * Compiled with the build (dist/bench), which the tests import too; paths to the
 * repository's files go through its root (test/helpers/repo.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNotifyListener, type NotifyListener } from '../test/helpers/notify-listener.js';
import { BIN } from '../test/helpers/cli.js';
import { REPO_ROOT } from '../test/helpers/repo.js';
import { untracked } from '../test/helpers/untracked.js';

/** The repository (bench/X.ts, or dist/bench/X.js once built). */
export const ROOT = REPO_ROOT;
export { BIN }; // bin/mirror-policyd, the built program as users run it

export interface Dirs {
  readonly root: string;
  readonly policy: string;
  readonly output: string;
  readonly state: string;
  readonly control: string;
}

/** A temp workspace; short paths, because a unix socket path must fit in sun_path. */
export function makeDirs(prefix: string): Dirs {
  const base = tmpdir().length <= 60 ? tmpdir() : '/tmp';
  const root = mkdtempSync(join(base, prefix));
  const dirs = {
    root,
    policy: join(root, 'policy.d'),
    output: join(root, 'out', 'registries.conf'),
    state: join(root, 'state'),
    control: join(root, 'control.sock'),
  };
  mkdirSync(dirs.policy, { mode: 0o755 });
  return dirs;
}

export function removeDirs(dirs: Dirs): void {
  rmSync(dirs.root, { recursive: true, force: true });
}

/** As a tool would: write a dotfile (ignored by the daemon) beside the target, then rename it into place. */
export function writeFragment(dir: string, file: string, text: string): void {
  const tmp = join(dir, `.${file}.writing`);
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, join(dir, file));
}

export interface RunningDaemon {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with ms from spawn to READY=1; rejects on timeout or early exit. */
  readonly ready: Promise<number>;
  /** Resolves when the process has exited (and was reaped). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines the daemon wrote (stdout and stderr), for failure reports. */
  tail(): string;
}

export interface DaemonSettings {
  /** --debounce-ms; the daemon's default (100) when absent. */
  readonly debounceMs?: number;
  /** --log-level; default warn (the tests read only problems). */
  readonly logLevel?: string;
  /** --log-format; default json. */
  readonly logFormat?: 'json' | 'pretty';
  readonly extraArgs?: readonly string[];
  /** The program to run (default: this tree's bin/mirror-policyd). */
  readonly bin?: string;
}

export interface StartOptions extends DaemonSettings {
  readonly notify: NotifyListener;
  readonly readyTimeoutMs?: number;
  /** The Node.js binary that runs `bin` (default: the one running this process). */
  readonly node?: string;
}

export function daemonArgs(dirs: Dirs, opts: DaemonSettings = {}): string[] {
  return [
    opts.bin ?? BIN,
    'run',
    '--policy-dir',
    dirs.policy,
    '--output',
    dirs.output,
    '--state-dir',
    dirs.state,
    '--control-socket',
    dirs.control,
    '--config',
    '/dev/null', // never /etc/mirror-policyd/config.toml of the machine
    '--allow-unsafe-fragments',
    ...(opts.debounceMs !== undefined ? ['--debounce-ms', String(opts.debounceMs)] : []),
    '--log-level',
    opts.logLevel ?? 'warn',
    '--log-format',
    opts.logFormat ?? 'json',
    '--probe-interval-ms',
    '0', // made-up mirror hosts: never reached for (extraArgs may turn probes on)
    ...(opts.extraArgs ?? []),
  ];
}

/** Spawns the daemon; READY=1 is awaited through `ready` (messages from before the spawn do not count). */
export function startDaemon(dirs: Dirs, opts: StartOptions): RunningDaemon {
  const from = opts.notify.messages().length;
  const t0 = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env, NOTIFY_SOCKET: opts.notify.path };
  for (const k of ['WATCHDOG_USEC', 'WATCHDOG_PID', 'JOURNAL_STREAM']) delete env[k];
  // The program as users run it: not under the test runner's loader hooks (test/helpers/untracked.ts).
  const child = spawn(...untracked(opts.node ?? process.execPath, daemonArgs(dirs, opts)), {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (b: Buffer): void => {
    lines.push(...b.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const ready = new Promise<number>((res, rej) => {
    let done = false;
    void exited.then(({ code, signal }) => {
      if (!done) rej(new Error(`daemon exited before READY=1 (code ${code}, signal ${signal}): ${lines.join('\n')}`));
      done = true;
    });
    opts.notify
      .waitFor((m) => m.split('\n').includes('READY=1'), opts.readyTimeoutMs ?? 10_000, from)
      .then(
        () => {
          if (!done) res(performance.now() - t0);
          done = true;
        },
        (e: Error) => {
          if (!done) rej(new Error(`${e.message}\ndaemon said: ${lines.join('\n')}`));
          done = true;
        },
      );
  });
  ready.catch(() => {}); // the caller awaits it when it cares
  if (child.pid === undefined) throw new Error('could not spawn the daemon');
  return { child, pid: child.pid, ready, exited, tail: () => lines.join('\n') };
}

/** Sends a signal and waits for the exit; SIGKILL after `graceMs` if it is still there. */
export async function stopDaemon(
  d: RunningDaemon,
  signal: NodeJS.Signals = 'SIGTERM',
  graceMs = 10_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return d.exited;
  d.child.kill(signal);
  const timer = setTimeout(() => d.child.kill('SIGKILL'), graceMs);
  try {
    return await d.exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A private copy of the built program (bin, dist, package.json; node_modules linked), so a
 * long run is not disturbed by a rebuild of the working tree (tsc rewrites dist in place).
 */
export function snapshotBuild(): { bin: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-build-'));
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return { bin: join(dir, 'bin', 'mirror-policyd'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export { startNotifyListener, type NotifyListener };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Clock ticks per second for /proc/PID/stat times (USER_HZ, 100 on every Linux ABI Node runs on). */
const CLK_TCK = 100;

export interface ProcFigures {
  readonly rssKb: number;
  /** utime + stime of the whole process (all threads). */
  readonly cpuMs: number;
  /** Context switches of the main thread (/proc/PID/status). */
  readonly voluntaryCtxt: number;
  readonly nonvoluntaryCtxt: number;
  /** The same summed over every thread (/proc/PID/task/TID/status: V8's and libuv's workers too). */
  readonly allThreadsVoluntaryCtxt: number;
  readonly allThreadsNonvoluntaryCtxt: number;
}

const statusField = (status: string, name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);

/** RSS and context switches from /proc/PID/status (and its threads'), CPU time (utime+stime) from /proc/PID/stat. */
export function procFigures(pid: number): ProcFigures | undefined {
  if (!existsSync(`/proc/${pid}/status`)) return undefined;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => statusField(status, name);
  let allVoluntary = 0;
  let allNonvoluntary = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      allVoluntary += statusField(t, 'voluntary_ctxt_switches');
      allNonvoluntary += statusField(t, 'nonvoluntary_ctxt_switches');
    } catch {
      // a thread that ended meanwhile
    }
  }
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return {
    rssKb: field('VmRSS'),
    cpuMs: ((utime + stime) * 1000) / CLK_TCK,
    voluntaryCtxt: field('voluntary_ctxt_switches'),
    nonvoluntaryCtxt: field('nonvoluntary_ctxt_switches'),
    allThreadsVoluntaryCtxt: allVoluntary,
    allThreadsNonvoluntaryCtxt: allNonvoluntary,
  };
}

/** A small seeded PRNG (mulberry32), so a campaign can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
