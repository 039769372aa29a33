/**
 * The local mirror serving the real skopeo from a real docker-registry: a digest pull and a
 * tag pull go through the endpoint alone; the routes it refuses answer distribution errors.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { buildImage, pushImage, sha256 } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { localMirrorSetup } from '../../helpers/local-mirror.js';
import { skopeo } from '../../helpers/skopeo.js';

/** One request written as is on a socket (no URL normalisation); the whole answer. */
function rawRequest(address: string, text: string): Promise<string> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const so = connect(Number(port), host, () => so.end(text));
    so.on('data', (c: Buffer) => chunks.push(c));
    so.on('end', () => resolve(Buffer.concat(chunks).toString()));
    so.on('error', reject);
    so.setTimeout(10_000, () => so.destroy(new Error('no answer in 10 s')));
  });
}

const work = mkdtempSync(join(tmpdir(), 'mpd-lm-serve-'));
const mirror = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: randomBytes(300_000).toString('base64'), tag: 'v1' });
await pushImage(img, `${mirror.host}/app:v1`);
const D = img.manifestDigest;
const setup = await localMirrorSetup(t, [`${mirror.host}/app`]);
const ep = await setup.start();
const mirrorKey = `insecure://${mirror.host}`;

t.test('a digest pull: skopeo gets everything from the endpoint, which got it from the mirror, verified', async (t) => {
  await mirror.clearLog();
  const dest = join(work, 'digest-pull');
  const r = await setup.copy(`@${D}`, dest);
  t.equal(r.code, 0, r.stderr);
  t.same(r.tried, [`${setup.address}/${setup.repository}@${D}`], 'skopeo tried the endpoint only');
  t.equal(readFileSync(join(dest, 'manifest.json')).toString(), img.manifest.toString(), 'the manifest byte for byte');
  t.equal(sha256(readFileSync(join(dest, img.layerDigest.slice(7)))), img.layerDigest, 'the layer, whole');
  const s = ep.stats();
  t.ok(s.requests.manifests >= 1 && s.requests.blobs >= 2, JSON.stringify(s.requests));
  t.ok((s.sources[mirrorKey]?.ok ?? 0) >= 3, 'the mirror served the manifest and both blobs');
  const layerBytes = readFileSync(join(img.layoutDir, 'blobs', 'sha256', img.layerDigest.slice(7))).length;
  t.ok(s.bytesSent >= layerBytes + img.manifest.length, `the bytes are counted (${s.bytesSent} sent, the layer is ${layerBytes})`);
  const seen = (await mirror.requests()).filter((x) => x.kind === 'blobs');
  t.ok(seen.length >= 2 && seen.every((x) => x.userAgent === 'mirror-policyd'), 'the mirror saw the endpoint, not skopeo');
});

t.test('a tag pull: resolved through the sources as pull does', async (t) => {
  const r = await setup.inspect(':v1');
  t.equal(r.code, 0, r.stderr);
  t.same(r.tried, [`${setup.address}/${setup.repository}:v1`]);
  t.equal(r.stdout.trim(), img.manifest.toString().trim());
  const head = await request(`http://${setup.address}/v2/${setup.repository}/manifests/v1`, { method: 'HEAD' });
  await head.body.dump();
  t.equal(head.statusCode, 200);
  t.equal(head.headers['docker-content-digest'], D);
  t.equal(head.headers['content-type'], 'application/vnd.oci.image.manifest.v1+json');
});

t.test('each chunk read from a source is told to onBlobBytes (the daemon paces its collections by them)', async (t) => {
  let told = 0;
  const other = await localMirrorSetup(t, [`${mirror.host}/app`], { onBlobBytes: (n) => void (told += n) });
  await other.start();
  const layer = readFileSync(join(img.layoutDir, 'blobs', 'sha256', img.layerDigest.slice(7)));
  const r = await request(`http://${other.address}/v2/${other.repository}/blobs/${img.layerDigest}`);
  t.ok(Buffer.from(await r.body.arrayBuffer()).equals(layer), 'the blob, whole');
  t.equal(told, layer.length, 'every byte read from the mirror was told, once');
});

