/**
 * A blob through the local mirror: streamed to the client as it arrives while hashed. When
 * its source fails mid-stream, the rest comes from the next source (Range from the offset
 * reached), so the client never sees the failure. The last chunk is held back until the
 * whole blob has hashed to its digest: a wrong blob's connection is destroyed before its end,
 * so no client can accept it. A client's Range is served from the whole blob (hashed from
 * the start, bytes outside the range not sent), so ranges are verified too.
 */
import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { parseNamed } from '../reference/reference.js';
import { blobDeadlineMs, bodyDeadline, discard, RegistryError, trickleGuard, type Response } from '../registry/client.js';
import { DigestMismatch, splitDigest } from '../registry/oci-layout.js';
import type { PullSource } from '../registry/pull.js';
import { countResponse, type LocalMirrorStats } from './counters.js';
import { BatchedBody } from './batched-body.js';
import { API_VERSION_HEADER, ClientGone, type AnswerDeadline } from './reply.js';
import { parseRange, type ByteRange } from './request.js';
import type { Upstream } from './upstream.js';

export interface BlobRequest {
  readonly digest: string;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly deadline: AnswerDeadline;
  readonly stats: LocalMirrorStats;
  /** told the size of each chunk read from a source */
  readonly onBytes?: ((bytes: number) => void) | undefined;
}

/** How one blob's serving stands, across the sources it takes. */
interface Transfer {
  offset: number; // bytes of the blob received and hashed
  readonly hash: Hash;
  size: number | undefined; // from the first source's answer
  range: ByteRange | undefined; // what the client gets; undefined: all of it
  held: Buffer | undefined; // the last bytes for the client, sent only once the digest matched
  out: BatchedBody | undefined; // the client's bytes before `held`, once the answer has started
  current: Readable | undefined; // the body being read (destroyed when the answer deadline passes)
}

export type BlobOutcome = 'served' | 'absent' | 'failed' | 'wrong-digest' | 'client-gone' | 'late';

/** The HTTP status of a source's answer to a blob request, as the resolver judges it (pull.ts's fetchBlob). */
export function blobStatusError(status: number, digest: string): RegistryError {
  return new RegistryError(
    `blob ${digest}: HTTP ${status}`,
    status === 404 ? 'absent' : status >= 500 ? 'unhealthy' : 'forbidden',
    status >= 500 ? 'server-error' : undefined,
    status,
  );
}

