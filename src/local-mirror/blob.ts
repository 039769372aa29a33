/**
 * A blob through the local mirror: streamed to the client as it arrives while hashed. When
 * its source fails mid-stream, the rest comes from the next source (Range from the offset
 * reached), so the client never sees the failure; a body sent without a length that ends
 * early with a clean close is such a failure too (endedWrong, settleSuspects). The last chunk
 * is held back until the whole blob has hashed to its digest: a wrong blob's connection is
 * destroyed before its end, so no client can accept it. A client's Range is served from the
 * whole blob (hashed from the start, bytes outside the range not sent), so ranges are
 * verified too.
 */
import { createHash, type Hash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { parseNamed } from '../reference/reference.js';
import { blobDeadlineMs, bodyDeadline, discard, RegistryError, trickleGuard, type Response } from '../registry/client.js';
import { DigestMismatch, splitDigest } from '../registry/oci-layout.js';
import type { PullSource } from '../registry/pull.js';
import type { Timeouts } from '../registry/timeouts.js';
import { countResponse, type LocalMirrorStats } from './counters.js';
import { BatchedBody } from './batched-body.js';
import { ClientWaits, DEFAULT_CLIENT_STALL_MS } from './client-waits.js';
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
  /** the size a manifest the endpoint served gives the blob (blob-sizes.ts), when known: a hint, the digest is the judge */
  readonly expectedSize?: number | undefined;
  /** a client that reads nothing for this long is cut (client-waits.ts) */
  readonly clientStallMs?: number | undefined;
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
  readonly waits: ClientWaits; // the time spent waiting for the client: not the source's
}

export type BlobOutcome = 'served' | 'absent' | 'failed' | 'wrong-digest' | 'client-gone' | 'late';

/**
 * One source's outcome; 'unconfirmed': its body came without a length (the close ended it),
 * no size was known, and its bytes do not match the digest: cut short or wrong, which only
 * the next source can tell (serveBlob).
 */
type SourceOutcome = BlobOutcome | 'unconfirmed';

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
    waits: new ClientWaits(b.res, b.clientStallMs ?? DEFAULT_CLIENT_STALL_MS),
  };
  let absent = true;
  // the client gone (or cut at close): stop reading the source at once, not at its next chunk
  let clientGone = false;
  b.res.once('close', () => {
    clientGone = !b.res.writableFinished;
    t.current?.destroy();
  });
  const pieces: Piece[] = []; // the sources whose bytes are in the blob, in order
  const suspects: Suspect[] = []; // their 'unconfirmed' ones, judged once the blob is (see settleSuspects)
  let noBytesPast: NoBytesPast | undefined; // a source that has no byte past where the blob stands
  for (const s of up.ordered(sources)) {
    if (b.deadline.late) return 'late';
    const release = await up.slot(b.deadline, 'transfer');
    const started = performance.now();
    const piece: Piece = { source: s, from: t.offset, before: t.offset > 0 ? t.hash.copy().digest('hex') : undefined };
    try {
      if (b.deadline.late) return 'late';
      if (clientGone) return 'client-gone'; // it left while waiting for the slot (no deadline ends that wait): ask no source for it
      const resumed = t.offset > 0;
      const outcome = await fromSource(up, s, t, b);
      if (outcome === 'unconfirmed') {
        suspects.push({ piece, end: t.offset });
        continue; // the rest, if there is any, from the next source
      }
      if (resumed && outcome === 'served') b.stats.midBlobFallbacks++; // counted once, for the source that finished it
      if (outcome === 'wrong-digest') {
        b.stats.digestMismatches++;
        t.out?.drop();
        b.res.destroy();
        const verdict = await blameWrongContent(up, [...pieces, piece], b, t);
        settleSuspects(up, b, suspects, verdict ?? { blamed: undefined, rightUpTo: 0 });
        return outcome;
      }
      if (outcome === 'served') {
        up.succeeded(s, performance.now() - started);
        settleSuspects(up, b, suspects, { finisher: s });
      }
      return outcome;
    } catch (e) {
      if (e instanceof ClientGone || clientGone) {
        if (t.waits.stalled) up.warn(`blob ${b.digest}: the client read nothing for ${Math.round((b.clientStallMs ?? DEFAULT_CLIENT_STALL_MS) / 1000)} s: cut`);
        settleSuspects(up, b, suspects, { blamed: undefined, rightUpTo: 0 }); // theirs: failed before the client went
        return 'client-gone'; // not the source's failure
      }
      if (e instanceof RegistryError && e.status === 416) noBytesPast ??= { source: s, at: t.offset };
      if (up.failed(s, e)) absent = false;
    } finally {
      if (t.offset > piece.from) pieces.push(piece);
      t.current?.destroy();
      t.current = undefined;
      release();
    }
  }
  settleSuspects(up, b, suspects, { exhausted: noBytesPast });
  if (b.res.headersSent) {
    t.out?.drop();
    b.res.destroy(); // part of the blob went out and no source has the rest: the client must not take it as whole
    return 'failed';
  }
  return absent ? 'absent' : 'failed';
}

