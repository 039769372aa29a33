/**
 * Writing an OCI image layout (oci-layout, index.json, blobs/ALG/HEX) that
 * `skopeo copy oci:DIR ...` reads. Blobs are streamed into a temp file while hashed, and
 * only a verified blob is renamed into place: nothing unverified is ever kept.
 */
import { createHash } from 'node:crypto';
import { closeSync, fdatasync, fsync, openSync, promises as fs, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomic } from '../output/atomic-write.js';
import { DIGEST_HEX_LENGTH } from '../reference/reference.js';
import { RegistryError } from './errors.js';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Record<string, string>;
}

/** Content that fails verification: a digest, size or document that is not what it must be. */
export class DigestMismatch extends Error {}

/**
 * Bytes asked for by digest that hash to another digest. Unlike the rest of DigestMismatch
 * (a malformed descriptor, a size the descriptor gets wrong: wrong whoever serves it), only
 * the source that sent them can be at fault; failure.ts says what that means for its health.
 */
export class WrongContent extends DigestMismatch {}

/** ALG:HEX of a supported algorithm with a hex of its length; anything else (it would become a path) is refused. */
export function splitDigest(digest: string): { alg: string; hex: string } {
  const i = digest.indexOf(':');
  const alg = i > 0 ? digest.slice(0, i) : '';
  const hex = digest.slice(i + 1);
  // The algorithms a reference may name (go-digest's), each with its hex length.
  if (!/^[a-f0-9]+$/.test(hex) || hex.length !== DIGEST_HEX_LENGTH.get(alg))
    throw new DigestMismatch(`unsupported digest ${JSON.stringify(digest.slice(0, 200))}`);
  return { alg, hex };
}

export function digestOf(bytes: Buffer, alg = 'sha256'): string {
  return `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
}

export function blobPath(dir: string, digest: string): string {
  const { alg, hex } = splitDigest(digest);
  return join(dir, 'blobs', alg, hex);
}

/** The directory a blob goes to, made before its request: once the answer is there, nothing may delay reading it. */
export async function ensureBlobDir(dir: string, digest: string): Promise<void> {
  const blobs = join(dir, 'blobs', splitDigest(digest).alg);
  await fs.mkdir(blobs, { recursive: true }).catch((e: unknown) => {
    throw new LocalStoreError(blobs, e);
  });
}

/**
 * Writing the OCI layout failed here (a full disk, EIO, a directory in a blob's place): the
 * local store's fault, so no source may be blamed for it (a pull asking every source in turn
 * would mark each one down), and no other source can help.
 */
export class LocalStoreError extends Error {
  override name = 'LocalStoreError';
  constructor(path: string, cause: unknown) {
    const why = (cause as Error)?.message ?? String(cause);
    super(why.includes(path) ? why : `writing ${path}: ${why}`, { cause }); // Node's own message often names the path already
  }
}

/**
 * A new temp file for a blob, opened at once; its failure the local store's. The body is then
 * never read: it is destroyed, or its request would hold the connection, and closing the
 * client would wait for it forever (a paused body has no idle timeout running).
 */
function openTemp(tmp: string, body: Readable): number {
  try {
    return openSync(tmp, 'wx', 0o644);
  } catch (e) {
    body.destroy();
    throw new LocalStoreError(tmp, e);
  }
}

/** Closes a blob's descriptor: after its fsync (or on the way out of a failure already told), a close error changes nothing. */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // nothing to add: see above
  }
}

/** `step`'s failure as the local store's (LocalStoreError), for `path`. */
async function locally<T>(path: string, step: () => T | Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    throw new LocalStoreError(path, e);
  }
}

export async function initLayout(dir: string): Promise<void> {
  await locally(join(dir, 'blobs', 'sha256'), () => fs.mkdir(join(dir, 'blobs', 'sha256'), { recursive: true }));
  await locally(join(dir, 'oci-layout'), () => writeFileAtomic(join(dir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`));
}

/** True when the blob is already there with the right content (a re-pull skips it). */
export async function haveBlob(dir: string, digest: string): Promise<boolean> {
  try {
    const { alg } = splitDigest(digest);
    return (await digestOfFile(blobPath(dir, digest), alg)) === digest;
  } catch {
    return false;
  }
}

/** A file's digest, read through one 1 MiB buffer: checking a present 1 GB layer costs no memory. */
async function digestOfFile(path: string, alg: string): Promise<string> {
  const fh = await fs.open(path, 'r');
  try {
    const hash = createHash(alg);
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let got = 1; got > 0;) {
      ({ bytesRead: got } = await fh.read(buf, 0, buf.length, null));
      hash.update(buf.subarray(0, got));
    }
    return `${alg}:${hash.digest('hex')}`;
  } finally {
    await fh.close();
  }
}

export async function writeBlobBytes(dir: string, digest: string, bytes: Buffer): Promise<void> {
  const { alg } = splitDigest(digest);
  if (digestOf(bytes, alg) !== digest) throw new WrongContent(`content does not match ${digest}`);
  await locally(join(dir, 'blobs', alg), () => fs.mkdir(join(dir, 'blobs', alg), { recursive: true }));
  await locally(blobPath(dir, digest), () => writeFileAtomic(blobPath(dir, digest), bytes));
}