function header(r: Response, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function sizeOf(r: Response): number | undefined {
  if (r.status === 206) {
    const m = /\/(\d+)$/.exec(header(r, 'content-range') ?? '');
    return m ? Number(m[1]) : undefined;
  }
  const len = header(r, 'content-length');
  return len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
}

/** GET of a blob: every source in health order until one finishes it. */
export async function serveBlob(up: Upstream, sources: readonly PullSource[], b: BlobRequest): Promise<BlobOutcome> {
  const t: Transfer = {
    offset: 0,
    hash: createHash(splitDigest(b.digest).alg),
    size: undefined,
    range: undefined,
    held: undefined,
    out: undefined,
    current: undefined,
  };
  let absent = true;
  // the client gone (or cut at close): stop reading the source at once, not at its next chunk
  let clientGone = false;
  b.res.once('close', () => {
    clientGone = !b.res.writableFinished;
    t.current?.destroy();
  });
  const contributors: PullSource[] = []; // the sources whose bytes are in the blob, in order
  for (const s of up.ordered(sources)) {
    if (b.deadline.late) return 'late';
    const release = await up.slot();
    const started = performance.now();
    const from = t.offset;
    try {
      if (b.deadline.late) return 'late';
      const resumed = t.offset > 0;
      const outcome = await fromSource(up, s, t, b);
      if (resumed && outcome === 'served') b.stats.midBlobFallbacks++; // counted once, for the source that finished it
      if (outcome === 'wrong-digest') {
        blameWrongContent(up, [...contributors, s], b.digest);
        b.stats.digestMismatches++;
        t.out?.drop();
        b.res.destroy();
        return outcome;
      }
      if (outcome === 'served') up.succeeded(s, performance.now() - started);
      return outcome;
    } catch (e) {
      if (e instanceof ClientGone || clientGone) return 'client-gone'; // not the source's failure
      if (up.failed(s, e)) absent = false;
    } finally {
      if (t.offset > from) contributors.push(s);
      t.current?.destroy();
      t.current = undefined;
      release();
    }
  }
  if (b.res.headersSent) {
    t.out?.drop();
    b.res.destroy(); // part of the blob went out and no source has the rest: the client must not take it as whole
    return 'failed';
  }
  return absent ? 'absent' : 'failed';
}

/**
 * A blob that does not match its digest: the source that sent it all served wrong content. One
 * pieced together from several (a source died mid-body, the next resumed it) cannot be laid
 * at the door of any one: the one that finished it may well be right (the one that died is
 * already marked down for dying), so none is marked down for it, and the log names them all.
 */
function blameWrongContent(up: Upstream, contributors: readonly PullSource[], digest: string): void {
  const cut = "the client's connection was cut";
  const [only] = contributors;
  if (contributors.length === 1 && only) return up.servedWrongContent(only, `blob ${digest}: the content served does not match its digest; ${cut}`);
  up.warn(`blob ${digest}: the content pieced together from ${contributors.map((c) => c.reference).join(', then ')} does not match its digest; ${cut}`);
}

/** One source's part of the transfer: from `t.offset` on. Throws the source's failure. */
async function fromSource(up: Upstream, s: PullSource, t: Transfer, b: BlobRequest): Promise<BlobOutcome> {
  const client = await up.client(s);
  const path = parseNamed(s.reference).path;
  const res = await client.get(`/v2/${path}/blobs/${b.digest}`, path, undefined, 'GET', t.offset > 0 ? { range: `bytes=${t.offset}-` } : {});
  t.current = res.body;
  if (b.deadline.late) return 'late';
  let skip = 0; // bytes we already have, when a source ignores our Range
  if (res.status === 206 && t.offset > 0) {
    const start = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '')?.[1];
    if (Number(start) !== t.offset) {
      await discard(res, client.timeouts.bodyIdleMs);
      throw new RegistryError(
        `blob ${b.digest}: asked from byte ${t.offset}, got ${JSON.stringify(header(res, 'content-range') ?? '')}`,
        'unhealthy',
        'protocol',
        206,
      );
    }
  } else if (res.status === 200) skip = t.offset;
  else {
    await discard(res, client.timeouts.bodyIdleMs);
    throw blobStatusError(res.status, b.digest);
  }
  const size = sizeOf(res);
  if (t.size !== undefined && size !== undefined && size !== t.size)
    throw new DigestMismatch(`blob ${b.digest}: ${size} bytes here, ${t.size} from the source before`);
  t.size ??= size;
  if (!b.res.headersSent && !startAnswer(t, b)) return 'served';
  // An overall deadline needs the size; a chunked body is held to the same rate as it comes.
  const what = `blob ${b.digest}`;
  const disarm = t.size !== undefined ? bodyDeadline(res.body, blobDeadlineMs(client.timeouts, t.size - t.offset), what) : () => {};
  const keepsPace = t.size === undefined ? trickleGuard(client.timeouts, what) : undefined;
  try {
    await eachChunk(res.body, (chunk) => {
      b.onBytes?.(chunk.length);
      keepsPace?.(chunk.length);
      let piece = chunk;
      if (skip > 0) {
        const k = Math.min(skip, piece.length);
        piece = piece.subarray(k);
        skip -= k;
        if (piece.length === 0) return undefined;
      }
      if (t.size !== undefined && t.offset + piece.length > t.size) throw new DigestMismatch(`blob ${b.digest} is longer than the ${t.size} bytes announced`);
      t.hash.update(piece);
      const full = passOn(t, b, piece);
      t.offset += piece.length;
      return full;
    });
  } finally {
    disarm();
  }
  if (t.size !== undefined && t.offset < t.size)
    throw new RegistryError(`blob ${b.digest}: the body ended at byte ${t.offset} of ${t.size}`, 'unhealthy', 'reset');
  const got = `${splitDigest(b.digest).alg}:${t.hash.digest('hex')}`;
  if (got !== b.digest) return 'wrong-digest';
  if (t.held) void t.out?.push(t.held);
  await t.out?.flush();
  b.res.end();
  return 'served';
}

