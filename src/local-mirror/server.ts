/**
 * The local mirror: a read-only registry endpoint (plain HTTP, the distribution API's read
 * side) that the renderer lists first in front of the mirrors it manages. Each request is
 * mapped back to its original repository and served through the resolver from the table's
 * own sources (see upstream-sources.ts, upstream.ts, manifest.ts, blob.ts). Every request
 * is answered within a bounded time; what it cannot serve is an error containers/image
 * moves past to the mirrors listed after the endpoint.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { logAcceptErrors } from '../core/accept-errors.js';
import type { Logger } from '../core/log.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import type { Timeouts } from '../registry/client.js';
import type { PullSource } from '../registry/pull.js';
import type { ProxyEnv } from '../registry/proxy.js';
import { headBlob, serveBlob, type BlobOutcome } from './blob.js';
import { BlobSizes } from './blob-sizes.js';
import { emptyStats, countResponse, snapshot, type LocalMirrorStats } from './counters.js';
import { findManifest, sendManifest } from './manifest.js';
import { API_VERSION_HEADER, AnswerDeadline, sendError } from './reply.js';
import { acceptsManifest, isRefusal, routeRequest, type Route } from './request.js';
import { routeSources } from './upstream-sources.js';
import { Upstream, type HealthBook } from './upstream.js';

/** A request is answered (its first byte sent, or an error) within this by default; a blob's time waiting for an upstream slot does not count. */
export const DEFAULT_ANSWER_WITHIN_MS = 20_000;
export const DEFAULT_MAX_UPSTREAM = 32;
/** In-flight transfers get this long to finish at close, then their connections are cut. */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_CONNECTIONS = 512;

export interface LocalMirrorOptions {
  /** where to listen, already checked (the daemon's `local-mirror` setting, parsed by daemon/config.ts); port 0 picks one */
  readonly listen: { readonly host: string; readonly port: number };
  /** the rendered registries.conf: its tables give each request its sources */
  readonly conf: RegistriesConf;
  /** whether the host's credentials may be used (`local-mirror-credentials`); default: anonymous only */
  readonly credentials?: boolean;
  readonly authFile?: string;
  readonly certDir?: string;
  readonly timeouts?: Timeouts;
  readonly env?: ProxyEnv;
  readonly answerWithinMs?: number;
  readonly maxUpstream?: number;
  /** called with the size of each chunk of blob data read from a source (the daemon's memory upkeep: registry/young-collections.ts) */
  readonly onBlobBytes?: (bytes: number) => void;
  /** a blob's client that reads nothing for this long is cut (default DEFAULT_CLIENT_STALL_MS, client-waits.ts) */
  readonly clientStallMs?: number;
  readonly health: HealthBook;
  readonly log: Logger;
}