/** A source whose body, sent without a length, ended at `end` without the blob matching its digest. */
interface Suspect {
  readonly piece: Piece;
  readonly end: number;
}

/** A source that answered 416 to the Range from byte `at`: it has no byte of the blob there. */
interface NoBytesPast {
  readonly source: PullSource;
  readonly at: number;
}

/**
 * What the suspects' sources are marked as, once the blob is settled. Each one's bytes, from
 * the blob's start, did not match the digest: it failed, cut short or wrong. Which of the two
 * depends on what came after:
 * - another source finished the blob from the suspect's end to the digest, or the check of a
 *   wrong blob (blameWrongContent) found the bytes up to its end right: it was cut short (a
 *   reset, as a body with a length cut short is);
 * - none finished it and one has no byte past its end (416): its bytes were wrong (or more than
 *   the blob's), a wrong blob as the digest check counts them;
 * - else unknown: one that began the blob failed all the same; one that resumed it is left
 *   alone (the wrong bytes may be those before it), as blameWrongContent leaves the pieces alone
 *   when its check cannot finish.
 */
function settleSuspects(
  up: Upstream,
  b: BlobRequest,
  suspects: readonly Suspect[],
  how: { finisher: PullSource } | Verdict | { exhausted: NoBytesPast | undefined },
): void {
  const ended = (end: number): string => `blob ${b.digest}: its body, sent without a length, ended at byte ${end}`;
  for (const { piece, end } of suspects) {
    if ('blamed' in how && how.blamed === piece) continue; // marked for its wrong bytes already
    const cutShort = (why: string): boolean => up.failed(piece.source, new RegistryError(`${ended(end)}; ${why}: cut short`, 'unhealthy', 'reset'));
    if ('finisher' in how) cutShort(`${how.finisher.endpoint.host} had the rest, to the digest`);
    else if ('blamed' in how && end <= how.rightUpTo) cutShort("its bytes were the blob's (checked against the blob fetched whole)");
    else if ('exhausted' in how && how.exhausted?.at === end) {
      b.stats.digestMismatches++; // a wrong blob, found out (its client is cut)
      up.servedWrongContent(piece.source, `${ended(end)} and does not match its digest; ${how.exhausted.source.endpoint.host} has no byte past it`);
    } else if (piece.from === 0 || 'exhausted' in how)
      up.failed(
        piece.source,
        new RegistryError(`${ended(end)} without matching its digest: cut short or wrong, no other source could tell`, 'unhealthy', 'protocol'),
      );
  }
}

/** One source's part of a blob: where it began, and the digest of the bytes received before it. */
interface Piece {
  readonly source: PullSource;
  readonly from: number;
  readonly before: string | undefined; // hex digest of bytes [0, from); undefined when from is 0
}

/**
 * A blob that does not match its digest: the source that sent it all served wrong content. One
 * pieced together from several (a source died mid-body, the next resumed it) cannot be laid at
 * the door of the one that finished it: the bytes of one that died may be the wrong ones. Its
 * client is already cut (its bytes are out), so the blob is fetched whole from the finisher,
 * hashed only, to find whose bytes were wrong; the one found is marked down, and a finisher
 * whose whole blob is right recorded as working, so the client's retry is served by it. When
 * the check cannot finish, no one is marked down for the content.
 */
