/**
 * The daemon's private files (its state directory and what is in it): believed only when
 * nobody but root or the running user could have written them, the same rule as for policy
 * fragments (trustProblem), because what they hold becomes policy too (a last-good copy
 * is rendered into registries.conf by root). Nothing that is not a regular file is opened:
 * a FIFO would hang the reader, a device could do anything.
 */
import { constants, lstatSync, promises as fs, type Stats } from 'node:fs';
import { writeFileAtomic, type WriteOptions } from './atomic-write.js';
import { ownUid } from './pid.js';
import { trustFix, trustProblem } from '../core/trust.js';

/** A state file (or directory) that is there but must not be believed; the message names it and why. */
export class UntrustedFileError extends Error {
  override readonly name = 'UntrustedFileError';
}

/** "a directory", "a FIFO"...: what a non-regular entry is, for messages. */
export function fileKind(st: Stats): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'a device';
}

/** Why `st` (of a file) is not to be believed, or undefined. */
export function privateFileProblem(st: Stats, uid = ownUid()): string | undefined {
  if (!st.isFile()) return `${fileKind(st)}, not a regular file`;
  return trustProblem(st, uid);
}

/**
 * The text of a private file; undefined when there is none. Throws UntrustedFileError for
 * anything else than a trusted regular file (nothing else is even opened).
 */
export async function readPrivateFile(path: string): Promise<string | undefined> {
  // Blocking: a file that is not there (the usual base.conf, looked for at every render) costs
  // no thread-pool round trip (atomic-write.ts says why that matters).
  const l = lstatSync(path, { throwIfNoEntry: false });
  if (l === undefined) return undefined;
  const before = privateFileProblem(l);
  if (before !== undefined) throw new UntrustedFileError(`${path}: not used: ${before}`);
  // O_NOFOLLOW|O_NONBLOCK: what was swapped in since the lstat cannot make us follow a link or wait on a FIFO.
  const fh = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (st.ino !== l.ino || st.dev !== l.dev) throw new UntrustedFileError(`${path}: not used: replaced while being opened`);
    const problem = privateFileProblem(st);
    if (problem !== undefined) throw new UntrustedFileError(`${path}: not used: ${problem}`);
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * The text of a file root acts on as it says (the daemon's config.toml: its `after-render`
 * commands run as root, its `allow-unsafe-fragments` lifts the fragments' checks), refused
 * unless only root or the running user could have written it. A symbolic link is followed
 * (config management links such files) and its target checked. Its bytes (the caller decodes
 * them: utf8Text refuses what is not UTF-8). Throws ENOENT as fs does.
 * `/dev/null`, the usual "none" (`--config /dev/null`, `--base /dev/null`), is empty.
 */
export async function readTrustedFile(path: string): Promise<Buffer> {
  if (path === '/dev/null') return Buffer.alloc(0);
  const fh = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (st.isDirectory()) throw new UntrustedFileError(`${path}: not read: a directory, not a file`);
    // A pipe is fine (`--config <(...)`): its writer is the caller's; its owner says so.
    const problem = trustProblem(st, ownUid());
    if (problem !== undefined)
      throw new UntrustedFileError(`${path}: not read: ${problem}, so someone else than root could have written it; fix: ${trustFix(path, st, ownUid())}`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces a private file atomically (mode 0600). An untrusted file there is removed first,
 * so that its owner and mode (which writeFileAtomic keeps) are not taken over; a directory
 * there is not ours to remove: UntrustedFileError.
 */
export async function replacePrivateFile(path: string, text: string | Buffer, opts: Pick<WriteOptions, 'syncDir'> = {}): Promise<void> {
  const st = await fs.lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (st?.isDirectory()) throw new UntrustedFileError(`${path}: cannot be written: it is a directory; remove it`);
  if (st !== undefined && privateFileProblem(st) !== undefined) await fs.rm(path, { force: true });
  await writeFileAtomic(path, text, { ...opts, mode: 0o600 });
}
