/**
 * Pulling through ordered sources from real docker-registry processes on 127.0.0.1,
 * with fault makers only where a real registry cannot fail on demand.
 */
import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, PullError, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { recordFailure, type HealthMap } from '../../../src/health/health.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { harnessSource, registryFor } from '../../helpers/registry.js';
import { skopeo } from '../../helpers/skopeo.js';
import { refusingHost, startFaultProxy, startSilentListener } from '../../helpers/fault-proxy.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-pull-'));
const [a, b] = await Promise.all([registryFor(t), registryFor(t)]);
const img = await buildImage(join(work, 'img'), { content: 'pull me', tag: 'v1' });
await Promise.all([pushImage(img, `${a.host}/app:v1`), pushImage(img, `${b.host}/app:v1`)]);
const D = img.manifestDigest;

const src = (host: string, role: PullSource['role'] = 'mirror', ref = `app@${D}`): PullSource => harnessSource(`${host}/${ref}`, role);
const dest = (): string => mkdtempSync(join(work, 'dest-'));
const fast = { connectMs: 1000, headersMs: 1500, bodyIdleMs: 1500 };

t.test('a digest pull writes a verified OCI layout that skopeo reads, and says who served what', async (t) => {
  const d = dest();
  const r = await pullImage([src(a.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log });
  t.equal(r.digest, D);
  t.equal(r.verified, true);
  t.equal(r.manifestFrom, `${a.host}/app@${D}`);
  t.same(
    r.blobs.map((x) => x.from),
    [`${a.host}/app@${D}`, `${a.host}/app@${D}`],
  );
  t.same(
    r.blobs.map((x) => x.digest),
    [img.configDigest, img.layerDigest],
  );
  t.equal(readFileSync(join(d, 'blobs', 'sha256', D.slice(7))).toString(), img.manifest.toString());
  const inspect = await skopeo(['inspect', `oci:${d}`]);
  t.equal(inspect.code, 0, inspect.stderr);
  t.match(JSON.parse(inspect.stdout), { Digest: D });
  writeFileSync(join(work, 'policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const copied = join(work, 'copied');
  const copy = await skopeo(['copy', '--policy', join(work, 'policy.json'), `oci:${d}`, `dir:${copied}`]);
  t.equal(copy.code, 0, copy.stderr);
  t.equal(readFileSync(join(copied, 'manifest.json')).toString(), img.manifest.toString(), 'skopeo copy oci:DIR reads the layout back byte for byte');
});

t.test('a refused endpoint falls through, is recorded as down, and the next pull skips it', async (t) => {
  const dead = await refusingHost();
  const first = await pullImage([src(dead), src(a.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(first.manifestFrom, `${a.host}/app@${D}`);
  const key = `insecure://${dead}`;
  t.match(first.health[key], { failures: 1, lastFailure: { class: 'refused' } });
  const second = await pullImage([src(dead), src(a.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: first.health, log });
  t.same(second.skipped, [`${dead}/app@${D}`], 'not contacted again while down');
  t.same(second.attempts, []);
});

t.test('a source the health cache marks down is still tried, last, when every other source failed', async (t) => {
  const dead = await refusingHost();
  const downKey = `insecure://${a.host}`;
  const health: HealthMap = { [downKey]: recordFailure(undefined, downKey, 'refused', 'was down a moment ago', Date.now()) };
  // a (recovered, but still marked down) is listed first: it is tried only after the dead primary failed
  const r = await pullImage([src(a.host), src(dead, 'primary')], { dest: dest(), platform: hostPlatform(), health, log });
  t.equal(r.manifestFrom, `${a.host}/app@${D}`, 'the recovered mirror served as a last resort');
  t.same(
    r.attempts.map((x) => x.source),
    [`${dead}/app@${D}`],
    'the sources not marked down came first',
  );
  t.same(r.skipped, [], 'it was contacted, so not skipped');
  t.equal(r.health[downKey]?.failures, 0, 'and its success clears the mark');
  t.equal(r.health[downKey]?.downUntil, undefined);

  const dead2 = await refusingHost();
  const down2 = `insecure://${dead2}`;
  const err = await pullImage([src(dead2), src(dead, 'primary')], {
    dest: dest(),
    platform: hostPlatform(),
    health: { [down2]: recordFailure(undefined, down2, 'refused', 'x', Date.now()) },
    log,
  }).catch((e: unknown) => e);
  t.ok(err instanceof PullError);
  t.same(
    (err as PullError).attempts.map((x) => x.source),
    [`${dead}/app@${D}`, `${dead2}/app@${D}`],
    'the failure report lists the attempts in the order they were made: the down one last',
  );
});

t.test('blob fallback: an endpoint that failed earlier in the same pull is not asked again; one the cache marks down is, last', async (t) => {
  const dead = await refusingHost();
  const p = await startFaultProxy(a.host, [{ path: new RegExp(`/blobs/${img.layerDigest}`), fault: 'status-500' }]);
  t.teardown(() => p.close());
  const r = await pullImage([src(dead), src(p.host), src(b.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(r.blobs.find((x) => x.digest === img.layerDigest)?.from, `${b.host}/app@${D}`);
  t.same(
    r.attempts.map((x) => x.source),
    [`${dead}/app@${D}`, `${p.host}/app@${D}`],
    'the dead mirror once (manifest), the 500 once (layer)',
  );

  const bKey = `insecure://${b.host}`;
  const cached: HealthMap = { [bKey]: recordFailure(undefined, bKey, 'refused', 'x', Date.now()) };
  const r2 = await pullImage([src(p.host), src(b.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: cached, log });
  t.equal(
    r2.blobs.find((x) => x.digest === img.layerDigest)?.from,
    `${b.host}/app@${D}`,
    'the layer came from the source the cache marks down, as a last resort',
  );
});

t.test('a hung endpoint costs its deadline once: the second pull does not contact it', async (t) => {
  const hung = await startSilentListener();
  t.teardown(() => hung.close());
  const s = { ...src(hung.host), endpoint: { host: hung.host, insecure: false } };
  const first = await pullImage([s, src(a.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log, timeouts: fast });
  t.equal(first.manifestFrom, `${a.host}/app@${D}`);
  t.match(Object.values(first.health).find((h) => h.endpoint.includes(hung.host))?.lastFailure?.class, /headers-timeout|tls|connect-timeout/);
  const before = hung.connections();
  const second = await pullImage([s, src(a.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: first.health, log, timeouts: fast });
  t.equal(second.manifestFrom, `${a.host}/app@${D}`);
  t.equal(hung.connections(), before, 'no new connection to the hung endpoint');
});

t.test('a manifest with the wrong digest is rejected and the next source serves', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: /\/manifests\//, fault: 'corrupt' }]);
  t.teardown(() => p.close());
  const d = dest();
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log });
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.match(r.attempts, [{ source: `${p.host}/app@${D}`, error: /content is sha256:[0-9a-f]+, not sha256:/ }]);
});

t.test('blob-level fallback: a blob that fails from the manifest source comes from the next source', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: new RegExp(`/blobs/${img.layerDigest}`), fault: 'status-500' }]);
  t.teardown(() => p.close());
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(r.manifestFrom, `${p.host}/app@${D}`);
  const layer = r.blobs.find((x) => x.digest === img.layerDigest);
  t.equal(layer?.from, `${b.host}/app@${D}`);
});

t.test('a corrupted blob is never kept: nothing unverified in the layout, the next source serves it', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: new RegExp(`/blobs/${img.layerDigest}`), fault: 'corrupt' }]);
  t.teardown(() => p.close());
  const d = dest();
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: d, platform: hostPlatform(), health: {}, log });
  t.equal(r.blobs.find((x) => x.digest === img.layerDigest)?.from, `${b.host}/app@${D}`);
  t.same(
    readdirSync(join(d, 'blobs', 'sha256')).filter((n) => n.includes('.partial')),
    [],
    'no partial file left',
  );
});

