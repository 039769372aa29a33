/**
 * ReloadQueue (src/daemon/reload-queue.ts): SIGHUPs counted at once, one reload at a time, the
 * requests made while one waits to begin served by it, and RELOADING=1 always followed by
 * READY=1 (the `end` step), a reload that throws included.
 */
import t from 'tap';
import { ReloadQueue, type ReloadSteps } from '../../src/daemon/reload-queue.js';
import type { ReloadResult } from '../../src/daemon/reload-status.js';

const APPLIED: ReloadResult = { outcome: 'applied', problems: [], warnings: [] };

/** A reload the test finishes (or fails) by hand. */
interface Gate {
  resolve(r?: ReloadResult): void;
  reject(e: Error): void;
}

/** Steps that record what happened, each reload held until the test releases it. */
function steps(): { steps: ReloadSteps; events: string[]; gates: Gate[]; stopped: { value: boolean } } {
  const events: string[] = [];
  const gates: Gate[] = [];
  const stopped = { value: false };
  return {
    events,
    gates,
    stopped,
    steps: {
      canRun: () => !stopped.value,
      begin: () => events.push('RELOADING=1'),
      run: () =>
        new Promise<ReloadResult>((resolve, reject) => {
          events.push('run');
          gates.push({ resolve: (r = APPLIED) => resolve(r), reject });
        }),
      end: () => events.push('READY=1'),
      failed: (e) => events.push(`failed: ${e.message}`),
    },
  };
}

/** Lets the queue's promise chain move on. */
const turn = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

const NOW = new Date('2026-12-06T03:00:00.000Z');

t.test('a request is counted at once and served by one reload; READY=1 after it', async (t) => {
  const s = steps();
  const q = new ReloadQueue(s.steps, () => NOW);
  q.open();
  q.request();
  t.same(q.status(), { requested: 1, started: 0, finished: 0 }, 'counted in the handler, before the reload begins');
  await turn();
  t.same(q.status(), { requested: 1, started: 1, finished: 0 });
  s.gates[0]?.resolve();
  await q.settled();
  t.same(q.status(), { requested: 1, started: 1, finished: 1, last: { number: 1, at: NOW.toISOString(), ...APPLIED } });
  t.same(s.events, ['RELOADING=1', 'run', 'READY=1']);
});

t.test('a reload that throws: READY=1 all the same, recorded as failed with its message', async (t) => {
  const s = steps();
  const q = new ReloadQueue(s.steps, () => NOW);
  q.open();
  q.request();
  await turn();
  s.gates[0]?.reject(new Error('watcher: EMFILE'));
  await q.settled();
  t.same(s.events, ['RELOADING=1', 'run', 'failed: watcher: EMFILE', 'READY=1'], 'READY=1 follows RELOADING=1');
  t.same(q.status().last, { number: 1, at: NOW.toISOString(), outcome: 'failed', problems: ['reload failed: watcher: EMFILE'], warnings: [] });
  // And the next request still gets its reload.
  q.request();
  await turn();
  s.gates[1]?.resolve();
  await q.settled();
  t.equal(q.status().last?.outcome, 'applied');
  t.same(s.events.slice(4), ['RELOADING=1', 'run', 'READY=1']);
});

t.test('requests while one reload runs: one more reload after it, serving them all (coalesced)', async (t) => {
  const s = steps();
  const q = new ReloadQueue(s.steps, () => NOW);
  q.open();
  q.request();
  await turn();
  t.equal(q.status().started, 1);
  q.request(); // during reload 1: it may have read the config already, so a reload 2 is due
  q.request();
  q.request();
  await turn();
  t.same(q.status(), { requested: 4, started: 1, finished: 0 }, 'reload 2 waits for reload 1');
  s.gates[0]?.resolve();
  await turn();
  t.same(q.status().started, 2, 'one reload for the three requests');
  q.request(); // during reload 2
  s.gates[1]?.resolve();
  await turn();
  s.gates[2]?.resolve();
  await q.settled();
  t.same({ ...q.status(), last: undefined }, { requested: 5, started: 3, finished: 3, last: undefined });
  t.equal(s.gates.length, 3, 'three reloads for five requests');
  t.same(
    s.events.filter((e) => e !== 'run'),
    ['RELOADING=1', 'READY=1', 'RELOADING=1', 'READY=1', 'RELOADING=1', 'READY=1'],
    'each RELOADING=1 has its READY=1',
  );
});

t.test('requests before open() (the daemon starting): counted, one reload once open', async (t) => {
  const s = steps();
  const q = new ReloadQueue(s.steps, () => NOW);
  q.request();
  q.request();
  await turn();
  t.same(q.status(), { requested: 2, started: 0, finished: 0 }, 'nothing runs during the start');
  t.same(s.events, []);
  q.open();
  await turn();
  s.gates[0]?.resolve();
  await q.settled();
  t.same({ ...q.status(), last: undefined }, { requested: 2, started: 1, finished: 1, last: undefined });
});

t.test('open() without requests runs nothing', async (t) => {
  const s = steps();
  const q = new ReloadQueue(s.steps, () => NOW);
  q.open();
  await q.settled();
  t.same(s.events, []);
  t.same(q.status(), { requested: 0, started: 0, finished: 0 });
});

t.test('stopping: a reload that would begin does not (no RELOADING=1), and one running sends no READY=1 after STOPPING=1', async (t) => {
  const s = steps();
  const q = new ReloadQueue(s.steps, () => NOW);
  q.open();
  q.request();
  await turn();
  q.request(); // waits
  s.stopped.value = true;
  s.gates[0]?.resolve();
  await q.settled();
  t.same(s.events, ['RELOADING=1', 'run'], 'neither READY=1 after the stop nor a second RELOADING=1');
  t.same(q.status().last, { number: 2, at: NOW.toISOString(), outcome: 'stopped', problems: ['the daemon is stopping'], warnings: [] });
  t.equal(q.status().finished, 2, 'both counted as finished: a waiting `reload` command is answered');
});

t.test('reloads counted by outcome, every outcome from the start (for the metrics file)', async (t) => {
  const s = steps();
  const q = new ReloadQueue(s.steps, () => NOW);
  t.same(q.outcomes(), { applied: 0, refused: 0, 'not-rendered': 0, failed: 0, stopped: 0 });
  q.open();
  q.request();
  await turn();
  s.gates[0]?.resolve({ outcome: 'refused', problems: ['config.toml:1:1: bad'], warnings: [] });
  await q.settled();
  q.request();
  await turn();
  s.gates[1]?.reject(new Error('boom'));
  await q.settled();
  q.request();
  await turn();
  s.gates[2]?.resolve();
  await q.settled();
  t.same(q.outcomes(), { applied: 1, refused: 1, 'not-rendered': 0, failed: 1, stopped: 0 });
  const copy = q.outcomes();
  copy.applied = 99;
  t.equal(q.outcomes().applied, 1, 'a copy');
});
