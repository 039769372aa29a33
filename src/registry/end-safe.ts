/**
 * Keeping undici 7's HTTP/1 parser from meeting a server's close while it is paused.
 *
 * Why: undici 7 pauses its parser when a response body's buffer is full (the consumer is
 * slower than the network, or has not started reading yet). If the server then closes the
 * connection (HTTP/1.0, `Connection: close`: Python's `http.server`, many plain web servers
 * used as mirrors; or a mirror that dies mid-body), the socket's end handler calls
 * `parser.finish()`, which asserts that the parser is not paused: an AssertionError thrown
 * from an event handler, which no caller can catch, and the process dies
 * (nodejs/undici#5360, fixed only in undici 8, which needs Node >= 22.19). Reading every
 * body at once is not enough: a file write that applies backpressure on the final chunk
 * pauses the parser the same way. Two guards:
 *
 * 1. endSafe (every dispatcher, proxies included; public API only): the parser can only
 *    reach the socket's end while paused if it paused on the last bytes the socket had, so
 *    - a body of known length (Content-Length) may pause on any chunk but its last;
 *    - a chunked body may pause anywhere (its terminating chunk follows the data);
 *    - a close-delimited body (neither) does not pause for its first
 *      CLOSE_DELIMITED_UNPAUSED bytes: its end is the close itself. What arrives faster than
 *      it is read is buffered; every manifest, token or error page fits, and the plain
 *      servers that send such bodies send files with a length. Past that, backpressure
 *      holds again, so memory stays bounded (guard 2 covers the close then).
 *    This covers every complete response.
 * 2. guardConnections (every connection undici makes in this process, proxied and
 *    tunnelled ones included, announced on its `undici:client:connected` diagnostics
 *    channel): a body cut short by the server's close (a mirror restarting, or hostile)
 *    can still leave the parser paused at the end. Each socket gets a first 'end' listener
 *    that resumes a paused parser, as undici 8 does itself; undici then finishes it and the
 *    truncated body fails with an ordinary error. This reaches into undici's socket state
 *    (its `kParser` symbol, from undici/lib/core/symbols.js): pinned to undici 7, and
 *    harmless if that ever changes (nothing is found, nothing is done; guard 1 still holds).
 * Nothing else changes: the chunks, their order and every other callback pass through.
 */
import { subscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import type { Dispatcher } from 'undici';

/** undici's legacy handler API (the one request() uses). */
interface LegacyHandler {
  onConnect?(abort: (err?: Error) => void, context?: unknown): void;
  onError?(err: Error): void;
  onUpgrade?(statusCode: number, headers: Buffer[] | string[] | null, socket: unknown): void;
  onResponseStarted?(): void;
  onHeaders?(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean;
  onData?(chunk: Buffer): boolean;
  onComplete?(trailers: string[] | null): void;
  onBodySent?(chunkSize: number, totalBytesSent: number): void;
  onRequestSent?(): void;
}

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
  return chunked ? { chunked } : { length, chunked };
}

/** How much of a close-delimited body is taken without backpressure (see guard 1). */
export const CLOSE_DELIMITED_UNPAUSED = 16 * 1024 * 1024;

/** May the parser pause after `received` bytes of a body framed so? */
export function mayPause(framing: { length?: number; chunked: boolean }, received: number): boolean {
  if (framing.chunked) return true;
  if (framing.length !== undefined) return received < framing.length;
  return received > CLOSE_DELIMITED_UNPAUSED;
}

/**
 * Wraps one request's handler: a plain object of its own that calls the handler's methods
 * (not a Proxy: ProxyAgent assigns `handler.onHeaders`, which must land on this object).
 */
function endSafeHandler(h: LegacyHandler): LegacyHandler {
  let framing: { length?: number; chunked: boolean } = { chunked: false };
  let received = 0;
  const wrapper: LegacyHandler = {
    onConnect: (abort, context) => h.onConnect?.(abort, context),
    onError: (err) => h.onError?.(err),
    onHeaders: (statusCode, rawHeaders, resume, statusText) => {
      framing = bodyFraming(rawHeaders);
      received = 0;
      return h.onHeaders?.(statusCode, rawHeaders, resume, statusText) ?? true;
    },
    onData: (chunk) => {
      received += chunk.length;
      const goOn = h.onData?.(chunk) ?? true;
      // An empty chunk adds nothing to wait for: the parser hands one over when resumed
      // with nothing new (as resumeParserAtEnd does), and must not pause again on it.
      return goOn !== false || chunk.length === 0 || !mayPause(framing, received);
    },
    onComplete: (trailers) => h.onComplete?.(trailers),
  };
  if (h.onUpgrade) wrapper.onUpgrade = (statusCode, headers, socket) => h.onUpgrade?.(statusCode, headers, socket);
  if (h.onResponseStarted) wrapper.onResponseStarted = () => h.onResponseStarted?.();
  if (h.onBodySent) wrapper.onBodySent = (size, total) => h.onBodySent?.(size, total);
  if (h.onRequestSent) wrapper.onRequestSent = () => h.onRequestSent?.();
  return wrapper;
}

/** `dispatcher`, with every request's handler wrapped by endSafeHandler, and its connections guarded (guardConnections). */
export function endSafe<D extends Dispatcher>(dispatcher: D): D {
  guardConnections();
  return new Proxy(dispatcher, {
    get(target, key) {
      // request() hands over a legacy handler; one of the newer API (onRequestStart...) passes as it is
      if (key === 'dispatch')
        return (opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) =>
          target.dispatch(opts, 'onRequestStart' in handler ? handler : endSafeHandler(handler));
      // the dispatcher itself as `this` and receiver: its private fields are not the Proxy's
      const v: unknown = Reflect.get(target, key);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** undici 7's own symbol for a socket's HTTP/1 parser (undefined if it ever moves). */
const kParser: symbol | undefined = (() => {
  try {
    const symbols = createRequire(import.meta.url)('undici/lib/core/symbols.js') as { kParser?: unknown };
    return typeof symbols.kParser === 'symbol' ? symbols.kParser : undefined;
  } catch {
    return undefined;
  }
})();

/** Whether guard 2 can reach undici's parser in the installed undici (a test fails on an upgrade that moves it). */
export const socketGuardAvailable: boolean = kParser !== undefined;

interface PausableParser {
  readonly paused?: boolean;
  resume?: () => void;
}

/** At the server's close, a paused parser is resumed first, so that undici's own end handler can finish it. */
export function resumeParserAtEnd(socket: Socket): void {
  socket.prependListener('end', () => {
    const parser = kParser ? ((socket as unknown as Record<symbol, PausableParser | null | undefined>)[kParser] ?? undefined) : undefined;
    if (parser?.paused === true && typeof parser.resume === 'function') parser.resume();
  });
}

let guarding = false;

/** From now on, every connection undici makes in this process gets resumeParserAtEnd (idempotent). */
export function guardConnections(): void {
  if (guarding) return;
  guarding = true;
  subscribe('undici:client:connected', (message) => {
    const socket = (message as { socket?: unknown } | null)?.socket;
    if (socket instanceof Socket) resumeParserAtEnd(socket);
  });
}
