/**
 * `npm run soak`: the crash campaign of test/daemon/crash.test.ts (bench/crash-campaign.ts)
 * at 1 000 rounds: the real daemon killed with SIGKILL at random moments while it
 * re-renders, everything it leaves checked, then restarted. Prints progress and figures;
 * exits 1 on any violation (or when a round could not run).
 *
 *   npm run soak                      1 000 rounds, a new seed
 *   CRASH_ROUNDS=5000 npm run soak    more rounds
 *   CRASH_SEED=1234 npm run soak      the same random choices again (the seed is printed; timing still varies)
 *   SOAK_KEEP=1 npm run soak          keep the temp directories for a post-mortem
 */
import { formatCampaign, runCrashCampaign } from './crash-campaign.js';
import { snapshotBuild } from './daemon-harness.js';

const rounds = Math.max(1, Math.floor(Number(process.env['CRASH_ROUNDS'] ?? 1000)) || 1000);
const seedEnv = process.env['CRASH_SEED'];
const seed = seedEnv !== undefined && Number.isFinite(Number(seedEnv)) ? Number(seedEnv) : undefined;

console.log(`soak: ${rounds} rounds of start → rapid re-renders → kill -9 → check → restart`);
// The daemon runs from a private copy of this build: a rebuild of the working tree during the soak must not change it.
const build = snapshotBuild();
const result = await runCrashCampaign({
  rounds,
  bin: build.bin,
  ...(seed !== undefined ? { seed } : {}),
  keep: process.env['SOAK_KEEP'] === '1',
  progressEvery: Math.max(10, Math.floor(rounds / 20)),
  onProgress: (r) => console.log(`  ${String(r.rounds).padStart(6)} rounds  ${String(r.kills).padStart(6)} kills  ${String(r.killsMidWrite).padStart(4)} mid-write  ${String(r.violationCount).padStart(3)} violations  ${(r.ms / 1000).toFixed(0)} s`),
});
build.remove();
console.log(formatCampaign(result));
const ok = result.violationCount === 0 && result.rounds === rounds;
console.log(ok ? `soak: OK, ${result.rounds} rounds, ${result.kills} kills, 0 violations` : `soak: FAILED, ${result.rounds}/${rounds} rounds, ${result.kills} kills, ${result.violationCount} violations (replay: CRASH_SEED=${result.seed})`);
process.exitCode = ok ? 0 : 1;
