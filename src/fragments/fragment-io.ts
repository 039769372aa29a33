/**
 * The system calls a read of the policy directory makes, behind one interface with two drivers:
 * a blocking one for one-shot commands (check, render), where nothing else waits on the loop,
 * and the daemon's, the same calls in slices between which the event loop turns (status
 * answers, the watchdog is fed). Five thread-pool round trips per fragment were most of a read
 * (issue #15). The checks that use these calls are written once, in policy-dir.ts; each call
 * here is the plain system call.
 */
import { closeSync, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';

/** A value now (a blocking call) or later (a sliced call waiting for the event loop to turn); callers await either. */
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
  /** A symbolic link's own target, as written in it. */
  readlink(path: string): Later<string>;
  readdir(path: string): Later<Buffer[]>;
  open(path: string, flags: number): Later<OpenFile>;
}

/** A fragment opened with a blocking call, looked at and read with blocking calls. */
function openBlocking(path: string, flags: number): OpenFile {
  const fd = openSync(path, flags);
  return {
    stat: () => fstatSync(fd),
    read: (buf, length, position) => readSync(fd, buf, 0, length, position),
    close: () => closeSync(fd),
  };
}

/** One-shot commands' driver: the same calls, blocking, no round trip through the thread pool. */
export const blockingIo: FragmentIo = {
  lstat: (path) => lstatSync(path),
  stat: (path) => statSync(path),
  realpath: (path) => realpathSync.native(path), // as fs.promises.realpath: the system's realpath(3)
  readlink: (path) => readlinkSync(path),
  readdir: (path) => readdirSync(path, { encoding: 'buffer' }),
  open: openBlocking,
};

/**
 * How long the daemon's read of the whole directory calls on before it lets the event loop turn
 * (the control socket, the watchdog, timers): the same blocking calls in slices. Through the
 * thread pool instead, each call cost a round trip and a promise: a rescan of 10 000 unchanged
 * fragments took 500–700 ms and 0.7–1 s of CPU, against ~160 ms blocking (issue #15).
 */
export const SLICE_MS = 5;

/**
 * The daemon's driver: the blocking calls, but once SLICE_MS have passed since the event loop
 * last turned, the next call waits for it to turn first (setImmediate). One turn for all the
 * reads waiting at that moment, so that the concurrent workers of a read (mapBounded) do not
 * each take a slice of their own before the loop runs. A single call still blocks for as long
 * as it takes: the fragments are local files, and every open is O_NONBLOCK (a FIFO returns at once).
 */
export function slicedIo(sliceMs = SLICE_MS): FragmentIo {
  let sliceStart = performance.now();
  let nextTurn: Promise<void> | undefined;
  const turn = <T>(call: () => T): Later<T> => {
    if (nextTurn === undefined && performance.now() - sliceStart < sliceMs) return call();
    nextTurn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        nextTurn = undefined;
        sliceStart = performance.now();
        resolve();
      }),
    );
    return nextTurn.then(call);
  };
  return {
    lstat: (path) => turn(() => lstatSync(path)),
    stat: (path) => turn(() => statSync(path)),
    realpath: (path) => turn(() => realpathSync.native(path)),
    readlink: (path) => turn(() => readlinkSync(path)),
    readdir: (path) => turn(() => readdirSync(path, { encoding: 'buffer' })),
    open: (path, flags) => turn(() => openBlocking(path, flags)),
  };
}
