/**
 * The local mirror's close(graceMs) with a transfer under way (a real docker-registry behind a
 * proxy that serves the layer slowly): within a long grace the transfer finishes, whole and
 * right; with a short one it is cut, and the cut is nobody's failure but the shutdown's.
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
import type { LocalMirror } from '../../../src/local-mirror/server.js';

const t = tap;

const work = mkdtempSync(join(tmpdir(), 'mpd-lm-close-'));
const registry = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: randomBytes(300_000).toString('base64'), tag: 'v1' });
await pushImage(img, `${registry.host}/app:v1`);
const slow = await startHostileProxy(registry.host, [{ path: new RegExp(`/blobs/${img.layerDigest}$`), fault: 'slow-body' }]);
t.teardown(() => slow.close());
const slowKey = `insecure://${slow.host}`;

async function startLayerTransfer(t: Pick<typeof tap, 'teardown' | 'equal'>): Promise<{ ep: LocalMirror; body: Promise<Buffer> }> {
  const setup = await localMirrorSetup(t, [`${slow.host}/app`]);
  const ep = await setup.start();
  const res = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`);
  t.equal(res.statusCode, 200, 'the transfer started');
  return { ep, body: res.body.arrayBuffer().then((b) => Buffer.from(b)) };
}

t.test('close with a long grace: the transfer under way finishes, whole and right', async (t) => {
  const { ep, body } = await startLayerTransfer(t);
  t.equal(ep.stats().inFlight, 1, 'one transfer under way when close is called');
  const closing = ep.close(20_000);
  const got = await body;
  t.equal(sha256(got), img.layerDigest, 'the whole layer');
  await closing;
  t.equal(ep.stats().inFlight, 0);
  t.equal(ep.stats().sources[slowKey]?.ok, 1);
});

t.test('close with a short grace: the transfer is cut, and not counted against the source', async (t) => {
  const { ep, body } = await startLayerTransfer(t);
  const cut = t.rejects(body, 'the client did not get a whole blob: its connection was cut');
  await ep.close(200);
  await cut;
  const s = ep.stats(); // final: close() waited for the request's handler
  t.equal(s.sources[slowKey]?.failed ?? 0, 0, `the cut is not the source's failure: ${JSON.stringify(s.sources)}`);
  t.equal(s.sources[slowKey]?.ok ?? 0, 0, 'nor a success');
  t.equal(s.errors, 1, 'the cut answer is counted as an error');
  t.equal(ep.stats().inFlight, 0);
});
