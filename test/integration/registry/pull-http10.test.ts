/**
 * A mirror that is a plain web server: Python's stock `http.server` over a directory laid
 * out as /v2/ (HTTP/1.0, the connection closed after every answer). Under undici 7 a
 * response body whose parser is paused (unread yet, or read slower than it arrives) when
 * such a server closes crashed the whole process with an uncatchable
 * `AssertionError: assert(!this.paused)` (nodejs/undici#5360; see src/registry/end-safe.ts).
 * A pull from it must succeed, or fall to the next source, never crash.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createLogger } from '../../../src/core/log.js';
import { EndpointClient } from '../../../src/registry/client.js';
import { pullImage, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { bodyFraming, CLOSE_DELIMITED_UNPAUSED, endSafe, mayPause } from '../../../src/registry/end-safe.js';
import { createServer as createNetServer, type Socket } from 'node:net';
import { ProxyAgent, request } from 'undici';
import { freePort, harnessSource } from '../../helpers/registry.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { startHostileProxy } from '../../helpers/fault-proxy.js';
import { layOutImage, startStaticRegistry } from '../../helpers/static-registry.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-http10-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
// Incompressible layers a few times undici's 64 KiB body buffer: the sizes that crashed.
const images = await Promise.all(
  [100, 300, 1500].map((kib) => buildImage(join(work, `img-${kib}`), { content: randomBytes(kib * 768).toString('base64'), tag: `v${kib}` })),
);
const www = join(work, 'www');
for (const [i, img] of images.entries()) await layOutImage(www, `app${i}`, img);
const plain = await startStaticRegistry(www);
t.teardown(() => plain.close());
const dest = (): string => mkdtempSync(join(work, 'dest-'));
const src = (host: string, repo: string, ref: string): PullSource => harnessSource(`${host}/${repo}${ref}`);

t.test('pulls from an HTTP/1.0 mirror (python3 http.server) succeed, by digest and by tag, again and again', async (t) => {
  for (let round = 0; round < 3; round++) {
    for (const [i, img] of images.entries()) {
      const byDigest = await pullImage([src(plain.host, `app${i}`, `@${img.manifestDigest}`)], { dest: dest(), platform: hostPlatform(), health: {}, log });
      t.equal(byDigest.digest, img.manifestDigest);
      t.same(
        byDigest.blobs.map((b) => b.digest),
        [img.configDigest, img.layerDigest],
      );
      const byTag = await pullImage([src(plain.host, `app${i}`, `:${img.tag}`)], { dest: dest(), platform: hostPlatform(), health: {}, log });
      t.equal(byTag.digest, img.manifestDigest);
    }
  }
});

t.test('a blob read slower than the mirror sends it (backpressure on its last bytes) arrives whole', async (t) => {
  const client = new EndpointClient(plain.host, true, { tls: {}, credentials: async () => undefined });
  t.teardown(() => client.close());
  const img = images[2]!;
  for (let round = 0; round < 3; round++) {
    const res = await client.get(`/v2/app2/blobs/${img.layerDigest}`, 'app2');
    t.equal(res.status, 200);
    t.equal(await readSlowly(res.body), Number(res.headers['content-length']), 'every byte');
  }
});

t.test('an HTTP/1.0 mirror without the image (404 pages) falls through to the next source', async (t) => {
  const reg = await registryFor(t);
  const img = images[1]!;
  await pushImage(img, `${reg.host}/elsewhere:v1`);
  const r = await pullImage(
    [src(plain.host, 'elsewhere', `@${img.manifestDigest}`), { ...src(reg.host, 'elsewhere', `@${img.manifestDigest}`), role: 'primary' }],
    { dest: dest(), platform: hostPlatform(), health: {}, log },
  );
  t.equal(r.manifestFrom, `${reg.host}/elsewhere@${img.manifestDigest}`);
  t.match(r.attempts, [{ source: `${plain.host}/elsewhere@${img.manifestDigest}`, error: /HTTP 404/ }]);
});

/** Reads a body into a writable slower than loopback (1 ms per 16 KiB): the parser pauses under backpressure. */
async function readSlowly(body: NodeJS.ReadableStream): Promise<number> {
  let n = 0;
  const slowDisk = new Writable({
    highWaterMark: 16 * 1024,
    write(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      setTimeout(cb, 1);
    },
  });
  await pipeline(body, slowDisk);
  return n;
}

