/**
 * Hostile mirrors (the ones test/registry/pull.test.ts does not already cover): a mirror that
 * serves another image's manifest for a digest, declares an oversized manifest, sends a blob
 * that never ends, trickles its response headers (slowloris) or its body (never idle), or
 * redirects from https to plain http. Each is refused within its deadline, the next source
 * serves the pull, and the layout holds nothing unverified: every blob file hashes to its
 * name, no partial files.
 * Real docker-registry processes behind fault makers (test/helpers/fault-proxy.ts).
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, PullError, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { MAX_MANIFEST_BYTES } from '../../../src/registry/pull.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { harnessSource, makeSelfSignedCert, registryFor } from '../../helpers/registry.js';
import { startFaultProxy, startHostileProxy, startTlsRedirector } from '../../helpers/fault-proxy.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-hostile-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
const [a, b] = await Promise.all([registryFor(t), registryFor(t)]);
const img = await buildImage(join(work, 'img'), { content: 'the image we want', tag: 'v1' });
const other = await buildImage(join(work, 'other'), { content: 'some other image', tag: 'v1' });
await Promise.all([pushImage(img, `${a.host}/app:v1`), pushImage(img, `${b.host}/app:v1`), pushImage(other, `${a.host}/app:other`)]);
const D = img.manifestDigest;

const src = (host: string, role: PullSource['role'] = 'mirror', ref = `app@${D}`): PullSource => harnessSource(`${host}/${ref}`, role);
const dest = (): string => mkdtempSync(join(work, 'dest-'));
/** Short deadlines, so that each case costs seconds; a deadline is what is tested, not speed. */
const timeouts = { connectMs: 1000, headersMs: 1500, bodyIdleMs: 1500 };
/** A pull that took longer than its deadlines by this much would be a hang, not a deadline. */
const HANG_MS = 20_000;

/** Nothing unverified in a layout: every blob file hashes to its own name; no temp or partial file anywhere. */
function assertVerifiedLayout(t: Pick<typeof import('tap').default, 'equal' | 'same'>, d: string): void {
  const blobs = join(d, 'blobs', 'sha256');
  for (const name of existsSync(blobs) ? readdirSync(blobs) : []) {
    const bytes = readFileSync(join(blobs, name));
    t.equal(createHash('sha256').update(bytes).digest('hex'), name, `blobs/sha256/${name.slice(0, 12)}… hashes to its name`);
  }
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [e.name]));
  t.same(
    walk(d).filter((n) => n.startsWith('.') || /partial|\.tmp$/.test(n)),
    [],
    'no temp or partial file left',
  );
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

t.test("a mirror serving another image's (valid) manifest for the digest is refused; the next source serves", async (t) => {
  const p = await startHostileProxy(a.host, [
    { path: new RegExp(`/manifests/${D}`), fault: 'redirect-to', location: () => `/v2/app/manifests/${other.manifestDigest}` },
  ]);
  t.teardown(() => p.close());
  const d = dest();
  const { value: r } = await timed(() => pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log, timeouts }));
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.match(r.attempts, [{ source: `${p.host}/app@${D}`, error: new RegExp(`content is ${other.manifestDigest}, not ${D}`) }]);
  t.notOk(existsSync(join(d, 'blobs', 'sha256', other.manifestDigest.slice(7))), 'the other manifest is not kept');
  t.notOk(existsSync(join(d, 'blobs', 'sha256', other.layerDigest.slice(7))), 'nor its layer');
  assertVerifiedLayout(t, d);
});

t.test('a manifest declared larger than 4 MiB is refused on its Content-Length, without waiting for the body', async (t) => {
  const p = await startHostileProxy(a.host, [{ path: /\/manifests\//, fault: 'oversized-declared' }]);
  t.teardown(() => p.close());
  const d = dest();
  const { value: r, ms } = await timed(() =>
    pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log, timeouts }),
  );
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.match(r.attempts[0]?.error, new RegExp(`manifest of ${64 * 1024 * 1024} bytes is larger than the ${MAX_MANIFEST_BYTES} allowed`));
  t.ok(ms < timeouts.bodyIdleMs + HANG_MS, `done in ${Math.round(ms)} ms: the body was never waited for`);
  assertVerifiedLayout(t, d);
});

t.test('slowloris headers (a byte every 100 ms, never finished) hit the headers deadline; the next source serves', async (t) => {
  const p = await startHostileProxy(a.host, [{ path: /\/manifests\//, fault: 'slow-headers' }]);
  t.teardown(() => p.close());
  const d = dest();
  const { value: r, ms } = await timed(() =>
    pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log, timeouts }),
  );
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.equal(r.attempts.length, 1);
  t.match(
    Object.values(r.health).find((h) => h.endpoint.includes(p.host))?.lastFailure,
    { class: 'headers-timeout' },
    'refused by the headers deadline, and the mirror marked down for it',
  );
  t.ok(ms < timeouts.headersMs + HANG_MS, `done in ${Math.round(ms)} ms although the headers never stopped coming`);
  assertVerifiedLayout(t, d);
});

t.test("a blob body that never ends is cut off at the blob's size and never kept; the next source serves the blob", async (t) => {
  const p = await startHostileProxy(a.host, [{ path: new RegExp(`/blobs/${img.layerDigest}`), fault: 'endless-blob' }]);
  t.teardown(() => p.close());
  const d = dest();
  const { value: r, ms } = await timed(() =>
    pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log, timeouts }),
  );
  t.equal(r.manifestFrom, `${p.host}/app@${D}`, 'the manifest came from the hostile mirror (it is verified)');
  t.equal(r.blobs.find((x) => x.digest === img.layerDigest)?.from, `${b.host}/app@${D}`, 'the layer came from the next source');
  t.match(r.attempts.map((x) => x.error).join('\n'), /size|larger|more than|bytes/, 'the endless blob was refused for its size');
  t.ok(ms < timeouts.bodyIdleMs + HANG_MS, `done in ${Math.round(ms)} ms`);
  assertVerifiedLayout(t, d);
});

