/**
 * What a one-shot `pull` process sets for itself: never the daemon, which lives long and
 * serves many requests (issue #15: a pull's peak RSS, and its exit).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { keepWasmAtBaseline } from './wasm-baseline.js';

/**
 * How much blob data passes between two young-generation collections: 1 MiB, not 2, took
 * ~1.7 MB off the peak RSS of a 300 MiB pull for no measurable CPU (8 interleaved pulls each).
 */
export const COLLECT_EVERY_BYTES = 1024 * 1024;

/**
 * Keeps undici's WebAssembly parser at its baseline code (wasm-baseline.ts): must run before
 * the first connection.
 *
 * Returns a function to call as blob bytes arrive: every COLLECT_EVERY_BYTES it runs a
 * young-generation collection (a fraction of a millisecond). Each socket read is a fresh
 * 64 KiB buffer, freed only when V8 collects its small wrapper; a blob transfer allocates
 * almost nothing else on the JS heap, so V8 would collect only once ~30 MB of them had
 * piled up. The `gc` function comes from V8's --expose-gc, set here rather than on the
 * command line (the launcher is shared by every command).
 */
export function tunePullProcess(): (bytesSoFar: number) => void {
  keepWasmAtBaseline();
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as ((opts: { type: 'minor' }) => void) | undefined;
  if (typeof gc !== 'function') return () => undefined;
  let last = 0;
  return (bytesSoFar) => {
    if (bytesSoFar < last) last = 0; // the next blob
    if (bytesSoFar - last < COLLECT_EVERY_BYTES) return;
    last = bytesSoFar;
    gc({ type: 'minor' });
  };
}
