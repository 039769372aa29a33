/**
 * A dispatcher wrapper that keeps undici 7's HTTP/1 parser from being paused on a
 * response's last bytes.
 *
 * Why: undici 7 pauses its parser when a response body's buffer is full (the consumer is
 * slower than the network, or has not started reading yet). If the server then closes the
 * connection (HTTP/1.0, `Connection: close`: Python's `http.server`, many plain web servers
 * used as mirrors), the socket's end handler calls `parser.finish()`, which asserts that
 * the parser is not paused: an AssertionError thrown from an event handler, which no
 * caller can catch, and the process dies (nodejs/undici#5360, fixed only in undici 8,
 * which needs Node >= 22.19). Reading every body at once is not enough: a file write that
 * applies backpressure on the final chunk pauses the parser the same way.
 *
 * The parser can only reach the socket's end while paused if it paused on the last bytes
 * the socket had, so:
 * - a body of known length (Content-Length) may pause on any chunk but its last;
 * - a chunked body may pause anywhere (its terminating chunk always follows the data, so
 *   the socket cannot have ended with the parser waiting);
 * - a close-delimited body (neither) never pauses: its end is the close itself. Such a
 *   body is buffered as fast as it arrives; every consumer here has a size cap or a
 *   deadline that destroys it, and the registries that send one are small plain servers.
 * Nothing else changes: the chunks, their order and every other callback pass through.
 */
import type { Dispatcher } from 'undici';

type LegacyHandler = Dispatcher.DispatchHandler & {
  onHeaders?: (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string) => boolean;
  onData?: (chunk: Buffer) => boolean;
};

/** How a response body ends, read from its raw headers (Buffer name, Buffer value, ...). */
export function bodyFraming(rawHeaders: readonly (Buffer | string)[]): { length?: number; chunked: boolean } {
  let length: number | undefined;
  let chunked = false;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = String(rawHeaders[i]).toLowerCase();
    const value = String(rawHeaders[i + 1]).trim();
    if (name === 'content-length' && /^\d+$/.test(value)) length = Number(value);
    if (name === 'transfer-encoding' && /(^|,)\s*chunked\s*$/i.test(value)) chunked = true;
  }
  return chunked ? { chunked } : { ...(length !== undefined ? { length } : {}), chunked };
}

/** May the parser pause after `received` bytes of a body framed so? */
export function mayPause(framing: { length?: number; chunked: boolean }, received: number): boolean {
  if (framing.chunked) return true;
  if (framing.length !== undefined) return received < framing.length;
  return false;
}

/** Wraps one request's handler (undici's legacy handler API, which request() uses). */
function endSafeHandler(handler: LegacyHandler): LegacyHandler {
  let framing: { length?: number; chunked: boolean } = { chunked: false };
  let received = 0;
  return new Proxy(handler, {
    get(target, key, receiver) {
      if (key === 'onHeaders' && target.onHeaders) {
        return (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean => {
          framing = bodyFraming(rawHeaders);
          received = 0;
          return target.onHeaders!(statusCode, rawHeaders, resume, statusText);
        };
      }
      if (key === 'onData' && target.onData) {
        return (chunk: Buffer): boolean => {
          received += chunk.length;
          const goOn = target.onData!(chunk);
          return goOn !== false || !mayPause(framing, received);
        };
      }
      const v: unknown = Reflect.get(target, key, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** `dispatcher`, with every request's handler wrapped by endSafeHandler. */
export function endSafe<D extends Dispatcher>(dispatcher: D): D {
  return new Proxy(dispatcher, {
    get(target, key, receiver) {
      if (key === 'dispatch') return (opts: Dispatcher.DispatchOptions, handler: LegacyHandler) => target.dispatch(opts, endSafeHandler(handler));
      const v: unknown = Reflect.get(target, key, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
