/**
 * A blob pieced together from two sources (the first dies mid-body, the second resumes it with
 * a Range request) that does not match its digest: either could be at fault, so the one that
 * finished it must not be marked down for it. Here the first sent corrupt bytes: it is marked
 * down for dying, and the next request is served whole by the second, which stays healthy.
 */
import tap from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { buildImage, pushImage, sha256 } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { localMirrorSetup } from '../../helpers/local-mirror.js';
import { startHostileProxy } from '../../helpers/fault-proxy.js';

const t = tap;
const work = mkdtempSync(join(tmpdir(), 'mpd-lm-pieced-'));
const registry = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: randomBytes(300_000).toString('base64'), tag: 'v1' });
await pushImage(img, `${registry.host}/app:v1`);

t.test('a pieced-together blob with the wrong digest: the source that finished it is not blamed', async (t) => {
  const bad = await startHostileProxy(registry.host, [{ path: new RegExp(`/blobs/${img.layerDigest}$`), fault: 'corrupt-truncate-close' }]);
  t.teardown(() => bad.close());
  const setup = await localMirrorSetup(t, [`${bad.host}/app`, `${registry.host}/app`]);
  const ep = await setup.start({ timeouts: { connectMs: 5000, headersMs: 5000, bodyIdleMs: 5000 } });
  const url = `http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`;

  const first = await request(url);
  await t.rejects(first.body.arrayBuffer(), 'the first answer is cut: its bytes do not match the digest');
  t.equal(ep.stats().digestMismatches, 1, JSON.stringify(ep.stats()));
  const good = `insecure://${registry.host}`;
  t.equal(ep.stats().sources[good]?.failed ?? 0, 0, `the source that finished the blob is not marked down: ${JSON.stringify(ep.stats().sources)}`);

  const second = await request(url);
  t.equal(second.statusCode, 200);
  t.equal(sha256(Buffer.from(await second.body.arrayBuffer())), img.layerDigest, 'the next request: whole and right');
});
