/**
 * A short exclusive lock between processes, for the start-up claim of the state dir and for
 * the health cache. The lock is a file that appears whole (written under a temp name, then
 * link(2)ed into place, which fails when the name exists), so it always names its holder:
 * pid, boot and start time (src/output/pid.ts). Its holder removes it when done.
 *
 * A lock is never ignored: past the wait the caller gets a LockBusyError. It is taken over
 * only when its holder is proven gone (not running, or its pid now another process), and
 * only the very file that was judged is removed. A lock that names no holder was left by an
 * older version (an empty file, or a directory with a `pid` file for the claim), which held
 * it for one read and one write: that one is taken over once `unnamedStaleMs` old.
 */
import { randomBytes } from 'node:crypto';
import { constants, promises as fs, type Stats } from 'node:fs';
import { join } from 'node:path';
import { tempPathBeside } from './atomic-write.js';
import { holderRunning, ownIdentity, type ProcessIdentity } from './pid.js';
import { unlessMissing } from './if-exists.js';

export class LockBusyError extends Error {
  override readonly name = 'LockBusyError';
}

export interface LockOptions {
  /** How long to wait for a live holder to let go. */
  readonly waitMs: number;
  /** When a lock that names no holder counts as left behind. */
  readonly unnamedStaleMs: number;
  /** For a holder written down without its start time: what its command line must look like. */
  readonly looksLike?: (argv: readonly string[]) => boolean;
  /** Told about each lock taken over, with its holder's pid (if named) and why it is gone. */
  readonly onTakeOver?: (pid: number | undefined, why: string) => void;
}

const POLL_MS = 20;

interface LockHolder {
  readonly st: Stats;
  /** What the lock file said (an older directory lock: its `pid` file). */
  readonly text: string;
  readonly id?: ProcessIdentity;
  /** It holds text that is neither our identity nor a pid. */
  readonly garbage?: boolean;
}

function isIdentity(x: unknown): x is ProcessIdentity {
  return typeof x === 'object' && x !== null && 'pid' in x;
}

/** Who holds the lock at `path` (undefined: nobody now). */
async function readHolder(path: string): Promise<LockHolder | undefined> {
  const st = await unlessMissing(fs.lstat(path));
  if (st === undefined) return undefined;
  // An older claim lock: a directory holding `pid`. Anything else but a file names nobody.
  const file = st.isDirectory() ? join(path, 'pid') : st.isFile() ? path : undefined;
  if (file === undefined) return { st, text: '' };
  let text = '';
  try {
    const fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      if ((await fh.stat()).isFile()) text = (await fh.readFile('utf8')).slice(0, 4096);
    } finally {
      await fh.close();
    }
  } catch {
    // unreadable or gone: names nobody
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (isIdentity(parsed)) return { st, text, id: parsed };
  } catch {
    // an older version's plain pid
  }
  const plain = text.trim();
  if (plain === '') return { st, text };
  // Anything but a pid (torn, zeros, someone else's file) names no process: gone at once, said so.
  return /^\d+$/.test(plain) ? { st, text, id: { pid: Number(plain) } } : { st, text, garbage: true };
}

/**
 * Removes `path` only when it is still the lock `was` describes: same file and same text (a
 * new lock may get a freed inode number back, but not our nonce). Someone taking the lock
 * in between is then left alone; this narrows a takeover race to microseconds.
 */
async function removeIfSame(path: string, was: LockHolder): Promise<void> {
  const now = await readHolder(path);
  if (now === undefined || now.st.ino !== was.st.ino || now.st.dev !== was.st.dev || now.text !== was.text) return;
  await fs.rm(path, { recursive: now.st.isDirectory(), force: true });
}

/** Why a holder is gone, or undefined while it may still run. */
function goneWhy(holder: LockHolder, opts: LockOptions): string | undefined {
  if (holder.garbage === true) return 'it holds no process id';
  if (holder.id !== undefined) {
    const h = holderRunning(holder.id, opts.looksLike);
    return h.running ? undefined : h.why;
  }
  const age = Date.now() - holder.st.mtimeMs;
  return age > opts.unnamedStaleMs ? `it names no holder and is ${Math.round(age / 1000)} s old` : undefined;
}

export interface HeldLock {
  /** Removes the lock, if it is still ours. */
  release(): Promise<void>;
}

/** Takes the lock at `path`, waiting up to `opts.waitMs` for a live holder; LockBusyError past that. */
export async function acquireLock(path: string, opts: LockOptions): Promise<HeldLock> {
  const nonce = randomBytes(4).toString('hex');
  const tmp = tempPathBeside(path, nonce);
  const text = `${JSON.stringify({ ...ownIdentity(), nonce })}\n`;
  const fh = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      await fh.writeFile(text);
    } finally {
      await fh.close();
    }
    const deadline = Date.now() + opts.waitMs;
    for (;;) {
      try {
        await fs.link(tmp, path);
        const st = await fs.lstat(path);
        return { release: () => removeIfSame(path, { st, text }) };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = await readHolder(path);
      const why = holder === undefined ? undefined : goneWhy(holder, opts);
      if (holder !== undefined && why !== undefined) {
        opts.onTakeOver?.(holder.id?.pid, why);
        await removeIfSame(path, holder);
      }
      if (holder === undefined || why !== undefined) {
        // Let go just now, or taken over: try again at once (bounded, should it keep coming back).
        if (Date.now() < deadline + opts.waitMs) continue;
        throw new LockBusyError(`${path} keeps coming back after waiting ${(2 * opts.waitMs) / 1000} s`);
      }
      if (Date.now() >= deadline) {
        const who = holder.id !== undefined ? `pid ${holder.id.pid}, still running` : 'a holder it does not name';
        throw new LockBusyError(`${path} is held by another process (${who}) after waiting ${opts.waitMs / 1000} s`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** Runs `fn` holding the lock at `path`. */
export async function withLock<T>(path: string, opts: LockOptions, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(path, opts);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
