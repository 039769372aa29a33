/**
 * sd_notify(3) for a Type=notify service: datagrams of "KEY=VALUE" lines
 * sent to the AF_UNIX socket named by $NOTIFY_SOCKET.
 *
 * Node has no AF_UNIX datagram sockets, so this uses the `unix-dgram` native
 * addon (CommonJS, loaded with createRequire, and only when NOTIFY_SOCKET is
 * set, so the CLI never loads it). Each message uses a fresh socket that is
 * closed right after sendto(): unix-dgram's socket keeps a ref'd libuv poll
 * handle, which would otherwise keep the process alive, and messages are rare
 * (a watchdog ping every WATCHDOG_USEC/2). The kernel attaches our pid to
 * each datagram, which is all NotifyAccess=main checks.
 *
 * Never throws: problems are logged as warnings and the call is dropped, except a full
 * receiver, which is waited out (isCongestion) with the messages kept in order. A
 * notifier is disabled (`enabled` false, every call a quiet no-op) when
 * NOTIFY_SOCKET is unset, and also, after one warning, when it names a
 * socket unix-dgram cannot reach: an abstract socket ("@name"), a
 * non-absolute address (e.g. "vsock:..."), or a path longer than sun_path.
 *
 * MONOTONIC_USEC (sent with RELOADING=1): systemd compares it with its own
 * CLOCK_MONOTONIC. process.hrtime.bigint() is libuv's uv_hrtime(), which on
 * Linux is clock_gettime(CLOCK_MONOTONIC) (uv__hrtime with UV_CLOCK_PRECISE;
 * only the loop's UV_CLOCK_FAST may use CLOCK_MONOTONIC_COARSE), so
 * hrtime/1000 is the value systemd wants. test/systemd/notify.test.ts checks
 * it against python3's time.clock_gettime(CLOCK_MONOTONIC). systemd 252
 * ignores MONOTONIC_USEC (it is used by Type=notify-reload, systemd >= 253);
 * sending it is harmless there.
 */
import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import type { EventEmitter } from 'node:events';

export interface Notifier {
  /** False when NOTIFY_SOCKET is unset or unusable: then every call is a quiet no-op. */
  readonly enabled: boolean;
  /** The watchdog ping interval (WATCHDOG_USEC/2) in ms when the watchdog is ours, else null. */
  readonly watchdogIntervalMs: number | null;
  /** "READY=1" and, with a status, "STATUS=...". */
  ready(status?: string): void;
  /** "STATUS=..." (one line: newlines become spaces). */
  status(text: string): void;
  /** "RELOADING=1" with "MONOTONIC_USEC=" CLOCK_MONOTONIC in µs; send ready() when the reload is done. */
  reloading(): void;
  /** "STOPPING=1". */
  stopping(): void;
  /** "WATCHDOG=1". */
  watchdog(): void;
  /**
   * Starts WATCHDOG=1 pings (one at once, then every WATCHDOG_USEC/2) when
   * WATCHDOG_USEC is set and WATCHDOG_PID is unset or equals process.pid.
   * The timer is unref'd. Returns a function that stops the pings. Calling it
   * again replaces the previous timer.
   */
  startWatchdog(): () => void;
  /** Stops the watchdog and drops the messages waiting for a full socket; later calls are no-ops. */
  close(): void;
}

export interface NotifyLog {
  warn(obj: object, msg: string): void;
}

/** The part of unix-dgram's API we use (it ships no types). */
export interface UnixDgramSocket extends EventEmitter {
  bind(path: string): void;
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error & { code?: unknown }) => void): void;
  close(): void;
}
interface UnixDgramModule {
  createSocket(type: 'unix_dgram', listener?: (msg: Buffer) => void): UnixDgramSocket;
}

let unixDgram: UnixDgramModule | undefined;

/** Loads the unix-dgram addon (throws if it is not built). */
export function loadUnixDgram(): UnixDgramModule {
  unixDgram ??= createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
  return unixDgram;
}

/** sockaddr_un.sun_path is 108 bytes and unix-dgram copies at most 107. */
const MAX_SOCKET_PATH = 107;

/** One line for STATUS=: sd_notify messages are newline-separated. */
function oneLine(text: string): string {
  return text.replace(/\r\n|[\r\n]/g, ' ');
}

const CONGESTION = "EAGAIN: systemd's notification socket is full";

/**
 * unix-dgram's sockets are non-blocking, so a receiver whose queue is full (PID 1 busy, at most
 * net.unix.max_dgram_qlen datagrams) makes sendto fail with EAGAIN, which unix-dgram reports as
 * code 1 ("congestion"). libsystemd's sd_notify blocks until there is room; we retry instead
 * (NotifyRetry), so a READY=1 sent at a busy moment is not lost and the start does not time out.
 */