t.test('when every source fails, the pull fails with every attempt and nothing unverified is written', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: /\/blobs\//, fault: 'corrupt' }]);
  t.teardown(() => p.close());
  const d = dest();
  const err = await pullImage([src(p.host)], { dest: d, platform: hostPlatform(), health: {}, log }).catch((e: unknown) => e);
  t.ok(err instanceof PullError);
  t.match((err as PullError).message, /no source served blob/);
  t.notOk(existsSync(join(d, 'index.json')), 'no index.json: the layout is not an image');
  const leftovers = existsSync(join(d, 'blobs', 'sha256')) ? readdirSync(join(d, 'blobs', 'sha256')) : [];
  t.notOk(leftovers.includes(img.layerDigest.slice(7)), 'the corrupt layer is not there');
});

t.test('blocked sources are never contacted; a tag pull reports an unverified digest', async (t) => {
  const p = await startFaultProxy(a.host, []);
  t.teardown(() => p.close());
  const blocked = { ...src(p.host, 'primary', 'app:v1'), blocked: true };
  const r = await pullImage([src(b.host, 'mirror', 'app:v1'), blocked], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(r.verified, false);
  t.equal(r.digest, D);
  t.same(p.hits, [], 'the blocked source saw no request');
});

t.test('an endless manifest body stops at the size limit and the next source serves', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: /\/manifests\//, fault: 'endless' }]);
  t.teardown(() => p.close());
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log, timeouts: fast });
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.match(r.attempts[0]?.error, /larger than 4194304 bytes/);
});

