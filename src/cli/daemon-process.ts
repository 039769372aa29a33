/**
 * What the daemon process (`run`) sets for itself, before its modules load: it lives long and
 * is idle most of the time, so what V8 does while nothing happens is its cost (issue #15).
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { exposedGc, type GcFunction } from '../registry/young-collections.js';
import { keepWasmAtBaseline } from './wasm-baseline.js';

/** V8's major version (Node 20: 11, Node 24: 13): which flags exist depends on it. */
function v8Major(v8Version: string): number {
  return Number(v8Version.split('.')[0]);
}

/**
 * V8's memory reducer: ~8 s after a mark-compact that grew the heap (the start's), when the
 * process allocates little, it runs full collections that give the heap back (RSS ~68 → ~60 MB
 * with 100 fragments). It runs up to three on Node 20, two on Node 24, each a full mark of a
 * heap that no longer changes: 50–90 ms of an idle later start's 30 s, the goal being 50.
 * One gives back as much (the next ones find nothing more): with one, 30 ms over 30 s, the same
 * RSS (docs/performance.md). The reducer itself cannot be turned off at run time (V8 makes it
 * when the heap is set up), and an idle daemon wants its memory back, so it stays.
 * The flag's name depends on V8: an unknown one would print an error at every start, so only
 * the two versions seen are set (Node 20's V8 11, Node 24's V8 13); others keep the default.
 */
function oneMemoryReducerCollection(v8Version = process.versions.v8): void {
  const major = v8Major(v8Version);
  if (major === 11) setFlagsFromString('--memory-reducer-single-gc');
  else if (major === 13) setFlagsFromString('--memory-reducer-gc-count=1');
}

/** When the start's young generation is looked at (giveBackStartHeap): after the reducer's 8 s. */
export const GIVE_BACK_AFTER_MS = 10_000;

/** The young generation's committed size now (V8's `new_space`), in bytes. */
export function youngGenerationBytes(): number {
  return getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
}

/**
 * The memory reducer above is armed by a full collection that grew the heap, or by a disposed
 * context. On Node 24 (V8 13) a start with a small policy runs no full collection (5
 * scavenges, no mark-compact in 20 s), and its young generation, grown while the modules
 * loaded and the first render ran (1 → 8.4 MB committed, 2 MB of it in use), was never given
 * back: 2–6 MB of RSS for as long as the daemon lived. So once, `afterMs` after the start (past
 * the reducer's 8 s), if the young generation is still larger than at the start, one full
 * collection of our own (~15 ms with 5 fragments) shrinks it back. In practice on Node 24 the
 * reducer now does it first: the throwaway context `exposedGc` takes the gc function from is a
 * disposed context to V8, the reducer's collection comes at ~8 s, and the look finds nothing
 * to do; it stays for a runtime where that does not hold. On Node 20 the reducer's collection
 * comes later (~16 s), so there both run: the second is worth ~1.9 MB of idle RSS for ~40 ms of
 * CPU, and the look stays before it (measured both ways in docs/performance.md, session 20).
 * Returns whether the look was armed.
 */
export function giveBackStartHeap(gc: GcFunction | undefined, afterMs = GIVE_BACK_AFTER_MS, youngBytes: () => number = youngGenerationBytes): boolean {
  if (gc === undefined) return false;
  const atStart = youngBytes();
  setTimeout(() => {
    if (youngBytes() > atStart) gc();
  }, afterMs).unref();
  return true;
}

/** Whether holdOptimizingCompilers held them (and releaseOptimizingCompilers has not yet let them go). */
let held = false;

/** V8 13 (Node 24) has Maglev on by default; V8 11 (Node 20) has it off, and it stays as it is. */
function hasMaglevByDefault(v8Version: string): boolean {
  return v8Major(v8Version) >= 12;
}

/**
 * V8's optimizing compilers (TurboFan; Maglev too on V8 13) held back: the daemon's code runs in
 * the interpreter and Sparkplug's baseline code until the policy is large (the daemon calls
 * releaseOptimizingCompilers). With a small or medium policy a change renders a few fragments and
 * walks what is kept: optimized code won no CPU back where it was measured (per change, 5 / 101 /
 * 1 000 fragments: the same or less CPU without, the compiles and deoptimizations gone), while
 * the compiler's pages in the node binary, its zones and its threads' malloc arenas stay for the
 * process's life: idle RSS ~4.5 MB less on Node 20, ~7 MB on Node 24 (docs/performance.md).
 * With 10 000 fragments they pay (up to ~20 % less CPU a change). `render`, `check` and `pull`
 * keep them. V8 reads these flags at each tier-up decision, so setting them at run time holds.
 */
export function holdOptimizingCompilers(v8Version = process.versions.v8): void {
  setFlagsFromString('--no-turbofan');
  if (hasMaglevByDefault(v8Version)) setFlagsFromString('--no-maglev');
  held = true;
}

/** The compilers back, as V8 has them by default, for the rest of the process; nothing if they were not held. */
export function releaseOptimizingCompilers(v8Version = process.versions.v8): void {
  if (!held) return;
  held = false;
  setFlagsFromString('--turbofan');
  if (hasMaglevByDefault(v8Version)) setFlagsFromString('--maglev');
}

/** For `run`: no optimizing compilers, undici's parser at baseline code (wasm-baseline.ts), one memory-reducer collection, the start's heap given back. */
export function tuneDaemonProcess(): void {
  holdOptimizingCompilers();
  keepWasmAtBaseline();
  oneMemoryReducerCollection();
  giveBackStartHeap(exposedGc());
}
