/**
 * The health cache on disk (STATE/health.json), shared by separate `pull` processes and
 * the daemon. Updates are read-merge-write under a short lock (src/output/lock.ts), so concurrent
 * writers do not lose each other's records; the file is replaced atomically, so a crash
 * leaves the old or the new one. A writer that cannot get the lock in time writes nothing
 * and says so (LockBusyError): `pull` and the prober then go on without updating the cache.
 * A cache file that is not a private regular file of ours is not believed.
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { mergeHealth, type EndpointHealth, type HealthMap } from './health.js';
import { withLock } from '../output/lock.js';
import { readPrivateFile, replacePrivateFile } from '../output/private-file.js';

/** A pull waits this long for another writer; then it goes on without updating the cache. */
export const HEALTH_LOCK_WAIT_MS = 2_000;
/** A lock file naming no holder (an older version's) is left over once this old. */
const UNNAMED_LOCK_STALE_MS = 10_000;

export function healthPath(stateDir: string): string {
  return join(stateDir, 'health.json');
}

export async function readHealth(path: string): Promise<HealthMap> {
  try {
    const j = JSON.parse((await readPrivateFile(path)) ?? '') as { version?: number; endpoints?: Record<string, EndpointHealth> };
    return j.version === 1 && j.endpoints && typeof j.endpoints === 'object' ? j.endpoints : {};
  } catch {
    return {}; // missing, unreadable or not trusted: no memory yet
  }
}

/** Merges `updates` into the file (newer record per endpoint wins) and returns the result. */
export async function updateHealth(path: string, updates: HealthMap): Promise<HealthMap> {
  if (Object.keys(updates).length === 0) return readHealth(path);
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  return withLock(`${path}.lock`, { waitMs: HEALTH_LOCK_WAIT_MS, unnamedStaleMs: UNNAMED_LOCK_STALE_MS }, async () => {
    const merged = mergeHealth(await readHealth(path), updates);
    await replacePrivateFile(path, `${JSON.stringify({ version: 1, endpoints: merged }, null, 1)}\n`);
    return merged;
  });
}