t.test('TLS with a CA from --cert-dir and basic auth from an auth file; no credentials → refused, not unhealthy', async (t) => {
  const { makeHtpasswd, makeSelfSignedCert } = await import('../../helpers/registry.js');
  const dir = mkdtempSync(join(work, 'tls-'));
  const tls = await makeSelfSignedCert(dir);
  const secret = 'pull-secret-7f3a';
  const htpasswdFile = await makeHtpasswd(join(dir, 'htpasswd'), 'puller', secret);
  const reg = await registryFor(t, { tls: { certFile: tls.certFile, keyFile: tls.keyFile }, htpasswdFile });
  await pushImage(img, `${reg.host}/secure/app:v1`, { tlsVerify: true, certDir: tls.certDir, creds: `puller:${secret}` });
  const authFile = join(dir, 'auth.json');
  writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from(`puller:${secret}`).toString('base64') } } }));
  const s: PullSource = { reference: `${reg.host}/secure/app@${D}`, endpoint: { host: reg.host, insecure: false }, role: 'primary', blocked: false };
  const r = await pullImage([s], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir: tls.certDir, authFile });
  t.equal(r.manifestFrom, s.reference);
  const denied = await pullImage([s], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    certDir: tls.certDir,
    authFile: join(dir, 'none.json'),
  }).catch((e: unknown) => e as PullError);
  t.ok(denied instanceof PullError);
  t.match((denied as PullError).attempts[0]?.error, /401|cannot read auth file/);
  const untrusted = await pullImage([s], { dest: dest(), platform: hostPlatform(), health: {}, log, authFile }).catch((e: unknown) => e as PullError);
  t.ok(untrusted instanceof PullError, 'without the CA the certificate is not trusted');
  t.match(Object.values((untrusted as PullError).health)[0]?.lastFailure, { class: 'tls' });
  t.notMatch(JSON.stringify([r, denied, untrusted, (denied as PullError).attempts]), secret, 'the password appears in no report');
});

t.test('429 is honoured with a bounded wait, then the same source serves', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: /\/manifests\//, fault: 'status-429-once' }]);
  t.teardown(() => p.close());
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(r.manifestFrom, `${p.host}/app@${D}`, 'served by the throttling source after its Retry-After');
  t.same(r.attempts, []);
  t.equal(p.hits.filter((h) => h.includes('/manifests/')).length, 2, 'asked twice: once throttled, once served');
});

t.test('429 asking for a longer wait than a pull gives is not waited for: the next source serves, the mirror counts as unhealthy', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: /\/manifests\//, fault: 'status-429-far' }]);
  t.teardown(() => p.close());
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.equal(p.hits.filter((h) => h.includes('/manifests/')).length, 1, 'asked once: a Retry-After of 999999 s is not honoured, nor retried sooner');
  t.match(r.attempts, [{ source: `${p.host}/app@${D}`, error: /429 too many requests \(Retry-After: 999999\); not waiting longer/ }]);
  const h = r.health[`insecure://${p.host}`];
  t.match(h, { failures: 1, lastFailure: { class: 'throttled' } });
  t.ok(h?.downUntil !== undefined, 'marked down: the next pulls try the others first');
});

t.test('a mirror that keeps answering 429 is retried a bounded number of times, then counts as unhealthy', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: /\/manifests\//, fault: 'status-429-always' }]);
  t.teardown(() => p.close());
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.equal(p.hits.filter((h) => h.includes('/manifests/')).length, 3, 'asked three times: two retries');
  t.match(r.health[`insecure://${p.host}`], { lastFailure: { class: 'throttled' } });
});

t.test('a redirect loop is cut off and the next source serves', async (t) => {
  const p = await startFaultProxy(a.host, [{ path: /\/manifests\//, fault: 'redirect-loop' }]);
  t.teardown(() => p.close());
  const r = await pullImage([src(p.host), src(b.host, 'primary')], { dest: dest(), platform: hostPlatform(), health: {}, log });
  t.equal(r.manifestFrom, `${b.host}/app@${D}`);
  t.match(r.attempts[0]?.error, /more than 5 redirects/);
});

t.test('a hung endpoint costs its deadline once within a pull too: a second mirror on it is passed over', async (t) => {
  const hung = await startSilentListener();
  t.teardown(() => hung.close());
  const on = (ref: string): PullSource => ({ ...src(hung.host, 'mirror', ref), endpoint: { host: hung.host, insecure: false } });
  const r = await pullImage([on(`proxy/app@${D}`), on(`group/app@${D}`), src(a.host, 'primary')], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    timeouts: fast,
  });
  t.equal(r.manifestFrom, `${a.host}/app@${D}`);
  t.same(
    r.attempts.map((x) => x.source),
    [`${hung.host}/proxy/app@${D}`, `${hung.host}/group/app@${D}`],
  );
  t.match(r.attempts[1]?.error, /not asked: .* did not answer earlier in this pull/, 'the second is not asked');
  t.equal(hung.connections(), 1, 'one connection to the hung endpoint in all');
});
