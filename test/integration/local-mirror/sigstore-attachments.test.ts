/**
 * Sigstore signatures through the local mirror. containers/image (with `use-sigstore-attachments`)
 * reads an image's signatures from the registry that served it, by the tag `sha256-<hex>.sig`:
 * straight from a digest-only mirror when it pulls from the mirror itself. Through the endpoint
 * that tag must come from where the image can (the digest pull's sources), not from the source
 * alone as for an ordinary tag: with the source unreachable, as in a disconnected cluster, a
 * signed image would otherwise not copy at all. Real docker-registry, real skopeo.
 */
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { localMirrorSetup, SOURCE } from '../../helpers/local-mirror.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { skopeo } from '../../helpers/skopeo.js';
import { pushSignature, signatureTag } from '../../helpers/sigstore.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-lm-sigstore-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const mirror = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: 'signed', tag: 'v1' });
await pushImage(img, `${mirror.host}/app:v1`);
const sigTag = signatureTag(img.manifestDigest);

const sigManifest = await pushSignature(mirror.host, 'app', img.manifestDigest);
const registriesD = join(work, 'registries.d');
mkdirSync(registriesD);
writeFileSync(join(registriesD, 'sigstore.yaml'), 'default-docker:\n  use-sigstore-attachments: true\n');
const policy = join(work, 'policy.json');
writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));

const unsigned = await buildImage(join(work, 'unsigned'), { content: 'not signed', tag: 'v2' });
await pushImage(unsigned, `${mirror.host}/app:v2`);

/** `skopeo copy` of an image by digest to dir:, signatures included, through `conf`. */
async function copySigned(conf: string, digest = img.manifestDigest, dotD = registriesD): Promise<{ code: number | null; stderr: string; dest: string }> {
  const dest = mkdtempSync(join(work, 'dest-'));
  const r = await skopeo(
    ['--registries.d', dotD, '--registries-conf', conf, 'copy', '--retry-times', '0', '--policy', policy, `docker://${SOURCE}@${digest}`, `dir:${dest}`],
    { timeoutMs: 60_000 },
  );
  return { ...r, dest };
}

t.test("a digest-only mirror's sigstore attachment, the source unreachable: served by the endpoint as skopeo reads it from the mirror", async (t) => {
  const lm = await localMirrorSetup(t, [`${mirror.host}/app`], {}, { pullFromMirror: 'digest-only' });
  await lm.start();

  const direct = join(work, 'direct.conf');
  writeFileSync(
    direct,
    `unqualified-search-registries = []\n[[registry]]\nprefix = "${SOURCE}"\nlocation = "${SOURCE}"\n[[registry.mirror]]\nlocation = "${mirror.host}/app"\ninsecure = true\npull-from-mirror = "digest-only"\n`,
  );
  const straight = await copySigned(direct);
  t.equal(straight.code, 0, 'skopeo straight from the mirror copies the image and its signature', { stderr: straight.stderr.slice(-600) });
  t.ok(
    readdirSync(straight.dest).some((f) => f.startsWith('signature-')),
    'the signature came along',
  );

  const got = await request(`http://${lm.address}/v2/${lm.repository}/manifests/${sigTag}`);
  t.equal(got.statusCode, 200, 'the endpoint serves the attachment tag from the mirror');
  t.same(Buffer.from(await got.body.arrayBuffer()), sigManifest, 'as the mirror has it');

  const through = await copySigned(lm.confFile);
  t.equal(through.code, 0, 'through the endpoint too', { stderr: through.stderr.slice(-600) });
  t.ok(existsSync(join(through.dest, 'signature-1')), 'with the signature');
  t.match(through.stderr, new RegExp(`${lm.address.replace(/\./g, '\\.')}/v2/${lm.repository}/manifests/${sigTag}`), 'asked of the endpoint');

  // registries.d is looked up by the registry pulled from: a setting keyed on the mirror's host no
  // longer applies through the endpoint; keyed on the endpoint's namespace it does.
  const scoped = join(work, 'registries.d-scoped');
  mkdirSync(scoped);
  writeFileSync(join(scoped, 'mirror.yaml'), `docker:\n  ${mirror.host}:\n    use-sigstore-attachments: true\n`);
  const mirrorOnly = await copySigned(lm.confFile, img.manifestDigest, scoped);
  t.equal(mirrorOnly.code, 0);
  t.notOk(existsSync(join(mirrorOnly.dest, 'signature-1')), "the mirror's own setting: no signatures read through the endpoint");
  writeFileSync(join(scoped, 'local-mirror.yaml'), `docker:\n  ${lm.address}/mirror-policyd:\n    use-sigstore-attachments: true\n`);
  const endpointScoped = await copySigned(lm.confFile, img.manifestDigest, scoped);
  t.equal(endpointScoped.code, 0);
  t.ok(existsSync(join(endpointScoped.dest, 'signature-1')), "the endpoint's namespace: read");
});

t.test('an image without signatures, the source unreachable: "none" (404) from the mirror, not a 502 that fails the copy', async (t) => {
  const lm = await localMirrorSetup(t, [`${mirror.host}/app`], {}, { pullFromMirror: 'digest-only' });
  await lm.start();
  const tag = signatureTag(unsigned.manifestDigest);
  const got = await request(`http://${lm.address}/v2/${lm.repository}/manifests/${tag}`);
  t.equal(got.statusCode, 404, 'the mirror has none; the source could not be asked');
  t.match(await got.body.json(), { errors: [{ code: 'MANIFEST_UNKNOWN' }] });
  const through = await copySigned(lm.confFile, unsigned.manifestDigest);
  t.equal(through.code, 0, 'skopeo copies it through the endpoint, as straight from the mirror', { stderr: through.stderr.slice(-600) });
  t.notOk(existsSync(join(through.dest, 'signature-1')), 'with no signature');
});

t.test('an ordinary tag of a digest-only table is still not taken from its mirrors', async (t) => {
  const lm = await localMirrorSetup(t, [`${mirror.host}/app`], {}, { pullFromMirror: 'digest-only' });
  await lm.start();
  const got = await request(`http://${lm.address}/v2/${lm.repository}/manifests/v1`);
  await got.body.dump();
  t.not(got.statusCode, 200, 'v1 is on the mirror, but a tag pull may not use it');
});
