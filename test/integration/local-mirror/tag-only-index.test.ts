/**
 * A tag pull of a manifest list through the local mirror when every mirror is tag-only (as
 * rendered for an ImageTagMirrorSet, the source blocked): containers/image resolves the tag
 * through the endpoint, then asks the same endpoint for the child manifest by digest. The
 * endpoint serves a manifest by digest from the sources it serves blobs from (the tag-only
 * mirrors included, checked by digest): skopeo's pull goes through.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { localMirrorSetup } from '../../helpers/local-mirror.js';
import { buildIndex, ociArch, ociOs, pushIndex } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';

t.test('tag-only mirrors: the list by tag, its child manifest by digest, and skopeo pulls it through the endpoint', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-tag-only-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mirror = await registryFor(t);
  const idx = await buildIndex(join(work, 'idx'), 'v1', [
    { os: ociOs(), architecture: ociArch(), content: 'a' },
    { os: 'linux', architecture: 's390x', content: 'b' },
  ]);
  await pushIndex(idx, `${mirror.host}/app:v1`);
  const lm = await localMirrorSetup(t, [`${mirror.host}/app`], {}, { blocked: true, pullFromMirror: 'tag-only' });
  const ep = await lm.start();
  const [address, repo] = [lm.address, lm.repository];

  const list = await request(`http://${address}/v2/${repo}/manifests/v1`);
  await list.body.dump();
  t.equal(list.statusCode, 200, 'the list by tag');
  const child = await request(`http://${address}/v2/${repo}/manifests/${idx.images[0]?.manifestDigest}`);
  const body = await child.body.text();
  t.equal(child.statusCode, 200, `its child manifest by digest (${body.slice(0, 200)})`);

  const copy = await lm.copy(':v1', join(work, 'out'));
  t.equal(copy.code, 0, `skopeo copy by tag through the endpoint: ${copy.stderr.slice(-600)}`);
  t.ok((ep.stats().sources[`insecure://${mirror.host}`]?.ok ?? 0) >= 2, 'served from the tag-only mirror');
});

t.test("a digest-only and a tag-only mirror on one registry (two repositories): the tag's child manifest and blobs come from the tag-only one", async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-tag-only-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const registry = await registryFor(t);
  const idx = await buildIndex(join(work, 'idx'), 'v1', [{ os: ociOs(), architecture: ociArch(), content: 'only under tags/' }]);
  await pushIndex(idx, `${registry.host}/tags:v1`); // the digest-only repository has none of it
  const [digests, tags] = [`${registry.host}/digests`, `${registry.host}/tags`];
  const lm = await localMirrorSetup(t, [digests, tags], {}, { blocked: true, mirrorModes: { [digests]: 'digest-only', [tags]: 'tag-only' } });
  await lm.start();
  await registry.clearLog();
  const copy = await lm.copy(':v1', join(work, 'out'));
  t.equal(copy.code, 0, `skopeo copy by tag through the endpoint: ${copy.stderr.slice(-600)}`);
  const child = (await registry.requests()).filter((r) => r.reference === idx.images[0]?.manifestDigest && r.status === 200);
  t.same(
    child.map((r) => r.repo),
    ['tags'],
    'the child manifest came from the tag-only repository',
  );
});
