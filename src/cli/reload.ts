/**
 * `mirror-policyd reload`: SIGHUP to the daemon, then wait until a reload begun after it has
 * finished, and say how it ended. The unit's ExecReload=: `systemctl reload` then returns once the
 * new settings and policy are in the output, and fails when the config file was refused (systemd
 * 252 has no Type=notify-reload, and `kill -HUP` returns before the reload).
 *
 * The control socket stays read-only: the command reads the daemon's reload counts (`reloads`,
 * reload-status.ts) and sends the signal itself. What it waits for is a reload that began after
 * its first read of the counts: that reload read the config file and the policy directory after
 * the command started, so every change made before it is in. SIGHUPs coalesce (one reload may
 * serve several, from this command and from others); when several reloads have finished by the
 * time it looks, it reports the latest, the settings in effect then.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { controlRequest, DEFAULT_REQUEST_TIMEOUT_MS, NotRunningError } from '../control/client.js';
import { UsageError } from '../core/diagnostic.js';
import { isReloadsAnswer, isSignalablePid, reloadSince, type ReloadRecord, type ReloadsAnswer } from '../daemon/reload-status.js';
import type { DaemonStatus } from '../daemon/status-report.js';
import { COMMON_OPTIONS, logSettings, parse } from './args.js';
import type { CommandIO } from './commands.js';
import { cannotAskReason, controlSocketFor, positiveMs, socketOrigin } from './daemon-ask.js';

const RELOAD_OPTIONS = {
  ...COMMON_OPTIONS,
  pid: { type: 'string' },
  config: { type: 'string' },
  'control-socket': { type: 'string' },
  'timeout-ms': { type: 'string' },
} as const;

/** `reload` exit codes: as `status` for a daemon that is not running (3) and for one that cannot be told (4). */
export const RELOAD_EXIT = { reloaded: 0, notTaken: 1, notRunning: 3, unknown: 4 } as const;

/** Well inside systemd's bound on ExecReload= (TimeoutStartSec=, 90 s by default), so that the reason is ours. */
export const DEFAULT_RELOAD_TIMEOUT_MS = 60_000;

/** How often the counts are read while the reload runs (the answer is a few hundred bytes). */
const POLL_MS = 50;

/** How the signal is sent (a test gives its own). */
export type SendSignal = (pid: number, signal: 'SIGHUP') => void;

/** One read of the daemon: its answer, or why there is none. */
type Asked<T> = { readonly answer: T } | { readonly notRunning: string } | { readonly unknown: string };

async function ask<T>(socket: string, cmd: 'reloads' | 'status', deadline: number, check: (v: unknown) => v is T): Promise<Asked<T>> {
  const timeoutMs = Math.max(1, Math.min(DEFAULT_REQUEST_TIMEOUT_MS, deadline - Date.now()));
  try {
    const res = await controlRequest(socket, { cmd }, timeoutMs);
    if (!res.ok) {
      // An older daemon: it has no `reloads` to wait on.
      if (/^unknown command/.test(res.error))
        return { unknown: `the daemon at ${socket} does not report its reloads (an older version): restart it to reload` };
      return { unknown: `the daemon answered with an error: ${res.error}` };
    }
    return check(res.result) ? { answer: res.result } : { unknown: `the answer at ${socket} is not mirror-policyd's: is --control-socket right?` };
  } catch (e) {
    if (e instanceof NotRunningError) return { notRunning: e.message };
    const reason = cannotAskReason(e, socket, 'reload');
    if (reason === undefined) throw e;
    return { unknown: reason };
  }
}

/** A process id from --pid: a whole number from 2 up (1 is init, never the daemon). */
function parsePid(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!isSignalablePid(n)) throw new UsageError(`--pid must be a process id (a whole number from 2 to 4194304), not "${value}"`);
  return n;
}

