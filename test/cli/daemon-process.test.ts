/**
 * giveBackStartHeap (src/cli/daemon-process.ts): once, some time after the daemon's start, one
 * full collection if the young generation is still larger than it was at the start, and none
 * if it is not. The young generation's size is given to it here (what V8 grows it to is V8's
 * business); the collection is the real one, seen through perf_hooks.
 */
import t from 'tap';
import { giveBackStartHeap, youngGenerationBytes } from '../../src/cli/daemon-process.js';
import { exposedGc, type GcFunction } from '../../src/registry/young-collections.js';
import { collectionsDuring } from '../helpers/gc.js';

const AFTER_MS = 30;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A young generation that reads `atStart` when looked at first, then `later`. */
function sizes(atStart: number, later: number): () => number {
  let looks = 0;
  return () => (looks++ === 0 ? atStart : later);
}

/** A gc that records what it was asked for. */
function recordingGc(): { gc: GcFunction; calls: Array<string> } {
  const calls: string[] = [];
  return { gc: (opts) => void calls.push(opts?.type ?? 'full'), calls };
}

t.test('the young generation grew since the start: one full collection, once, after the delay', async (t) => {
  const { gc, calls } = recordingGc();
  t.equal(giveBackStartHeap(gc, AFTER_MS, sizes(1 << 20, 8 << 20)), true, 'armed');
  t.same(calls, [], 'nothing before the delay');
  await sleep(AFTER_MS + 300);
  t.same(calls, ['full']);
  await sleep(AFTER_MS * 3);
  t.equal(calls.length, 1, 'once only');
});

t.test('the young generation is back at its start size (the reducer gave it back): no collection', async (t) => {
  const { gc, calls } = recordingGc();
  giveBackStartHeap(gc, AFTER_MS, sizes(1 << 20, 1 << 20));
  await sleep(AFTER_MS + 300);
  t.same(calls, []);
});

t.test('a runtime that gives no gc function: nothing armed', async (t) => {
  t.equal(giveBackStartHeap(undefined, AFTER_MS, sizes(1, 2)), false);
});

t.test("with V8's own gc: a real full collection runs", async (t) => {
  const gc = exposedGc();
  t.type(gc, 'function', 'this runtime gives the gc function');
  const seen = await collectionsDuring('major', async () => {
    giveBackStartHeap(gc, AFTER_MS, sizes(1 << 20, 8 << 20));
    await sleep(AFTER_MS + 300);
  });
  t.ok(seen >= 1, `${seen} full collections`);
});

t.test("youngGenerationBytes reads V8's new space", async (t) => {
  t.ok(youngGenerationBytes() > 0);
});
