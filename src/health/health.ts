/**
 * The health cache's rules, pure: per endpoint (scheme, host, port), consecutive
 * failures mark it down for a time that doubles up to a cap; while down, pulls try it
 * only after every other candidate has failed; after that time one request probes it; a success
 * clears it. Only failures that say something about the endpoint count: a 404, 401 or
 * 403 means "absent" or "forbidden", not "unhealthy".
 */

/** 'throttled': it kept answering 429 (or asked for a longer wait than a pull gives it). */
export type FailureClass =
  'refused' | 'connect-timeout' | 'tls' | 'headers-timeout' | 'body-timeout' | 'server-error' | 'throttled' | 'protocol' | 'dns' | 'reset';

export interface EndpointHealth {
  readonly endpoint: string; // "https://host:port"
  readonly failures: number; // consecutive
  readonly downUntil?: number; // epoch ms; absent = up
  readonly lastFailure?: { readonly at: number; readonly class: FailureClass; readonly message: string };
  readonly lastSuccess?: number;
  readonly latencyMs?: number;
  /** When this record last changed: the newer record wins when two processes merge. */
  readonly updatedAt: number;
}

export interface HealthPolicy {
  /** Consecutive failures before an endpoint counts as down. */
  readonly threshold: number;
  readonly baseTtlMs: number;
  readonly maxTtlMs: number;
}

export const DEFAULT_HEALTH_POLICY: HealthPolicy = { threshold: 1, baseTtlMs: 30_000, maxTtlMs: 15 * 60_000 };

export type HealthMap = Readonly<Record<string, EndpointHealth>>;

/** The cache key of an endpoint: pulls and the daemon's probes must agree on it. */
export function endpointKey(host: string, insecure: boolean): string {
  return `${insecure ? 'insecure' : 'https'}://${host}`;
}

export function recordFailure(
  h: EndpointHealth | undefined,
  endpoint: string,
  cls: FailureClass,
  message: string,
  now: number,
  policy: HealthPolicy = DEFAULT_HEALTH_POLICY,
): EndpointHealth {
  // Already down: the requests that were under way together when it went down (a pull's layers
  // in parallel, a mirror restarting under them) or one made to it as a last resort fail within
  // the same outage, which is not a longer one: counted, they doubled its time once each (six
  // layers: 30 s became 15 min). Only a failure once its time is up (the next try) doubles it.
  // Its end is kept, but never further than this outage's time from now: an end set before the
  // clock was stepped back would otherwise outlive the step (the record, updated now, passes
  // readHealth's future check) and hold the endpoint down until the clock caught up.
  if (h?.downUntil !== undefined && now < h.downUntil) {
    const downUntil = Math.min(h.downUntil, now + downTime(h.failures, policy));
    return { ...h, downUntil, lastFailure: { at: now, class: cls, message: message.slice(0, 300) }, updatedAt: now };
  }
  const failures = (h?.failures ?? 0) + 1;
  const down = failures >= policy.threshold;
  const ttl = downTime(failures, policy);
  return {
    endpoint,
    failures,
    ...(down ? { downUntil: now + ttl } : {}),
    lastFailure: { at: now, class: cls, message: message.slice(0, 300) },
    lastSuccess: h?.lastSuccess,
    latencyMs: h?.latencyMs,
    updatedAt: now,
  };
}

/** How long `failures` consecutive failures keep an endpoint down: doubling from the base past the threshold, up to the cap. */
function downTime(failures: number, policy: HealthPolicy): number {
  return Math.min(policy.maxTtlMs, policy.baseTtlMs * 2 ** Math.max(0, failures - policy.threshold));
}

export function recordSuccess(h: EndpointHealth | undefined, endpoint: string, now: number, latencyMs?: number): EndpointHealth {
  return {
    endpoint,
    failures: 0,
    lastFailure: h?.lastFailure,
    lastSuccess: now,
    latencyMs: latencyMs ?? h?.latencyMs,
    updatedAt: now,
  };
}

export type HealthState = 'up' | 'down' | 'probe' | 'unknown';

/** up; down (skip it); probe (down, but its time is over: one request may try it); unknown (never seen). */
export function healthState(h: EndpointHealth | undefined, now: number): HealthState {
  if (!h) return 'unknown';
  if (h.downUntil === undefined) return 'up';
  return now < h.downUntil ? 'down' : 'probe';
}

/**
 * Candidates in the order to try them: those not marked down, in order, then those marked
 * down, in order, as a last resort (a mirror recovers before its down time is over; when
 * everything else has failed, asking it costs little). `down` is that tail.
 */
export function orderByHealth<T>(candidates: readonly T[], endpointOf: (c: T) => string, health: HealthMap, now: number): { ordered: T[]; down: T[] } {
  const down = candidates.filter((c) => healthState(health[endpointOf(c)], now) === 'down');
  return { ordered: [...candidates.filter((c) => !down.includes(c)), ...down], down };
}

/** Two views of the cache (two processes) merged: per endpoint, the more recently updated record wins. */
export function mergeHealth(a: HealthMap, b: HealthMap): Record<string, EndpointHealth> {
  const out: Record<string, EndpointHealth> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const mine = out[k];
    if (!mine || v.updatedAt > mine.updatedAt) out[k] = v;
  }
  return out;
}

/**
 * How long an endpoint's record is kept without news of it (no pull, no probe): a week. Its
 * down time (15 min at most) is long over by then, so it only says how the endpoint was; the
 * cache, rewritten on every update, would otherwise keep every endpoint ever used for ever.
 */
export const HEALTH_RECORD_MAX_AGE_MS = 7 * 24 * 3600_000;

/**
 * The records less than `maxAgeMs` older than the newest one (which is the update being
 * written). Measured from the newest record, not the clock, so a clock stepped forward
 * does not empty the cache; a record from the future is not believed on reading (store.ts).
 */
export function withoutStale(map: HealthMap, maxAgeMs: number = HEALTH_RECORD_MAX_AGE_MS): Record<string, EndpointHealth> {
  const records = Object.entries(map);
  const newest = records.reduce((m, [, h]) => Math.max(m, h.updatedAt), -Infinity);
  return Object.fromEntries(records.filter(([, h]) => h.updatedAt >= newest - maxAgeMs));
}
