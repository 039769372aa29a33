/**
 * Client side of the control socket, used by `mirror-policyd status` and by the daemon
 * itself to tell a live instance from a stale socket file at startup.
 */
import { lstatSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { MAX_RESPONSE_BYTES, encodeLine, parseResponseLine, type Request, type Response } from './protocol.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

/**
 * Nothing serves the control socket: the path does not exist (`reason: 'missing'`) or
 * connecting is refused (`reason: 'refused'`, a stale socket file left by a killed daemon).
 * `mirror-policyd status` reports this as "not running" (exit 3).
 */
export class NotRunningError extends Error {
  override readonly name = 'NotRunningError';
  readonly path: string;
  readonly reason: 'missing' | 'refused';

  constructor(path: string, reason: 'missing' | 'refused') {
    super(
      reason === 'missing'
        ? `mirror-policyd is not running (no control socket at ${path})`
        : `mirror-policyd is not running (control socket ${path} refuses connections)`,
    );
    this.path = path;
    this.reason = reason;
  }
}

function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Sends one request and returns the parsed response. Bounded by `timeoutMs` (connect,
 * send and answer together): past it the connection is destroyed and the promise rejects
 * with an Error whose code is 'ETIMEDOUT'. Rejects with NotRunningError when the socket is
 * missing or refuses connections, with an Error (code 'EPROTO') when the server closes
 * without a well-formed answer, and (code 'EOWNER') when the socket, or the file a link there
 * leads to, belongs to another user than root or us (lookAt), before or once connected;
 * `anyOwner` skips that check (the daemon's probe of its own path).
 */
export function controlRequest(
  path: string,
  req: Request,
  timeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS,
  opts: { anyOwner?: boolean } = {},
): Promise<Response> {
  const looked = opts.anyOwner ? undefined : lookAt(path);
  if (looked?.foreignUid !== undefined) return Promise.reject(foreignSocketError(path, looked.foreignUid));
  return new Promise<Response>((resolve, reject) => {
    const sock = connect({ path });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;

    const finish = (err: Error | undefined, res?: Response): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res as Response);
    };

    const timer = setTimeout(() => finish(errorWithCode(`control socket ${path} did not answer within ${timeoutMs} ms`, 'ETIMEDOUT')), timeoutMs);

    const answer = (line: string): void => {
      try {
        finish(undefined, parseResponseLine(line));
      } catch (e) {
        finish(Object.assign(e as Error, { code: 'EPROTO' }));
      }
    };

    sock.on('connect', () => {
      // Checked again now that we are connected: the file looked at must still be there (a socket
      // put there since, or one that removed its own file once it had us, is not the one checked).
      if (looked !== undefined) {
        const now = lookAt(path);
        if (looked.id === undefined || now.id !== looked.id)
          return finish(errorWithCode(`control socket ${path} was replaced or removed while connecting: not asked`, 'EOWNER'));
        if (now.foreignUid !== undefined) return finish(foreignSocketError(path, now.foreignUid));
      }
      sock.write(encodeLine(req));
    });
    sock.on('data', (b: Buffer) => {
      const nl = b.indexOf(0x0a);
      if (nl >= 0) {
        chunks.push(b.subarray(0, nl));
        answer(Buffer.concat(chunks).toString('utf8'));
        return;
      }
      chunks.push(b);
      size += b.length;
      if (size > MAX_RESPONSE_BYTES) {
        finish(errorWithCode(`control socket ${path} sent more than ${MAX_RESPONSE_BYTES} bytes without a newline`, 'EPROTO'));
      }
    });
    sock.on('end', () => {
      // The server closed without a newline: take what it sent, if anything.
      if (size > 0) answer(Buffer.concat(chunks).toString('utf8'));
      else finish(errorWithCode(`control socket ${path} closed the connection without answering`, 'EPROTO'));
    });
    sock.on('close', () => {
      finish(errorWithCode(`control socket ${path} closed the connection without answering`, 'EPROTO'));
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') finish(new NotRunningError(path, 'missing'));
      else if (e.code === 'ECONNREFUSED') finish(new NotRunningError(path, 'refused'));
      else finish(e);
    });
  });
}

/**
 * What is at `path`: which file (device and inode, links followed, as connect does), and its
 * owner when that is neither root nor us, of the name (a link someone put there) or of what it
 * leads to. Whoever answers at such a socket is not the daemon (which runs as root, or as the
 * user asking), and what it says is not to be believed (`reload` signals the pid it names;
 * `status` reports what it says). A socket in a sticky directory (/tmp) cannot be swapped for
 * another user's once checked. Nothing known when absent or not looked at (connect then says why).
 */
function lookAt(path: string): { id?: string; foreignUid?: number } {
  const own = process.getuid?.();
  try {
    const name = lstatSync(path, { throwIfNoEntry: false });
    const file = statSync(path, { throwIfNoEntry: false });
    const foreign = [name, file].find((st) => st !== undefined && st.uid !== 0 && st.uid !== own);
    return { ...(file ? { id: `${file.dev}:${file.ino}` } : {}), ...(foreign ? { foreignUid: foreign.uid } : {}) };
  } catch {
    return {}; // EACCES on the way...
  }
}

function foreignSocketError(path: string, owner: number): Error {
  return errorWithCode(
    `control socket ${path} belongs to uid ${owner}, neither root nor this user: not the daemon's, so not asked (in a directory such as /tmp anyone may put a socket)`,
    'EOWNER',
  );
}

/** True when a server answers a ping at `path` (within `timeoutMs`); false on any failure. */
export async function isServing(path: string, timeoutMs: number = DEFAULT_REQUEST_TIMEOUT_MS): Promise<boolean> {
  try {
    const res = await controlRequest(path, { cmd: 'ping' }, timeoutMs);
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * What is at `path`, for a server about to bind there:
 * - 'serving': something answered a ping;
 * - 'busy': something accepts connections but gave no well-formed answer in time (a hung
 *   daemon, another program, or a daemon at its connection limit): not ours to remove;
 * - 'stale': a socket file nobody listens on (ECONNREFUSED);
 * - 'missing': nothing there.
 * Other failures (EACCES, ENOTSOCK...) are thrown.
 */
export async function probeControlSocket(path: string, timeoutMs: number): Promise<'serving' | 'busy' | 'stale' | 'missing'> {
  try {
    // Whoever owns it: the daemon's own path, where a stale socket is removed and a live one refused.
    await controlRequest(path, { cmd: 'ping' }, timeoutMs, { anyOwner: true });
    return 'serving';
  } catch (e) {
    if (e instanceof NotRunningError) return e.reason === 'missing' ? 'missing' : 'stale';
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ETIMEDOUT' || code === 'EPROTO' || code === 'ECONNRESET' || code === 'EPIPE') return 'busy';
    throw e;
  }
}
