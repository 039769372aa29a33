/**
 * The health probe of one endpoint (src/registry/probe.ts): over node:http when the endpoint is
 * reached directly, through the registry client when a proxy applies; either way the client's
 * scheme rule (https first, http only for an insecure endpoint) and failure classes.
 */
import t, { type Test } from 'tap';
import { readFileSync, mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pingEndpoint } from '../../../src/registry/probe.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { startRecordingProxy } from '../../helpers/http-proxy.js';
import { refusingHost, startBlackHole, startSilentListener } from '../../helpers/fault-proxy.js';
import { issue, makeCa } from '../../helpers/test-ca.js';

const fast = { connectMs: 500, headersMs: 500, bodyIdleMs: 500 };
const direct = { tls: {}, timeouts: fast, env: {} };

interface Seen {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly agent: string | undefined;
}

async function listen(
  t: Test,
  answer: (req: IncomingMessage, res: ServerResponse) => void,
  tls?: { cert: string; key: string },
): Promise<{ host: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    seen.push({ method: req.method, url: req.url, agent: req.headers['user-agent'] });
    answer(req, res);
  };
  const server = tls ? createTlsServer(tls, handler) : createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const registry = (status: number) => (_req: IncomingMessage, res: ServerResponse) => res.writeHead(status, { 'content-type': 'application/json' }).end('{}');

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof RegistryError)) throw new Error(`expected a RegistryError, got ${String(e)}`);
  return e;
}

t.test('a direct insecure endpoint: https tried first, then GET /v2/ over plain http; 200 and 401 are a registry', async (t) => {
  const ok = await listen(t, registry(200));
  await pingEndpoint(ok.host, true, direct);
  t.same(ok.seen, [{ method: 'GET', url: '/v2/', agent: 'mirror-policyd' }], 'one plain-http GET (the https attempt never reached HTTP)');
  const auth = await listen(t, registry(401));
  await pingEndpoint(auth.host, true, direct);
  const cut = await listen(t, (_req, res) => {
    res.writeHead(200, { 'content-length': '100' }).write('{');
    setTimeout(() => res.socket?.resetAndDestroy(), 20);
  });
  await pingEndpoint(cut.host, true, direct); // the answer was a registry's; its body cut short by a reset changes nothing
});

t.test('a direct secure endpoint over https, with the CA from the TLS material; without it, a tls failure', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-probe-'));
  const ca = await makeCa(join(work, 'ca'));
  const cert = await issue(ca, 'registry', 'server', ['IP:127.0.0.1']);
  const secure = await listen(t, registry(200), { cert: readFileSync(cert.certFile, 'utf8'), key: readFileSync(cert.keyFile, 'utf8') });
  await pingEndpoint(secure.host, false, { ...direct, tls: { ca: [readFileSync(ca.certFile, 'utf8')] } });
  t.equal(secure.seen.length, 1);
  const e = await failure(pingEndpoint(secure.host, false, direct));
  t.equal(e.failureClass, 'tls');
  t.equal(secure.seen.length, 1, 'no request without a trusted certificate');
});

t.test('failures are classified as the client classifies them', async (t) => {
  const broken = await listen(t, registry(503));
  t.equal((await failure(pingEndpoint(broken.host, true, direct))).failureClass, 'server-error');
  const notRegistry = await listen(t, registry(404));
  t.equal((await failure(pingEndpoint(notRegistry.host, true, direct))).failureClass, 'protocol');
  t.equal((await failure(pingEndpoint(await refusingHost(), false, direct))).failureClass, 'refused');
  const silent = await startSilentListener();
  t.teardown(() => silent.close());
  t.equal((await failure(pingEndpoint(silent.host, false, direct))).failureClass, 'connect-timeout', 'a TLS handshake that stalls: the connect deadline');
  t.equal((await failure(pingEndpoint(silent.host, true, direct))).failureClass, 'headers-timeout', 'plain http that never answers: the headers deadline');
  const hole = await startBlackHole();
  t.teardown(() => hole.close());
  t.equal((await failure(pingEndpoint(hole.host, false, direct))).failureClass, 'connect-timeout', 'a connect that never completes');
});

t.test('an endpoint behind a proxy is probed through it (the registry client)', async (t) => {
  const ok = await listen(t, registry(200));
  const port = ok.host.split(':')[1];
  const proxy = await startRecordingProxy({ hosts: { 'plain.test': '127.0.0.1' } });
  t.teardown(() => proxy.close());
  // https://plain.test is not proxied (HTTP_PROXY only) and does not resolve; http://plain.test goes through the proxy
  await pingEndpoint(`plain.test:${port}`, true, { ...direct, env: { HTTP_PROXY: proxy.url } });
  t.same(
    proxy.requests.map((r) => r.line),
    [`GET http://plain.test:${port}/v2/`],
  );
  t.equal(ok.seen.length, 1);
  const e = await failure(pingEndpoint(ok.host, true, { ...direct, env: { HTTP_PROXY: 'ftp://nowhere' } }));
  t.equal(e.kind, 'invalid', 'a proxy setting that cannot be used: our configuration, reported as the client reports it');
});