async function blameWrongContent(up: Upstream, pieces: readonly Piece[], b: BlobRequest, t: Transfer): Promise<Verdict | undefined> {
  const cut = "the client's connection was cut";
  const finisher = pieces[pieces.length - 1];
  if (!finisher) return undefined;
  if (pieces.length === 1) {
    up.servedWrongContent(finisher.source, `blob ${b.digest}: the content served does not match its digest; ${cut}`);
    return { blamed: finisher, rightUpTo: 0 };
  }
  const parts = pieces.map((p) => `${p.source.reference} (from byte ${p.from})`).join(', then ');
  up.warn(
    `blob ${b.digest}: the content pieced together from ${parts} does not match its digest; ${cut}; fetching it whole from ${finisher.source.reference} to find whose bytes were wrong`,
  );
  const started = performance.now();
  const marks = pieces.slice(1).map((p) => p.from);
  let whole: WholeBlob;
  try {
    whole = await wholeBlob(up, finisher.source, b, marks, t.size ?? t.offset);
  } catch (e) {
    const why = (e as Error).message;
    up.warn(`blob ${b.digest}: ${finisher.source.reference} did not serve it whole (${why}); no source is marked down for the wrong content`);
    return undefined;
  }
  const fault = wrongPiece(pieces, whole, b.digest);
  if (fault.piece !== finisher) up.succeeded(finisher.source, performance.now() - started);
  up.servedWrongContent(fault.piece.source, `blob ${b.digest}: ${fault.why}`);
  return { blamed: fault.piece, rightUpTo: fault.rightUpTo };
}

/** The piece blamed for a wrong blob, and up to which byte the blob's bytes were found right (0: not checked). */
interface Verdict {
  readonly blamed: Piece | undefined;
  readonly rightUpTo: number;
}

interface WholeBlob {
  readonly digest: string;
  readonly before: ReadonlyArray<string | undefined>; // the hex digest of the bytes before each mark
}

/**
 * The piece whose bytes were wrong, given the blob fetched whole from the finisher, and why.
 * Whole and right, it tells the right bytes before each later piece began: the first piece
 * whose end differs from them sent wrong bytes; when none does, the finisher's own answer from
 * its offset (to a Range request) was wrong. Not right whole: the finisher serves wrong content.
 */
function wrongPiece(pieces: readonly Piece[], whole: WholeBlob, digest: string): { piece: Piece; why: string; rightUpTo: number } {
  const finisher = pieces[pieces.length - 1] as Piece;
  if (whole.digest !== digest)
    return { piece: finisher, why: 'the content served does not match its digest, pieced together with it and then fetched whole from it', rightUpTo: 0 };
  const next = pieces.findIndex((p, k) => k > 0 && p.before !== whole.before[k - 1]);
  const piece = pieces[next - 1];
  if (next > 0 && piece) {
    const why = `the bytes it served from byte ${piece.from} to ${pieces[next]?.from} are not the blob's (${finisher.source.reference} served it whole and right)`;
    return { piece, why, rightUpTo: piece.from };
  }
  return {
    piece: finisher,
    rightUpTo: finisher.from,
    why: `its answer from byte ${finisher.from} is not the blob's bytes there, though the blob fetched whole from it matches its digest`,
  };
}

/** The blob fetched whole from `s`, hashed only (to check it, nothing goes to the client), with the digest of the bytes before each of `marks`. */
async function wholeBlob(up: Upstream, s: PullSource, b: BlobRequest, marks: readonly number[], atMost: number): Promise<WholeBlob> {
  const client = await up.client(s);
  const path = parseNamed(s.reference).path;
  const res = await client.get(`/v2/${path}/blobs/${b.digest}`, path, undefined, 'GET', {});
  if (res.status !== 200) {
    await discard(res, client.timeouts.bodyIdleMs);
    throw blobStatusError(res.status, b.digest);
  }
  const hash = markedHash(splitDigest(b.digest).alg, marks);
  const pace = paceOf(res.body, client.timeouts, sizeOf(res), `blob ${b.digest}`);
  try {
    await eachChunk(res.body, (chunk) => {
      b.onBytes?.(chunk.length);
      pace.keepsPace(chunk.length);
      if (hash.bytes + chunk.length > atMost) throw new DigestMismatch(`blob ${b.digest} is longer than the ${atMost} bytes pieced together`);
      hash.update(chunk);
      return undefined;
    });
  } finally {
    pace.disarm();
  }
  return { digest: `${splitDigest(b.digest).alg}:${hash.digest()}`, before: hash.before };
}