t.test('a Range request gets its bytes, verified from the whole blob', async (t) => {
  const layer = readFileSync(join(img.layoutDir, 'blobs', 'sha256', img.layerDigest.slice(7)));
  const r = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`, { headers: { range: 'bytes=1000-' } });
  const body = Buffer.from(await r.body.arrayBuffer());
  t.equal(r.statusCode, 206);
  t.equal(r.headers['content-range'], `bytes 1000-${layer.length - 1}/${layer.length}`);
  t.ok(body.equals(layer.subarray(1000)), 'the rest of the blob');
  const mid = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`, { headers: { range: 'bytes=10-19' } });
  t.ok(Buffer.from(await mid.body.arrayBuffer()).equals(layer.subarray(10, 20)), 'a range inside the blob');
  const suffix = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`, { headers: { range: 'bytes=-100' } });
  t.equal(suffix.statusCode, 206, 'a suffix range, as docker-registry serves it');
  t.equal(suffix.headers['content-range'], `bytes ${layer.length - 100}-${layer.length - 1}/${layer.length}`);
  t.ok(Buffer.from(await suffix.body.arrayBuffer()).equals(layer.subarray(layer.length - 100)), 'the last 100 bytes');
  const past = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`, { headers: { range: `bytes=${layer.length}-` } });
  await past.body.dump();
  t.equal(past.statusCode, 416);
});

