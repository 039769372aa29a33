/**
 * Blob redirects to another origin (object storage): credentials stay with the registry,
 * and a redirect that would leave TLS is refused. A real docker-registry with htpasswd
 * auth sits behind a redirecting front; the "storage" records what it was sent.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, PullError, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { makeHtpasswd, makeSelfSignedCert, registryFor } from '../../helpers/registry.js';
import { listenLocal } from '../../helpers/local-server.js';
import { startBlobStore, startRedirectingFront } from '../../helpers/redirect-front.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-redirect-'));
const secret = 'redirect-secret-91c2';
const htpasswdFile = await makeHtpasswd(join(work, 'htpasswd'), 'puller', secret);
const basic = `Basic ${Buffer.from(`puller:${secret}`).toString('base64')}`;
const reg = await registryFor(t, { htpasswdFile });
const img = await buildImage(join(work, 'img'), { content: 'redirected blobs', tag: 'v1' });
await pushImage(img, `${reg.host}/app:v1`, { creds: `puller:${secret}` });
const D = img.manifestDigest;
const dest = (): string => mkdtempSync(join(work, 'dest-'));

t.test('blobs redirected to another origin are fetched without the Authorization header', async (t) => {
  const store = await startBlobStore(reg.host, basic);
  const front = await startRedirectingFront(reg.host, store);
  t.teardown(() => Promise.all([front.close(), store.close()]));
  const authFile = join(work, 'auth.json');
  writeFileSync(authFile, JSON.stringify({ auths: { [front.host]: { auth: Buffer.from(`puller:${secret}`).toString('base64') } } }));
  const s: PullSource = { reference: `${front.host}/app@${D}`, endpoint: { host: front.host, insecure: true }, role: 'primary', blocked: false };
  const d = dest();
  const r = await pullImage([s], { dest: d, platform: hostPlatform(), health: {}, log, authFile });
  t.same(
    r.blobs.map((b) => b.digest),
    [img.configDigest, img.layerDigest],
  );
  t.equal(readFileSync(join(d, 'blobs', 'sha256', img.layerDigest.slice(7))).length, r.blobs[1]?.size);
  const redirected = front.requests.filter((q) => q.url.includes('/blobs/'));
  t.equal(redirected.length, 2, 'both blob GETs went to the registry first');
  t.ok(
    redirected.every((q) => q.headers.authorization === basic),
    'with the credentials (same origin as the registry)',
  );
  t.equal(store.requests.length, 2, 'then to the storage origin');
  t.same(
    store.requests.map((q) => q.headers.authorization),
    [undefined, undefined],
    'without any Authorization header',
  );
  t.ok(
    store.requests.every((q) => q.url.includes('X-Signature=test')),
    'the redirect URL is followed as given (query kept)',
  );
});

t.test('a redirect from https to http is refused, and the http origin never contacted', async (t) => {
  const tls = await makeSelfSignedCert(mkdtempSync(join(work, 'tls-')));
  const store = await startBlobStore(reg.host, basic);
  const front = await startRedirectingFront(reg.host, store, { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) });
  t.teardown(() => Promise.all([front.close(), store.close()]));
  const authFile = join(work, 'auth-tls.json');
  writeFileSync(authFile, JSON.stringify({ auths: { [front.host]: { auth: Buffer.from(`puller:${secret}`).toString('base64') } } }));
  const s: PullSource = { reference: `${front.host}/app@${D}`, endpoint: { host: front.host, insecure: false }, role: 'primary', blocked: false };
  const err = await pullImage([s], { dest: dest(), platform: hostPlatform(), health: {}, log, authFile, certDir: tls.certDir }).catch((e: unknown) => e);
  t.ok(err instanceof PullError, 'the pull fails: the only source redirects its blobs off TLS');
  t.match((err as PullError).attempts[0]?.error, new RegExp(`redirect from https://${front.host} to ${store.origin} refused: it would leave TLS`));
  t.same(store.requests, [], 'the plain-http origin saw nothing');
  t.notMatch(JSON.stringify((err as PullError).attempts), secret);
});

t.test("a 401 challenge from the redirect's target is not answered with the registry's credentials", async (t) => {
  // "Storage" that asks for a token from a service it names: the registry's user and password must not go there.
  const requests: string[] = [];
  const storage = await listenLocal((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
    if ((req.url ?? '').startsWith('/token')) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"stolen"}');
    res.writeHead(401, { 'www-authenticate': `Bearer realm="http://127.0.0.1:${storage.port}/token",service="storage"` }).end();
  });
  const store = { host: `127.0.0.1:${storage.port}`, origin: `http://127.0.0.1:${storage.port}`, requests: [], close: storage.close };
  const front = await startRedirectingFront(reg.host, store);
  t.teardown(() => Promise.all([front.close(), storage.close()]));
  const authFile = join(work, 'auth-401.json');
  writeFileSync(authFile, JSON.stringify({ auths: { [front.host]: { auth: Buffer.from(`puller:${secret}`).toString('base64') } } }));
  const s: PullSource = { reference: `${front.host}/app@${D}`, endpoint: { host: front.host, insecure: true }, role: 'primary', blocked: false };
  const err = await pullImage([s], { dest: dest(), platform: hostPlatform(), health: {}, log, authFile }).catch((e: unknown) => e);
  t.ok(err instanceof PullError, 'the pull fails: its only source sends its blobs where a token is asked for');
  t.same(
    requests.filter((r) => r.includes('/token')),
    [],
    'the token service the storage named was never asked',
  );
  t.ok(
    requests.every((r) => r.endsWith(' -')),
    'the storage saw no Authorization header',
  );
  t.match(
    (err as PullError).attempts[0]?.error,
    new RegExp(`${store.origin} \\(redirected to from .*\\): 401 unauthorized; not answered with ${front.host}'s credentials`),
  );
});
