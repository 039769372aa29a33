/**
 * Blobs into the OCI layout (src/registry/oci-layout.ts): only content that matches its
 * digest and size is kept, and nothing else is left behind.
 */
import t from 'tap';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { RegistryError } from '../../src/registry/errors.js';
import { blobPath, DigestMismatch, ensureBlobDir, haveBlob, writeBlobStream, WrongContent } from '../../src/registry/oci-layout.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** `bytes` as a body arriving in pieces of `piece` bytes. */
const body = (bytes: Buffer, piece = 64 * 1024): Readable =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += piece) yield bytes.subarray(i, i + piece);
    })(),
  );

function layout(t: { teardown(f: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-layout-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a blob that matches its digest and size is kept, whole, and reported present', async (t) => {
  const dir = layout(t);
  const bytes = randomBytes(70 * 1024 * 1024 + 123); // past two background flushes
  const digest = sha(bytes);
  await ensureBlobDir(dir, digest);
  const seen: number[] = [];
  t.equal(await writeBlobStream(dir, digest, bytes.length, body(bytes), (n) => seen.push(n)), bytes.length);
  t.ok(readFileSync(blobPath(dir, digest)).equals(bytes));
  t.equal(seen.at(-1), bytes.length, 'the running count ends at the size');
  t.ok(await haveBlob(dir, digest));
  t.same(readdirSync(join(dir, 'blobs', 'sha256')), [digest.slice(7)], 'no temp file left');
});

t.test('wrong content, too many or too few bytes: refused, nothing left behind', async (t) => {
  const dir = layout(t);
  const bytes = randomBytes(300 * 1024);
  const digest = sha(bytes);
  await ensureBlobDir(dir, digest);
  const other = Buffer.from(bytes);
  other.writeUInt8(other.readUInt8(1000) ^ 1, 1000);
  const wrong: unknown = await writeBlobStream(dir, digest, bytes.length, body(other)).catch((e: unknown) => e);
  t.ok(wrong instanceof WrongContent && /blob content is sha256:/.test(wrong.message), `bytes hashing to another digest are wrong content: ${String(wrong)}`);
  // The right bytes against a wrong size: the descriptor is wrong, not whoever served them.
  const over: unknown = await writeBlobStream(dir, digest, bytes.length - 1, body(bytes)).catch((e: unknown) => e);
  t.ok(over instanceof DigestMismatch && !(over instanceof WrongContent) && /larger than/.test(over.message), String(over));
  const under: unknown = await writeBlobStream(dir, digest, bytes.length + 1, body(bytes)).catch((e: unknown) => e);
  t.ok(under instanceof DigestMismatch && !(under instanceof WrongContent) && /has 307200 bytes/.test(under.message), String(under));
  // A body ending cleanly short of the size (a close-delimited one cut short): the source was cut, as by a reset.
  const short: unknown = await writeBlobStream(dir, digest, bytes.length, body(bytes.subarray(0, 1000))).catch((e: unknown) => e);
  t.ok(
    short instanceof RegistryError && short.kind === 'unhealthy' && short.failureClass === 'reset' && /ended at byte 1000 of the 307200/.test(short.message),
    String(short),
  );
  const failing = new Readable({ read() {} });
  failing.push(bytes.subarray(0, 1000));
  setImmediate(() => failing.destroy(new Error('connection reset')));
  await t.rejects(writeBlobStream(dir, digest, bytes.length, failing), /connection reset/);
  t.same(readdirSync(join(dir, 'blobs', 'sha256')), []);
  t.notOk(await haveBlob(dir, digest));
});

t.test('a present blob whose content changed is not taken as present', async (t) => {
  const dir = layout(t);
  const bytes = randomBytes(3 * 1024 * 1024);
  const digest = sha(bytes);
  await ensureBlobDir(dir, digest);
  writeFileSync(blobPath(dir, digest), Buffer.concat([bytes, Buffer.from('x')]));
  t.notOk(await haveBlob(dir, digest));
  writeFileSync(blobPath(dir, digest), bytes);
  t.ok(await haveBlob(dir, digest));
  t.notOk(existsSync(blobPath(dir, sha(Buffer.from('none')))));
  t.notOk(await haveBlob(dir, sha(Buffer.from('none'))));
});

t.test('every algorithm a reference may name is verified (sha384 too, as go-digest has it); another is refused', async (t) => {
  const dir = layout(t);
  const bytes = Buffer.from('a blob named by another algorithm');
  for (const alg of ['sha384', 'sha512']) {
    const digest = `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
    await ensureBlobDir(dir, digest);
    t.equal(await writeBlobStream(dir, digest, bytes.length, body(bytes)), bytes.length, alg);
    t.ok(await haveBlob(dir, digest), `${alg}: present`);
    t.ok(readFileSync(join(dir, 'blobs', alg, digest.slice(alg.length + 1))).equals(bytes));
  }
  t.throws(() => blobPath(dir, `md5:${createHash('md5').update(bytes).digest('hex')}`), /unsupported digest/);
});
