/** What V8's collector did while a test ran, seen through perf_hooks' 'gc' entries. */
import { PerformanceObserver, constants } from 'node:perf_hooks';

/** Young-generation collections seen while `f` runs (the observer reports them a turn later). */
export async function minorCollectionsDuring(f: () => void): Promise<number> {
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