function isCongestion(err: { code?: unknown }): boolean {
  return err.code === 1 || err.code === -osConstants.errno.EAGAIN || err.code === -osConstants.errno.ENOBUFS;
}
/** How a message that finds the socket full is retried: after firstMs, doubling to maxMs, `limit` tries. */
export interface NotifyRetry {
  readonly firstMs: number;
  readonly maxMs: number;
  readonly limit: number;
}
/** 10 + 20 + ... + 640 ms, then 1 s a try: ~14 s before a message is given up. */
const DEFAULT_RETRY: NotifyRetry = { firstMs: 10, maxMs: 1000, limit: 20 };
const retryDelay = (r: NotifyRetry, i: number): number => Math.min(r.maxMs, r.firstMs * 2 ** i);
const retryTotalMs = (r: NotifyRetry): number => Array.from({ length: r.limit }, (_, i) => retryDelay(r, i)).reduce((a, b) => a + b, 0);
/** Messages are few (READY, STATUS, a ping every WATCHDOG_USEC/2); more waiting than this means systemd is not reading. */
const PENDING_LIMIT = 16;

/** unix-dgram reports errors with code = -errno (its code 1, EAGAIN, is isCongestion's and waited out); name it for the log. */
function errnoName(err: { code?: unknown; message?: string }): string {
  const code = err.code;
  if (typeof code === 'number') {
    const errno = Math.abs(code);
    const name = Object.entries(osConstants.errno).find(([, v]) => v === errno)?.[0];
    return name ?? `errno ${errno}`;
  }
  return typeof code === 'string' ? code : (err.message ?? 'unknown error');
}

const stderrLog: NotifyLog = {
  warn(obj, msg) {
    process.stderr.write(`mirror-policyd: ${msg} ${JSON.stringify(obj)}\n`);
  },
};

const noop = (): void => {};

/** Parses WATCHDOG_USEC/WATCHDOG_PID as sd_watchdog_enabled(3) does: the interval is ours to keep, or null. */
function watchdogInterval(env: NodeJS.ProcessEnv): number | null {
  const usec = env['WATCHDOG_USEC'];
  if (usec === undefined || !/^\d+$/.test(usec.trim())) return null;
  const n = Number(usec.trim());
  if (!Number.isSafeInteger(n) || n <= 0) return null;
  const pid = env['WATCHDOG_PID'];
  if (pid !== undefined && pid.trim() !== '' && pid.trim() !== String(process.pid)) return null;
  return Math.max(1, Math.floor(n / 2 / 1000));
}

/** The variables through which systemd talks to its main process (sd_notify(3), sd_watchdog_enabled(3)). */
const NOTIFY_VARIABLES = ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID'] as const;

/**
 * Removes them from `env` once a notifier has read them, as sd_notify(3)'s unset_environment
 * does: the children (after-render commands, credential helpers) would inherit them, and one
 * that speaks sd_notify (podman's conmon sends READY=1 and MAINPID=) would talk about our unit.
 */
export function unsetNotifyEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  for (const name of NOTIFY_VARIABLES) delete env[name];
}

