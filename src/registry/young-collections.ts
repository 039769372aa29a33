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
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How much blob data passes between two young-generation collections. */
export const COLLECT_EVERY_BYTES = 2 * 1024 * 1024;

/**
 * A function to call with the size of each chunk of blob data read: every COLLECT_EVERY_BYTES,
 * over all transfers, it runs a young-generation collection (a fraction of a millisecond).
 * The `gc` function comes from V8's --expose-gc, set here at run time rather than on the
 * command line (the launcher is shared by every command); it appears only in a new context, so
 * no other code of the process gets it.
 */
export function collectYoungEvery(everyBytes = COLLECT_EVERY_BYTES): (bytes: number) => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as ((opts: { type: 'minor' }) => void) | undefined;
  if (typeof gc !== 'function') return () => undefined;
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < everyBytes) return;
    since = 0;
    gc({ type: 'minor' });
  };
}
