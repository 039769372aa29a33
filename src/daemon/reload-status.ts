/**
 * The daemon's reloads as `status` reports them, and what `mirror-policyd reload` reads from two
 * such reports. Pure.
 *
 * The counts: `requested`, the SIGHUPs received (counted in the signal handler); `started`, the
 * reloads begun, each of which reads the config file and the whole policy directory after it
 * begins; `finished`, those done. A SIGHUP that arrives while a reload waits to begin is served
 * by it (coalesced), so `started` may stay behind `requested`; one that arrives while a reload
 * runs gets a reload after it. `last` is the latest reload finished, numbered as it was started.
 */

/**
 * How a reload ended: `applied` (the config file taken, the policy re-rendered into the output),
 * `refused` (the config file refused: the previous settings stay; the policy was still re-read and
 * rendered with them), `not-rendered` (the settings taken, but no render reached the output:
 * the reasons are the daemon's degraded reasons), `failed` (the reload itself failed), `stopped`
 * (the daemon began stopping first).
 */
export type ReloadOutcome = 'applied' | 'refused' | 'not-rendered' | 'failed' | 'stopped';

/** A count for every outcome, each 0 (the metrics file's reloads_total has every outcome from the start). */
export function noReloads(): Record<ReloadOutcome, number> {
  return { applied: 0, refused: 0, 'not-rendered': 0, failed: 0, stopped: 0 };
}

/** What one reload reports. */
export interface ReloadResult {
  readonly outcome: ReloadOutcome;
  /** Why it did not take (FILE:LINE:COL: message for a refused config file); empty when applied. */
  readonly problems: readonly string[];
  /** What was not taken of a config file that was (a start-only setting changed, a warning). */
  readonly warnings: readonly string[];
}

/** A finished reload: its number (the `started` count it began as), when it finished and how. */
export interface ReloadRecord extends ReloadResult {
  readonly number: number;
  readonly at: string;
}

export interface ReloadStatus {
  readonly requested: number;
  readonly started: number;
  readonly finished: number;
  readonly last?: ReloadRecord;
}

/** The control socket's `reloads` answer: small, for `mirror-policyd reload` to poll while a reload runs. */
export interface ReloadsAnswer {
  readonly pid: number;
  readonly reloads: ReloadStatus;
}

/**
 * A process id `reload` may signal: from 2 (1 is init, never the daemon) to Linux's highest.
 * An answer's pid is checked too: `kill(-1)` or `kill(0)` would reach every process.
 */
export function isSignalablePid(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 2 && (n as number) <= 4_194_304;
}

/** Whether `v` is a `reloads` answer (an older daemon has no such command; anything else is not ours). */
export function isReloadsAnswer(v: unknown): v is ReloadsAnswer {
  if (typeof v !== 'object' || v === null) return false;
  const a = v as { pid?: unknown; reloads?: Record<string, unknown> };
  const r = a.reloads;
  return isSignalablePid(a.pid) && typeof r === 'object' && r !== null && ['requested', 'started', 'finished'].every((k) => Number.isSafeInteger(r[k]));
}

/** Where a reload asked for after `before` stands: finished (with the latest record), or not yet and why. */
export type ReloadProgress = { readonly done: true; readonly record: ReloadRecord } | { readonly done: false; readonly why: string };

/**
 * Whether a reload begun after `before` was read has finished, by `now`. Such a reload read the
 * config file and the policy directory after `before` was taken, so it saw every change made
 * before then. When several have, `last` is the latest of them: the settings in effect now.
 */
export function reloadSince(before: ReloadStatus, now: ReloadStatus): ReloadProgress {
  const last = now.last;
  if (last !== undefined && last.number > before.started) return { done: true, record: last };
  if (now.requested <= before.requested) return { done: false, why: 'the daemon has not counted the SIGHUP yet' };
  if (now.started <= before.started) return { done: false, why: `the reload asked for waits for reload ${now.started}, in progress` };
  return { done: false, why: `reload ${now.started} is in progress` };
}
