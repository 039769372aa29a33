/**
 * A source that answers a request by digest with bytes hashing to another digest is an
 * unhealthy endpoint, as the local mirror holds it: `pull` marks it down in the health cache
 * (class protocol), falls back to the next source, and the next pull does not ask it again.
 * Content that is wrong whoever serves it (a tag's manifest that is not an image manifest) says
 * nothing about the endpoint. Real docker-registry processes; the fault proxy corrupts bytes.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { healthState } from '../../../src/health/health.js';
import { pullImage, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { harnessSource, registryFor } from '../../helpers/registry.js';
import { startFaultProxy } from '../../helpers/fault-proxy.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-wrong-content-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
const [a, b] = await Promise.all([registryFor(t), registryFor(t)]);
const img = await buildImage(join(work, 'img'), { content: 'wrong content', tag: 'v1' });
await Promise.all([pushImage(img, `${a.host}/app:v1`), pushImage(img, `${b.host}/app:v1`)]);
const D = img.manifestDigest;

const src = (host: string, role: PullSource['role'] = 'mirror', ref = `app@${D}`): PullSource => harnessSource(`${host}/${ref}`, role);
const dest = (): string => mkdtempSync(join(work, 'dest-'));
const pull = (sources: PullSource[], health: Parameters<typeof pullImage>[1]['health'] = {}): ReturnType<typeof pullImage> =>
  pullImage(sources, { dest: dest(), platform: hostPlatform(), health, log });

for (const [what, path] of [
  ['the manifest asked for by digest', new RegExp(`/manifests/${D}$`)],
  ['the layer', new RegExp(`/blobs/${img.layerDigest}$`)],
  ['the config', new RegExp(`/blobs/${img.configDigest}$`)],
] as const) {
  t.test(`a mirror serving wrong bytes for ${what} is marked down, and the next pull does not ask it`, async (t) => {
    const p = await startFaultProxy(a.host, [{ path, fault: 'corrupt' }]);
    t.teardown(() => p.close());
    const key = `insecure://${p.host}`;
    const first = await pull([src(p.host), src(b.host, 'primary')]);
    t.equal(first.digest, D, 'the image came whole from the next source');
    t.match(first.attempts, [{ source: `${p.host}/app@${D}`, error: /content is sha256:[0-9a-f]{64}, not sha256:/ }]);
    t.match(first.health[key], { failures: 1, lastFailure: { class: 'protocol' } }, 'its endpoint is recorded as failed');
    t.equal(healthState(first.health[key], Date.now()), 'down', 'and marked down');
    // the config comes first: had the layer been asked of the same mirror, its success would have cleared the mark
    if (what === 'the config')
      t.notOk(
        p.hits.some((h) => h.includes(img.layerDigest)),
        'the layer was not asked of it in the same pull',
      );

    const asked = p.hits.length;
    const second = await pull([src(p.host), src(b.host, 'primary')], first.health);
    t.equal(second.manifestFrom, `${b.host}/app@${D}`);
    t.same(second.skipped, [`${p.host}/app@${D}`], 'the mirror is skipped while down');
    t.equal(p.hits.length, asked, 'and not contacted at all');
  });
}

t.test("a tag's manifest is whatever the source says: one that is no image manifest fails that source, not its endpoint's health", async (t) => {
  // the same corruption (the last byte flipped), but by tag there is no digest to miss: the bytes are just not JSON
  const p = await startFaultProxy(a.host, [{ path: /\/manifests\/v1$/, fault: 'corrupt' }]);
  t.teardown(() => p.close());
  const r = await pull([src(p.host, 'mirror', 'app:v1'), src(b.host, 'primary', 'app:v1')]);
  t.equal(r.manifestFrom, `${b.host}/app:v1`);
  t.match(r.attempts, [{ source: `${p.host}/app:v1`, error: /the manifest is not JSON/ }]);
  t.same(r.health[`insecure://${p.host}`], undefined, 'a content error says nothing about the endpoint');
});
