/**
 * What the daemon says about each mirror endpoint of its render, in `status` and in the
 * metrics: the health cache's verdict, and the place health-aware order gives it. Pure:
 * the render, the cache, the keeper's memory and the time in.
 */
import { endpointKey, healthState, type HealthMap } from './health.js';
import type { MetricsSnapshot } from '../metrics/format.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import type { HealthKeeper } from './keeper.js';
import { mirrorEndpoints } from './mirror-endpoints.js';

export interface MirrorView {
  readonly endpoint: string;
  /** up, down, probe, unknown (the health cache), or demoted (listed after the healthy mirrors). */
  readonly state: string;
  /** Present while health-aware order is on. */
  readonly demoted?: boolean;
  readonly lastProbe?: string;
  /** The latest probe's, when it succeeded (absent while the mirror fails). */
  readonly latencyMs?: number;
  readonly why?: string;
}

function lastVerdict(h: HealthMap[string] | undefined): number {
  return h ? Math.max(h.lastSuccess ?? 0, h.lastFailure?.at ?? 0) : 0;
}

export function mirrorViews(conf: RegistriesConf | undefined, health: HealthMap, keeper: HealthKeeper | undefined, now: number): MirrorView[] {
  if (!conf) return [];
  return mirrorEndpoints(conf).map((t) => {
    const key = endpointKey(t.host, t.insecure);
    const h = health[key];
    const last = lastVerdict(h);
    const order = keeper?.entry(key);
    const demoted = keeper?.demoted().has(key) === true;
    const why = [
      // The file's order lags the hysteresis only while the rewrite cap holds a change back.
      ...(demoted && order?.demoted
        ? [`demoted: ${order.reason ?? ''}${order.consecutiveSuccesses > 0 ? `; ${order.consecutiveSuccesses} successful probe(s) since` : ''}`]
        : []),
      ...(demoted && !order?.demoted ? [`demoted; restore held back by max-rewrites-per-minute${order?.reason ? ` (${order.reason})` : ''}`] : []),
      ...(!demoted && order?.demoted ? [`demotion held back by max-rewrites-per-minute (${order.reason ?? ''})`] : []),
      ...(h && h.failures > 0 && h.lastFailure ? [`${h.failures} × ${h.lastFailure.class}: ${h.lastFailure.message}`] : []),
    ];
    return {
      endpoint: key,
      state: demoted ? 'demoted' : healthState(h, now),
      ...(keeper ? { demoted } : {}),
      ...(last > 0 ? { lastProbe: new Date(last).toISOString() } : {}),
      // Only the latest probe's latency: that of an older success, beside a failing (down, demoted) mirror, misleads.
      ...(h?.latencyMs !== undefined && h.failures === 0 ? { latencyMs: h.latencyMs } : {}),
      ...(why.length > 0 ? { why: why.join('; ') } : {}),
    };
  });
}

/** The per-mirror part of the metrics (base units: seconds). */
export function mirrorMetrics(conf: RegistriesConf | undefined, health: HealthMap, demoted: ReadonlySet<string>): MetricsSnapshot['mirrors'] {
  if (!conf) return [];
  return mirrorEndpoints(conf).map((t) => {
    const key = endpointKey(t.host, t.insecure);
    const h = health[key];
    const last = lastVerdict(h);
    return {
      endpoint: key,
      up: h ? h.failures === 0 : undefined,
      ...(h?.latencyMs !== undefined ? { probeLatencySeconds: h.latencyMs / 1000 } : {}),
      ...(last > 0 ? { lastProbeTimestampSeconds: last / 1000 } : {}),
      demoted: demoted.has(key),
    };
  });
}
