/**
 * The daemon's hold of the local mirror (src/daemon/local-mirror-host.ts): the endpoint is
 * listed in the render only while it listens; a failed start is logged once, makes the daemon
 * degraded and is tried again at the next render; a change of address or credentials restarts
 * it; off stops it. The endpoint is a stand-in here: the real one is started by the daemon in
 * test/integration/local-mirror/daemon-serve.test.ts, with the real skopeo as its client.
 */
import t from 'tap';
import pino from 'pino';
import { LocalMirrorHost, type LocalMirrorSettings, type RunningEndpoint } from '../../src/daemon/local-mirror-host.js';
import { emptyStats, type LocalMirrorStats } from '../../src/local-mirror/counters.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';

const CONF: RegistriesConf = {
  registries: [{ prefix: 'quay.io/team', location: 'quay.io/team', mirrors: [{ location: 'mirror.example/team' }] }],
};

const ON: LocalMirrorSettings = { address: '127.0.0.1:5050', host: '127.0.0.1', port: 5050, credentials: false };

/** A host whose endpoint starts or fails as `failWith` says at each start; records what it was given. */
function hostWith(failWith: Array<string | undefined>) {
  const logs: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push((JSON.parse(line) as { msg: string }).msg) });
  const started: LocalMirrorSettings[] = [];
  const closed: string[] = [];
  const confs: RegistriesConf[] = [];
  const host = new LocalMirrorHost(async (settings) => {
    const failure = failWith.shift();
    if (failure !== undefined) throw new Error(failure);
    started.push(settings);
    const endpoint: RunningEndpoint = {
      address: settings.address,
      setConf: (c) => void confs.push(c),
      stats: () => emptyStats(),
      close: async () => void closed.push(settings.address),
    };
    return endpoint;
  }, log);
  return { host, logs, started, closed, confs };
}

t.test('on and listening: the render lists it; each render hands it the conf; off: stopped, no transform', async (t) => {
  const h = hostWith([]);
  await h.host.sync(ON);
  t.equal(h.host.listening(), ON.address);
  const transform = h.host.transform(undefined);
  t.ok(transform, 'a transform while it listens');
  const out = transform!(CONF);
  t.match(out.registries[0]?.mirrors[0]?.location, /^127\.0\.0\.1:5050\/mirror-policyd\/[0-9a-f]{20}$/, 'the endpoint first');
  h.host.setConf(out);
  t.same(h.confs, [out], 'the endpoint serves from the render');
  t.same(
    h.host.withoutEndpoint(out).registries[0]?.mirrors.map((m) => m.location),
    ['mirror.example/team'],
    'the mirrors without it',
  );
  t.match(h.host.status(), { address: ON.address, listening: true, credentials: false, fronted: 1, skipped: [] });
  t.same(h.host.degradedReasons(), []);
  await h.host.sync(ON);
  t.equal(h.started.length, 1, 'the same settings: not restarted');
  await h.host.sync(undefined);
  t.same(h.closed, [ON.address], 'off: closed');
  t.equal(h.host.transform(undefined), undefined, 'off: no transform, the render leaves no trace');
  t.equal(h.host.status(), undefined);
});

t.test('a failed start: not listed, degraded, logged once, tried again at the next render', async (t) => {
  const h = hostWith(['listen EADDRINUSE: address already in use 127.0.0.1:5050', 'listen EADDRINUSE: address already in use 127.0.0.1:5050']);
  await h.host.sync(ON);
  t.equal(h.host.listening(), undefined);
  t.equal(h.host.transform(undefined), undefined, 'a port we could not bind is never listed');
  t.match(h.host.status(), { listening: false, error: /EADDRINUSE/ });
  t.match(h.host.degradedReasons(), [/^local mirror: cannot listen on 127\.0\.0\.1:5050: .*EADDRINUSE/]);
  await h.host.sync(ON);
  t.equal(h.logs.filter((l) => /cannot listen/.test(l)).length, 1, 'the same failure is logged once');
  await h.host.sync(ON);
  t.equal(h.host.listening(), ON.address, 'the third render finds the port free');
  t.same(h.host.degradedReasons(), []);
  t.ok(h.logs.some((l) => /listening on 127\.0\.0\.1:5050 again/.test(l)));
});

t.test('a change of address or credentials restarts the endpoint', async (t) => {
  const h = hostWith([]);
  await h.host.sync(ON);
  await h.host.sync({ ...ON, credentials: true });
  await h.host.sync({ ...ON, address: '127.0.0.2:5050', host: '127.0.0.2' });
  t.same(
    h.started.map((s) => [s.address, s.credentials]),
    [
      ['127.0.0.1:5050', false],
      ['127.0.0.1:5050', true],
      ['127.0.0.2:5050', false],
    ],
  );
  t.same(h.closed, ['127.0.0.1:5050', '127.0.0.1:5050'], 'the old one closed before the new one starts');
  await h.host.stop();
  t.equal(h.closed.length, 3);
});

t.test('its counters go on across restarts, a failed start and off-and-on (the metrics are counters: they never go back)', async (t) => {
  const log = pino({ level: 'silent' });
  const failWith: Array<string | undefined> = [];
  const live: LocalMirrorStats[] = [];
  const host = new LocalMirrorHost(async (settings) => {
    const failure = failWith.shift();
    if (failure !== undefined) throw new Error(failure);
    const stats = emptyStats();
    live.push(stats);
    return { address: settings.address, setConf: () => undefined, stats: () => structuredClone(stats), close: async () => undefined };
  }, log);
  const work = (s: LocalMirrorStats, n: number): void => {
    s.requests.blobs += n;
    s.responses['200'] = (s.responses['200'] ?? 0) + n;
    s.bytesSent += 100 * n;
    s.sources['https://m1'] = { ok: n, absent: 0, failed: 1 };
    s.midBlobFallbacks += 1;
    s.errors += 1;
    s.inFlight = 2;
  };
  await host.sync(ON);
  work(live[0]!, 3);
  await host.sync({ ...ON, credentials: true }); // restarted: a new endpoint, counting from 0
  work(live[1]!, 2);
  const after = host.status()?.stats;
  t.equal(after?.requests.blobs, 5, 'requests: both endpoints');
  t.same(after?.responses, { '200': 5 });
  t.equal(after?.bytesSent, 500);
  t.same(after?.sources['https://m1'], { ok: 5, absent: 0, failed: 2 });
  t.equal(after?.midBlobFallbacks, 2);
  t.equal(after?.errors, 2);
  t.equal(after?.inFlight, 2, 'in flight: the running endpoint’s only (a gauge)');

  failWith.push('EADDRINUSE');
  await host.sync({ ...ON, address: '127.0.0.1:5051', port: 5051 });
  const failed = host.status();
  t.equal(failed?.listening, false);
  t.equal(failed?.stats?.requests.blobs, 5, 'not listening: the counts so far, not gone');
  t.equal(failed?.stats?.inFlight, 0);

  await host.sync(undefined);
  t.equal(host.status(), undefined, 'off: nothing to report');
  await host.sync(ON);
  t.equal(host.status()?.stats?.requests.blobs, 5, 'on again: counting on from there');
  await host.stop();
});
