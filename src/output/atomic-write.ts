/**
 * Replacing a file so that a reader sees the old bytes or the new ones, never a torn or
 * empty file, even across a crash: temp file in the same directory (O_EXCL), write,
 * fsync, rename over the target, fsync the directory. Owner, mode and SELinux label of
 * the file being replaced are kept; nothing is written when the bytes are unchanged.
 * A symbolic link at the path is replaced by a regular file like a new one (0644, our
 * owner): the link's target is not the file replaced, so its mode and owner (0600, or
 * root:shadow 0640) say nothing about who should read this one. The caller logs it.
 *
 * Two drivers for the same calls (as fragments/fragment-io.ts for reads): through the thread
 * pool (the default: background writes, such as a first start's 10 000 last-good copies, stay
 * off the main thread), or blocking (`blocking`: the daemon's output on the path of a change,
 * where each call takes microseconds but a round trip through the pool costs a wake of the
 * main thread and, on a busy machine, a wait for a core; the write made ~17 of them, issue
 * #15). The fsyncs, which wait for the disk and under load can take long, always go through
 * the pool: the event loop turns meanwhile.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  close,
  closeSync,
  constants,
  existsSync,
  fchmod,
  fchmodSync,
  fchown,
  fchownSync,
  fstatSync,
  fsync,
  lstatSync,
  open,
  openSync,
  promises as fs,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  write,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pidAlive } from './pid.js';
import { unlessMissing, unlessMissingSync } from './if-exists.js';

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
  /** The calls but the fsyncs made blocking (see the top of this file). Default false. */
  readonly blocking?: boolean;
  /**
   * Called at once after the rename, before the directory's fsync lets the event loop turn: what
   * must change together with the file as its readers see it (the daemon's `status`).
   */
  readonly afterRename?: () => void;
}

/** A value now (blocking driver) or later (pool driver); callers await either. */
type Later<T> = T | Promise<T>;

/** The calls a write makes but the fsyncs; undefined for what is not there (ENOENT). */
interface WriteIo {
  readIfExists(path: string): Later<Buffer | undefined>;
  lstat(path: string): Later<Stats | undefined>;
  readlink(path: string): Later<string | undefined>;
  stat(path: string): Later<Stats>;
  open(path: string, flags: number, mode: number): Later<number>;
  writeAll(fd: number, bytes: Buffer): Later<void>;
  fchown(fd: number, uid: number, gid: number): Later<void>;
  fchmod(fd: number, mode: number): Later<void>;
  close(fd: number): Later<void>;
  rename(from: string, to: string): Later<void>;
  rm(path: string): Later<void>;
}

/** A callback-style call as a promise (callbacks: a third of FileHandle's cost on the main thread). */
function viaPool<T>(call: (done: (e: NodeJS.ErrnoException | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => call((e, value) => (e ? reject(e) : resolve(value as T))));
}

async function writeAllViaPool(fd: number, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await viaPool<number>((done) => write(fd, bytes, at, bytes.length - at, null, done));
}

/**
 * readRegularFileSync through the thread pool: a FIFO there would hold a pool thread until a
 * writer came (and whoever made it chose the bytes), a link to /dev/zero would be read without
 * end. Both are refused from the open descriptor's fstat, before any read.
 */
export async function readRegularFile(path: string): Promise<Buffer | undefined> {
  const fh = await unlessMissing(fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK));
  if (fh === undefined) return undefined;
  try {
    if (!(await fh.stat()).isFile()) throw new Error(`${path} is not a regular file`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

const poolIo: WriteIo = {
  readIfExists: readRegularFile,
  lstat: (path) => unlessMissing(fs.lstat(path)),
  readlink: (path) => unlessMissing(fs.readlink(path)),
  stat: (path) => fs.stat(path),
  open: (path, flags, mode) => viaPool<number>((done) => open(path, flags, mode, done)),
  writeAll: writeAllViaPool,
  fchown: (fd, uid, gid) => viaPool<void>((done) => fchown(fd, uid, gid, done)),
  fchmod: (fd, mode) => viaPool<void>((done) => fchmod(fd, mode, done)),
  close: (fd) => viaPool<void>((done) => close(fd, done)),
  rename: (from, to) => fs.rename(from, to),
  rm: (path) => fs.rm(path, { force: true }),
};

/**
 * The bytes of the file at `path` (a link followed), undefined when there is none; blocking. A
 * FIFO or device there is refused, not read: opened without O_NONBLOCK, a FIFO would hold the
 * event loop until a writer came.
 */
export function readRegularFileSync(path: string): Buffer | undefined {
  const fd = unlessMissingSync(() => openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
  if (fd === undefined) return undefined;
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${path} is not a regular file`);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

const blockingIo: WriteIo = {
  readIfExists: readRegularFileSync,
  lstat: (path) => lstatSync(path, { throwIfNoEntry: false }),
  readlink: (path) => unlessMissingSync(() => readlinkSync(path)),
  stat: (path) => statSync(path),
  open: (path, flags, mode) => openSync(path, flags, mode),
  writeAll: (fd, bytes) => writeFileSync(fd, bytes),
  fchown: (fd, uid, gid) => fchownSync(fd, uid, gid),
  fchmod: (fd, mode) => fchmodSync(fd, mode),
  close: (fd) => closeSync(fd),
  rename: (from, to) => renameSync(from, to),
  rm: (path) => rmSync(path, { force: true }),
};

/**
 * The replacement takes the owner and group of the file it replaces. Without CAP_CHOWN (the
 * packaged unit grants none) a file of another user or group cannot be so replaced: refused
 * with what to do, rather than a bare EPERM, and never written with another group (a group
 * the file was shared with would lose it).
 */
async function keepOwner(io: WriteIo, fd: number, path: string, st: Stats): Promise<void> {
  try {
    await io.fchown(fd, st.uid, st.gid);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    throw new Error(
      `${path} is owned by uid ${st.uid}, gid ${st.gid}: keeping its owner and group on the new file needs CAP_CHOWN, which this process lacks ` +
        `(the packaged unit grants none); \`chown 0:0 ${path}\` (the mode is kept), or grant CAP_CHOWN (CapabilityBoundingSet=CAP_CHOWN and SystemCallFilter=@chown in a drop-in)`,
      { cause: e },
    );
  }
}

/** The target of a symbolic link at `path`; undefined when it is none (or nothing is there). */
async function linkTarget(io: WriteIo, path: string): Promise<string | undefined> {
  const st = await io.lstat(path);
  return st?.isSymbolicLink() ? io.readlink(path) : undefined;
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
  const io = opts.blocking === true ? blockingIo : poolIo;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const old = await io.readIfExists(path);
  if (opts.beforeReplace && !opts.beforeReplace(old)) return { changed: false, aborted: true };
  if (old && old.equals(bytes)) return { changed: false };
  const dir = dirname(path);
  const link = await linkTarget(io, path);
  // Metadata to keep: the file itself, never a link's target (see the top of this file).
  const st = old && link === undefined ? await io.stat(path) : undefined;
  const mode = st ? st.mode & 0o7777 : (opts.mode ?? 0o644);
  const tmp = tempPathBeside(path);
  const fd = await io.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      await io.writeAll(fd, bytes);
      if (st && (st.uid !== process.getuid?.() || st.gid !== process.getgid?.())) await keepOwner(io, fd, path, st);
      await io.fchmod(fd, mode); // explicit: the umask must not decide who can read registries.conf
      await fsyncFd(fd);
    } finally {
      await io.close(fd);
    }
    if (st) await copySelinuxLabel(path, tmp);
    if (opts.beforeReplace && !opts.beforeReplace(await io.readIfExists(path))) {
      await io.rm(tmp);
      return { changed: false, aborted: true };
    }
    await io.rename(tmp, path);
  } catch (e) {
    await io.rm(tmp);
    throw e;
  }
  opts.afterRename?.();
  if (opts.syncDir !== false) await fsyncDirWith(io, dir);
  return link === undefined ? { changed: true } : { changed: true, replacedLink: link };
}

