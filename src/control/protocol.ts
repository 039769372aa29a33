/**
 * The control socket's wire format: newline-delimited JSON, one request per connection.
 * The client writes one JSON object followed by "\n"; the server writes one JSON object
 * followed by "\n" and closes. The socket is read-only: no command changes daemon state.
 */

/** Requests are tiny; a longer line (or that many bytes without a newline) is refused and the connection closed. */
export const MAX_REQUEST_BYTES = 4096;

/** Upper bound on a response the client will buffer (a status report is kilobytes; this only bounds memory). */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

export const DEFAULT_CONTROL_SOCKET = '/run/mirror-policyd/control.sock';

export type Request = { cmd: 'status' } | { cmd: 'reloads' } | { cmd: 'ping' };
export type Response = { ok: true; result: unknown } | { ok: false; error: string };

/** One message as it goes on the wire. Throws on values JSON cannot carry (BigInt, cycles). */
export function encodeLine(msg: Request | Response): string {
  return JSON.stringify(msg) + '\n';
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses one request line into the command name it asks for. The name is not checked
 * against the known commands here: the server answers an unknown one with an error.
 */
export function parseRequestLine(line: string): { cmd: string } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: 'malformed request: not valid JSON' };
  }
  if (!isPlainObject(v)) return { error: 'malformed request: expected a JSON object' };
  const cmd = v['cmd'];
  if (typeof cmd !== 'string' || cmd === '') return { error: 'malformed request: "cmd" must be a non-empty string' };
  return { cmd };
}

/** Parses and checks the shape of one response line; throws on anything that is not a Response. */
export function parseResponseLine(line: string): Response {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Error('malformed response from control socket: not valid JSON');
  }
  if (isPlainObject(v)) {
    // JSON drops an undefined member, so a missing result reads as null.
    if (v['ok'] === true) return { ok: true, result: v['result'] ?? null };
    if (v['ok'] === false && typeof v['error'] === 'string') return { ok: false, error: v['error'] };
  }
  throw new Error('malformed response from control socket: expected {"ok":true,"result":...} or {"ok":false,"error":"..."}');
}
