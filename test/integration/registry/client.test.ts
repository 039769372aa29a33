/**
 * EndpointClient errors as an operator reads them in `status` and the logs.
 */
import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EndpointClient, RegistryError, describeError, retryAfterMs, throttleWaitMs } from '../../../src/registry/client.js';
import { freePort } from '../../helpers/registry.js';

t.test('a refused ping is classified and says what the address answered', async (t) => {
  const port = await freePort();
  const client = new EndpointClient(`localhost:${port}`, false, {
    tls: {},
    credentials: async () => undefined,
    timeouts: { connectMs: 2000, headersMs: 2000, bodyIdleMs: 2000 },
  });
  const err = await client.ping().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof RegistryError, 'a RegistryError');
  t.equal((err as RegistryError).failureClass, 'refused');
  t.match((err as RegistryError).message, /ECONNREFUSED/);
});

t.test("Node's happy-eyeballs AggregateError (empty message) is described by what each address answered", async (t) => {
  // What net.connect gives when localhost is both ::1 and 127.0.0.1 and both refuse
  // (seen under systemd-nspawn; this machine's localhost has one address, so built here).
  const refused = (addr: string): Error => Object.assign(new Error(`connect ECONNREFUSED ${addr}`), { code: 'ECONNREFUSED' });
  const agg = Object.assign(new AggregateError([refused('::1:9'), refused('127.0.0.1:9')]), { code: 'ECONNREFUSED' });
  const wrapped = Object.assign(new TypeError('fetch failed'), { cause: agg });
  t.equal(describeError(agg), 'connect ECONNREFUSED ::1:9, connect ECONNREFUSED 127.0.0.1:9');
  t.equal(describeError(wrapped), 'fetch failed: connect ECONNREFUSED ::1:9, connect ECONNREFUSED 127.0.0.1:9');
  t.equal(describeError(new Error('plain')), 'plain');
});

t.test('Retry-After is read as seconds or an HTTP date; the wait is a few seconds at most, and a longer ask is given up', async (t) => {
  const now = Date.parse('2026-12-03T08:00:00Z');
  t.equal(retryAfterMs('2', now), 2000);
  t.equal(retryAfterMs('Thu, 03 Dec 2026 08:00:05 GMT', now), 5000);
  t.equal(retryAfterMs('Thu, 03 Dec 2026 07:00:00 GMT', now), 0, 'a date in the past: no wait');
  t.equal(retryAfterMs('soon', now), undefined);
  t.equal(retryAfterMs(undefined, now), undefined);
  t.equal(throttleWaitMs(1000, 0, 10_000), 1000, 'a short ask is honoured');
  t.equal(throttleWaitMs(999_999_000, 0, 10_000), undefined, 'Retry-After: 999999 is not waited for');
  t.equal(throttleWaitMs(undefined, 0, 10_000), 1000, 'no Retry-After: 1 s, then 2 s');
  t.equal(throttleWaitMs(undefined, 1, 10_000), 2000);
  t.equal(throttleWaitMs(undefined, 2, 10_000), undefined, 'two retries at most');
  t.equal(throttleWaitMs(2500, 0, 1500), undefined, 'never beyond the headers deadline');
  t.ok((throttleWaitMs(undefined, 1, 1500) ?? Infinity) <= 1500);
});

t.test('a Basic and a Bearer challenge in two WWW-Authenticate headers: the bearer realm is asked, as containers/image reads every header', async (t) => {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(`${req.url ?? ''} ${req.headers.authorization ?? '-'}`);
    if (req.url === '/v2/') return res.writeHead(200).end();
    if (req.url?.startsWith('/token')) return res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"T"}');
    if (req.headers.authorization === 'Bearer T') return res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    const realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    res.writeHead(401, [
      ['www-authenticate', 'Basic realm="registry"'],
      ['www-authenticate', `Bearer realm="${realm}",service="registry"`],
    ]);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const client = new EndpointClient(`127.0.0.1:${(server.address() as AddressInfo).port}`, true, {
    tls: {},
    credentials: async () => undefined,
    timeouts: { connectMs: 5000, headersMs: 5000, bodyIdleMs: 5000 },
  });
  t.teardown(() => client.close());
  const res = await client.get('/v2/app/manifests/v1', 'app');
  t.equal(res.status, 200);
  await res.body.dump();
  t.ok(
    asked.some((a) => a.startsWith('/token?')),
    'the token service asked',
  );
});