/** The log line for `WriteResult.replacedLink`: an operator who linked the file elsewhere must learn the link is gone. */
export function replacedLinkMessage(path: string, target: string): string {
  return `${path} was a symbolic link to ${target}; replaced by a regular file (mode and owner as for a new file), ${target} left as it was`;
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
export function fsyncDir(dir: string): Promise<void> {
  return fsyncDirWith(poolIo, dir);
}

function fsyncDirWith(io: WriteIo, dir: string): Promise<void> {
  return fsyncPath(io, dir, constants.O_RDONLY | constants.O_DIRECTORY);
}

/** fsync(2) of what `path` opened with `flags` is: a directory's entries, a file's content. */
async function fsyncPath(io: WriteIo, path: string, flags: number): Promise<void> {
  const fd = await io.open(path, flags, 0);
  try {
    await fsyncFd(fd);
  } finally {
    await io.close(fd);
  }
}

/** NAME_MAX less what tempPathBeside adds: a dot, a pid of up to 10 digits, the nonce and `.tmp`. */
const LONGEST_NAME_IN_TEMP = 255 - 1 - (1 + 10) - (1 + 8) - 4;

/**
 * A temp file's name for a write that ends as `path`: `.NAME.PID.HEX.tmp` beside it, in the
 * same directory (a rename or link to `path` cannot cross file systems), and recognised by
 * removeStaleTemps after a writer was killed.
 */
export function tempPathBeside(path: string, nonce: string = randomBytes(4).toString('hex')): string {
  const name = basename(path);
  // A name near NAME_MAX (255 bytes: a ConfigMap key of 253 as a fragment's) leaves no room for
  // the ~24 bytes around it: such a temp file is named by a hash of the name instead.
  const short = Buffer.byteLength(name) > LONGEST_NAME_IN_TEMP ? createHash('sha256').update(name).digest('hex').slice(0, 32) : name;
  return join(dirname(path), `.${short}.${process.pid}.${nonce}.tmp`);
}

/** Makes a file's content durable (a copy made with copyFile, which does not). */
export function fsyncFile(path: string): Promise<void> {
  return fsyncPath(poolIo, path, constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** Our temp files (tempPathBeside). */
const TEMP_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$/;

export interface StaleTempOptions {
  /** Just those beside this one file name: in a directory that is not ours (/etc/containers) nothing else is touched. */
  readonly only?: string;
  /**
   * No write of ours is under way (at start): a temp named with our own pid is then an earlier
   * process's that had the same pid (in a container the daemon is often pid 1 at every start).
   */
  readonly noWriteOfOurs?: boolean;
}

/** Removes the temp files that writers killed mid-write left in `dir` (their pid no longer runs). Returns the names removed. */
export async function removeStaleTemps(dir: string, opts: StaleTempOptions = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const m = TEMP_NAME.exec(name);
    if (!m || (opts.only !== undefined && m[1] !== opts.only)) continue;
    const pid = Number(m[2]);
    if (pid === process.pid ? !opts.noWriteOfOurs : pidAlive(pid)) continue;
    await fs.rm(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
