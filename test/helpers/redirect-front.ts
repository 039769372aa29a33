/**
 * Blob storage behind a redirect, as registries on S3/GCS serve blobs: a front that
 * passes every request to a real docker-registry except blob GETs, which it answers
 * with a 307 to a "storage" origin (another port, optionally another scheme). Both
 * record every request with its headers, so a test can see where credentials went.
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenLocal } from './local-server.js';

export interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface Recorder {
  readonly host: string; // 127.0.0.1:PORT
  readonly origin: string; // scheme://127.0.0.1:PORT
  readonly requests: Recorded[];
  close(): Promise<void>;
}

/** Proxies `req` to the registry at `target` (plain http), with `auth` instead of the client's when given. */
function forward(target: string, req: IncomingMessage, res: ServerResponse, path: string, auth?: string): void {
  const [host, port] = target.split(':') as [string, string];
  const headers = { ...req.headers, host: target };
  if (auth !== undefined) headers.authorization = auth;
  const up = httpRequest({ host, port: Number(port), method: req.method, path, headers }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  up.on('error', () => res.destroy());
  req.pipe(up);
}

/**
 * "Storage": serves GET /blob/REPO/DIGEST from the registry at `target`, authenticating to
 * it with its own `upstreamAuth` (a presigned URL needs no client credentials).
 */
export async function startBlobStore(target: string, upstreamAuth?: string, tls?: { cert: Buffer; key: Buffer }): Promise<Recorder> {
  const requests: Recorded[] = [];
  const srv = await listenLocal((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const m = /^\/blob\/(.+)\/(sha256:[a-f0-9]{64})$/.exec((req.url ?? '').split('?')[0] ?? '');
    if (!m) return void res.writeHead(404).end();
    forward(target, req, res, `/v2/${m[1]}/blobs/${m[2]}`, upstreamAuth);
  }, tls);
  const scheme = tls ? 'https' : 'http';
  return { host: `127.0.0.1:${srv.port}`, origin: `${scheme}://127.0.0.1:${srv.port}`, requests, close: srv.close };
}

/** The registry's front: everything passes to `target` except blob GETs, redirected (307) to `store`. */
export async function startRedirectingFront(target: string, store: Recorder, tls?: { cert: Buffer; key: Buffer }): Promise<Recorder> {
  const requests: Recorded[] = [];
  const srv = await listenLocal((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(req.url ?? '');
    if (req.method === 'GET' && m) return void res.writeHead(307, { location: `${store.origin}/blob/${m[1]}/${m[2]}?X-Signature=test` }).end();
    forward(target, req, res, req.url ?? '/');
  }, tls);
  const scheme = tls ? 'https' : 'http';
  return { host: `127.0.0.1:${srv.port}`, origin: `${scheme}://127.0.0.1:${srv.port}`, requests, close: srv.close };
}