t.test('a mirror closing the connection in the middle of a body read under backpressure: an ordinary error, then the next source', async (t) => {
  const reg = await registryFor(t);
  const img = images[2]!;
  await pushImage(img, `${reg.host}/cut:v1`);
  const p = await startHostileProxy(reg.host, [{ path: /\/blobs\//, fault: 'truncate-close' }]);
  t.teardown(() => p.close());
  const client = new EndpointClient(p.host, true, { tls: {}, credentials: async () => undefined });
  t.teardown(() => client.close());
  for (let round = 0; round < 3; round++) {
    const res = await client.get(`/v2/cut/blobs/${img.layerDigest}`, 'cut');
    t.equal(res.status, 200);
    const err = await readSlowly(res.body).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    t.equal(err?.code, 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'the cut body fails as a body error');
  }
  const r = await pullImage([{ ...src(p.host, 'cut', `@${img.manifestDigest}`) }, { ...src(reg.host, 'cut', `@${img.manifestDigest}`), role: 'primary' }], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
  });
  t.equal(r.blobs.find((b) => b.digest === img.layerDigest)?.from, `${reg.host}/cut@${img.manifestDigest}`, 'the layer came from the next source');
});

t.test('a close-delimited layer the mirror cuts short with a clean close: the mirror failed as cut, not as serving wrong content', async (t) => {
  const reg = await registryFor(t);
  const img = images[2]!;
  await pushImage(img, `${reg.host}/cutclean:v1`);
  const p = await startHostileProxy(reg.host, [{ path: new RegExp(`/blobs/${img.layerDigest}$`), fault: 'close-delimited-cut' }]);
  t.teardown(() => p.close());
  const r = await pullImage([src(p.host, 'cutclean', `@${img.manifestDigest}`), { ...src(reg.host, 'cutclean', `@${img.manifestDigest}`), role: 'primary' }], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
  });
  t.equal(r.blobs.find((b) => b.digest === img.layerDigest)?.from, `${reg.host}/cutclean@${img.manifestDigest}`, 'the layer came from the next source');
  t.match(r.attempts, [{ source: `${p.host}/cutclean@${img.manifestDigest}`, error: /ended at byte \d+ of the \d+ its descriptor gives/ }]);
  t.match(r.health[`insecure://${p.host}`], { lastFailure: { class: 'reset' } }, 'recorded as a reset, as a body with a length cut short is');
});

t.test('a close-delimited body larger than what is taken without backpressure, read slowly, arrives whole', async (t) => {
  const reg = await registryFor(t);
  const big = await buildImage(join(work, 'img-big'), { content: randomBytes(CLOSE_DELIMITED_UNPAUSED * 1.25).toString('base64'), tag: 'big' });
  await pushImage(big, `${reg.host}/big:v1`);
  const p = await startHostileProxy(reg.host, [{ path: /\/blobs\//, fault: 'close-delimited' }]);
  t.teardown(() => p.close());
  const client = new EndpointClient(p.host, true, { tls: {}, credentials: async () => undefined });
  t.teardown(() => client.close());
  const res = await client.get(`/v2/big/blobs/${big.layerDigest}`, 'big');
  t.equal(res.status, 200);
  t.equal(res.headers['content-length'], undefined, 'no length: the close ends it');
  const n = await readSlowly(res.body);
  t.ok(n > CLOSE_DELIMITED_UNPAUSED, `${n} bytes`);
  const r = await pullImage([src(p.host, 'big', `@${big.manifestDigest}`)], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(r.blobs.find((b) => b.digest === big.layerDigest)?.size, n, 'and a pull through it gets the same layer, verified');
});

t.test('through an HTTP proxy too: a connection-close body cut short under backpressure is an ordinary error', async (t) => {
  // The fault (a proxy that answers with half a body and closes) is made by hand: a real proxy does not do it on demand.
  const body = Buffer.alloc(512 * 1024, 0x61);
  const sockets = new Set<Socket>();
  const proxy = createNetServer((so) => {
    sockets.add(so);
    so.once('data', () => {
      so.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length * 2}\r\nConnection: close\r\n\r\n`);
      so.end(body);
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => (sockets.forEach((so) => so.destroy()), proxy.close(() => r()))));
  const dispatcher = endSafe(new ProxyAgent({ uri: `http://127.0.0.1:${port}`, proxyTunnel: false }));
  t.teardown(() => dispatcher.close());
  for (let round = 0; round < 3; round++) {
    const res = await request('http://registry.test/v2/app/blobs/x', { dispatcher });
    const err = await readSlowly(res.body).then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );
    t.equal(err?.code, 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH');
  }
});

t.test("which bodies may pause undici's parser: never on the last bytes of a known length, nor a small close-delimited one", async (t) => {
  const h = (...kv: string[]): Buffer[] => kv.map((x) => Buffer.from(x));
  t.same(bodyFraming(h('Content-Length', '100')), { length: 100, chunked: false });
  t.same(bodyFraming(h('transfer-encoding', 'chunked', 'content-length', '5')), { chunked: true }, 'chunked wins over a length');
  t.same(bodyFraming(h('Server', 'SimpleHTTP/0.6')), { chunked: false });
  t.equal(mayPause({ length: 100, chunked: false }, 99), true);
  t.equal(mayPause({ length: 100, chunked: false }, 100), false, 'the last chunk never pauses');
  t.equal(mayPause({ chunked: false }, 10), false, 'a close-delimited body does not pause while it is small');
  t.equal(mayPause({ chunked: false }, CLOSE_DELIMITED_UNPAUSED + 1), true, 'past 16 MiB backpressure holds again: memory stays bounded');
  t.equal(mayPause({ chunked: true }, 10), true);
  t.equal(mayPause({ length: 0, chunked: false }, 0), false);
});