t.test('a redirect from https to plain http is refused, the http target never asked; the next source serves', async (t) => {
  const dir = mkdtempSync(join(work, 'tls-'));
  const tls = await makeSelfSignedCert(dir);
  const plain = await startFaultProxy(a.host, []); // the http server the redirect points at (it would serve the real image)
  t.teardown(() => plain.close());
  const redirector = await startTlsRedirector(tls, (path) => `http://${plain.host}${path}`);
  t.teardown(() => redirector.close());
  const d = dest();
  const hostile: PullSource = {
    reference: `${redirector.host}/app@${D}`,
    endpoint: { host: redirector.host, insecure: false },
    role: 'mirror',
    blocked: false,
  };
  const { value: r, ms } = await timed(() =>
    pullImage([hostile, src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log, timeouts, certDir: tls.certDir }),
  );
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.match(r.attempts[0]?.error, /redirect from https:\/\/127\.0\.0\.1:\d+ to http:\/\/127\.0\.0\.1:\d+ refused: it would leave TLS/);
  t.ok(
    redirector.hits.some((h) => h.includes('/manifests/')),
    'the https mirror was asked',
  );
  t.same(plain.hits, [], 'the plain-http target saw no request');
  t.ok(ms < timeouts.headersMs + HANG_MS, `done in ${Math.round(ms)} ms`);
  assertVerifiedLayout(t, d);
});

t.test('when the only source is hostile, the pull fails and writes nothing unverified', async (t) => {
  const p = await startHostileProxy(a.host, [{ path: /\/blobs\//, fault: 'endless-blob' }]);
  t.teardown(() => p.close());
  const d = dest();
  const err = await pullImage([src(p.host)], { dest: d, platform: hostPlatform(), health: {}, log, timeouts }).catch((e: unknown) => e);
  t.ok(err instanceof PullError, 'the pull fails');
  t.notOk(existsSync(join(d, 'index.json')), 'no index.json: the layout is not an image');
  assertVerifiedLayout(t, d);
});

t.test('a manifest body trickled a byte every 100 ms (never idle) is cut off by its overall deadline; the next source serves', async (t) => {
  const p = await startHostileProxy(a.host, [{ path: /\/manifests\//, fault: 'trickle-body' }]);
  t.teardown(() => p.close());
  const d = dest();
  const { value: r, ms } = await timed(() =>
    pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log, timeouts }),
  );
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.match(r.attempts[0]?.error, /manifest not complete after \d+ s in all/);
  t.ok(ms < timeouts.bodyIdleMs + HANG_MS, `done in ${Math.round(ms)} ms although the body never went idle`);
  assertVerifiedLayout(t, d);
});

t.test('a blob body trickled a byte every 100 ms is cut off by its overall deadline; the next source serves the blob', async (t) => {
  const p = await startHostileProxy(a.host, [{ path: new RegExp(`/blobs/${img.layerDigest}`), fault: 'trickle-body' }]);
  t.teardown(() => p.close());
  const d = dest();
  const { value: r, ms } = await timed(() =>
    pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log, timeouts }),
  );
  t.equal(r.blobs.find((x) => x.digest === img.layerDigest)?.from, `${b.host}/app@${D}`, 'the layer came from the next source');
  t.match(
    r.attempts.map((x) => x.error),
    [new RegExp(`^blob ${img.layerDigest} not complete after \\d+ s in all \\(a trickling source\\)$`)],
    'named once',
  );
  t.ok(ms < timeouts.bodyIdleMs + HANG_MS, `done in ${Math.round(ms)} ms`);
  assertVerifiedLayout(t, d);
});

t.test('a mirror dying in the middle of a blob: the failure names the blob, the next source serves it', async (t) => {
  const p = await startHostileProxy(a.host, [{ path: new RegExp(`/blobs/${img.layerDigest}`), fault: 'truncate-close' }]);
  t.teardown(() => p.close());
  const d = dest();
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log, timeouts });
  t.equal(r.blobs.find((x) => x.digest === img.layerDigest)?.from, `${b.host}/app@${D}`, 'the layer came from the next source');
  t.same(
    r.attempts.map((x) => x.error.replace(/: .*/, ': …')),
    [`blob ${img.layerDigest}: …`],
    `one failure, naming the blob: ${r.attempts.map((x) => x.error).join('; ')}`,
  );
  assertVerifiedLayout(t, d);
});
