/**
 * The health cache on disk (STATE/health.json), shared by separate `pull` processes and
 * the daemon. Updates are read-merge-write under a short lock, so concurrent writers do
 * not lose each other's records; the file is replaced atomically, so a crash leaves the
 * old or the new one.
 */
import { constants, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { mergeHealth, type EndpointHealth, type HealthMap } from './health.js';

const LOCK_STALE_MS = 10_000;
const LOCK_WAIT_MS = 2_000;

export function healthPath(stateDir: string): string {
  return join(stateDir, 'health.json');
}

export async function readHealth(path: string): Promise<HealthMap> {
  try {
    const j = JSON.parse(await fs.readFile(path, 'utf8')) as { version?: number; endpoints?: Record<string, EndpointHealth> };
    return j.version === 1 && j.endpoints && typeof j.endpoints === 'object' ? j.endpoints : {};
  } catch {
    return {}; // missing or unreadable: no memory yet
  }
}

async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fh = await fs.open(lock, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const st = await fs.stat(lock).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) await fs.rm(lock, { force: true }); // its holder died
      else if (Date.now() > deadline) break; // proceed unlocked rather than stall a pull; merge still limits the damage
      else await new Promise((r) => setTimeout(r, 20));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

/** Merges `updates` into the file (newer record per endpoint wins) and returns the result. */
export async function updateHealth(path: string, updates: HealthMap): Promise<HealthMap> {
  if (Object.keys(updates).length === 0) return readHealth(path);
  await fs.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  return withLock(path, async () => {
    const merged = mergeHealth(await readHealth(path), updates);
    await writeFileAtomic(path, `${JSON.stringify({ version: 1, endpoints: merged }, null, 1)}\n`, { mode: 0o600 });
    return merged;
  });
}
