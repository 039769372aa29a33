/**
 * Crash consistency with the REAL daemon process (bench/crash-campaign.ts): kill -9 at
 * random moments while it re-renders, then check that the output and the state directory
 * are each exactly one complete version, and that a restart works. 50 rounds here;
 * CRASH_ROUNDS raises it (`npm run soak` runs 1 000); CRASH_SEED repeats a campaign's random
 * choices (its timing, and so where the kills land, still varies).
 * Asserts behaviour only: the figures are printed as comments. The time bound is a
 * safety net against a hang, far above what the rounds take (about 0.5 s each).
 */
import t from 'tap';
import { formatCampaign, runCrashCampaign } from '../../bench/crash-campaign.js';

const rounds = Math.max(50, Math.floor(Number(process.env['CRASH_ROUNDS'] ?? 50)) || 50);
const seed = process.env['CRASH_SEED'] !== undefined ? Number(process.env['CRASH_SEED']) : undefined;
const deadlineMs = Math.max(200_000, rounds * 2000); // a guard against a hang, not a speed limit: 50 rounds take ~25 s on a quiet machine
t.setTimeout(deadlineMs + 30_000); // the file's limit (tap's 120 s) must hold the whole campaign

t.test(`kill -9 at random moments, ${rounds} rounds: output and state always whole, restart always works`, { timeout: deadlineMs + 25_000 }, async (t) => {
  const r = await runCrashCampaign({ rounds, deadlineMs, ...(seed !== undefined && Number.isFinite(seed) ? { seed } : {}) });
  t.comment(formatCampaign(r));
  t.same(r.violations, [], `no violations (seed ${r.seed})`);
  t.equal(r.rounds, rounds, 'every round ran (none cut short by the time bound or a failed restart)');
  t.equal(r.kills, rounds, 'one kill a round');
  t.equal(r.restarts, rounds + 1, 'a restart after every kill, and a last clean start and stop');
  t.ok(r.writes > rounds, 'the fragments kept changing');
});
