/**
 * Replacing a file so that a reader sees the old bytes or the new ones, never a torn or
 * empty file, even across a crash: temp file in the same directory (O_EXCL), write,
 * fsync, rename over the target, fsync the directory. Owner, mode and SELinux label of
 * the file being replaced are kept; nothing is written when the bytes are unchanged.
 * A symbolic link at the path is replaced by a regular file like a new one (0644, our
 * owner): the link's target is not the file replaced, so its mode and owner (0600, or
 * root:shadow 0640) say nothing about who should read this one. The caller logs it.
 *
 * Every call but the fsyncs is blocking: on a file of a few kilobytes (a few megabytes at
 * 10 000 fragments) each takes microseconds, where a call through the thread pool costs a wake
 * of the main thread and, on a busy machine, a wait for a core (a daemon's write made ~17 such
 * round trips; issue #15). An fsync waits for the disk, which under load can take long: it
 * goes through the pool, and the event loop turns meanwhile.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fchownSync,
  fsync,
  lstatSync,
  openSync,
  promises as fs,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pidAlive } from './pid.js';
import { unlessMissingSync } from './if-exists.js';

const run = promisify(execFile);

export interface WriteResult {
  readonly changed: boolean;
  /** True when `beforeReplace` said no: nothing was replaced. */
  readonly aborted?: boolean;
  /** The path was a symbolic link (to this target, as readlink says) and is now a regular file. */
  readonly replacedLink?: string;
}

export interface WriteOptions {
  /** Mode for a new file or one replacing a symbolic link (default 0644); an existing file keeps its own. */
  readonly mode?: number;
  /**
   * Called with the file's bytes as first read (before anything is written) and again just
   * before the rename (undefined: no file); false aborts, so a change made meanwhile by someone
   * else is never replaced unseen. (A rename has no compare-and-swap: this narrows the window to
   * microseconds.) The first call spares a caller its own read (a 2 MB output read once less).
   */
  readonly beforeReplace?: (current: Buffer | undefined) => boolean;
  /**
   * false: the directory is not fsynced after the rename, the caller fsyncs it once after a
   * batch of writes (each file is still whole, old or new, after a crash; a power cut may lose
   * the batch's renames until then). Default true.
   */
  readonly syncDir?: boolean;
}

/** The target of a symbolic link at `path`; undefined when it is none (or nothing is there). */
function linkTarget(path: string): string | undefined {
  const st = unlessMissingSync(() => lstatSync(path));
  return st?.isSymbolicLink() ? unlessMissingSync(() => readlinkSync(path)) : undefined;
}

function readIfExists(path: string): Buffer | undefined {
  return unlessMissingSync(() => readFileSync(path));
}

/** fsync(2) through the thread pool (see the top of this file). */
function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
}

/** On an SELinux host, give the temp file the label of the file it replaces (rename keeps the temp file's label). */
async function copySelinuxLabel(from: string, to: string): Promise<void> {
  if (!existsSync('/sys/fs/selinux/enforce')) return;
  try {
    await run('chcon', ['--reference', from, to], { timeout: 5000 });
  } catch {
    // No chcon or no label: the policy's default label for the directory applies, as for any new file.
  }
}

export async function writeFileAtomic(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<WriteResult> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const old = readIfExists(path);
  if (opts.beforeReplace && !opts.beforeReplace(old)) return { changed: false, aborted: true };
  if (old && old.equals(bytes)) return { changed: false };
  const dir = dirname(path);
  const link = linkTarget(path);
  // Metadata to keep: the file itself, never a link's target (see the top of this file).
  const st = old && link === undefined ? statSync(path) : undefined;
  const mode = st ? st.mode & 0o7777 : (opts.mode ?? 0o644);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      writeFileSync(fd, bytes);
      if (st && (st.uid !== process.getuid?.() || st.gid !== process.getgid?.())) fchownSync(fd, st.uid, st.gid);
      fchmodSync(fd, mode); // explicit: the umask must not decide who can read registries.conf
      await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
    if (st) await copySelinuxLabel(path, tmp);
    if (opts.beforeReplace && !opts.beforeReplace(readIfExists(path))) {
      rmSync(tmp, { force: true });
      return { changed: false, aborted: true };
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (opts.syncDir !== false) await fsyncDir(dir);
  return link === undefined ? { changed: true } : { changed: true, replacedLink: link };
}

/** The log line for `WriteResult.replacedLink`: an operator who linked the file elsewhere must learn the link is gone. */
export function replacedLinkMessage(path: string, target: string): string {
  return `${path} was a symbolic link to ${target}; replaced by a regular file (mode and owner as for a new file), ${target} left as it was`;
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** Our temp files: `.NAME.PID.HEX.tmp` beside NAME (see writeFileAtomic). */
const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes the temp files that writers killed mid-write left in `dir` (their pid no longer
 * runs). With `only`, just those beside that one file name: in a directory that is not ours
 * (/etc/containers) nothing else is touched. Returns the names removed.
 */
export async function removeStaleTemps(dir: string, only?: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const m = TEMP_NAME.exec(name);
    if (!m || (only !== undefined && m[1] !== only)) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || pidAlive(pid)) continue;
    await fs.rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
