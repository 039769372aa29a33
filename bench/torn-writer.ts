/**
 * The victim of the torn-write campaign (bench/torn-writes.ts): writes the daemon's state
 * files through the daemon's own code, as fast as it can, until it is killed with SIGKILL:
 * last-good fragments (StateDir.writeLastGood), health.json (updateHealth, under its lock),
 * daemon.json (StateDir.writeRecord). Every last-good text says what it is (a header with
 * its version and the body's sha256), so the campaign can tell a whole file from a torn one.
 *
 *   node dist/bench/torn-writer.js STATE_DIR SEED
 *
 * Prints "writing" once it has started; stops by itself after MAX_ITERATIONS or MAX_MS.
 */
import { StateDir } from '../src/daemon/state-dir.js';
import { healthPath, updateHealth } from '../src/health/store.js';
import type { EndpointHealth } from '../src/health/health.js';
import { TORN_FRAGMENTS, tornText } from './torn-text.js';

const MAX_ITERATIONS = 100_000;
const MAX_MS = 30_000;

async function main(): Promise<void> {
  const [dir, seedArg] = process.argv.slice(2);
  if (!dir) throw new Error('usage: torn-writer STATE_DIR SEED');
  const state = new StateDir(dir);
  await state.init();
  let v = Number(seedArg ?? 0) * 1_000_000;
  let lastGood = await state.readLastGood();
  const started = Date.now();
  process.stdout.write('writing\n');
  for (let i = 0; i < MAX_ITERATIONS && Date.now() - started < MAX_MS; i++) {
    const next: Record<string, string> = {};
    for (const file of TORN_FRAGMENTS) next[file] = tornText(file, ++v);
    if (i % 7 === 3) delete next['30-c.toml']; // now and then a fragment goes away
    await state.writeLastGood(lastGood, next);
    lastGood = next;
    const now = Date.now();
    const updates: Record<string, EndpointHealth> = {};
    for (let k = 0; k < 20; k++) {
      const endpoint = `https://m${k}.example.net:443`;
      updates[endpoint] = {
        endpoint,
        failures: v % 4,
        updatedAt: now,
        ...(v % 2
          ? { downUntil: now + 30_000, lastFailure: { at: now, class: 'connect-timeout', message: `attempt ${v}: ${'z'.repeat(v % 300)}` } }
          : { lastSuccess: now, latencyMs: v % 1000 }),
      };
    }
    await updateHealth(healthPath(dir), updates);
    await state.writeRecord({ pid: process.pid, output: `/nonexistent/${v}`, controlSocket: `/nonexistent/${v}.sock`, startedAt: new Date(now).toISOString() });
  }
}

await main();
