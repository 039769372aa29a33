/**
 * Health-aware ordering of mirrors, pure (no I/O, no clock: time is passed in).
 *
 * Container runtimes try the mirrors of a `[[registry]]` table in file order on every
 * pull, paying a dead mirror's timeout each time. With `health-aware-order` on, a mirror
 * whose endpoint is down is listed after the healthy mirrors of the same table: never
 * removed, the primary (`location`) untouched (containers/image always tries it last),
 * every other byte the same. When it recovers the configured order comes back.
 *
 * So that the file does not flap, the demoted flag follows hysteresis: demoted after
 * `demoteAfter` consecutive failed probes, restored after `restoreAfter` consecutive
 * successful ones, never changed again before `minDwellMs` in a state; and the daemon
 * asks `mayRewrite` before each rewrite the flags cause (at most `maxRewritesPerMinute`).
 */
import { endpointKey } from './health.js';
import { cloneConf, type Endpoint, type RegistriesConf } from '../registries-conf/model.js';
import { byteOrderCompare } from '../core/byte-order.js';
import { counted } from '../core/count.js';

export interface HysteresisPolicy {
  /** Consecutive failed probes before a mirror is demoted (≥ 1). */
  readonly demoteAfter: number;
  /** Consecutive successful probes before a demoted mirror is restored (≥ 1). */
  readonly restoreAfter: number;
  /** Minimum time in a state (demoted or not) before the flag may change again. */
  readonly minDwellMs: number;
  /** Cap on health-caused rewrites of the file in any 60 s window (≥ 1; Infinity: no cap). */
  readonly maxRewritesPerMinute: number;
}

/** With a probe interval of about 10 s: a dead mirror is demoted within about 30 s. */
export const DEFAULT_HYSTERESIS: HysteresisPolicy = Object.freeze({ demoteAfter: 3, restoreAfter: 2, minDwellMs: 30_000, maxRewritesPerMinute: 6 });

/** The problems of a policy (empty when it is usable), for the config reader. */
export function hysteresisProblems(p: HysteresisPolicy): string[] {
  const out: string[] = [];
  const count = (name: string, v: number): void => {
    if (!Number.isInteger(v) || v < 1) out.push(`${name} must be an integer ≥ 1, not ${v}`);
  };
  count('demote-after', p.demoteAfter);
  count('restore-after', p.restoreAfter);
  if (!Number.isFinite(p.minDwellMs) || p.minDwellMs < 0) out.push(`min-dwell-ms must be a number ≥ 0, not ${p.minDwellMs}`);
  if (!(p.maxRewritesPerMinute === Number.POSITIVE_INFINITY || (Number.isInteger(p.maxRewritesPerMinute) && p.maxRewritesPerMinute >= 1))) {
    out.push(`max-rewrites-per-minute must be an integer ≥ 1, not ${p.maxRewritesPerMinute}`);
  }
  return out;
}

export interface EndpointOrderState {
  readonly demoted: boolean;
  readonly consecutiveFailures: number;
  readonly consecutiveSuccesses: number;
  /** When the demoted flag last changed; `NEVER_CHANGED` while it never has (no dwell applies then). */
  readonly since: number;
  /** Why the flag last changed, e.g. "3 connect-timeout" or "2 successful probes". */
  readonly reason?: string;
  /** Failure classes of the current run of failures, counted (absent after a success). */
  readonly failureClasses?: Readonly<Record<string, number>>;
}

/** Per endpoint key (`endpointKey(host, insecure)`). */
export type OrderState = Readonly<Record<string, EndpointOrderState>>;

/** `since` of an endpoint whose flag never changed: long enough ago for any dwell, and JSON-safe (unlike -Infinity). */
export const NEVER_CHANGED = Number.MIN_SAFE_INTEGER;

export interface OrderChange {
  readonly key: string;
  readonly demoted: boolean;
  /** e.g. "demoted https://m1:5000: 3 connect-timeout", "restored https://m1:5000: 2 successful probes". */
  readonly reason: string;
}

const UNKNOWN_CLASS = 'unknown';

/** "3 connect-timeout"; "3 failed probes (2 refused, 1 tls)"; "3 failed probes". */
function failureSummary(n: number, classes: Readonly<Record<string, number>>): string {
  const entries = Object.entries(classes).sort((a, b) => b[1] - a[1] || byteOrderCompare(a[0], b[0]));
  const only = entries.length === 1 ? entries[0] : undefined;
  if (only && only[0] !== UNKNOWN_CLASS) return `${n} ${only[0]}`;
  if (only) return counted(n, 'failed probe');
  return `${n} failed probes (${entries.map(([c, k]) => `${k} ${c}`).join(', ')})`;
}

/**
 * Feeds one probe result of endpoint `key`. Returns the new state (the input is not
 * mutated) and, when the demoted flag changed, the change with a human reason.
 * A change needs the streak (`demoteAfter` failures / `restoreAfter` successes) and
 * `minDwellMs` since the last change; a streak that completes during the dwell takes
 * effect at the first probe after it that continues the streak.
 */
