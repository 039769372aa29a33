/**
 * tunePullProcess (src/cli/pull-process.ts): the hook a pull calls as blob bytes arrive runs
 * a young-generation collection every COLLECT_EVERY_BYTES (the loop below allocates almost
 * nothing: the collections seen are the hook's).
 */
import t from 'tap';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { COLLECT_EVERY_BYTES, tunePullProcess } from '../../src/cli/pull-process.js';

/** Young-generation collections seen while `f` runs (the observer reports them a turn later). */
async function minorCollectionsDuring(f: () => void): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) n++;
  });
  obs.observe({ entryTypes: ['gc'] });
  f();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return n;
}

t.test('a young collection per COLLECT_EVERY_BYTES of a blob, again for the next blob', async (t) => {
  const onBytes = tunePullProcess();
  const step = 64 * 1024;
  const blob = (size: number) => () => {
    for (let n = step; n <= size; n += step) onBytes(n);
  };
  t.ok((await minorCollectionsDuring(blob(COLLECT_EVERY_BYTES * 3))) >= 3, 'three intervals of the first blob');
  t.ok((await minorCollectionsDuring(blob(COLLECT_EVERY_BYTES * 2))) >= 2, 'the count restarts with the next blob');
});
