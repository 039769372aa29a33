/**
 * HealthKeeper (src/health/keeper.ts), pure: the demoted set renders use follows the
 * hysteresis only when the rewrite cap allows, so no render (for whatever reason) carries a
 * change the cap holds back; reasons are handed out once; retired endpoints are forgotten.
 */
import t from 'tap';
import { HealthKeeper, MAX_CARRIED_REASONS } from '../../src/health/keeper.js';

const A = 'insecure://127.0.0.1:5001';
const B = 'insecure://127.0.0.1:5002';
const POLICY = { demoteAfter: 2, restoreAfter: 1, minDwellMs: 0, maxRewritesPerMinute: 2 };
const fail = (key: string) => ({ key, ok: false, failureClass: 'refused' });
const ok = (key: string) => ({ key, ok: true });

t.test('demoted after the streak; the reason travels with the render that writes it', async (t) => {
  const k = new HealthKeeper(POLICY);
  t.same(k.observeRound([fail(A), ok(B)], [A, B], 1000), { changes: [], rewrite: 'none' });
  t.same([...k.demoted()], [], 'one failure is not enough');
  const v = k.observeRound([fail(A), ok(B)], [A, B], 2000);
  t.equal(v.rewrite, 'now');
  t.same(v.changes, [{ key: A, demoted: true, reason: `demoted ${A}: 2 refused` }]);
  t.same([...k.demoted()], [A]);
  t.equal(k.demotionsTotal, 1);
  t.same(k.markApplied(), [`demoted ${A}: 2 refused`]);
  t.same(k.markApplied(), [], 'once');
  t.equal(k.observeRound([fail(A)], [A, B], 3000).rewrite, 'none', 'still down: nothing to rewrite');
});

t.test('the cap holds the demoted set still, whatever renders happen meanwhile; the change goes out when the window frees', async (t) => {
  const k = new HealthKeeper(POLICY);
  let now = 0;
  const round = (okA: boolean): string => k.observeRound([okA ? ok(A) : fail(A)], [A], (now += 1000)).rewrite;
  round(false);
  t.equal(round(false), 'now', 'demotion 1');
  t.equal(round(true), 'now', 'restore: rewrite 2');
  round(false);
  t.equal(round(false), 'deferred', 'a third change within the minute is held back');
  t.same([...k.demoted()], [], 'renders meanwhile still use the last allowed set');
  t.same(k.markApplied(), [`demoted ${A}: 2 refused`, `restored ${A}: 1 successful probe`], 'only the allowed changes were carried');
  now = 61_500;
  t.equal(round(false), 'now', 'the window freed: the held change goes out');
  t.same([...k.demoted()], [A]);
  t.same(k.markApplied(), [`demoted ${A}: 2 refused`]);
  t.equal(k.demotionsTotal, 2, 'demotions that reached the file');
  t.equal(k.recentRewrites(now), 2);
});

t.test('changed and changed back before it could be written: nothing to write, no stale reason', async (t) => {
  const k = new HealthKeeper({ ...POLICY, demoteAfter: 1, maxRewritesPerMinute: 1 });
  t.equal(k.observeRound([fail(A)], [A], 1000).rewrite, 'now');
  k.markApplied();
  t.equal(k.observeRound([ok(A)], [A], 2000).rewrite, 'deferred', 'restore held back');
  t.equal(k.observeRound([fail(A)], [A], 3000).rewrite, 'none', 'demoted again: the file is right as it is');
  t.same(k.markApplied(), []);
});

t.test('an endpoint that left the render is forgotten; results for unknown endpoints are ignored', async (t) => {
  const k = new HealthKeeper({ ...POLICY, demoteAfter: 1 });
  k.observeRound([fail(A)], [A, B], 1000);
  t.ok(k.entry(A));
  k.observeRound([fail(B)], [B], 2000);
  t.equal(k.entry(A), undefined, 'A no longer in the render');
  t.equal(k.observeRound([fail('https://elsewhere')], [B], 3000).changes.length, 0);
});

t.test('reasons carried while no render reaches the file (a write failing for days) are bounded: as many after 2N flips as after N', async (t) => {
  const flips = (k: HealthKeeper, n: number, from: number): number => {
    let now = from;
    for (let i = 0; i < n; i++) k.observeRound([i % 2 === 0 ? fail(A) : ok(A)], [A], (now += 1000));
    return now;
  };
  const policy = { demoteAfter: 1, restoreAfter: 1, minDwellMs: 0, maxRewritesPerMinute: Number.POSITIVE_INFINITY };
  const n = 4 * MAX_CARRIED_REASONS;
  const afterN = new HealthKeeper(policy);
  flips(afterN, n, 0);
  const after2N = new HealthKeeper(policy);
  flips(after2N, 2 * n, 0);
  const a = afterN.markApplied();
  const b = after2N.markApplied();
  t.equal(a.length, MAX_CARRIED_REASONS + 1, 'the newest reasons, and one line for the rest');
  t.equal(b.length, a.length, 'no more after 2N flips than after N');
  t.equal(b[0], `(${2 * n - MAX_CARRIED_REASONS} earlier changes not listed)`);
  t.equal(b[b.length - 1], `restored ${A}: 1 successful probe`, 'the last change is the last listed');
  t.same(after2N.markApplied(), [], 'handed out once');
});
