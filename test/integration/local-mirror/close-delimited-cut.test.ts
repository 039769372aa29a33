/**
 * A blob whose body has no length (an HTTP/1.0 mirror: the close ends it) and which the mirror
 * cuts short with a clean close: to the framing it looks whole. Such a body shorter than the
 * blob is that mirror dying mid-body, as a reset is: the rest comes from the next mirror (Range
 * from the offset reached), the client sees nothing, and the dying mirror is not taken for one
 * serving wrong content. A real docker-registry behind the hostile proxy, skopeo as the client.
 * The size is known from the manifest the endpoint served; without it (the blob asked for
 * alone) the next mirror is asked for the rest all the same, and how the first mirror is
 * marked waits for what the whole blob shows.
 */
import tap, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { request } from 'undici';
import { endpointKey, healthState } from '../../../src/health/health.js';
import { startFaultProxy, startHostileProxy } from '../../helpers/fault-proxy.js';
import type { LocalMirror } from '../../../src/local-mirror/server.js';
import { localMirrorSetup, type LocalMirrorSetup } from '../../helpers/local-mirror.js';
import { buildImage, pushImage, sha256 } from '../../helpers/oci-image.js';
import { freePort, registryFor } from '../../helpers/registry.js';
import { pollUntil } from '../../helpers/daemon.js';

