/**
 * A tag pull of a manifest list through the local mirror when every mirror is tag-only (as
 * rendered for an ImageTagMirrorSet, the source blocked): containers/image resolves the tag
 * through the endpoint, then asks the same endpoint for the child manifest by digest. The
 * endpoint serves a manifest by digest from the sources it serves blobs from (the tag-only
 * mirrors included, checked by digest): skopeo's pull goes through.
 */
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { createLogger } from '../../../src/core/log.js';
import { localMirrorLocation } from '../../../src/local-mirror/mapping.js';
import { startLocalMirror } from '../../../src/local-mirror/server.js';
import { healthBook } from '../../../src/local-mirror/upstream.js';
import { mergeRegistriesConfs } from '../../../src/registries-conf/layer.js';
import { parseRegistriesConf } from '../../../src/registries-conf/parse.js';
import { buildIndex, ociArch, ociOs, pushIndex } from '../../helpers/oci-image.js';
import { freePort, registryFor } from '../../helpers/registry.js';
import { skopeo } from '../../helpers/skopeo.js';

t.test('tag-only mirrors: the list by tag, its child manifest by digest, and skopeo pulls it through the endpoint', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-tag-only-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mirror = await registryFor(t);
  const idx = await buildIndex(join(work, 'idx'), 'v1', [
    { os: ociOs(), architecture: ociArch(), content: 'a' },
    { os: 'linux', architecture: 's390x', content: 'b' },
  ]);
  await pushIndex(idx, `${mirror.host}/app:v1`);
  const address = `127.0.0.1:${await freePort()}`;
  const endpoint = localMirrorLocation(address, 'source.invalid/app');
  const text = [
    'unqualified-search-registries = []',
    '[[registry]]',
    'prefix = "source.invalid/app"',
    'location = "source.invalid/app"',
    'blocked = true',
    '[[registry.mirror]]',
    `location = "${endpoint}"`,
    'insecure = true',
    'pull-from-mirror = "tag-only"',
    '[[registry.mirror]]',
    `location = "${mirror.host}/app"`,
    'insecure = true',
    'pull-from-mirror = "tag-only"',
    '',
  ].join('\n');
  const parsed = parseRegistriesConf(text, 'registries.conf');
  if (parsed.conf === undefined) throw new Error('the test configuration does not parse');
  const log = createLogger({ level: 'silent' });
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  const ep = await startLocalMirror({ listen: { host, port }, conf: mergeRegistriesConfs(parsed.conf), health: await healthBook(undefined, log), log });
  t.teardown(() => ep.close(1000));
  const repo = endpoint.slice(address.length + 1);

  const list = await request(`http://${address}/v2/${repo}/manifests/v1`);
  await list.body.dump();
  t.equal(list.statusCode, 200, 'the list by tag');
  const child = await request(`http://${address}/v2/${repo}/manifests/${idx.images[0]?.manifestDigest}`);
  const body = await child.body.text();
  t.equal(child.statusCode, 200, `its child manifest by digest (${body.slice(0, 200)})`);

  const confFile = join(work, 'registries.conf');
  writeFileSync(confFile, text);
  const policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const copy = await skopeo(
    ['--registries-conf', confFile, 'copy', '--retry-times', '0', '--policy', policy, 'docker://source.invalid/app:v1', `dir:${join(work, 'out')}`],
    {
      timeoutMs: 60_000,
    },
  );
  t.equal(copy.code, 0, `skopeo copy by tag through the endpoint: ${copy.stderr.slice(-600)}`);
  t.ok((ep.stats().sources[`insecure://${mirror.host}`]?.ok ?? 0) >= 2, 'served from the tag-only mirror');
});
