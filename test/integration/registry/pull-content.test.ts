/**
 * Content errors are the source's failure, never the pull's end: a manifest naming a
 * malformed digest (it would become a file name and a URL path), or one that is not an
 * image manifest at all, fails that source and the next one serves. And a layer declared
 * absurdly large fails on its size, not through a timer overflow.
 * The bad mirror is a directory served by python3's http.server (test/helpers/static-registry.ts),
 * the good one a real docker-registry.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { blobDeadlineMs, DEFAULT_TIMEOUTS } from '../../../src/registry/client.js';
import { pullImage, PullError, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { buildImage, pushImage, sha256 } from '../../helpers/oci-image.js';
import { harnessSource, registryFor } from '../../helpers/registry.js';
import { layOutImage, startStaticRegistry } from '../../helpers/static-registry.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-content-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
const good = await registryFor(t);
const img = await buildImage(join(work, 'img'), { content: 'content errors', tag: 'v1' });
await pushImage(img, `${good.host}/app:v1`);

/** The image's manifest with `change` applied to its JSON. */
const edited =
  (change: (m: { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number }> }) => unknown) =>
  (bytes: Buffer): Buffer => {
    const m = JSON.parse(bytes.toString('utf8')) as Parameters<typeof change>[0];
    const out = change(m);
    return Buffer.from(typeof out === 'string' ? out : JSON.stringify(m));
  };
const www = join(work, 'www');
await layOutImage(
  www,
  'bad-config',
  img,
  edited((m) => void (m.config.digest = 'sha256/../../x')),
);
await layOutImage(
  www,
  'bad-layer',
  img,
  edited((m) => void (m.layers[0]!.digest = 'sha256:../../x')),
);
await layOutImage(
  www,
  'short-hex',
  img,
  edited((m) => void (m.layers[0]!.digest = 'sha256:abc')),
);
await layOutImage(
  www,
  'bad-size',
  img,
  edited((m) => void (m.layers[0]!.size = -1)),
);
await layOutImage(
  www,
  'not-json',
  img,
  edited(() => '{"schemaVersion": 2, "config": '),
);
await layOutImage(
  www,
  'no-layers',
  img,
  edited(() => '{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'),
);
await layOutImage(
  www,
  'huge-layer',
  img,
  edited((m) => void (m.layers[0]!.size = 10 ** 12)),
);
const bad = await startStaticRegistry(www);
t.teardown(() => bad.close());
const dest = (): string => mkdtempSync(join(work, 'dest-'));
const src = (host: string, ref: string, role: PullSource['role'] = 'mirror'): PullSource => harnessSource(`${host}/${ref}`, role);

for (const [repo, why] of [
  ['bad-config', /unsupported digest "sha256\/\.\.\/\.\.\/x"/],
  ['bad-layer', /unsupported digest "sha256:\.\.\/\.\.\/x"/],
  ['short-hex', /unsupported digest "sha256:abc"/],
  ['bad-size', /layer 1 sha256:[0-9a-f]{64}: size -1 is not a whole number of bytes/],
  ['not-json', /the manifest is not JSON/],
  ['no-layers', /the manifest has no config or layers/],
] as const) {
  t.test(`a tag pull whose mirror serves a manifest with ${repo} fails that source only; the next serves`, async (t) => {
    const d = dest();
    const r = await pullImage([src(bad.host, `${repo}:v1`), src(good.host, 'app:v1', 'primary')], { dest: d, platform: hostPlatform(), health: {}, log });
    t.equal(r.manifestFrom, `${good.host}/app:v1`);
    t.equal(r.digest, img.manifestDigest);
    t.match(r.attempts, [{ source: `${bad.host}/${repo}:v1`, error: why }]);
    t.same(r.health[`insecure://${bad.host}`], undefined, "a content error says nothing about the endpoint's health");
    t.same(
      readdirSync(join(d, 'blobs', 'sha256')).sort(),
      [img.configDigest, img.layerDigest, img.manifestDigest].map((x) => x.slice(7)).sort(),
      'nothing else in the layout',
    );
    t.notOk(existsSync(join(d, '..', 'x')), 'nothing written outside it');
  });
}

t.test('a digest pull of a manifest with a malformed digest fails as a pull error naming the source, not an internal error', async (t) => {
  const bytes = edited((m) => void (m.layers[0]!.digest = 'sha256:../../x'))(img.manifest);
  await layOutImage(www, 'pinned', { ...img, manifest: bytes, manifestDigest: sha256(bytes) });
  const err = await pullImage([src(bad.host, `pinned@${sha256(bytes)}`)], { dest: dest(), platform: hostPlatform(), health: {}, log }).catch((e: unknown) => e);
  t.ok(err instanceof PullError, String(err));
  t.match((err as PullError).attempts, [{ source: `${bad.host}/pinned@${sha256(bytes)}`, error: /unsupported digest/ }]);
  t.same((err as PullError).health, {}, "the manifest is the one asked for: its descriptor is the content's fault, not the endpoint's");
});

t.test('a layer declared at 10^12 bytes fails on its size, with no timer overflow', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const err = await pullImage([src(bad.host, 'huge-layer:v1'), src(good.host, 'app:v1', 'primary')], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
  }).catch((e: unknown) => e);
  t.ok(err instanceof PullError, 'no source has a layer of that size');
  const errors = (err as PullError).attempts.map((a) => a.error);
  t.match(
    errors,
    [/has \d+ bytes, its descriptor says 1000000000000/, /has \d+ bytes, its descriptor says 1000000000000/],
    'each source was read to its end and refused for the size',
  );
  t.notMatch(errors.join('\n'), /not complete after/);
  t.same(
    Object.values((err as PullError).health).filter((h) => h.failures > 0),
    [],
    "each blob hashed to its digest: the descriptor's size is what is wrong, no endpoint is recorded as failed",
  );
  await new Promise((r) => setImmediate(r));
  t.same(
    warnings.filter((w) => /TimeoutOverflow/.test(w)),
    [],
  );
});

t.test('the blob deadline stays within what a timer can wait', async (t) => {
  t.equal(blobDeadlineMs(DEFAULT_TIMEOUTS, 10 ** 12), 2 ** 31 - 1);
  t.equal(blobDeadlineMs(DEFAULT_TIMEOUTS, Number.MAX_SAFE_INTEGER), 2 ** 31 - 1);
  t.equal(blobDeadlineMs(DEFAULT_TIMEOUTS, 32 * 1024), DEFAULT_TIMEOUTS.bodyIdleMs + 1000, 'an ordinary blob: the idle timeout plus its size at 32 KiB/s');
});
