/**
 * Crash consistency with the REAL daemon process (bench/crash-campaign.ts): kill -9 at
 * random moments while it re-renders, then check that the output and the state directory
 * are each exactly one complete version, and that a restart works. 50 rounds here;
 * CRASH_ROUNDS sets it (`npm run soak` runs 1 000); CRASH_SEED repeats a campaign's random
 * choices (its timing, and so where the kills land, still varies).
 * Then 150 cheaper kill -9 rounds aimed at the state directory alone (bench/torn-writes.ts):
 * a process writing last-good fragments, health.json and daemon.json through the daemon's
 * code is killed at random moments; every file must still be whole (TORN_ROUNDS sets it).
 * 200 kills in all. CI runs the suite on two runtimes and halves both there (25 + 75 rounds
 * each, .ci/run): 200 kills a CI run, as issue 7 asks, in half the time. Less counts as 25 and 75.
 * Asserts behaviour only: the figures are printed as comments. The time bound is a
 * safety net against a hang, far above what the rounds take (about 0.5 s each).
 */
import t from 'tap';
import { formatCampaign, runCrashCampaign } from '../../../bench/crash-campaign.js';
import { isWholeTornText, tornText } from '../../../bench/torn-text.js';
import { formatTornWrites, runTornWriteCampaign } from '../../../bench/torn-writes.js';

const rounds = Math.max(25, Math.floor(Number(process.env['CRASH_ROUNDS'] ?? 50)) || 50);
const seed = process.env['CRASH_SEED'] !== undefined ? Number(process.env['CRASH_SEED']) : undefined;
const deadlineMs = Math.max(200_000, rounds * 2000); // a guard against a hang, not a speed limit: 50 rounds take ~25 s on a quiet machine
const tornRounds = Math.max(75, Math.floor(Number(process.env['TORN_ROUNDS'] ?? 150)) || 150);
const tornDeadlineMs = Math.max(120_000, tornRounds * 1000); // a guard against a hang: 150 rounds take ~25 s
t.setTimeout(deadlineMs + tornDeadlineMs + 60_000); // the file's limit (tap's 120 s) must hold both campaigns

t.test(`kill -9 at random moments, ${rounds} rounds: output and state always whole, restart always works`, { timeout: deadlineMs + 25_000 }, async (t) => {
  const r = await runCrashCampaign({ rounds, deadlineMs, ...(seed !== undefined && Number.isFinite(seed) ? { seed } : {}) });
  t.comment(formatCampaign(r));
  t.same(r.violations, [], `no violations (seed ${r.seed})`);
  t.equal(r.rounds, rounds, 'every round ran (none cut short by the time bound or a failed restart)');
  t.equal(r.kills, rounds, 'one kill a round');
  t.equal(r.restarts, rounds + 1, 'a restart after every kill, and a last clean start and stop');
  t.ok(r.writes > rounds, 'the fragments kept changing');
});

t.test('the torn-write check tells a torn last-good file from a whole one', async (t) => {
  const whole = tornText('10-a.toml', 5); // v % 5 === 0: one of the large ones
  t.ok(isWholeTornText('10-a.toml', whole));
  t.notOk(isWholeTornText('10-a.toml', whole.slice(0, -1)), 'one byte short');
  t.notOk(isWholeTornText('10-a.toml', whole.slice(0, 4096)), 'cut at a page');
  t.notOk(isWholeTornText('10-a.toml', ''), 'empty');
  t.notOk(isWholeTornText('20-b.yaml', whole), "another fragment's text");
});

t.test(
  `kill -9 while the state directory is written, ${tornRounds} rounds: last-good, health.json and daemon.json always whole`,
  { timeout: tornDeadlineMs + 25_000 },
  async (t) => {
    const r = await runTornWriteCampaign({ rounds: tornRounds, deadlineMs: tornDeadlineMs, ...(seed !== undefined && Number.isFinite(seed) ? { seed } : {}) });
    t.comment(formatTornWrites(r));
    t.same(r.violations, [], `no violations (seed ${r.seed})`);
    t.equal(r.rounds, tornRounds, 'every round ran');
    t.equal(r.kills, tornRounds, 'one kill a round');
    t.ok(r.killsMidWrite > 0, `some kills landed in the middle of a write (${r.killsMidWrite})`);
    t.ok(r.filesChecked >= tornRounds * 3, `the files were there to check (${r.filesChecked})`);
  },
);
