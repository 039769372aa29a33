/**
 * What the daemon process (`run`) sets for itself, before its modules load: it lives long and
 * is idle most of the time, so what V8 does while nothing happens is its cost (issue #15).
 */
import { setFlagsFromString } from 'node:v8';
import { keepWasmAtBaseline } from './wasm-baseline.js';

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
  const major = Number(v8Version.split('.')[0]);
  if (major === 11) setFlagsFromString('--memory-reducer-single-gc');
  else if (major === 13) setFlagsFromString('--memory-reducer-gc-count=1');
}

/** For `run`: undici's parser at baseline code (wasm-baseline.ts), one memory-reducer collection. */
export function tuneDaemonProcess(): void {
  keepWasmAtBaseline();
  oneMemoryReducerCollection();
}
