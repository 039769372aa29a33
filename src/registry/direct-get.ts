/**
 * One `GET` to an endpoint reached without a proxy, over node:http and node:https: the
 * probes' transport (probe.ts says why not undici). The registry client's deadlines, and its
 * error codes for them, so that a failure is classified as the client's would be: connect
 * (TCP and TLS) within `connectMs`, the response headers within `headersMs` after it. A new
 * connection each time, closed after the answer (a probe checks that one can be made).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TlsMaterial } from './certs.js';
import type { Timeouts } from './timeouts.js';

/** The most of a body read before the connection is dropped (as the client's discard). */
const DISCARD_LIMIT = 64 * 1024;

function timeoutError(code: 'UND_ERR_CONNECT_TIMEOUT' | 'UND_ERR_HEADERS_TIMEOUT', url: URL, ms: number): Error {
  const what = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'connect' : 'response headers';
  return Object.assign(new Error(`${url.host}: no ${what} within ${ms} ms`), { code });
}

/** Reads and drops a body (up to DISCARD_LIMIT, within `ms`), then settles: never fails. */
function drain(res: IncomingMessage, ms: number): Promise<void> {
  return new Promise((done) => {
    let n = 0;
    const timer = setTimeout(() => res.destroy(), ms);
    res.on('data', (chunk: Buffer) => {
      n += chunk.length;
      if (n > DISCARD_LIMIT) res.destroy();
    });
    res.on('error', () => undefined);
    res.once('close', () => {
      clearTimeout(timer);
      done();
    });
  });
}

/** `GET url`: its status once the body is read or dropped; a network error (with the client's codes for deadlines) otherwise. */
export function directStatus(url: URL, opts: { tls: TlsMaterial; rejectUnauthorized: boolean; timeouts: Timeouts }): Promise<number> {
  const { connectMs, headersMs, bodyIdleMs } = opts.timeouts;
  const https = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (https ? httpsRequest : httpRequest)(url, {
      method: 'GET',
      agent: false,
      headers: { 'user-agent': 'mirror-policyd' },
      ...(https ? { ...opts.tls, rejectUnauthorized: opts.rejectUnauthorized } : {}),
    });
    let timer = setTimeout(() => req.destroy(timeoutError('UND_ERR_CONNECT_TIMEOUT', url, connectMs)), connectMs);
    req.once('socket', (socket) =>
      socket.once(https ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        timer = setTimeout(() => req.destroy(timeoutError('UND_ERR_HEADERS_TIMEOUT', url, headersMs)), headersMs);
      }),
    );
    let answered = false;
    req.once('response', (res) => {
      answered = true;
      clearTimeout(timer);
      void drain(res, bodyIdleMs).then(() => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      // once the status is in, a body cut short changes nothing (as the client's discard)
      if (!answered) reject(e);
    });
    req.end();
  });
}
