/**
 * A registry serving an old signed schema1 manifest signs it afresh on every GET, so its bytes
 * never hash to the digest it names: containers/image digests the payload without the
 * signatures (manifest.Digest, libtrust). We do the same (src/registry/manifest-digest.ts), so
 * such a registry is not taken for one serving wrong content and marked down for every image.
 * `pull` still does not pull schema1 (no config, no layers): that is the content's business,
 * not the endpoint's. Real docker-registry with distribution's schema1 compatibility on; skopeo
 * pushes the image as v2s1.
 */
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, hostPlatform, PullError } from '../../../src/registry/pull.js';
import { manifestDigestOf } from '../../../src/registry/manifest-digest.js';
import { digestOf } from '../../../src/registry/oci-layout.js';
import { buildImage } from '../../helpers/oci-image.js';
import { harnessSource, registryFor } from '../../helpers/registry.js';
import { skopeo } from '../../helpers/skopeo.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-schema1-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
const reg = await registryFor(t, { schema1: true });
const img = await buildImage(join(work, 'img'), { content: 'schema1', tag: 'v1' });
const digestFile = join(work, 'digest');
const policy = join(work, 'policy.json');
const regConf = join(work, 'registries.conf');
(await import('node:fs')).writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
(await import('node:fs')).writeFileSync(regConf, 'unqualified-search-registries = []\n');
const pushed = await skopeo(
  [
    '--policy',
    policy,
    '--registries-conf',
    regConf,
    'copy',
    '--format',
    'v2s1',
    '--dest-tls-verify=false',
    '--digestfile',
    digestFile,
    `oci:${img.layoutDir}:v1`,
    `docker://${reg.host}/app:s1`,
  ],
  { timeoutMs: 60_000 },
);
if (pushed.code !== 0) throw new Error(`skopeo copy --format v2s1 failed: ${pushed.stderr}`);
const D = readFileSync(digestFile, 'utf8').trim();

async function getManifest(): Promise<Buffer> {
  const res = await fetch(`http://${reg.host}/v2/app/manifests/${D}`, { headers: { accept: 'application/vnd.docker.distribution.manifest.v1+prettyjws' } });
  t.equal(res.status, 200);
  return Buffer.from(await res.arrayBuffer());
}

t.test('the bytes differ on every GET and never hash to the digest; the payload does, as containers/image computes it', async (t) => {
  const [one, two] = [await getManifest(), await getManifest()];
  t.not(digestOf(one), D, 'the bytes do not hash to the digest');
  t.equal(manifestDigestOf(one), D, 'their payload does');
  t.equal(manifestDigestOf(two), D, 'on every GET');
  const damaged = Buffer.from(one.toString('utf8').replace('"tag":"s1"', '"tag":"s2"'));
  t.not(damaged.toString('utf8'), one.toString('utf8'), '(the tag changed in the payload)');
  t.not(manifestDigestOf(damaged), D, 'a changed payload does not');
});

t.test('pull by digest: refused as content (schema1 is not pulled), the registry not marked down', async (t) => {
  const err = await pullImage([harnessSource(`${reg.host}/app@${D}`, 'primary')], {
    dest: mkdtempSync(join(work, 'dest-')),
    platform: hostPlatform(),
    health: {},
    log: createLogger({ level: 'silent' }),
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(err, PullError);
  t.notMatch((err as PullError).attempts[0]?.error, /content is sha256/, 'not taken for wrong content');
  t.notOk((err as PullError).health[`insecure://${reg.host}`]?.failures, 'the endpoint not recorded as failed');
});