export interface LocalMirror {
  /** host:port it listens on */
  readonly address: string;
  /** a new rendered registries.conf (after each render) */
  setConf(conf: RegistriesConf): void;
  stats(): LocalMirrorStats;
  /** stops accepting; in-flight transfers finish within `graceMs` or are cut */
  close(graceMs?: number): Promise<void>;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startLocalMirror(opts: LocalMirrorOptions): Promise<LocalMirror> {
  const stats = emptyStats();
  const up = new Upstream({
    credentials: opts.credentials === true,
    credentialHelpers: () => conf.credentialHelpers,
    maxConcurrent: opts.maxUpstream ?? DEFAULT_MAX_UPSTREAM,
    health: opts.health,
    stats,
    log: opts.log,
    ...pick(opts),
  });
  let conf = opts.conf;
  const blobSizes = new BlobSizes();
  const answerWithinMs = opts.answerWithinMs ?? DEFAULT_ANSWER_WITHIN_MS;
  /** requests being handled: close() waits for them (within its grace) so its stats are final and every slot is back */
  const handlers = new Set<Promise<void>>();
  let closing = false;
  const { host, port } = opts.listen;
  let address = hostPort(host, port); // the bound address once listening (port 0 becomes the real port)
  const serve = (req: IncomingMessage, res: ServerResponse): Promise<void> =>
    handle(req, res, { conf, address, up, stats, answerWithinMs, log: opts.log, onBlobBytes: opts.onBlobBytes, blobSizes, clientStallMs: opts.clientStallMs });
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5_000 }, (req, res) => {
    stats.inFlight++;
    res.on('close', () => stats.inFlight--);
    const work = serve(req, res).catch((e: unknown) => {
      // the path only: a query string is the client's and may carry a token
      opts.log.error(`local mirror: ${req.method?.slice(0, 20)} ${(req.url ?? '').split('?', 1)[0]?.slice(0, 200)}: ${(e as Error).message}`);
      if (res.headersSent) res.destroy();
      else sendError(res, req.method === 'HEAD', stats, 500, 'UNKNOWN', 'internal error');
    });
    // once closing, a connection whose answer is done is closed, not kept for a next request
    res.on('finish', () => closing && setImmediate(() => server.closeIdleConnections()));
    handlers.add(work);
    void work.finally(() => handlers.delete(work));
  });
  server.maxConnections = MAX_CONNECTIONS;
  const sockets = new Set<Socket>();
  server.on('connection', (so: Socket) => {
    sockets.add(so);
    so.on('close', () => sockets.delete(so));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  logAcceptErrors(server, 'local mirror', opts.log);
  const bound = server.address();
  address = bound && typeof bound === 'object' ? hostPort(host, bound.port) : address;
  opts.log.info(`local mirror listening on http://${address} (credentials ${opts.credentials === true ? 'used' : 'not used'})`);
  return {
    address,
    setConf: (c) => {
      conf = c;
      up.retainFor(c);
    },
    stats: () => ({ ...snapshot(stats), waiting: up.waiting }),
    close: (graceMs = DEFAULT_CLOSE_GRACE_MS) => {
      closing = true;
      return closeServer(server, sockets, handlers, up, graceMs);
    },
  };
}

function pick(o: LocalMirrorOptions): Partial<Pick<LocalMirrorOptions, 'authFile' | 'certDir' | 'timeouts' | 'env'>> {
  return {
    ...(o.authFile ? { authFile: o.authFile } : {}),
    ...(o.certDir ? { certDir: o.certDir } : {}),
    ...(o.timeouts ? { timeouts: o.timeouts } : {}),
    ...(o.env ? { env: o.env } : {}),
  };
}

/** A short wait after the grace for the handlers of cut connections to return (they stop at the cut, not at a deadline). */
const AFTER_CUT_MS = 1_000;

async function closeServer(server: Server, sockets: Set<Socket>, handlers: Set<Promise<void>>, up: Upstream, graceMs: number): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  server.closeIdleConnections();
  const cut = setTimeout(() => {
    for (const so of sockets) so.destroy();
  }, graceMs);
  await closed;
  clearTimeout(cut);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.allSettled([...handlers]), new Promise<void>((r) => (timer = setTimeout(r, AFTER_CUT_MS)))]);
  clearTimeout(timer);
  await up.close();
}

interface Context {
  readonly conf: RegistriesConf;
  /** the endpoint as the rendered file names it */
  readonly address: string;
  readonly up: Upstream;
  readonly stats: LocalMirrorStats;
  readonly answerWithinMs: number;
  readonly log: Logger;
  readonly onBlobBytes: ((bytes: number) => void) | undefined;
  /** the blob sizes the manifests served give: what a blob sent without its length must reach */
  readonly blobSizes: BlobSizes;
  readonly clientStallMs: number | undefined;
}

