/**
 * The local mirror's clients as they behave, against a real docker-registry: many at once, one
 * that goes away mid-blob, one that stops reading and keeps its connection open. None of these
 * is the mirror's failure: its health is untouched, and the upstream slot the transfer held is
 * given back, so the next client is served.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { buildImage, pushImage, sha256 } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { localMirrorSetup } from '../../helpers/local-mirror.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-lm-clients-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const mirror = await registryFor(t);
const small = await buildImage(join(work, 'small'), { content: randomBytes(200_000).toString('base64'), tag: 'small' });
await pushImage(small, `${mirror.host}/app:small`);
// Far more than the loopback socket buffers hold (a few MiB each way): a client that stops reading holds the transfer up.
const big = await buildImage(join(work, 'big'), { content: randomBytes(24 * 1024 * 1024).toString('base64'), tag: 'big' });
await pushImage(big, `${mirror.host}/app:big`, { timeoutMs: 120_000 });
const mirrorKey = `insecure://${mirror.host}`;
const blobOf = (img: { layoutDir: string }, digest: string): Buffer => readFileSync(join(img.layoutDir, 'blobs', 'sha256', digest.slice(7)));

/** Waits (bounded) until `check` holds; false when it never did. */
async function eventually(check: () => boolean, ms = 30_000): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) if (check()) return true;
  return check();
}

/** A GET of `path` on a raw socket; resolves with the socket and the first bytes of the answer once they are in. */
function startGet(address: string, path: string): Promise<{ so: Socket; first: Buffer }> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const so = connect(Number(port), host, () => so.write(`GET ${path} HTTP/1.1\r\nHost: ${address}\r\n\r\n`));
    so.once('data', (first: Buffer) => resolve({ so, first }));
    so.once('error', reject);
    so.setTimeout(20_000, () => so.destroy(new Error('no answer in 20 s')));
  });
}

t.test('many clients at once, few upstream slots: every one gets its bytes, whole and right', async (t) => {
  const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
  const ep = await setup.start({ maxUpstream: 3 });
  const layer = blobOf(small, small.layerDigest);
  const base = `http://${setup.address}/v2/${setup.repository}`;
  const one = async (k: number): Promise<boolean> => {
    if (k % 2 === 0) {
      const r = await request(`${base}/manifests/${small.manifestDigest}`);
      return r.statusCode === 200 && Buffer.from(await r.body.arrayBuffer()).equals(small.manifest);
    }
    const r = await request(`${base}/blobs/${small.layerDigest}`);
    return r.statusCode === 200 && sha256(Buffer.from(await r.body.arrayBuffer())) === small.layerDigest;
  };
  const results = await Promise.all(Array.from({ length: 40 }, (_, k) => one(k)));
  t.equal(results.filter(Boolean).length, 40, `all 40 served right (the layer is ${layer.length} bytes)`);
  t.ok(await eventually(() => ep.stats().inFlight === 0), 'none left in flight');
  const s = ep.stats();
  t.equal(s.errors, 0, 'no errors');
  t.equal(s.sources[mirrorKey]?.failed ?? 0, 0, 'the mirror counted as failing for none');
});

t.test('a blob waiting for an upstream slot is not cut by the answer deadline; a manifest is (its client can go past the endpoint)', async (t) => {
  const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
  const ep = await setup.start({ maxUpstream: 1, answerWithinMs: 1_000 });
  const base = `http://${setup.address}/v2/${setup.repository}`;
  const ahead = await request(`${base}/blobs/${big.layerDigest}`); // holds the one slot while its body is not read
  t.equal(ahead.statusCode, 200);
  const queued = request(`${base}/blobs/${big.configDigest}`);
  const manifest = await request(`${base}/manifests/${big.manifestDigest}`);
  t.equal(manifest.statusCode, 503, 'the manifest: 503 at the deadline');
  await manifest.body.dump();
  await new Promise((r) => setTimeout(r, 1_000)); // the blob has waited twice its deadline now
  t.equal(sha256(Buffer.from(await ahead.body.arrayBuffer())), big.layerDigest, 'the transfer ahead, whole');
  const r = await queued;
  t.equal(r.statusCode, 200, 'the queued blob is served once the slot is free');
  t.ok(Buffer.from(await r.body.arrayBuffer()).equals(blobOf(big, big.configDigest)), 'its bytes, right');
  t.equal(ep.stats().deadlineAnswers, 1, 'one deadline answer: the manifest only');
});

