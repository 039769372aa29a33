/**
 * A blob served chunked (no Content-Length) by a slow but working mirror: its size is unknown
 * until the end, so the local mirror cannot set an overall deadline from it. The transfer must
 * be bounded by the rate it keeps up, not cut once the idle timeout has passed in all.
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
import { pollUntil } from '../../helpers/daemon.js';

const t = tap;
const work = mkdtempSync(join(tmpdir(), 'mpd-lm-chunked-'));
const registry = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: randomBytes(300_000).toString('base64'), tag: 'v1' });
await pushImage(img, `${registry.host}/app:v1`);

t.test('a slow chunked blob from a working mirror arrives whole, the mirror not taken for trickling', async (t) => {
  const slow = await startHostileProxy(registry.host, [{ path: new RegExp(`/blobs/${img.layerDigest}$`), fault: 'slow-chunked-body' }]);
  t.teardown(() => slow.close());
  const setup = await localMirrorSetup(t, [`${slow.host}/app`]);
  // An idle timeout far shorter than the transfer (16 KiB every 50 ms, ~20 pieces), far longer than any gap in it.
  const ep = await setup.start({ timeouts: { connectMs: 5000, headersMs: 5000, bodyIdleMs: 400 } });
  const res = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`);
  t.equal(res.statusCode, 200);
  const got = Buffer.from(await res.body.arrayBuffer());
  t.equal(sha256(got), img.layerDigest, 'the whole layer');
  const key = `insecure://${slow.host}`;
  t.same({ ok: ep.stats().sources[key]?.ok, failed: ep.stats().sources[key]?.failed ?? 0 }, { ok: 1, failed: 0 }, JSON.stringify(ep.stats().sources));
});

t.test('a chunked blob that trickles is still cut, at the rate bound, and the mirror counted as failed', async (t) => {
  const trickle = await startHostileProxy(registry.host, [{ path: new RegExp(`/blobs/${img.layerDigest}$`), fault: 'trickle-body' }]);
  t.teardown(() => trickle.close());
  const setup = await localMirrorSetup(t, [`${trickle.host}/app`]);
  const ep = await setup.start({ timeouts: { connectMs: 5000, headersMs: 5000, bodyIdleMs: 400 } });
  const res = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`);
  await t.rejects(res.body.arrayBuffer(), 'no whole blob: the answer is cut');
  const key = `insecure://${trickle.host}`;
  await pollUntil(() => (ep.stats().sources[key]?.failed ?? 0) > 0, 'the mirror counted as failed');
  t.equal(ep.stats().sources[key]?.failed, 1, JSON.stringify(ep.stats().sources));
});