/**
 * Feeds each chunk of `body` to `onChunk` from 'data' events (not an async iterator: no promise
 * per chunk on a blob's thousands of chunks); the body is paused while the promise `onChunk`
 * returns (the client's backpressure) is pending. Rejects with what `onChunk` throws or the
 * body's error; a body destroyed before its end rejects too.
 */
function eachChunk(body: Readable, onChunk: (chunk: Buffer) => Promise<void> | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData);
      body.destroy();
      reject(e instanceof Error ? e : new Error(String(e)));
    };
    const onData = (chunk: Buffer): void => {
      let full: Promise<void> | undefined;
      try {
        full = onChunk(chunk);
      } catch (e) {
        fail(e);
        return;
      }
      if (!full) return;
      body.pause();
      full.then(() => {
        if (!settled) body.resume();
      }, fail);
    };
    body.on('data', onData);
    body.once('end', () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    body.once('error', fail);
    body.once('close', () => fail(new RegistryError('the blob body closed before its end', 'unhealthy', 'reset')));
  });
}

/** The answer's status and headers, from the blob's size and the client's Range. False when the answer is already complete (416). */
function startAnswer(t: Transfer, b: BlobRequest): boolean {
  b.deadline.stop();
  const range = parseRange(b.req.headers.range, t.size);
  const common = { ...API_VERSION_HEADER, 'content-type': 'application/octet-stream', 'docker-content-digest': b.digest, 'accept-ranges': 'bytes' };
  if (range === 'unsatisfiable') {
    countResponse(b.stats, 416);
    b.res.writeHead(416, { ...common, 'content-range': `bytes */${t.size}`, 'content-length': '0' }).end();
    return false;
  }
  t.range = range;
  t.out = new BatchedBody(b.res, b.stats);
  if (range) {
    countResponse(b.stats, 206);
    b.res.writeHead(206, { ...common, 'content-range': `bytes ${range.start}-${range.end}/${t.size}`, 'content-length': String(range.end - range.start + 1) });
  } else {
    countResponse(b.stats, 200);
    b.res.writeHead(200, { ...common, ...(t.size !== undefined ? { 'content-length': String(t.size) } : {}) });
  }
  return true;
}

/**
 * The part of `piece` (at blob offset t.offset) the client asked for, sent one piece behind (the
 * newest is held) and batched. A promise only when the client is to be waited for.
 */
function passOn(t: Transfer, b: BlobRequest, piece: Buffer): Promise<void> | undefined {
  const from = t.range ? Math.max(0, t.range.start - t.offset) : 0;
  const to = t.range ? Math.min(piece.length, t.range.end + 1 - t.offset) : piece.length;
  if (to <= from) return undefined;
  const previous = t.held;
  t.held = piece.subarray(from, to);
  return previous ? t.out?.push(previous) : undefined;
}

/** HEAD of a blob: the first source that knows it gives its size. */
export async function headBlob(up: Upstream, sources: readonly PullSource[], b: BlobRequest): Promise<BlobOutcome> {
  const found = await up.firstAnswer(sources, b.deadline, async (s, client) => {
    const path = parseNamed(s.reference).path;
    const res = await client.get(`/v2/${path}/blobs/${b.digest}`, path, undefined, 'HEAD');
    await discard(res, client.timeouts.bodyIdleMs);
    if (res.status !== 200) throw blobStatusError(res.status, b.digest);
    return sizeOf(res);
  });
  if (b.deadline.late) return 'late';
  if (!('answer' in found)) return found.absent ? 'absent' : 'failed';
  b.deadline.stop();
  const size = found.answer;
  countResponse(b.stats, 200);
  b.res
    .writeHead(200, {
      ...API_VERSION_HEADER,
      'content-type': 'application/octet-stream',
      'docker-content-digest': b.digest,
      'accept-ranges': 'bytes',
      ...(size !== undefined ? { 'content-length': String(size) } : {}),
    })
    .end();
  return 'served';
}