export function observeProbe(
  state: OrderState,
  key: string,
  ok: boolean,
  failureClass: string | undefined,
  now: number,
  policy: HysteresisPolicy = DEFAULT_HYSTERESIS,
): { state: OrderState; change?: OrderChange } {
  const prev: EndpointOrderState =
    Object.hasOwn(state, key) && state[key] ? state[key] : { demoted: false, consecutiveFailures: 0, consecutiveSuccesses: 0, since: NEVER_CHANGED };
  const dwelt = now - prev.since >= policy.minDwellMs;
  let next: EndpointOrderState;
  let change: OrderChange | undefined;
  if (ok) {
    const successes = prev.consecutiveSuccesses + 1;
    next = { demoted: prev.demoted, consecutiveFailures: 0, consecutiveSuccesses: successes, since: prev.since, reason: prev.reason };
    if (prev.demoted && successes >= policy.restoreAfter && dwelt) {
      const reason = counted(successes, 'successful probe');
      next = { ...next, demoted: false, since: now, reason };
      change = { key, demoted: false, reason: `restored ${key}: ${reason}` };
    }
  } else {
    const failures = prev.consecutiveFailures + 1;
    const cls = failureClass && failureClass.length > 0 ? failureClass : UNKNOWN_CLASS;
    const classes = { ...(prev.failureClasses ?? {}), [cls]: (prev.failureClasses?.[cls] ?? 0) + 1 };
    next = { demoted: prev.demoted, consecutiveFailures: failures, consecutiveSuccesses: 0, since: prev.since, reason: prev.reason, failureClasses: classes };
    if (!prev.demoted && failures >= policy.demoteAfter && dwelt) {
      const reason = failureSummary(failures, classes);
      next = { ...next, demoted: true, since: now, reason };
      change = { key, demoted: true, reason: `demoted ${key}: ${reason}` };
    }
  }
  const out: Record<string, EndpointOrderState> = { ...state, [key]: next };
  return change ? { state: out, change } : { state: out };
}

/** The demoted endpoint keys of a state. */
export function demotedKeys(state: OrderState): Set<string> {
  return new Set(
    Object.entries(state)
      .filter(([, s]) => s.demoted)
      .map(([k]) => k),
  );
}

/** The state restricted to `keys` (the endpoints of the current configuration): a mirror that left the configuration is forgotten. */
export function retainEndpoints(state: OrderState, keys: Iterable<string>): OrderState {
  const out: Array<[string, EndpointOrderState]> = [];
  for (const k of new Set(keys)) {
    const s = Object.hasOwn(state, k) ? state[k] : undefined;
    if (s) out.push([k, s]);
  }
  return Object.fromEntries(out);
}

const MINUTE_MS = 60_000;

/**
 * The rate limiter: may the file be rewritten at `now`, given when the earlier
 * health-caused rewrites happened? True while fewer than `maxRewritesPerMinute` of them
 * lie in the last 60 s (`now - 60 s < t`). Times after `now` (the clock stepped back)
 * count as recent: the limiter errs on the side of fewer rewrites.
 */
export function mayRewrite(rewriteTimes: readonly number[], now: number, policy: HysteresisPolicy = DEFAULT_HYSTERESIS): boolean {
  let recent = 0;
  for (const t of rewriteTimes) if (t > now - MINUTE_MS) recent++;
  return recent < policy.maxRewritesPerMinute;
}

/** The rewrite times still relevant to `mayRewrite` (keeps the list bounded). */
export function pruneRewriteTimes(rewriteTimes: readonly number[], now: number): number[] {
  return rewriteTimes.filter((t) => t > now - MINUTE_MS);
}

/** The endpoint key of a mirror, as the prober computes it: host[:port] of its location and its own insecure flag. */
export function mirrorEndpointKey(m: Pick<Endpoint, 'location' | 'insecure'>): string {
  return endpointKey(m.location.split('/')[0] ?? m.location, m.insecure === true);
}

/**
 * The configuration with, in each `[[registry]]` table, the mirrors whose endpoint is in
 * `demoted` moved after the others; each group keeps its configured relative order (so
 * a table whose mirrors are all demoted, or none, keeps its order) and each mirror keeps
 * its own fields (`insecure`, `pull-from-mirror`). Nothing else changes: the primary
 * location, the table order, the top-level keys. Returns a new configuration; the input
 * is not mutated.
 */
export function applyHealthOrder(conf: RegistriesConf, demoted: ReadonlySet<string>): RegistriesConf {
  const out = cloneConf(conf);
  if (demoted.size === 0) return out;
  for (const t of out.registries) {
    const healthy: Endpoint[] = [];
    const down: Endpoint[] = [];
    for (const m of t.mirrors) (demoted.has(mirrorEndpointKey(m)) ? down : healthy).push(m);
    if (down.length > 0 && healthy.length > 0) t.mirrors = [...healthy, ...down];
  }
  return out;
}
