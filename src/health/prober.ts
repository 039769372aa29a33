/**
 * The daemon's background probes: every mirror endpoint of the rendered file gets a
 * `GET /v2/` now and then (interval with jitter, so many hosts do not probe in step),
 * with the same CA, credentials and proxy settings a pull would use. Results go into
 * the shared health cache, so a `pull` finds a dead mirror already marked down.
 */
import { endpointKey, recordSuccess, type EndpointHealth, type HealthMap } from './health.js';
import { readHealth, updateHealth } from './store.js';
import { FailureLog } from '../core/failure-log.js';
import type { Logger } from '../core/log.js';
import { tlsFor } from '../registry/certs.js';
import type { ProbeTarget } from './mirror-endpoints.js';
import { afterProbeFailure } from '../registry/failure.js';
import { pingEndpoint } from '../registry/probe.js';
import { DEFAULT_TIMEOUTS, type Timeouts } from '../registry/timeouts.js';

export { mirrorEndpoints, type ProbeTarget } from './mirror-endpoints.js';

function keyOf(t: ProbeTarget): string {
  return endpointKey(t.host, t.insecure);
}

/** Probes every target once, in parallel; returns the updated records. */
export async function probeAll(
  targets: readonly ProbeTarget[],
  health: HealthMap,
  opts: { timeouts?: Timeouts; now?: () => number } = {},
): Promise<Record<string, EndpointHealth>> {
  const now = opts.now ?? Date.now;
  const out: Record<string, EndpointHealth> = {};
  await Promise.all(
    targets.map(async (t) => {
      const key = keyOf(t);
      const started = performance.now();
      try {
        // inside: a certs.d directory containers/image refuses fails the probe as it fails every pull
        const tls = await tlsFor(t.host, { insecure: t.insecure });
        await pingEndpoint(t.host, t.insecure, { tls, timeouts: opts.timeouts ?? DEFAULT_TIMEOUTS });
        out[key] = recordSuccess(health[key], key, now(), Math.round(performance.now() - started));
      } catch (e) {
        out[key] = afterProbeFailure(health[key], key, e, now());
      }
    }),
  );
  return out;
}

export interface Prober {
  stop(): void;
  /** The latest view of the cache (after the last round). */
  health(): HealthMap;
}

/** How soon after the start the first round runs (±20 %), when the interval is longer. */
const FIRST_ROUND_MS = 1000;

/** The results of one round: the updated record of every endpoint probed, and the cache after the round. */
export type RoundListener = (updates: Readonly<Record<string, EndpointHealth>>, health: HealthMap) => void | Promise<void>;

/** Deadlines of a probe: `ms` to connect (TLS included) and `ms` for the response headers. */
export function probeTimeouts(ms: number): Timeouts {
  return { connectMs: ms, headersMs: ms, bodyIdleMs: ms };
}

/**
 * Probes `targets()` every `intervalMs` ± 20 %, writing results to the cache file, and
 * hands each round's results to `onRound`. Rounds start `intervalMs` apart (counted from
 * the start of the previous round, never overlapping), so a mirror that hangs until the
 * probe deadline does not stretch the time it takes to notice it.
 */
export function startProber(
  targets: () => readonly ProbeTarget[],
  healthFile: string,
  intervalMs: number,
  log: Logger,
  timeouts?: Timeouts,
  onRound?: RoundListener,
): Prober {
  let current: HealthMap = {};
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // What was last logged: each endpoint's down or up, and the cache write failure. The cache file is
  // shared and may not take our writes, so whether a mirror was down is ours to remember.
  const loggedDown = new Map<string, boolean>();
  const cacheFailure = new FailureLog();
  const round = async (): Promise<void> => {
    const started = Date.now();
    const list = targets();
    if (list.length > 0) {
      const before = await readHealth(healthFile);
      const updates = await probeAll(list, before, { timeouts });
      for (const [k, h] of Object.entries(updates)) {
        const wasDown = loggedDown.get(k) ?? before[k]?.downUntil !== undefined;
        const isDown = h.downUntil !== undefined;
        loggedDown.set(k, isDown);
        if (isDown && !wasDown) log.warn({ endpoint: k, class: h.lastFailure?.class }, `mirror ${k} is down: ${h.lastFailure?.message ?? ''}`);
        else if (!isDown && wasDown) log.info({ endpoint: k }, `mirror ${k} is up again`);
      }
      try {
        current = await updateHealth(healthFile, updates);
        if (cacheFailure.cleared()) log.info(`health cache ${healthFile} updated again`);
      } catch (e) {
        if (cacheFailure.news(e))
          log.warn(
            `health cache ${healthFile} not updated: ${(e as Error).message} (pulls do not see the probes' results until it is; logged again only when the reason changes)`,
          );
        current = { ...before, ...updates };
      }
      if (!stopped && onRound) await onRound(updates, current);
    }
    if (!stopped) schedule(Date.now() - started);
  };
  const schedule = (spentMs: number, everyMs = intervalMs): void => {
    const wait = Math.max(0, everyMs * (0.8 + Math.random() * 0.4) - spentMs);
    timer = setTimeout(
      () =>
        void round().catch((e: Error) => {
          log.error(`probe round failed: ${e.message}`);
          if (!stopped) schedule(0); // one failed round must not end the probing
        }),
      wait,
    );
    timer.unref();
  };
  // The first round soon after the start (status says "unknown" until then), not a whole interval later.
  schedule(0, Math.min(intervalMs, FIRST_ROUND_MS));
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    health: () => current,
  };
}