/**
 * Streams `body` to the blob's place, verifying digest and size; a mismatch leaves nothing
 * behind. The blob's directory must exist (ensureBlobDir): reading starts at once, so the
 * temp file is opened synchronously. `onBytes` is told the running count after each chunk.
 *
 * Each chunk is hashed and written the moment it arrives, then dropped: nothing is queued
 * between the socket and the file. The write is synchronous (one socket read, at most
 * 64 KiB, into the page cache; a pull has nothing else to run meanwhile, and timers such as
 * the body deadline run between chunks), which is the backpressure: the socket is not read
 * again until the chunk is in the file, so the rest waits in the kernel's socket buffer and
 * TCP slows the sender. Queuing chunks for asynchronous writes
 * (4 MiB streams before) kept up to ~12 MiB of them alive, long enough to outlive a
 * young-generation collection, so their memory came back only with the next full one:
 * ~40 MB more peak RSS on a 300 MiB blob, and slower (fresh pages for every read).
 *
 * Every FLUSH_EVERY_BYTES a background fdatasync (libuv's pool) starts writing back what the
 * page cache holds while the transfer goes on, so the one fsync that makes the blob durable
 * before its rename has at most that much left to write (Node has no sync_file_range, which
 * would only start the write-back). A failed flush fails the blob: after an EIO the kernel
 * may report nothing to the final fsync.
 */
export async function writeBlobStream(dir: string, digest: string, size: number | undefined, body: Readable, onBytes?: (n: number) => void): Promise<number> {
  const { alg } = splitDigest(digest);
  const final = blobPath(dir, digest);
  const tmp = `${final}.${process.pid}.${Math.random().toString(16).slice(2)}.partial`;
  const hash = createHash(alg);
  let n = 0;
  const fd = openTemp(tmp, body); // synchronously: no turn of the event loop between the answer and reading it
  partialBlobs.add(tmp);
  const flusher = new EarlyFlush(fd);
  try {
    try {
      const sink = new Writable({
        write(chunk: Buffer, _enc, cb) {
          n += chunk.length;
          if (size !== undefined && n > size) return cb(new DigestMismatch(`blob ${digest} is larger than the ${size} bytes its descriptor says`));
          hash.update(chunk);
          try {
            writeAll(fd, chunk);
          } catch (e) {
            return cb(new LocalStoreError(tmp, e));
          }
          flusher.wrote(n);
          onBytes?.(n);
          cb();
        },
      });
      await pipeline(body, sink);
      const got = `${alg}:${hash.digest('hex')}`;
      // the hash first: right bytes against a wrong size are the descriptor's fault, not the source's
      if (got !== digest) throw endedWrong(digest, got, n, size);
      if (size !== undefined && n !== size) throw new DigestMismatch(`blob ${digest} has ${n} bytes, its descriptor says ${size}`);
      await locally(tmp, () => flusher.settled());
      await locally(tmp, () => fsyncFd(fd));
    } finally {
      await flusher.settled().catch(() => undefined); // no flush may outlive the descriptor
      closeQuietly(fd);
    }
    await locally(final, () => fs.rename(tmp, final));
    return n;
  } catch (e) {
    // The first failure is the one to tell (and to judge the source by): a store that cannot rename cannot remove either.
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  } finally {
    partialBlobs.delete(tmp);
  }
}

/** The temp files of the blobs being written in this process (writeBlobStream). */
const partialBlobs = new Set<string>();

/**
 * Removes the temp files of the blobs being written, at once: a `pull` stopped by a signal
 * (Ctrl-C, systemd's stop) would otherwise leave them in the layout's blobs/, unfinished.
 */
export function removePartialBlobs(): void {
  for (const tmp of partialBlobs) rmSync(tmp, { force: true });
  partialBlobs.clear();
}

/**
 * A blob body that ended (as its framing says) not matching its digest. Short of its
 * descriptor's size, it was cut: a body sent without a length ends at the close, and a source
 * dying mid-body closes as cleanly (a body with a length cut short fails in the client
 * already); a reset, as that one is, not wrong content. Else its bytes are wrong.
 */
function endedWrong(digest: string, got: string, n: number, size: number | undefined): Error {
  if (size !== undefined && n < size)
    return new RegistryError(`blob ${digest}: the body ended at byte ${n} of the ${size} its descriptor gives`, 'unhealthy', 'reset');
  return new WrongContent(`blob content is ${got}, not ${digest}`);
}

/** All of `chunk` to `fd` (a regular file takes it in one write; the loop is for the rule, not the case). */
function writeAll(fd: number, chunk: Buffer): void {
  for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off);
}

/** Bytes written between two background flushes (see writeBlobStream). */
const FLUSH_EVERY_BYTES = 32 * 1024 * 1024;

/** Background fdatasyncs of one file as it grows; settled() waits for them and throws the first failure. */
class EarlyFlush {
  private flushedAt = 0;
  private readonly running: Array<Promise<void>> = [];
  private failure: Error | undefined;

  constructor(private readonly fd: number) {}

  wrote(total: number): void {
    if (total - this.flushedAt < FLUSH_EVERY_BYTES) return;
    this.flushedAt = total;
    this.running.push(
      new Promise((resolve) =>
        fdatasync(this.fd, (e) => {
          this.failure ??= e ?? undefined;
          resolve();
        }),
      ),
    );
  }

  async settled(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure;
  }
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
}

export async function writeIndex(dir: string, manifests: readonly Descriptor[]): Promise<void> {
  const path = join(dir, 'index.json');
  await locally(path, () =>
    writeFileAtomic(path, `${JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }, null, 2)}\n`),
  );
}
