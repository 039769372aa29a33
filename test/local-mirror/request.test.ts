import t from 'tap';
import { accepts, acceptsManifest, errorBody, isRefusal, parseRange, routeRequest, MAX_TARGET_LENGTH } from '../../src/local-mirror/request.js';

const D = `sha256:${'a'.repeat(64)}`;

t.test('the read routes', async (t) => {
  t.same(routeRequest('GET', '/v2/'), { kind: 'base' });
  t.same(routeRequest('GET', '/v2'), { kind: 'base' });
  t.same(routeRequest('GET', '/v2/mirror-policyd/0123456789abcdef0123/ns/app/manifests/v1.2'), {
    kind: 'manifest',
    name: 'mirror-policyd/0123456789abcdef0123/ns/app',
    reference: 'v1.2',
    byDigest: false,
  });
  t.same(routeRequest('HEAD', `/v2/a/b/manifests/${D}`), { kind: 'manifest', name: 'a/b', reference: D, byDigest: true });
  t.same(routeRequest('GET', `/v2/a/blobs/${D}?ns=docker.io`), { kind: 'blob', name: 'a', digest: D }, 'a query string is ignored');
  const d384 = `sha384:${'a'.repeat(96)}`;
  t.same(routeRequest('GET', `/v2/a/blobs/${d384}`), { kind: 'blob', name: 'a', digest: d384 }, 'every algorithm a reference may name');
});

t.test('write methods and write or list routes are 405 with distribution error JSON', async (t) => {
  for (const m of ['PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']) {
    const r = routeRequest(m, `/v2/a/manifests/${D}`);
    t.ok(isRefusal(r) && r.status === 405 && r.allow === 'GET, HEAD', m);
  }
  for (const p of ['/v2/a/blobs/uploads/', '/v2/a/blobs/uploads/some-uuid', '/v2/_catalog', '/v2/a/tags/list']) {
    const r = routeRequest('POST', p);
    t.ok(isRefusal(r) && r.status === 405, p);
  }
  for (const m of ['GET', 'HEAD']) {
    const r = routeRequest(m, `/v2/a/referrers/${D}`);
    // OCI distribution spec: a client that gets 404 from the referrers API MUST fall back to the referrers tag schema; a 405 would fail it
    t.ok(isRefusal(r) && r.status === 404 && r.code === 'UNSUPPORTED', `${m} referrers: 404, the spec's "not supported"`);
  }
  t.same(JSON.parse(errorBody('UNSUPPORTED', 'no')), { errors: [{ code: 'UNSUPPORTED', message: 'no', detail: null }] });
});

t.test('no path escapes the grammar: anything else is 404', async (t) => {
  const bad = [
    '/v2/../etc/manifests/latest',
    '/v2/a/../b/manifests/latest',
    '/v2/a%2f..%2fb/manifests/latest',
    '/v2/A/manifests/latest', // upper case is no repository name
    '/v2//a/manifests/latest',
    '/v2/a//b/manifests/latest',
    '/v2/a/manifests/-tag',
    '/v2/a/manifests/sha256:abc',
    `/v2/a/blobs/latest`,
    `/v2/a/blobs/md5:${'a'.repeat(32)}`,
    '/v1/_ping',
    '/',
    '/v2/a/manifests/latest/extra',
  ];
  for (const p of bad) {
    const r = routeRequest('GET', p);
    t.ok(isRefusal(r) && r.status === 404, p);
  }
  const long = routeRequest('GET', `/v2/${'a/'.repeat(MAX_TARGET_LENGTH)}manifests/x`);
  t.ok(isRefusal(long) && long.status === 414, 'a long target is 414');
  const longName = routeRequest('GET', `/v2/${'a'.repeat(300)}/manifests/x`);
  t.ok(isRefusal(longName) && longName.status === 400 && longName.code === 'NAME_INVALID', 'a name over 255 is NAME_INVALID');
});

