/**
 * Young-generation collections paced by the blob bytes a process moves: the pull command and
 * the local mirror (issues #14, #15).
 *
 * Each socket read is a fresh 64 KiB buffer outside V8's heap, freed only when V8 collects its
 * small wrapper. A blob transfer allocates almost nothing else on the JS heap, so V8 lets tens
 * of MB of them pile up and then frees them with full mark-compacts requested for the external
 * memory (~45 of them for a 226 MiB blob through the local mirror). A young-generation
 * collection every COLLECT_EVERY_BYTES frees them as they go: the local mirror's CPU for a
 * 226 MiB blob went from 470–520 ms to 360–400 ms (curl as its client, 9 runs each, 1, 2, 4
 * and 8 MiB all alike), and a pull's peak RSS is lower.
 *
 * Also where the process gets V8's `gc` function (exposedGc), for the daemon's one collection
 * after its start too (cli/daemon-process.ts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How much blob data passes between two young-generation collections. */
export const COLLECT_EVERY_BYTES = 2 * 1024 * 1024;

/**
 * V8's `gc`, now: a full collection without an argument, the young generation only with
 * `{ type: 'minor' }`. (`{ type: 'major' }` is not used: Node 20's V8 runs a minor one for it.)
 */
export type GcFunction = (opts?: { readonly type: 'minor' }) => void;

/**
 * V8's `gc` function, from --expose-gc set here at run time rather than on the command line
 * (the launcher is shared by every command); it appears only in a new context, so no other
 * code of the process gets it. Undefined if this runtime does not give it.
 */
export function exposedGc(): GcFunction | undefined {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  return typeof gc === 'function' ? (gc as GcFunction) : undefined;
}

/**
 * A function to call with the size of each chunk of blob data read: every COLLECT_EVERY_BYTES,
 * over all transfers, it runs a young-generation collection (a fraction of a millisecond).
 */
export function collectYoungEvery(everyBytes = COLLECT_EVERY_BYTES): (bytes: number) => void {
  const gc = exposedGc();
  if (gc === undefined) return () => undefined;
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < everyBytes) return;
    since = 0;
    gc({ type: 'minor' });
  };
}
