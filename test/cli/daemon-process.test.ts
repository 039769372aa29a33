/**
 * giveBackStartHeap (src/cli/daemon-process.ts): once, some time after the daemon's start, one
 * full collection if the young generation is still larger than it was at the start, and none
 * if it is not. The young generation's size is given to it here (what V8 grows it to is V8's
 * business); the collection is the real one, seen through perf_hooks. Effects are waited for
 * with a generous deadline (a loaded machine runs a 30 ms timer late), never timed.
 */
import t from 'tap';
import { giveBackStartHeap, youngGenerationBytes } from '../../src/cli/daemon-process.js';
import { exposedGc, type GcFunction } from '../../src/registry/young-collections.js';
import { pollUntil, sleep } from '../helpers/daemon.js';
import { collectionsDuring } from '../helpers/gc.js';

const AFTER_MS = 30;

/** A young generation that reads `atStart` when looked at first, then `later`; `looks()` counts. */
function sizes(atStart: number, later: number): { read: () => number; looks: () => number } {
  let looks = 0;
  return { read: () => (looks++ === 0 ? atStart : later), looks: () => looks };
}

/** A gc that records what it was asked for. */
function recordingGc(): { gc: GcFunction; calls: Array<string> } {
  const calls: string[] = [];
  return { gc: (opts) => void calls.push(opts?.type ?? 'full'), calls };
}

t.test('the young generation grew since the start: one full collection, once, after the delay', async (t) => {
  const { gc, calls } = recordingGc();
  t.equal(giveBackStartHeap(gc, AFTER_MS, sizes(1 << 20, 8 << 20).read), true, 'armed');
  t.same(calls, [], 'nothing before the delay');
  await pollUntil(() => calls.length > 0, 'the collection');
  t.same(calls, ['full']);
  await sleep(AFTER_MS * 10);
  t.equal(calls.length, 1, 'once only');
});

t.test('the young generation is back at its start size (the reducer gave it back): no collection', async (t) => {
  const { gc, calls } = recordingGc();
  const young = sizes(1 << 20, 1 << 20);
  giveBackStartHeap(gc, AFTER_MS, young.read);
  await pollUntil(() => young.looks() === 2, 'the look after the delay');
  t.same(calls, []);
});

t.test('a runtime that gives no gc function: nothing armed', async (t) => {
  t.equal(giveBackStartHeap(undefined, AFTER_MS, sizes(1, 2).read), false);
});

t.test("with V8's own gc: a real full collection runs", async (t) => {
  const gc = exposedGc();
  if (gc === undefined) return void t.fail('this runtime gives no gc function');
  let collected = false;
  const seen = await collectionsDuring('major', async () => {
    giveBackStartHeap(
      () => {
        gc();
        collected = true;
      },
      AFTER_MS,
      sizes(1 << 20, 8 << 20).read,
    );
    await pollUntil(() => collected, 'the collection');
  });
  t.ok(seen >= 1, `${seen} full collections`);
});

t.test("youngGenerationBytes reads V8's new space", async (t) => {
  t.ok(youngGenerationBytes() > 0);
});
