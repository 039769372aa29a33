/**
 * What the local mirror has done since it started, for `status` and metrics: requests by
 * route, answers by status, bytes sent, each upstream source's outcomes, blobs finished from
 * another source mid-stream, blobs refused for a wrong digest, answers given at the deadline.
 */

export interface SourceOutcomes {
  ok: number;
  /** said nothing about the source's health: absent (404) or forbidden */
  absent: number;
  /** counted against its health: refused, timed out, 5xx, cut, wrong content */
  failed: number;
}

export interface LocalMirrorStats {
  requests: { base: number; manifests: number; blobs: number; refused: number };
  responses: Record<string, number>;
  bytesSent: number;
  sources: Record<string, SourceOutcomes>;
  /** a blob whose source failed mid-stream, finished from another source */
  midBlobFallbacks: number;
  /** a blob whose content did not match its digest: the client's connection was cut */
  digestMismatches: number;
  /** requests answered with an error because no source served them in the time allowed */
  deadlineAnswers: number;
  /** answers that were not the content asked for (4xx/5xx, cut connections) */
  errors: number;
  /** requests being served now */
  inFlight: number;
  /** of those, the ones waiting for an upstream slot now (Upstream.slot: a bound on requests to the sources) */
  waiting: number;
}

export function emptyStats(): LocalMirrorStats {
  return {
    requests: { base: 0, manifests: 0, blobs: 0, refused: 0 },
    responses: {},
    bytesSent: 0,
    sources: {},
    midBlobFallbacks: 0,
    digestMismatches: 0,
    deadlineAnswers: 0,
    errors: 0,
    inFlight: 0,
    waiting: 0,
  };
}

export function countSource(stats: LocalMirrorStats, endpoint: string, outcome: keyof SourceOutcomes): void {
  const s = (stats.sources[endpoint] ??= { ok: 0, absent: 0, failed: 0 });
  s[outcome]++;
}

export function countResponse(stats: LocalMirrorStats, status: number): void {
  stats.responses[String(status)] = (stats.responses[String(status)] ?? 0) + 1;
  if (status >= 400) stats.errors++;
}

/** A deep copy: the caller may keep it while the server goes on counting. */
export function snapshot(stats: LocalMirrorStats): LocalMirrorStats {
  return structuredClone(stats);
}