export function createNotifier(env: NodeJS.ProcessEnv = process.env, log: NotifyLog = stderrLog, retry: NotifyRetry = DEFAULT_RETRY): Notifier {
  const raw = env['NOTIFY_SOCKET'];
  let path: string | null = null;
  if (raw !== undefined && raw !== '') {
    if (raw.startsWith('@')) {
      log.warn({ notifySocket: raw }, 'sd_notify: NOTIFY_SOCKET is an abstract socket, which unix-dgram cannot send to; not notifying systemd');
    } else if (!raw.startsWith('/')) {
      log.warn({ notifySocket: raw }, `sd_notify: NOTIFY_SOCKET ${JSON.stringify(raw.slice(0, 200))} is not an absolute socket path; not notifying systemd`);
    } else if (Buffer.byteLength(raw) > MAX_SOCKET_PATH) {
      log.warn({ notifySocket: raw }, `sd_notify: NOTIFY_SOCKET is longer than ${MAX_SOCKET_PATH} bytes; not notifying systemd`);
    } else {
      try {
        loadUnixDgram();
        path = raw;
      } catch (e) {
        log.warn({ err: (e as Error).message }, `sd_notify: cannot load the unix-dgram addon (${(e as Error).message.split('\n')[0]}); not notifying systemd`);
      }
    }
  }

  const interval = path === null ? null : watchdogInterval(env);
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  /** The last failure logged; repeats of it are not logged again until a send succeeds. */
  let lastFailure: string | null = null;

  /** Messages waiting for room in the receiver's queue, oldest first (see isCongestion). */
  const pending: string[] = [];
  let retryTimer: NodeJS.Timeout | undefined;
  let retries = 0;

  const logFailure = (message: string, reason: string): void => {
    if (reason === lastFailure) return;
    lastFailure = reason;
    const first = message.split('\n')[0];
    log.warn(
      { notifySocket: path, error: reason, message: first },
      `sd_notify: cannot send ${first} to ${path ?? ''}: ${reason}; systemd may not see the daemon ready or alive (logged again only when the reason changes)`,
    );
  };

  /** One sendto on a fresh socket: 'congested' when the receiver's queue is full (nothing logged), else done (a failure logged). */
  const sendOnce = (message: string, target: string): 'done' | 'congested' => {
    let outcome: 'done' | 'congested' = 'done';
    const fail = (e: unknown): void => {
      const err = (e ?? {}) as { code?: unknown; message?: string };
      if (isCongestion(err)) outcome = 'congested';
      else logFailure(message, errnoName(err));
    };
    let sock: UnixDgramSocket;
    try {
      sock = loadUnixDgram().createSocket('unix_dgram');
    } catch (e) {
      fail(e);
      return outcome;
    }
    sock.on('error', fail); // unix-dgram emits rather than throws in some paths
    const buf = Buffer.from(message);
    try {
      // unix-dgram calls back before send returns (sendto is synchronous), so `outcome` is known below.
      sock.send(buf, 0, buf.length, target, (err) => {
        if (err) fail(err);
        else lastFailure = null;
      });
    } catch (e) {
      fail(e);
    } finally {
      try {
        sock.close();
      } catch {
        /* the message went out or failed already; nothing to do */
      }
    }
    return outcome;
  };

  const scheduleRetry = (): void => {
    retryTimer = setTimeout(flushPending, retryDelay(retry, retries));
    retryTimer.unref(); // a message still waiting must not hold a stopping process
  };

  /** Sends what waits, in order, until the receiver is full again (then later) or it is all out. */
  const flushPending = (): void => {
    retryTimer = undefined;
    while (path !== null && pending.length > 0) {
      const message = pending[0]!;
      if (sendOnce(message, path) === 'congested') {
        if (++retries < retry.limit) return scheduleRetry();
        logFailure(message, `${CONGESTION} for ${(retryTotalMs(retry) / 1000).toFixed(1)} s; the waiting messages dropped`);
        pending.length = 0;
      } else pending.shift();
      retries = 0;
    }
  };

  const send = (message: string): void => {
    if (path === null || closed) return;
    // Behind messages that wait, in order: READY=1 must not be overtaken by a later STATUS=.
    if (pending.length === 0 && sendOnce(message, path) === 'done') return;
    if (message === 'WATCHDOG=1' && pending.includes(message)) return; // one waiting ping says as much as several
    // A newer status replaces one waiting last: only the latest is worth saying (not one earlier in
    // the queue, which a later READY=1's own STATUS= would then follow and contradict).
    const last = pending.length - 1;
    if (message.startsWith('STATUS=') && pending[last]?.startsWith('STATUS=')) return void (pending[last] = message);
    if (pending.length >= PENDING_LIMIT) return logFailure(message, `${CONGESTION}; more than ${PENDING_LIMIT} messages waiting, this one dropped`);
    pending.push(message);
    if (retryTimer === undefined) scheduleRetry();
  };

  const stopWatchdog = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };

  return {
    get enabled() {
      return path !== null && !closed;
    },
    watchdogIntervalMs: interval,
    ready(status?: string) {
      send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`);
    },
    status(text: string) {
      send(`STATUS=${oneLine(text)}`);
    },
    reloading() {
      send(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
    },
    stopping() {
      send('STOPPING=1');
    },
    watchdog() {
      send('WATCHDOG=1');
    },
    startWatchdog() {
      if (interval === null || closed) return noop;
      stopWatchdog();
      send('WATCHDOG=1');
      const t = setInterval(() => send('WATCHDOG=1'), interval);
      t.unref();
      timer = t;
      return () => {
        if (timer === t) stopWatchdog();
      };
    },
    close() {
      stopWatchdog();
      closed = true;
      // What still waits is dropped: after close nothing is sent (the stopping process is on its way out).
      clearTimeout(retryTimer);
      retryTimer = undefined;
      pending.length = 0;
    },
  };
}
