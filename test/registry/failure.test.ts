/** The one mapping from a failed request to its endpoint's health (pull, probe, local mirror). */
import t from 'tap';
import { afterProbeFailure, afterRequestFailure, asRegistryError } from '../../src/registry/failure.js';
import { RegistryError } from '../../src/registry/client.js';
import { DigestMismatch, WrongContent } from '../../src/registry/oci-layout.js';

const KEY = 'https://m.example';
const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

t.test('asRegistryError: registry errors as they are, content errors (but wrong content) invalid, the rest network failures', async (t) => {
  const absent = new RegistryError('manifest x: HTTP 404', 'absent', undefined, 404);
  t.equal(asRegistryError(absent), absent);
  t.equal(asRegistryError(new DigestMismatch('blob: content is sha256:a, not sha256:b')).kind, 'invalid');
  const net = asRegistryError(refused);
  t.equal(net.kind, 'unhealthy');
  t.equal(net.failureClass, 'refused');
});

t.test('afterRequestFailure: only what says something about the endpoint is recorded', async (t) => {
  t.equal(afterRequestFailure(undefined, KEY, new RegistryError('HTTP 404', 'absent', undefined, 404), 1000), undefined, 'a 404 is the content');
  t.equal(afterRequestFailure(undefined, KEY, new RegistryError('HTTP 401', 'forbidden', undefined, 401), 1000), undefined, 'a 401 is the credentials');
  t.equal(afterRequestFailure(undefined, KEY, new DigestMismatch('unsupported digest "sha256:abc"'), 1000), undefined, 'a malformed digest is the content');
  const h = afterRequestFailure(undefined, KEY, refused, 1000);
  t.equal(h?.failures, 1);
  t.equal(h?.lastFailure?.class, 'refused');
  const five = afterRequestFailure(h, KEY, new RegistryError('HTTP 503', 'unhealthy', 'server-error', 503), h?.downUntil ?? 0);
  t.equal(five?.failures, 2, 'consecutive failures add up (the next try, once its down time is up)');
  t.equal(five?.lastFailure?.class, 'server-error');
});

t.test("wrong content for a digest is the endpoint's failure (pull and local mirror alike); other content errors are not", async (t) => {
  const wrong = asRegistryError(new WrongContent('blob: content is sha256:a, not sha256:b'));
  t.equal(wrong.kind, 'unhealthy');
  t.equal(wrong.failureClass, 'protocol');
  t.equal(wrong.message, 'blob: content is sha256:a, not sha256:b');
  const h = afterRequestFailure(undefined, KEY, new WrongContent('manifest: content is sha256:a, not sha256:b'), 1000);
  t.match(h, { failures: 1, lastFailure: { class: 'protocol', message: 'manifest: content is sha256:a, not sha256:b' } });
  t.ok(h?.downUntil !== undefined && h.downUntil > 1000, 'marked down');
  t.equal(afterRequestFailure(undefined, KEY, new DigestMismatch('layer 1 sha256:a: size -1 is not a whole number of bytes'), 1000), undefined);
  t.equal(afterProbeFailure(undefined, KEY, new WrongContent('x'), 1000).lastFailure?.class, 'protocol', 'a probe counts it the same');
});

t.test('afterProbeFailure: every probe failure counts, as protocol when nothing better is known', async (t) => {
  t.equal(afterProbeFailure(undefined, KEY, new RegistryError('GET /v2/: HTTP 404', 'absent', undefined, 404), 1000).lastFailure?.class, 'protocol');
  t.equal(afterProbeFailure(undefined, KEY, refused, 1000).lastFailure?.class, 'refused');
});
