/**
 * What a one-shot `pull` process sets for itself: never the daemon, which lives long and
 * serves many requests (issue #15: a pull's peak RSS, and its exit).
 */
import { setFlagsFromString } from 'node:v8';
import { collectYoungEvery } from '../registry/young-collections.js';

/**
 * undici parses HTTP with llhttp compiled to WebAssembly. V8 compiles it with its baseline
 * compiler (Liftoff), then again with TurboFan on background threads once it runs hot: ~35 MB
 * more RSS (those threads' malloc arenas) and, at exit, a wait for that compile to finish
 * (30 ms here, 300 ms under load), for a parser whose work per chunk is small (the body
 * passes as a slice). Liftoff's code is enough. Must run before the first connection.
 *
 * Returns a function to call with a blob's running byte count: it paces young-generation
 * collections by the bytes read (registry/young-collections.ts).
 */
export function tunePullProcess(): (bytesSoFar: number) => void {
  // all three: with dynamic tiering on (the default), V8 13 (Node 24) ignores --liftoff-only set at run time
  for (const flag of ['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering']) setFlagsFromString(flag);
  const collect = collectYoungEvery();
  let last = 0;
  return (bytesSoFar) => {
    collect(bytesSoFar >= last ? bytesSoFar - last : bytesSoFar); // smaller: the next blob
    last = bytesSoFar;
  };
}
