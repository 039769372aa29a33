/**
 * The health cache on disk (STATE/health.json), shared by separate `pull` processes and
 * the daemon. Updates are read-merge-write under a short lock (src/output/lock.ts), so concurrent
 * writers do not lose each other's records; the file is replaced atomically, so a crash
 * leaves the old or the new one. A writer that cannot get the lock in time writes nothing
 * and says so (LockBusyError): `pull` and the prober then go on without updating the cache.
 * A cache file that is not a private regular file of ours is not believed, nor is a malformed record
 * in it or one written after now.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { mergeHealth, withoutStale, type EndpointHealth, type HealthMap } from './health.js';
import { withLock } from '../output/lock.js';
import { readPrivateFile, replacePrivateFile } from '../output/private-file.js';

/** A pull waits this long for another writer; then it goes on without updating the cache. */
export const HEALTH_LOCK_WAIT_MS = 2_000;
/** A lock file naming no holder (an older version's) is left over once this old. */
const UNNAMED_LOCK_STALE_MS = 10_000;

export function healthPath(stateDir: string): string {
  return join(stateDir, 'health.json');
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * A record the rules can use. Any other is dropped on reading: one without a time of its own
 * would win every merge (no update is newer than it) and stay as it is for ever.
 */
function isEndpointHealth(v: unknown): v is EndpointHealth {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  const optionalTime = (k: string): boolean => r[k] === undefined || isTime(r[k]);
  return (
    Number.isSafeInteger(r.failures) &&
    (r.failures as number) >= 0 &&
    isTime(r.updatedAt) &&
    ['downUntil', 'lastSuccess', 'latencyMs'].every(optionalTime) &&
    (r.lastFailure === undefined || isFailure(r.lastFailure))
  );
}

function isFailure(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  return isTime(f.at) && typeof f.class === 'string' && typeof f.message === 'string';
}

/**
 * A record written more than this after now was written before the clock was stepped back: the
 * newer record wins every merge, so believed, it would hold its endpoint as it was (down, say)
 * until the clock caught up, whatever the pulls and probes found meanwhile.
 */
const FUTURE_SLACK_MS = 60_000;

export async function readHealth(path: string, now: number = Date.now()): Promise<HealthMap> {
  let j: unknown;
  try {
    j = JSON.parse((await readPrivateFile(path)) ?? '');
  } catch {
    return {}; // missing, unreadable, not JSON or not trusted: no memory yet
  }
  const { version, endpoints } = (typeof j === 'object' && j !== null ? j : {}) as { version?: unknown; endpoints?: unknown };
  if (version !== 1 || typeof endpoints !== 'object' || endpoints === null || Array.isArray(endpoints)) return {};
  return Object.fromEntries(
    Object.entries(endpoints).filter((e): e is [string, EndpointHealth] => isEndpointHealth(e[1]) && e[1].updatedAt <= now + FUTURE_SLACK_MS),
  );
}

/** Merges `updates` into the file (newer record per endpoint wins, stale ones dropped: withoutStale) and returns the result. */
export async function updateHealth(path: string, updates: HealthMap): Promise<HealthMap> {
  if (Object.keys(updates).length === 0) return readHealth(path);
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  return withLock(`${path}.lock`, { waitMs: HEALTH_LOCK_WAIT_MS, unnamedStaleMs: UNNAMED_LOCK_STALE_MS }, async () => {
    const merged = withoutStale(mergeHealth(await readHealth(path), updates));
    await replacePrivateFile(path, `${JSON.stringify({ version: 1, endpoints: merged }, null, 1)}\n`);
    return merged;
  });
}