t.test('a Range past the end of a small blob, again and again: 416 each time, and the endpoint lives on', async (t) => {
  // the source's body is left unread: it must be let go without an unhandled 'error' (that took the daemon down)
  const small = await buildImage(join(work, 'small'), { content: randomBytes(3000).toString('base64'), tag: 'small' });
  await pushImage(small, `${mirror.host}/app:small`);
  const size = readFileSync(join(small.layoutDir, 'blobs', 'sha256', small.layerDigest.slice(7))).length;
  for (let k = 0; k < 5; k++) {
    const past = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${small.layerDigest}`, { headers: { range: `bytes=${size + k}-` } });
    await past.body.dump();
    t.equal(past.statusCode, 416, `try ${k + 1}`);
    t.equal(past.headers['content-range'], `bytes */${size}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const alive = await request(`http://${setup.address}/v2/`);
  await alive.body.dump();
  t.equal(alive.statusCode, 200, 'still serving');
});

t.test('read-only: write methods 405, other names 404, distribution error JSON', async (t) => {
  const base = await request(`http://${setup.address}/v2/`);
  t.equal(base.statusCode, 200);
  t.equal(base.headers['docker-distribution-api-version'], 'registry/2.0');
  await base.body.dump();
  const cases: Array<[string, string, number, string]> = [
    ['PUT', `/v2/${setup.repository}/manifests/v1`, 405, 'UNSUPPORTED'],
    ['POST', `/v2/${setup.repository}/blobs/uploads/`, 405, 'UNSUPPORTED'],
    ['DELETE', `/v2/${setup.repository}/blobs/${img.layerDigest}`, 405, 'UNSUPPORTED'],
    ['GET', `/v2/app/manifests/v1`, 404, 'NAME_UNKNOWN'], // the mirror's own name: not one the endpoint serves
    ['GET', `/v2/mirror-policyd/00000000000000000000/manifests/v1`, 404, 'NAME_UNKNOWN'],
    // The mirror has no such tag, and the source itself (source.invalid) cannot be reached: not "unknown", unavailable.
    ['GET', `/v2/${setup.repository}/manifests/nosuchtag`, 502, 'UNAVAILABLE'],
  ];
  for (const [method, path, status, code] of cases) {
    const r = await request(`http://${setup.address}${path}`, { method: method as 'GET' });
    t.equal(r.statusCode, status, `${method} ${path}`);
    t.match(await r.body.json(), { errors: [{ code }] }, `${method} ${path}`);
  }
  // A client's URL parser resolves `..` before sending; sent raw, such a path matches no route.
  for (const target of [`/v2/${setup.repository}/../../app/manifests/v1`, `/v2/${setup.repository}%2f..%2fapp/manifests/v1`, '/v2//manifests/v1']) {
    const raw = await rawRequest(setup.address, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    t.match(raw, /^HTTP\/1\.1 404 /, `raw ${target}: 404`);
    t.match(raw, /"code":"NOT_FOUND"/, `raw ${target}: no route`);
  }
  const withBody = await request(`http://${setup.address}/v2/${setup.repository}/manifests/v1`, { method: 'GET', body: 'x'.repeat(100) });
  t.equal(withBody.statusCode, 413, 'a request with a body is refused');
  await withBody.body.dump();
});

t.test('Accept: a manifest of a type the client did not list is MANIFEST_UNKNOWN, as docker-registry itself answers', async (t) => {
  const V2S2 = 'application/vnd.docker.distribution.manifest.v2+json';
  for (const method of ['GET', 'HEAD'] as const) {
    const direct = await request(`http://${mirror.host}/v2/app/manifests/v1`, { method, headers: { accept: V2S2 } });
    await direct.body.dump();
    t.equal(direct.statusCode, 404, `${method}: docker-registry refuses an OCI manifest to a client taking docker v2s2 only`);
    const r = await request(`http://${setup.address}/v2/${setup.repository}/manifests/v1`, { method, headers: { accept: V2S2 } });
    t.equal(r.statusCode, 404, `${method}: so does the endpoint`);
    t.equal(r.headers['docker-content-digest'], undefined, `${method}: no digest of a manifest not sent`);
    if (method === 'GET') t.match(await r.body.json(), { errors: [{ code: 'MANIFEST_UNKNOWN', message: /application\/vnd\.oci\.image\.manifest\.v1\+json/ }] });
    else await r.body.dump();
  }
  // taken: listed among others, by */* (containerd's Accept ends with it), or with no Accept at all (RFC 9110: any type)
  for (const accept of [`${V2S2}, application/vnd.oci.image.manifest.v1+json`, `${V2S2}, */*`, undefined]) {
    const r = await request(`http://${setup.address}/v2/${setup.repository}/manifests/v1`, accept === undefined ? {} : { headers: { accept } });
    t.equal(r.statusCode, 200, `Accept: ${accept ?? '(none)'}`);
    t.equal(r.headers['docker-content-digest'], D);
    t.ok(Buffer.from(await r.body.arrayBuffer()).equals(img.manifest), 'the manifest byte for byte');
  }
});

t.test('a HEAD by tag (containerd resolves tags so) is asked upstream as a HEAD, never a GET: Docker Hub counts GETs against its pull limit', async (t) => {
  const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*';
  await mirror.clearLog();
  const r = await request(`http://${setup.address}/v2/${setup.repository}/manifests/v1`, { method: 'HEAD', headers: { accept } });
  await r.body.dump();
  t.equal(r.statusCode, 200);
  t.equal(r.headers['docker-content-digest'], D);
  t.equal(r.headers['content-type'], 'application/vnd.oci.image.manifest.v1+json');
  t.equal(r.headers['content-length'], String(img.manifest.length), "the manifest's size, as a GET would send it");
  const asked = (await mirror.requests()).filter((x) => x.kind === 'manifests').map((x) => `${x.method} ${x.reference ?? ''}`);
  t.same(asked, ['HEAD v1'], 'the mirror saw one HEAD of the tag');
  const status = async (method: 'GET' | 'HEAD'): Promise<number> => {
    const u = await request(`http://${setup.address}/v2/${setup.repository}/manifests/no-such-tag`, { method, headers: { accept } });
    await u.body.dump();
    return u.statusCode;
  };
  t.equal(await status('HEAD'), await status('GET'), 'a tag no mirror has: answered as a GET is');
});

t.test('a docker v2s2 image: served with its type to clients that list it, 404 to one taking OCI only; skopeo pulls it', async (t) => {
  const V2S2 = 'application/vnd.docker.distribution.manifest.v2+json';
  const tmp = mkdtempSync(join(work, 'v2s2-'));
  const policy = join(tmp, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const plainConf = join(tmp, 'registries.conf');
  writeFileSync(plainConf, 'unqualified-search-registries = []\n');
  const digestFile = join(tmp, 'digest');
  const push = await skopeo([
    '--policy',
    policy,
    '--registries-conf',
    plainConf,
    'copy',
    '--format',
    'v2s2',
    '--retry-times',
    '0',
    '--dest-tls-verify=false',
    '--digestfile',
    digestFile,
    `oci:${img.layoutDir}:v1`,
    `docker://${mirror.host}/app:docker`,
  ]);
  t.equal(push.code, 0, push.stderr.slice(-400));
  const digest = readFileSync(digestFile, 'utf8').trim();
  const url = `http://${setup.address}/v2/${setup.repository}/manifests/docker`;
  const listed = await request(url, { headers: { accept: `application/vnd.oci.image.manifest.v1+json, ${V2S2}` } });
  await listed.body.dump();
  t.equal(listed.statusCode, 200);
  t.equal(listed.headers['content-type'], V2S2, 'its own type');
  t.equal(listed.headers['docker-content-digest'], digest);
  const ociOnly = await request(url, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  await ociOnly.body.dump();
  t.equal(ociOnly.statusCode, 404, 'a client taking OCI only: not its manifest');
  const dest = join(tmp, 'pulled');
  const r = await setup.copy(':docker', dest);
  t.equal(r.code, 0, r.stderr.slice(-400));
  t.same(r.tried, [`${setup.address}/${setup.repository}:docker`], 'through the endpoint alone');
  t.equal((JSON.parse(readFileSync(join(dest, 'manifest.json'), 'utf8')) as { mediaType?: string }).mediaType, V2S2);
});