const t = tap;
const work = mkdtempSync(join(tmpdir(), 'mpd-lm-close-cut-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const registry = await registryFor(t);
// 600 KiB of random bytes, stored: many socket reads, cut well inside.
const img = await buildImage(join(work, 'img'), { content: randomBytes(600 * 1024).toString('base64'), tag: 'v1' });
await pushImage(img, `${registry.host}/app:v1`);
const layer = new RegExp(`/blobs/${img.layerDigest}$`);
const timeouts = { connectMs: 5000, headersMs: 5000, bodyIdleMs: 5000 };

function lastFailure(setup: LocalMirrorSetup, host: string): string {
  return setup.health.view()[endpointKey(host, true)]?.lastFailure?.message ?? '(none)';
}

function isDown(setup: LocalMirrorSetup, host: string): boolean {
  return healthState(setup.health.view()[endpointKey(host, true)], Date.now()) === 'down';
}

/** Waits until the endpoint is done with a request it failed (and `also` holds). */
function endpointDone(ep: LocalMirror, also: () => boolean = () => true): Promise<void> {
  return pollUntil(
    () => ep.stats().errors > 0 && also(),
    'the endpoint done with the request',
    10_000,
    () => JSON.stringify(ep.stats()),
  );
}

function blobUrl(setup: LocalMirrorSetup): string {
  return `http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`;
}

/** A GET of the layer straight from the endpoint (no manifest asked first), whole and right. */
async function layerWhole(t: Test, setup: LocalMirrorSetup, what: string): Promise<void> {
  const res = await request(blobUrl(setup));
  t.equal(res.statusCode, 200, what);
  t.equal(sha256(Buffer.from(await res.body.arrayBuffer())), img.layerDigest, `${what}: whole and right`);
}

t.test('skopeo through the endpoint: a close-delimited layer cut short is finished from the next mirror', async (t) => {
  const cutting = await startHostileProxy(registry.host, [{ path: layer, fault: 'close-delimited-cut' }]);
  t.teardown(() => cutting.close());
  const setup = await localMirrorSetup(t, [`${cutting.host}/app`, `${registry.host}/app`]);
  const ep = await setup.start({ timeouts });
  const dest = join(work, 'skopeo-1');
  const r = await setup.copy(`@${img.manifestDigest}`, dest);
  t.equal(r.code, 0, r.code === 0 ? 'skopeo copy through the endpoint' : r.stderr);
  t.same(r.tried, [`${setup.address}/${setup.repository}@${img.manifestDigest}`], 'the endpoint served it all');
  t.equal(sha256(readFileSync(join(dest, img.layerDigest.slice(7)))), img.layerDigest, 'the layer, whole');
  t.ok(
    cutting.hits.some((h) => /blobs\/.* close-delimited-cut$/.test(h)),
    'the cutting mirror was asked for the layer',
  );
  const s = ep.stats();
  t.equal(s.midBlobFallbacks, 1, 'the layer was finished from the next mirror');
  t.equal(s.digestMismatches, 0, 'no wrong blob');
  t.match(lastFailure(setup, cutting.host), /sent without a length, ended at byte \d+ of \d+/, 'the cutting mirror failed as one dying mid-body');
  t.notMatch(lastFailure(setup, cutting.host), /does not match its digest/, 'not as one serving wrong content');
  t.ok(isDown(setup, cutting.host), 'and is marked down, as for a reset');
});

t.test('the size unknown (no manifest through the endpoint): the cut body is resumed from the next mirror and found whole', async (t) => {
  const cutting = await startHostileProxy(registry.host, [{ path: layer, fault: 'close-delimited-cut' }]);
  t.teardown(() => cutting.close());
  const setup = await localMirrorSetup(t, [`${cutting.host}/app`, `${registry.host}/app`]);
  const ep = await setup.start({ timeouts });
  await layerWhole(t, setup, 'the layer asked for alone');
  const s = ep.stats();
  t.equal(s.midBlobFallbacks, 1, 'finished from the next mirror');
  t.equal(s.digestMismatches, 0, 'no wrong blob');
  t.match(lastFailure(setup, cutting.host), /ended at byte \d+\b.*: cut short$/, 'the cutting mirror failed as one dying mid-body');
  t.ok(isDown(setup, cutting.host), 'and is marked down');
  t.equal(ep.stats().sources[endpointKey(registry.host, true)]?.failed ?? 0, 0, 'the mirror that finished it is not');
});

t.test('the size unknown and a close-delimited body of wrong bytes: the next mirror says it is no longer, the first is blamed', async (t) => {
  const corrupt = await startHostileProxy(registry.host, [{ path: layer, fault: 'close-delimited-corrupt' }]);
  t.teardown(() => corrupt.close());
  const setup = await localMirrorSetup(t, [`${corrupt.host}/app`, `${registry.host}/app`]);
  const ep = await setup.start({ timeouts });
  const first = await request(blobUrl(setup));
  await t.rejects(first.body.arrayBuffer(), 'the first answer is cut: its bytes do not match the digest');
  await endpointDone(ep);
  t.equal(ep.stats().digestMismatches, 1, 'the wrong blob was caught');
  t.match(lastFailure(setup, corrupt.host), /does not match its digest/, 'the mirror that sent wrong bytes is blamed for them');
  t.ok(isDown(setup, corrupt.host), 'and marked down');
  t.equal(ep.stats().sources[endpointKey(registry.host, true)]?.failed ?? 0, 0, 'the next mirror is not');
  await layerWhole(t, setup, 'the next request');
});

t.test('the size unknown and no other mirror: a cut close-delimited body is never served as whole', async (t) => {
  const cutting = await startHostileProxy(registry.host, [{ path: layer, fault: 'close-delimited-cut' }]);
  t.teardown(() => cutting.close());
  const setup = await localMirrorSetup(t, [`${cutting.host}/app`]);
  const ep = await setup.start({ timeouts });
  const res = await request(blobUrl(setup));
  await t.rejects(res.body.arrayBuffer(), 'the answer is cut');
  await endpointDone(ep);
  t.ok(isDown(setup, cutting.host), 'the mirror is marked down');
  t.match(lastFailure(setup, cutting.host), /ended at byte \d+ without matching its digest/, 'the log says what is known: not which of cut or wrong');
});

t.test('the size unknown, the cut body resumed by a mirror serving wrong content: that one is blamed, the first failed all the same', async (t) => {
  const cutting = await startHostileProxy(registry.host, [{ path: layer, fault: 'close-delimited-cut' }]);
  t.teardown(() => cutting.close());
  const corrupt = await startFaultProxy(registry.host, [{ path: layer, fault: 'corrupt' }]);
  t.teardown(() => corrupt.close());
  const setup = await localMirrorSetup(t, [`${cutting.host}/app`, `${corrupt.host}/app`]);
  const ep = await setup.start({ timeouts });
  const first = await request(blobUrl(setup));
  await t.rejects(first.body.arrayBuffer(), 'the answer is cut: the blob pieced together does not match');
  await endpointDone(ep, () => isDown(setup, cutting.host));
  t.equal(ep.stats().digestMismatches, 1, 'one wrong blob');
  t.match(lastFailure(setup, corrupt.host), /pieced together with it and then fetched whole from it/, 'the mirror serving wrong content is blamed for it');
  t.ok(isDown(setup, corrupt.host), 'and marked down');
  t.match(
    lastFailure(setup, cutting.host),
    /without matching its digest: cut short or wrong/,
    'the first: failed, which way unknown (the check never saw a right blob)',
  );
});

t.test('the size unknown, the cut body resumed by a mirror whose Range answers are wrong: the check shows the first was cut short', async (t) => {
  const cutting = await startHostileProxy(registry.host, [{ path: layer, fault: 'close-delimited-cut' }]);
  t.teardown(() => cutting.close());
  const rangeBroken = await startHostileProxy(registry.host, [{ path: layer, fault: 'range-corrupt' }]);
  t.teardown(() => rangeBroken.close());
  const setup = await localMirrorSetup(t, [`${cutting.host}/app`, `${rangeBroken.host}/app`]);
  const ep = await setup.start({ timeouts });
  const first = await request(blobUrl(setup));
  await t.rejects(first.body.arrayBuffer(), 'the answer is cut: the blob pieced together does not match');
  await endpointDone(ep, () => isDown(setup, cutting.host));
  t.match(lastFailure(setup, rangeBroken.host), /its answer from byte \d+ is not the blob's bytes there/, 'the wrong Range answer is blamed');
  t.match(
    lastFailure(setup, cutting.host),
    /its bytes were the blob's \(checked against the blob fetched whole\): cut short$/,
    'the first: cut short, its bytes right',
  );
});

t.test('a size hint from a hostile manifest (served by tag, unverified) never turns a real cut into wrong content', async (t) => {
  // A mirror whose tag's manifest lists the real layer with size 1, and no blobs.
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: img.configDigest, size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: img.layerDigest, size: 1 }],
  });
  const liar = createServer((req, res) => {
    if (req.url === '/v2/' || req.url === '/v2') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    if (/\/manifests\/lie$/.test(req.url ?? '')) return void res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(manifest);
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
  });
  const port = await freePort();
  await new Promise<void>((r) => liar.listen(port, '127.0.0.1', r));
  t.teardown(() => {
    liar.closeAllConnections();
    return new Promise<void>((r) => liar.close(() => r()));
  });
  const cutting = await startHostileProxy(registry.host, [{ path: layer, fault: 'close-delimited-cut' }]);
  t.teardown(() => cutting.close());
  const setup = await localMirrorSetup(t, [`127.0.0.1:${port}/app`, `${cutting.host}/app`, `${registry.host}/app`]);
  await setup.start({ timeouts });
  const m = await request(`http://${setup.address}/v2/${setup.repository}/manifests/lie`);
  t.equal(m.statusCode, 200, 'the lying manifest went through the endpoint (its sizes were learned)');
  await m.body.text();
  const res = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`);
  t.equal(sha256(Buffer.from(await res.body.arrayBuffer())), img.layerDigest, 'the client still gets the layer whole, resumed from the registry');
});
