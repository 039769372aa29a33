/**
 * reloadSince (src/daemon/reload-status.ts): what `mirror-policyd reload` waits for, from the
 * status read before its SIGHUP and one read after.
 */
import t from 'tap';
import { isReloadsAnswer, reloadSince, type ReloadRecord, type ReloadStatus } from '../../src/daemon/reload-status.js';

const record = (number: number, outcome: ReloadRecord['outcome'] = 'applied'): ReloadRecord => ({
  number,
  at: '2026-12-06T03:00:00.000Z',
  outcome,
  problems: outcome === 'refused' ? ['/etc/mirror-policyd/config.toml:2:15: "debounce-ms" must be a whole number'] : [],
  warnings: [],
});

t.test('idle before: done once a reload numbered after it has finished', async (t) => {
  const before: ReloadStatus = { requested: 3, started: 3, finished: 3, last: record(3) };
  t.same(reloadSince(before, before), { done: false, why: 'the daemon has not counted the SIGHUP yet' });
  t.same(reloadSince(before, { requested: 4, started: 3, finished: 3, last: record(3) }), {
    done: false,
    why: 'the reload asked for waits for reload 3, in progress',
  });
  t.same(reloadSince(before, { requested: 4, started: 4, finished: 3, last: record(3) }), { done: false, why: 'reload 4 is in progress' });
  t.same(reloadSince(before, { requested: 4, started: 4, finished: 4, last: record(4, 'refused') }), { done: true, record: record(4, 'refused') });
});

t.test('a reload in progress before: its end is not ours (it may have read the config before the change)', async (t) => {
  const before: ReloadStatus = { requested: 5, started: 5, finished: 4, last: record(4) };
  t.equal(reloadSince(before, { requested: 6, started: 5, finished: 5, last: record(5) }).done, false, 'reload 5 began before');
  t.same(reloadSince(before, { requested: 6, started: 6, finished: 6, last: record(6) }), { done: true, record: record(6) });
});

t.test('a reload waiting to begin before: it is ours (it reads the config after it begins)', async (t) => {
  // Reload 5 runs, a request made during it waits (requested 6, started 5); our SIGHUP joins it.
  const before: ReloadStatus = { requested: 6, started: 5, finished: 4, last: record(4) };
  t.same(reloadSince(before, { requested: 7, started: 6, finished: 6, last: record(6) }), { done: true, record: record(6) });
});

t.test('others reloading at the same time: the latest finished is the answer', async (t) => {
  const before: ReloadStatus = { requested: 1, started: 1, finished: 1, last: record(1) };
  t.same(reloadSince(before, { requested: 3, started: 3, finished: 3, last: record(3, 'refused') }), { done: true, record: record(3, 'refused') });
});

t.test('a daemon that never reloaded', async (t) => {
  const before: ReloadStatus = { requested: 0, started: 0, finished: 0 };
  t.equal(reloadSince(before, { requested: 1, started: 1, finished: 0 }).done, false);
  t.same(reloadSince(before, { requested: 1, started: 1, finished: 1, last: record(1) }), { done: true, record: record(1) });
});

t.test("an answer whose pid could not be the daemon's is not taken: kill(-1) or kill(0) would reach every process", async (t) => {
  const reloads = { requested: 1, started: 1, finished: 1 };
  t.ok(isReloadsAnswer({ pid: 1234, reloads }), 'a process id');
  for (const pid of [-1, 0, 1, 4_194_305, 1.5, '1234']) t.notOk(isReloadsAnswer({ pid, reloads }), `pid ${JSON.stringify(pid)}`);
});