t.test('Range: one range (or suffix) served, anything else the whole blob, past the end 416', async (t) => {
  t.same(parseRange('bytes=10-', 100), { start: 10, end: 99 });
  t.same(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  t.same(parseRange('bytes=90-500', 100), { start: 90, end: 99 }, 'an end past the blob is clipped');
  t.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  t.equal(parseRange(undefined, 100), undefined);
  t.equal(parseRange('bytes=0-9', undefined), undefined, 'size unknown: the whole blob');
  t.same(parseRange('bytes=-10', 100), { start: 90, end: 99 }, 'a suffix range: the last bytes');
  t.same(parseRange('bytes=-500', 100), { start: 0, end: 99 }, 'a suffix longer than the blob: all of it (RFC 9110 §14.1.2)');
  t.equal(parseRange('bytes=-0', 100), 'unsatisfiable', 'an empty suffix');
  t.equal(parseRange('bytes=-', 100), undefined, 'no number at all: ignored');
  t.equal(parseRange('bytes=0-1,5-6', 100), undefined, 'several ranges: the whole blob');
  t.equal(parseRange('items=0-1', 100), undefined);
  t.equal(parseRange('bytes=9-5', 100), undefined, 'an invalid range is ignored');
});

t.test('Accept: which manifest types a client takes (RFC 9110 §12.5.1)', async (t) => {
  const OCI = 'application/vnd.oci.image.manifest.v1+json';
  const INDEX = 'application/vnd.oci.image.index.v1+json';
  const V2S2 = 'application/vnd.docker.distribution.manifest.v2+json';
  t.ok(accepts(undefined, OCI), 'no Accept: any type');
  t.ok(accepts('', OCI), 'an empty Accept: any type');
  t.ok(accepts(`${V2S2}, ${OCI}`, OCI), 'listed');
  t.ok(accepts(`${V2S2},${INDEX}`, INDEX), 'listed, no space');
  t.notOk(accepts(V2S2, OCI), 'a client taking docker v2s2 only does not take OCI');
  t.notOk(accepts(OCI, INDEX), 'a client taking the OCI manifest only does not take an index');
  t.ok(accepts(`${V2S2}, */*`, INDEX), '*/* (containerd sends it)');
  t.ok(accepts('application/*', INDEX), 'type/*');
  t.notOk(accepts('text/*', INDEX), 'another type/*');
  t.ok(accepts(`${OCI.toUpperCase()}`, OCI), 'media types are case-insensitive');
  t.ok(accepts(`${OCI}; charset=utf-8`, OCI), 'parameters do not stop a match');
  t.notOk(accepts(`${OCI};q=0`, OCI), 'q=0: not acceptable');
  t.notOk(accepts(`*/*, ${INDEX};q=0`, INDEX), 'the most specific range decides: excluded');
  t.ok(accepts(`*/*;q=0, ${INDEX}`, INDEX), 'the most specific range decides: listed');
  t.ok(accepts(`${INDEX};q=0.5`, INDEX), 'a q above 0');
});

t.test('acceptsManifest: only the manifest types clients negotiate are held to Accept', async (t) => {
  const V2S2 = 'application/vnd.docker.distribution.manifest.v2+json';
  t.notOk(acceptsManifest(V2S2, 'application/vnd.oci.image.manifest.v1+json'));
  t.notOk(acceptsManifest(V2S2, 'application/vnd.docker.distribution.manifest.list.v2+json'));
  t.notOk(acceptsManifest(V2S2, 'application/vnd.docker.distribution.manifest.v1+prettyjws'));
  t.ok(acceptsManifest(V2S2, V2S2));
  // A registry that labels a manifest application/json (old ones did, for schema1): containers/image guesses its type from
  // the content, so it is served as before, whatever the Accept.
  t.ok(acceptsManifest(V2S2, 'application/json'), 'a generic type is not negotiated');
  t.ok(acceptsManifest(V2S2, 'text/plain'));
});
