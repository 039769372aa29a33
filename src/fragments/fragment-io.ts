/**
 * The system calls a read of the policy directory makes, behind one interface with two drivers:
 * the daemon's (promises: the event loop keeps turning, status answers, the watchdog is fed) and
 * a blocking one for one-shot commands (check, render), where nothing else waits on the loop and
 * five thread-pool round trips per fragment were most of the read (issue #15). The checks that
 * use these calls are written once, in policy-dir.ts; each call here is the plain system call.
 */
import {
  closeSync,
  fstatSync,
  lstat as lstatCallback,
  lstatSync,
  openSync,
  promises as fs,
  readdirSync,
  readSync,
  realpathSync,
  statSync,
  type Stats,
} from 'node:fs';

/** A value now (blocking driver) or later (promise driver); callers await either. */
type Later<T> = T | Promise<T>;

/** An open fragment: looked at and read through its descriptor only. */
export interface OpenFile {
  stat(): Later<Stats>;
  /** Bytes read into `buf` from `position`; 0 at the end. */
  read(buf: Buffer, length: number, position: number): Later<number>;
  close(): Later<void>;
}

export interface FragmentIo {
  lstat(path: string | Buffer): Later<Stats>;
  stat(path: string): Later<Stats>;
  realpath(path: string): Later<string>;
  readdir(path: string): Later<Buffer[]>;
  open(path: string, flags: number): Later<OpenFile>;
}

/**
 * fs.promises.lstat through the callback API: the same call, but a third of the main thread's
 * time per call (Node 20), and the daemon's read looks at every fragment on every render.
 */
function lstatPromise(path: string | Buffer): Promise<Stats> {
  return new Promise((resolve, reject) => lstatCallback(path, (e, st) => (e ? reject(e) : resolve(st))));
}

/** The daemon's driver: every call through the thread pool, the event loop free meanwhile. */
export const promiseIo: FragmentIo = {
  lstat: lstatPromise,
  stat: (path) => fs.stat(path),
  realpath: (path) => fs.realpath(path),
  readdir: (path) => fs.readdir(path, { encoding: 'buffer' }),
  open: async (path, flags) => {
    const fh = await fs.open(path, flags);
    return {
      stat: () => fh.stat(),
      read: async (buf, length, position) => (await fh.read(buf, 0, length, position)).bytesRead,
      close: () => fh.close(),
    };
  },
};

/** One-shot commands' driver: the same calls, blocking, no round trip through the thread pool. */
export const blockingIo: FragmentIo = {
  lstat: (path) => lstatSync(path),
  stat: (path) => statSync(path),
  realpath: (path) => realpathSync.native(path), // as fs.promises.realpath: the system's realpath(3)
  readdir: (path) => readdirSync(path, { encoding: 'buffer' }),
  open: (path, flags) => {
    const fd = openSync(path, flags);
    return {
      stat: () => fstatSync(fd),
      read: (buf, length, position) => readSync(fd, buf, 0, length, position),
      close: () => closeSync(fd),
    };
  },
};
