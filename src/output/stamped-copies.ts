/**
 * Time-stamped copies of what we replaced: the daemon's drift/ and bases/ (registries.conf) and
 * the containerd hosts directory's edited copies. One rule for all of them: a copy never
 * overwrites an earlier one, the names sort oldest first, and only the newest N stay.
 */
import { promises as fs } from 'node:fs';
import { basename, join } from 'node:path';
import { byteOrderCompare } from '../core/byte-order.js';
import { removeStaleTemps } from './atomic-write.js';

/** A time stamp usable in file names, sortable. */
export function fileStamp(d: Date = new Date()): string {
  return d.toISOString().replace(/[:.]/g, '-');
}

/** Where copies go and what their names look like: `prefix + STAMP + suffix`. */
export interface CopyNaming {
  readonly dir: string;
  readonly prefix: string;
  readonly suffix: string;
}

/** The millisecond last handed out per directory, so that names go on sorting oldest first in one process even when the clock is set back. */
const lastStampMs = new Map<string, number>();

/**
 * `dir/PREFIX STAMP SUFFIX` for `at`, or a later millisecond when that one is taken (several
 * copies within one millisecond are easy on tmpfs). Each millisecond is reserved before the
 * file system is asked, so two copies made at once in this process never share a name.
 */
export async function freeStampedPath(naming: CopyNaming, at: Date = new Date()): Promise<string> {
  const start = Math.max(at.getTime(), (lastStampMs.get(naming.dir) ?? 0) + 1);
  for (let ms = start; ms < start + 60_000; ms++) {
    lastStampMs.set(naming.dir, Math.max(ms, lastStampMs.get(naming.dir) ?? 0));
    const path = join(naming.dir, `${naming.prefix}${fileStamp(new Date(ms))}${naming.suffix}`);
    try {
      await fs.lstat(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return path;
    }
  }
  throw new Error(`${naming.dir}: no free time-stamped name`);
}

/**
 * Keeps one more copy (written by `write` at a free stamped path) and removes the oldest beyond
 * `keep`, and the temp files of copies whose writer was killed; returns the copy's path. The
 * copy just made is never among those removed: with the clock set back since an earlier
 * process, its name sorts before theirs, and the path we report must be there.
 */
export async function keepStampedCopy(naming: CopyNaming, keep: number, write: (path: string) => Promise<unknown>, at?: Date): Promise<string> {
  const path = await freeStampedPath(naming, at);
  await write(path);
  const name = basename(path);
  const others = (await fs.readdir(naming.dir)).filter((n) => isStampedCopy(naming, n) && n !== name).sort(byteOrderCompare);
  for (const old of others.slice(0, Math.max(0, others.length + 1 - keep))) await fs.rm(join(naming.dir, old), { force: true });
  // A copy's write killed half-way left its temp here (containerd's _mirror-policyd-edited is
  // swept at no start). Best effort: the copy is made, and a temp that stays is only litter.
  await removeStaleTemps(naming.dir).catch(() => undefined);
  return path;
}

/** Whether a file name is one of the copies (not a temporary file of an atomic write beside them). */
export function isStampedCopy(naming: Omit<CopyNaming, 'dir'>, name: string): boolean {
  return name.startsWith(naming.prefix) && name.endsWith(naming.suffix);
}
