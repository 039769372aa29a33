/**
 * A stand-in for systemd's notification socket: a unix-dgram socket bound on
 * a temp path. Give `path` to the process under test as NOTIFY_SOCKET and read
 * what it sent.
 *
 *   const l = await startNotifyListener();
 *   const child = spawn(..., { env: { ...process.env, NOTIFY_SOCKET: l.path } });
 *   await l.waitFor((m) => m.startsWith('READY=1'), 10_000);
 *   const n = l.messages().length;
 *   child.kill('SIGHUP');
 *   await l.waitFor((m) => m.startsWith('RELOADING=1'), 10_000, n); // only messages after index n
 *   await l.close();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadUnixDgram, type UnixDgramSocket } from '../../src/systemd/notify.js';

export interface NotifyListener {
  /** The socket path, for NOTIFY_SOCKET. */
  readonly path: string;
  /** Every datagram received so far, in order, as UTF-8 text. */
  messages(): string[];
  /**
   * Resolves with the first message at index >= `from` (default 0: already
   * received ones count) for which `pred` is true. Rejects after `timeoutMs`
   * (default 5000) with the messages seen in the error, when the listener is
   * closed, or when `pred` throws.
   */
  waitFor(pred: (message: string) => boolean, timeoutMs?: number, from?: number): Promise<string>;
  /** Closes the socket, removes the temp directory, rejects pending waitFor calls. Idempotent. */
  close(): Promise<void>;
}

interface Waiter {
  pred: (message: string) => boolean;
  from: number;
  resolve: (m: string) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** sun_path holds 107 bytes; a long $TMPDIR would be cut, so fall back to /tmp. */
function socketDir(): string {
  const base = join(tmpdir(), 'mpd-notify-XXXXXX', 'notify.sock').length <= 100 ? tmpdir() : '/tmp';
  return mkdtempSync(join(base, 'mpd-notify-'));
}

export async function startNotifyListener(): Promise<NotifyListener> {
  const dir = socketDir();
  const path = join(dir, 'notify.sock');
  const received: string[] = [];
  let waiters: Waiter[] = [];
  let closed = false;

  const settle = (w: Waiter, fn: () => void): void => {
    clearTimeout(w.timer);
    waiters = waiters.filter((x) => x !== w);
    fn();
  };

  /** Checks `w` against messages from index `start`; true when it settled. */
  const check = (w: Waiter, start: number): boolean => {
    for (let i = Math.max(start, w.from); i < received.length; i++) {
      const m = received[i] as string;
      let hit: boolean;
      try {
        hit = w.pred(m);
      } catch (e) {
        settle(w, () => w.reject(e instanceof Error ? e : new Error(String(e))));
        return true;
      }
      if (hit) {
        settle(w, () => w.resolve(m));
        return true;
      }
    }
    return false;
  };

  const sock: UnixDgramSocket = loadUnixDgram().createSocket('unix_dgram', (buf: Buffer) => {
    const index = received.length;
    received.push(buf.toString('utf8'));
    for (const w of [...waiters]) check(w, index);
  });

  await new Promise<void>((resolve, reject) => {
    sock.once('listening', () => resolve());
    sock.once('error', (e: Error) => reject(e));
    sock.bind(path); // emits synchronously
  });
  sock.on('error', () => {}); // an unhandled 'error' event would throw

  return {
    path,
    messages: () => [...received],
    waitFor(pred, timeoutMs = 5000, from = 0) {
      return new Promise<string>((resolve, reject) => {
        if (closed) {
          reject(new Error('notify listener is closed'));
          return;
        }
        const w: Waiter = {
          pred,
          from,
          resolve,
          reject,
          timer: setTimeout(() => {
            settle(w, () =>
              reject(new Error(`no matching sd_notify message within ${timeoutMs} ms (from index ${from}); received: ${JSON.stringify(received)}`)),
            );
          }, timeoutMs),
        };
        waiters.push(w);
        check(w, 0);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const w of [...waiters]) settle(w, () => w.reject(new Error('notify listener closed while waiting')));
      try {
        sock.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
