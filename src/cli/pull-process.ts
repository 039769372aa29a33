/**
 * What a one-shot `pull` process sets for itself: never the daemon, which lives long and
 * serves many requests (issue #15: a pull's peak RSS, and its exit).
 */
import { collectYoungEvery } from '../registry/young-collections.js';
import { keepWasmAtBaseline } from './wasm-baseline.js';

/**
 * How much blob data a pull passes between two young-generation collections: 1 MiB, not the
 * local mirror's 2, took ~1.7 MB off the peak RSS of a 300 MiB pull for no measurable CPU (8
 * interleaved pulls each).
 */
export const COLLECT_EVERY_BYTES = 1024 * 1024;

/**
 * Keeps undici's WebAssembly parser at its baseline code (wasm-baseline.ts): must run before
 * the first connection.
 *
 * Returns a function to call with a blob's running byte count: it paces young-generation
 * collections by the bytes read (registry/young-collections.ts).
 */
export function tunePullProcess(): (bytesSoFar: number) => void {
  keepWasmAtBaseline();
  const collect = collectYoungEvery(COLLECT_EVERY_BYTES);
  let last = 0;
  return (bytesSoFar) => {
    collect(bytesSoFar >= last ? bytesSoFar - last : bytesSoFar); // smaller: the next blob
    last = bytesSoFar;
  };
}