/** Exit 0 reloaded, 1 not taken (refused config, not rendered, failed; or nothing sent), 3 not running, 4 cannot tell. */
export async function reloadCommand(args: readonly string[], io: CommandIO, send: SendSignal = (pid, signal) => process.kill(pid, signal)): Promise<number> {
  const { values } = parse(args, RELOAD_OPTIONS);
  if (values.help) {
    io.stdout((await import('./usage.js')).usage('reload'));
    return 0;
  }
  logSettings(values); // refused as usage when wrong, as by every command (reload writes no log)
  const timeoutMs = positiveMs(values['timeout-ms'], '--timeout-ms', DEFAULT_RELOAD_TIMEOUT_MS);
  const pid = values.pid === undefined ? undefined : parsePid(values.pid);
  const deadline = Date.now() + timeoutMs;
  const say = (code: number, message: string): number => {
    process.stderr.write(`mirror-policyd reload: ${message}\n`);
    return code;
  };

  const asked = await controlSocketFor(values, (line) => process.stderr.write(`mirror-policyd reload: ${line}\n`));
  const socket = asked.path;
  const first = await ask(socket, 'reloads', deadline, isReloadsAnswer);
  if ('notRunning' in first) return say(RELOAD_EXIT.notRunning, `${first.notRunning}${socketOrigin(asked)}; nothing reloaded`);
  if ('unknown' in first) return say(RELOAD_EXIT.unknown, `${first.unknown}; nothing sent`);
  const before = first.answer;
  if (pid !== undefined && pid !== before.pid)
    return say(
      RELOAD_EXIT.notTaken,
      `refusing to signal pid ${pid}: the daemon answering at ${socket} is pid ${before.pid} (is --control-socket right?); nothing sent`,
    );
  try {
    send(before.pid, 'SIGHUP');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return say(RELOAD_EXIT.notRunning, `the daemon (pid ${before.pid}) is gone; nothing reloaded`);
    if (code === 'EPERM') return say(RELOAD_EXIT.unknown, `permission denied sending SIGHUP to pid ${before.pid}: run reload as root`);
    throw e;
  }
  return waitForReload(socket, before, deadline, timeoutMs, io, say);
}

/** Polls the counts until a reload begun after `before` has finished, the daemon goes, or the deadline. */
async function waitForReload(
  socket: string,
  before: ReloadsAnswer,
  deadline: number,
  timeoutMs: number,
  io: CommandIO,
  say: (code: number, message: string) => number,
): Promise<number> {
  let why = 'no answer yet';
  while (Date.now() < deadline) {
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    const now = await ask(socket, 'reloads', deadline, isReloadsAnswer);
    if ('notRunning' in now) return say(RELOAD_EXIT.notRunning, `the daemon (pid ${before.pid}) stopped before the reload finished`);
    if ('unknown' in now) {
      why = now.unknown; // one slow answer is not the end: asked again until the deadline
      continue;
    }
    if (now.answer.pid !== before.pid)
      return say(
        RELOAD_EXIT.notRunning,
        `the daemon (pid ${before.pid}) stopped before the reload finished; pid ${now.answer.pid} answers now (see mirror-policyd status)`,
      );
    const progress = reloadSince(before.reloads, now.answer.reloads);
    if (progress.done) return report(progress.record, before.pid, socket, deadline, io, say);
    why = progress.why;
  }
  return say(RELOAD_EXIT.unknown, `no reload finished within ${timeoutMs} ms (${why}); it may still finish: see mirror-policyd status`);
}

/** Says how the reload ended; its exit code. */
async function report(
  r: ReloadRecord,
  pid: number,
  socket: string,
  deadline: number,
  io: CommandIO,
  say: (code: number, message: string) => number,
): Promise<number> {
  for (const w of r.warnings) process.stderr.write(`mirror-policyd reload: warning: ${w}\n`);
  const listed = r.problems.map((p) => `\n  ${p}`).join('');
  if (r.outcome === 'refused') return say(RELOAD_EXIT.notTaken, `configuration refused; the previous settings stay in effect:${listed}`);
  if (r.outcome === 'not-rendered') return say(RELOAD_EXIT.notTaken, `settings taken, but the policy did not reach the output:${listed}`);
  if (r.outcome === 'failed') return say(RELOAD_EXIT.notTaken, `the reload did not take:${listed}`);
  if (r.outcome === 'stopped') return say(RELOAD_EXIT.notRunning, `the daemon (pid ${pid}) stopped before the reload finished`);
  // Taken: say how the daemon is now (a fragment left out, say), without failing for it.
  const status = await ask(
    socket,
    'status',
    Math.max(deadline, Date.now() + DEFAULT_REQUEST_TIMEOUT_MS),
    (v): v is DaemonStatus => typeof v === 'object' && v !== null,
  );
  const state = 'answer' in status ? status.answer : undefined;
  const how = state === undefined ? '' : state.state === 'healthy' ? ': healthy' : `: degraded${state.degraded.map((d) => `\n  ${d}`).join('')}`;
  io.stdout(`mirror-policyd reloaded (pid ${pid}, reload ${r.number})${how}\n`);
  return RELOAD_EXIT.reloaded;
}
