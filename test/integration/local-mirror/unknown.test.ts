/**
 * What no source has, through the local mirror: with the source blocked (only the mirror may
 * serve) and the real docker-registry answering 404, the endpoint says so as a registry does —
 * 404 with MANIFEST_UNKNOWN or BLOB_UNKNOWN, by GET and by HEAD (no body) — and the mirror is
 * not counted as failing for it. skopeo reads it as "manifest unknown".
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { localMirrorSetup } from '../../helpers/local-mirror.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-lm-unknown-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const mirror = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: 'known', tag: 'v1' });
await pushImage(img, `${mirror.host}/app:v1`);
const lm = await localMirrorSetup(t, [`${mirror.host}/app`], {}, { blocked: true });
const ep = await lm.start();
const confFile = lm.confFile;
const base = `http://${lm.address}/v2/${lm.repository}`;
const NONE = `sha256:${'0'.repeat(64)}`;

t.test('an unknown tag, manifest digest or blob: 404 with the distribution code, by GET and HEAD', async (t) => {
  const cases: Array<[string, string]> = [
    ['/manifests/nosuchtag', 'MANIFEST_UNKNOWN'],
    [`/manifests/${NONE}`, 'MANIFEST_UNKNOWN'],
    [`/blobs/${NONE}`, 'BLOB_UNKNOWN'],
  ];
  for (const [path, code] of cases) {
    const get = await request(`${base}${path}`);
    t.equal(get.statusCode, 404, `GET ${path}`);
    t.equal(get.headers['content-type'], 'application/json');
    t.match(await get.body.json(), { errors: [{ code }] }, `GET ${path}: ${code}`);
    const head = await request(`${base}${path}`, { method: 'HEAD' });
    t.equal(head.statusCode, 404, `HEAD ${path}`);
    t.equal((await head.body.arrayBuffer()).byteLength, 0, `HEAD ${path}: no body`);
  }
  const s = ep.stats();
  t.equal(s.sources[`insecure://${mirror.host}`]?.failed ?? 0, 0, 'the mirror is not counted as failing for what it does not have');
  t.ok((s.sources[`insecure://${mirror.host}`]?.absent ?? 0) >= 6, 'its answers counted as absent');
});

t.test('skopeo through the endpoint: an unknown tag is "manifest unknown", a known one is served', async (t) => {
  const unknown = await skopeoInspectRaw('docker://source.invalid/app:nosuchtag', { registriesConf: confFile, timeoutMs: 30_000 });
  t.not(unknown.code, 0);
  t.match(unknown.stderr, /manifest unknown/i, 'the 404 reached skopeo as such');
  const known = await skopeoInspectRaw('docker://source.invalid/app:v1', { registriesConf: confFile, timeoutMs: 30_000 });
  t.equal(known.code, 0, known.stderr.slice(-400));
  t.equal(known.stdout.trim(), img.manifest.toString());
});
