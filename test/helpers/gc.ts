/** What V8's collector did while a test ran, seen through perf_hooks' 'gc' entries. */
import { PerformanceObserver, constants } from 'node:perf_hooks';

const KINDS = { minor: constants.NODE_PERFORMANCE_GC_MINOR, major: constants.NODE_PERFORMANCE_GC_MAJOR } as const;

const nextCheckPhase = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Collections of `kind` seen while `f` runs. Node reports a collection two check phases later
 * (a native immediate makes the entry, the observer dispatches it in a JS one), so the count is
 * read after a few check phases, counted rather than timed: a timer alone can fire first on a
 * machine that stalled the process, and the entries would be lost.
 */
export async function collectionsDuring(kind: keyof typeof KINDS, f: () => void | Promise<void>): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === KINDS[kind]) n++;
  });
  obs.observe({ entryTypes: ['gc'] });
  await f();
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 5; i++) await nextCheckPhase();
  obs.disconnect();
  return n;
}

/** Young-generation collections seen while `f` runs. */
export function minorCollectionsDuring(f: () => void): Promise<number> {
  return collectionsDuring('minor', f);
}