/** A hash that also keeps the hex digest of the bytes before each of `marks` (ascending offsets, past 0). */
function markedHash(
  alg: string,
  marks: readonly number[],
): { update(chunk: Buffer): void; digest(): string; readonly before: string[]; readonly bytes: number } {
  const hash = createHash(alg);
  const before: string[] = [];
  let at = 0;
  return {
    update(chunk) {
      for (let rest = chunk; rest.length > 0;) {
        const mark = marks[before.length];
        const upTo = mark === undefined ? rest.length : Math.min(rest.length, mark - at);
        hash.update(rest.subarray(0, upTo));
        at += upTo;
        rest = rest.subarray(upTo);
        if (at === mark) before.push(hash.copy().digest('hex'));
      }
    },
    digest: () => hash.digest('hex'),
    before,
    get bytes() {
      return at;
    },
  };
}

/**
 * The bounds on reading a blob's body: an overall deadline (blobDeadlineMs) when the bytes to
 * come are known; else (chunked, close-delimited) the same minimum rate, held as each chunk
 * comes. A body that sends nothing at all is undici's idle timeout's case either way.
 */
function paceOf(
  body: Readable,
  timeouts: Timeouts,
  toCome: number | undefined,
  what: string,
  waited: () => number = () => 0,
): { keepsPace: (bytes: number) => void; disarm: () => void } {
  if (toCome !== undefined) return { keepsPace: () => undefined, disarm: bodyDeadline(body, blobDeadlineMs(timeouts, toCome), what, waited) };
  return { keepsPace: trickleGuard(timeouts, what, () => performance.now() - waited()), disarm: () => undefined };
}

/** One source's part of the transfer: from `t.offset` on. Throws the source's failure. */
async function fromSource(up: Upstream, s: PullSource, t: Transfer, b: BlobRequest): Promise<SourceOutcome> {
  const client = await up.client(s);
  const path = parseNamed(s.reference).path;
  const res = await client.get(`/v2/${path}/blobs/${b.digest}`, path, undefined, 'GET', t.offset > 0 ? { range: `bytes=${t.offset}-` } : {});
  // A body let go unread (a 416 answered to the client, a deadline passed, the client gone) is destroyed,
  // and undici then emits 'error' on it: unheard, that would take the process down. While it is read,
  // eachChunk hears its errors.
  res.body.on('error', () => undefined);
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
  // the whole blob comes in a 200 (a source ignoring the Range), only the rest in a 206
  const toCome = t.size === undefined ? undefined : res.status === 200 ? t.size : t.size - t.offset;
  const pace = paceOf(res.body, client.timeouts, toCome, `blob ${b.digest}`, () => t.waits.waited());
  try {
    await eachChunk(res.body, (chunk) => {
      b.onBytes?.(chunk.length);
      pace.keepsPace(chunk.length);
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
    pace.disarm();
  }
  if (t.size !== undefined && t.offset < t.size)
    throw new RegistryError(`blob ${b.digest}: the body ended at byte ${t.offset} of ${t.size}`, 'unhealthy', 'reset');
  // a copy: the hash goes on should the next source resume this body (endedWrong)
  const got = `${splitDigest(b.digest).alg}:${t.hash.copy().digest('hex')}`;
  if (got !== b.digest) return endedWrong(t, b, res);
  if (t.held) void t.waits.bound(t.out?.push(t.held));
  await t.waits.bound(t.out?.flush());
  b.res.end();
  return 'served';
}

/**
 * A body that ended as its framing says, its bytes not matching the digest. With a length (the
 * source's, or a Content-Range total) or chunked (its end is explicit), the bytes are wrong.
 * Without either, the close was its end, and a source dying mid-body closes as cleanly: short
 * of the size the blob's manifest gives, it was cut (a reset: the next source resumes it);
 * otherwise 'unconfirmed' (serveBlob lets the next source tell). The size is only a hint that can
 * turn a mismatch into a cut, never into wrong content: it may come from a manifest served by
 * tag, unverified, by any mirror (one listing a real layer with a false size must not make a
 * real cut look like wrong bytes and cut the client).
 */
function endedWrong(t: Transfer, b: BlobRequest, res: Response): SourceOutcome {
  if (t.size !== undefined || /chunked/i.test(header(res, 'transfer-encoding') ?? '')) return 'wrong-digest';
  if (b.expectedSize !== undefined && t.offset < b.expectedSize)
    throw new RegistryError(`blob ${b.digest}: the body, sent without a length, ended at byte ${t.offset} of ${b.expectedSize}`, 'unhealthy', 'reset');
  return 'unconfirmed';
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
  return previous ? t.waits.bound(t.out?.push(previous)) : undefined;
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
  if (b.deadline.left?.aborted === true) return 'client-gone';
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
