/**
 * A blob pieced together from two sources (the first dies mid-body, the second resumes it with
 * a Range request) that does not match its digest: either could be at fault, so the one that
 * finished it is not blamed for it blindly. Its client is cut (the wrong bytes are out), the
 * blob is fetched whole from the finisher to find whose bytes were wrong, and that source is
 * marked down, so the client's next request gets the right blob from a source that has it.
 */
import tap, { type Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { endpointKey, healthState } from '../../../src/health/health.js';
import type { LocalMirror } from '../../../src/local-mirror/server.js';
import { buildImage, pushImage, sha256 } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { localMirrorSetup, type LocalMirrorSetup } from '../../helpers/local-mirror.js';
import { startFaultProxy, startHostileProxy } from '../../helpers/fault-proxy.js';
import { pollUntil } from '../../helpers/daemon.js';

const t = tap;
const work = mkdtempSync(join(tmpdir(), 'mpd-lm-pieced-'));
const registry = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: randomBytes(300_000).toString('base64'), tag: 'v1' });
await pushImage(img, `${registry.host}/app:v1`);
const layer = new RegExp(`/blobs/${img.layerDigest}$`);
const timeouts = { connectMs: 5000, headersMs: 5000, bodyIdleMs: 5000 };

/** The first request's answer is cut, and the endpoint is done with it (its check of the finisher included). */
async function firstRequestCut(t: Test, setup: LocalMirrorSetup, ep: LocalMirror): Promise<void> {
  const first = await request(blobUrl(setup));
  await t.rejects(first.body.arrayBuffer(), 'the first answer is cut: its bytes do not match the digest');
  await pollUntil(
    () => ep.stats().errors > 0,
    'the endpoint done with the first request',
    10_000,
    () => JSON.stringify(ep.stats()),
  );
  t.equal(ep.stats().digestMismatches, 1, JSON.stringify(ep.stats()));
}

function blobUrl(setup: LocalMirrorSetup): string {
  return `http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`;
}

async function nextRequestWhole(t: Test, setup: LocalMirrorSetup): Promise<void> {
  const next = await request(blobUrl(setup));
  t.equal(next.statusCode, 200);
  t.equal(sha256(Buffer.from(await next.body.arrayBuffer())), img.layerDigest, 'the next request: whole and right');
}

function lastFailure(setup: LocalMirrorSetup, host: string): string {
  return setup.health.view()[endpointKey(host, true)]?.lastFailure?.message ?? '(none)';
}

function isDown(setup: LocalMirrorSetup, host: string): boolean {
  return healthState(setup.health.view()[endpointKey(host, true)], Date.now()) === 'down';
}

t.test('the first mirror sent corrupt bytes, then died: it is blamed, not the one that finished the blob', async (t) => {
  const bad = await startHostileProxy(registry.host, [{ path: layer, fault: 'corrupt-truncate-close' }]);
  t.teardown(() => bad.close());
  const setup = await localMirrorSetup(t, [`${bad.host}/app`, `${registry.host}/app`]);
  const ep = await setup.start({ timeouts });
  await firstRequestCut(t, setup, ep);

  const good = endpointKey(registry.host, true);
  t.equal(ep.stats().sources[good]?.failed ?? 0, 0, `the source that finished the blob is not marked down: ${JSON.stringify(ep.stats().sources)}`);
  t.match(lastFailure(setup, bad.host), /the bytes it served from byte 0 to \d+ are not the blob's/, 'the first mirror marked down for its wrong bytes');
  t.equal(ep.stats().sources[good]?.ok, 1, 'the blob fetched whole from the finisher was right: it is recorded as working');
  await nextRequestWhole(t, setup);
});

t.test('the first mirror died, the one that resumed it serves wrong content: that one is marked down', async (t) => {
  const dying = await startHostileProxy(registry.host, [{ path: layer, fault: 'truncate-close' }]);
  t.teardown(() => dying.close());
  const corrupt = await startFaultProxy(registry.host, [{ path: layer, fault: 'corrupt' }]);
  t.teardown(() => corrupt.close());
  const setup = await localMirrorSetup(t, [`${dying.host}/app`, `${corrupt.host}/app`]);
  const ep = await setup.start({ timeouts });
  await firstRequestCut(t, setup, ep);

  t.ok(isDown(setup, corrupt.host), 'the mirror serving wrong content is marked down');
  t.match(lastFailure(setup, corrupt.host), /does not match its digest, pieced together with it and then fetched whole from it/);
  // The first mirror comes back: though it is marked down for dying, it comes before the one serving wrong content.
  dying.rules = [];
  await nextRequestWhole(t, setup);
});

t.test('the mirror that resumed the blob answers Range requests wrongly: it is marked down, not the one that died', async (t) => {
  const dying = await startHostileProxy(registry.host, [{ path: layer, fault: 'truncate-close' }]);
  t.teardown(() => dying.close());
  const rangeBroken = await startHostileProxy(registry.host, [{ path: layer, fault: 'range-corrupt' }]);
  t.teardown(() => rangeBroken.close());
  const setup = await localMirrorSetup(t, [`${dying.host}/app`, `${rangeBroken.host}/app`]);
  const ep = await setup.start({ timeouts });
  await firstRequestCut(t, setup, ep);

  t.match(lastFailure(setup, rangeBroken.host), /its answer from byte \d+ is not the blob's bytes there/, 'the Range answer is blamed');
  t.ok(isDown(setup, rangeBroken.host), 'the mirror with wrong Range answers is marked down');
  t.notMatch(lastFailure(setup, dying.host), /not the blob's/, 'the mirror that died is down for dying only, its bytes were right');
});