async function handle(req: IncomingMessage, res: ServerResponse, ctx: Context): Promise<void> {
  const head = req.method === 'HEAD';
  const route = routeRequest(req.method ?? '', req.url ?? '');
  if (isRefusal(route)) {
    ctx.stats.requests.refused++;
    return sendError(res, head, ctx.stats, route.status, route.code, route.message, route.allow !== undefined ? { allow: route.allow } : {});
  }
  if (hasBody(req)) {
    ctx.stats.requests.refused++;
    return sendError(res, head, ctx.stats, 413, 'SIZE_INVALID', 'a read request carries no body', { connection: 'close' });
  }
  if (route.kind === 'base') {
    ctx.stats.requests.base++;
    countResponse(ctx.stats, 200);
    res.writeHead(200, { ...API_VERSION_HEADER, 'content-type': 'application/json', 'content-length': '2' });
    return void res.end(head ? undefined : '{}');
  }
  const sources = routeSources(ctx.conf, ctx.address, route);
  if (sources === undefined) {
    ctx.stats.requests.refused++;
    return sendError(res, head, ctx.stats, 404, 'NAME_UNKNOWN', 'this repository is not one the local mirror serves');
  }
  const deadline = new AnswerDeadline(
    ctx.answerWithinMs,
    () => {
      ctx.stats.deadlineAnswers++;
      sendError(res, head, ctx.stats, 503, 'UNAVAILABLE', `no source answered within ${Math.round(ctx.answerWithinMs / 1000)} s`);
    },
    route.kind !== 'blob',
  );
  res.once('close', () => {
    if (!res.writableFinished) deadline.clientLeft();
  });
  try {
    if (route.kind === 'manifest') await serveManifest(route, sources, req, res, ctx, deadline);
    else await serveBlobRoute(route, sources, req, res, ctx, deadline);
  } finally {
    deadline.stop();
  }
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}

async function serveManifest(
  route: Extract<Route, { kind: 'manifest' }>,
  sources: readonly PullSource[],
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  deadline: AnswerDeadline,
): Promise<void> {
  ctx.stats.requests.manifests++;
  const head = req.method === 'HEAD';
  const what = `${route.name}${route.byDigest ? '@' : ':'}${route.reference}`;
  const found = await findManifest(ctx.up, sources, route.reference, deadline, head);
  if (deadline.late || deadline.left.aborted) return;
  if ('digest' in found) {
    // As distribution answers it: a type the client did not list is not its manifest (it could not read it).
    if (!acceptsManifest(req.headers.accept, found.mediaType))
      return sendError(res, head, ctx.stats, 404, 'MANIFEST_UNKNOWN', `${what} is ${found.mediaType.slice(0, 100)}, which the request's Accept does not list`);
    if (found.bytes) ctx.blobSizes.learn(found.bytes);
    return sendManifest(res, head, found, ctx.stats);
  }
  if (found.absent) return sendError(res, head, ctx.stats, 404, 'MANIFEST_UNKNOWN', `no source has ${what}`);
  sendError(res, head, ctx.stats, 502, 'UNAVAILABLE', `no source served ${what}; see the daemon's log`);
}

async function serveBlobRoute(
  route: Extract<Route, { kind: 'blob' }>,
  sources: readonly PullSource[],
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Context,
  deadline: AnswerDeadline,
): Promise<void> {
  ctx.stats.requests.blobs++;
  const head = req.method === 'HEAD';
  const b = {
    digest: route.digest,
    req,
    res,
    deadline,
    stats: ctx.stats,
    onBytes: ctx.onBlobBytes,
    expectedSize: ctx.blobSizes.get(route.digest),
    clientStallMs: ctx.clientStallMs,
  };
  const outcome: BlobOutcome = head ? await headBlob(ctx.up, sources, b) : await serveBlob(ctx.up, sources, b);
  if (outcome === 'absent') sendError(res, head, ctx.stats, 404, 'BLOB_UNKNOWN', `no source has blob ${route.digest} of ${route.name}`);
  else if (outcome === 'failed' && !res.headersSent)
    sendError(res, head, ctx.stats, 502, 'UNAVAILABLE', `no source served blob ${route.digest} of ${route.name}; see the daemon's log`);
  else if (outcome === 'failed' || outcome === 'wrong-digest' || outcome === 'client-gone') ctx.stats.errors++;
}