t.test('a client that leaves while its request waits for an upstream slot: out of the queue at once, and no source is asked for it', async (t) => {
  const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
  const ep = await setup.start({ maxUpstream: 1 });
  const ahead = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${big.layerDigest}`); // holds the one slot
  await mirror.clearLog();
  const [host, port] = setup.address.split(':') as [string, string];
  const leaving = ['GET', 'HEAD'].map((method) => {
    const so = connect(Number(port), host, () =>
      so.write(`${method} /v2/${setup.repository}/blobs/${big.configDigest} HTTP/1.1\r\nHost: ${setup.address}\r\n\r\n`),
    );
    so.on('error', () => undefined);
    return so;
  });
  t.ok(await eventually(() => ep.stats().inFlight === 3 && ep.stats().waiting === 2), 'a GET and a HEAD wait for the slot');
  for (const so of leaving) so.destroy();
  t.ok(await eventually(() => ep.stats().inFlight === 1), 'their clients left');
  t.ok(
    await eventually(() => ep.stats().waiting === 0),
    'taken out of the queue at once, while the transfer ahead still holds the slot (not kept until it frees)',
  );
  t.equal(sha256(Buffer.from(await ahead.body.arrayBuffer())), big.layerDigest, 'the transfer ahead, whole');
  t.ok(await eventually(() => ep.stats().inFlight === 0), 'none left in flight');
  const asked = await (await request(`http://${setup.address}/v2/${setup.repository}/blobs/${big.configDigest}`)).body.arrayBuffer();
  t.ok(Buffer.from(asked).equals(blobOf(big, big.configDigest)), 'the slot is free: the next client is served');
  const configAsks = (await mirror.requests()).filter((r) => r.kind === 'blobs' && r.reference === big.configDigest);
  t.same(
    configAsks.map((r) => r.method),
    ['GET'],
    'the mirror was asked for it once: for the client that stayed (not for the GET nor the HEAD that left)',
  );
});

t.test('a client that goes away mid-blob: the mirror is not blamed, its slot is back for the next client', async (t) => {
  const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
  const ep = await setup.start({ maxUpstream: 1 });
  const { so } = await startGet(setup.address, `/v2/${setup.repository}/blobs/${big.layerDigest}`);
  so.destroy();
  const r = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${big.configDigest}`);
  t.equal(r.statusCode, 200, 'the next client is served through the one slot');
  t.ok(Buffer.from(await r.body.arrayBuffer()).equals(blobOf(big, big.configDigest)), 'its blob, whole');
  t.ok(await eventually(() => ep.stats().inFlight === 0), 'none left in flight');
  t.equal(ep.stats().sources[mirrorKey]?.failed ?? 0, 0, 'the mirror is not counted as failing');
  t.equal(setup.health.view()[mirrorKey]?.failures ?? 0, 0, 'nor marked down');
});

t.test('a client that stops reading and keeps its connection: cut after the stall bound, the mirror not blamed', async (t) => {
  const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
  const ep = await setup.start({ maxUpstream: 1, clientStallMs: 1_500 });
  const { so, first } = await startGet(setup.address, `/v2/${setup.repository}/blobs/${big.layerDigest}`);
  so.pause(); // reads no more; the connection stays open
  so.setTimeout(0);
  t.ok(await eventually(() => ep.stats().inFlight === 0), 'the endpoint gave up on the stalled client');
  const r = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${big.configDigest}`);
  t.equal(r.statusCode, 200, 'the slot it held is back: the next client is served');
  await r.body.dump();
  t.equal(ep.stats().sources[mirrorKey]?.failed ?? 0, 0, 'the mirror is not counted as failing for a client that stopped reading');
  let received = first.length;
  const closed = new Promise<boolean>((resolve) => {
    so.on('data', (c: Buffer) => void (received += c.length));
    so.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 30_000).unref();
  });
  so.resume();
  t.ok(await closed, 'reading again, the client finds its connection closed');
  t.ok(received < blobOf(big, big.layerDigest).length, `before the blob's end (${received} bytes received)`);
});

t.test('a client that pauses longer than the source idle timeout, then reads on: the blob whole, the mirror not blamed', async (t) => {
  const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
  const ep = await setup.start({ clientStallMs: 20_000 }); // the setup's source idle timeout is 3 s
  const { so, first } = await startGet(setup.address, `/v2/${setup.repository}/blobs/${big.layerDigest}`);
  so.pause();
  so.setTimeout(0);
  await new Promise((r) => setTimeout(r, 4_500));
  const chunks: Buffer[] = [first];
  const closed = new Promise<void>((resolve) => {
    so.on('data', (c: Buffer) => chunks.push(c));
    so.once('close', () => resolve());
    so.setTimeout(30_000, () => so.destroy());
  });
  so.resume();
  // one request on the connection: the answer is complete at its Content-Length, then the client closes
  const layer = blobOf(big, big.layerDigest);
  const complete = (): boolean => {
    const all = Buffer.concat(chunks);
    const end = all.indexOf('\r\n\r\n');
    return end >= 0 && all.length - end - 4 >= layer.length;
  };
  t.ok(await eventually(complete), 'the whole answer came');
  so.destroy();
  await closed;
  const all = Buffer.concat(chunks);
  t.match(all.subarray(0, 20).toString(), /^HTTP\/1\.1 200 /);
  t.equal(sha256(all.subarray(all.indexOf('\r\n\r\n') + 4)), big.layerDigest, 'the blob, whole and right');
  t.equal(ep.stats().sources[mirrorKey]?.failed ?? 0, 0, 'the mirror is not counted as failing for the time the client took');
});
