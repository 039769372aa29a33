import t from 'tap';
import { pino } from 'pino';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import { createLogger } from '../../src/core/log.js';
import { healthState } from '../../src/health/health.js';
import { emptyStats, type LocalMirrorStats } from '../../src/local-mirror/counters.js';
import { healthBook, TLS_RECHECK_MS, Upstream, type HealthBook } from '../../src/local-mirror/upstream.js';
import { DigestMismatch } from '../../src/registry/oci-layout.js';
import { RegistryError } from '../../src/registry/errors.js';
import type { PullSource } from '../../src/registry/pull.js';

async function upstream(maxConcurrent: number, health?: HealthBook, stats: LocalMirrorStats = emptyStats()): Promise<Upstream> {
  const log = createLogger({ level: 'silent' });
  return new Upstream({ credentials: false, maxConcurrent, health: health ?? (await healthBook(undefined, log)), stats, log });
}

t.test('wrong content found after a blob streamed marks its source down as a pull would (failure.ts); other content errors do not', async (t) => {
  const health = await healthBook(undefined, createLogger({ level: 'silent' }));
  const stats = emptyStats();
  const up = await upstream(1, health, stats);
  const s: PullSource = {
    reference: 'm.example:5000/app@sha256:' + 'a'.repeat(64),
    endpoint: { host: 'm.example:5000', insecure: true },
    role: 'mirror',
    blocked: false,
  };
  up.servedWrongContent(s, 'blob sha256:a: the content served does not match its digest');
  const h = health.view()['insecure://m.example:5000'];
  t.match(h, { failures: 1, lastFailure: { class: 'protocol', message: 'blob sha256:a: the content served does not match its digest' } });
  t.equal(healthState(h, Date.now()), 'down');
  t.same(stats.sources['insecure://m.example:5000'], { ok: 0, absent: 0, failed: 1 });
  const o: PullSource = { ...s, endpoint: { host: 'o.example:5000', insecure: true } };
  t.equal(up.failed(o, new DigestMismatch('blob sha256:a: 10 bytes here, 12 from the source before')), false, 'sizes two sources disagree on blame neither');
  t.equal(health.view()['insecure://o.example:5000'], undefined);
  await up.close();
});

t.test('the slot bound: a waiter gets the slot a release gives back, and a release counts once', async (t) => {
  const up = await upstream(1);
  const first = await up.slot();
  let second: (() => void) | undefined;
  const waiting = up.slot().then((r) => (second = r));
  await new Promise((r) => setImmediate(r));
  t.equal(second, undefined, 'the second waits while the only slot is held');
  first();
  first(); // a second call must not free a slot it no longer holds
  await waiting;
  t.type(second, 'function', 'the released slot passed on');
  let third: (() => void) | undefined;
  const waitingThird = up.slot().then((r) => (third = r));
  await new Promise((r) => setImmediate(r));
  t.equal(third, undefined, 'the double release did not make a second slot');
  second?.();
  await waitingThird;
  third?.();
  const again = await up.slot(); // all given back: one is free at once
  again();
  await up.close();
});

t.test("a wait for a slot is told to the clock (a blob's deadline holds meanwhile); a slot free at once tells nothing", async (t) => {
  const up = await upstream(1);
  const heard: string[] = [];
  const clock = { queued: () => heard.push('queued'), dequeued: () => heard.push('dequeued') };
  const first = await up.slot(clock);
  t.same(heard, [], 'free at once');
  const waiting = up.slot(clock);
  await new Promise((r) => setImmediate(r));
  t.same(heard, ['queued']);
  first();
  (await waiting)();
  t.same(heard, ['queued', 'dequeued']);
  await up.close();
});

t.test('a failing source is logged at warn when it starts failing or fails another way; the same failure again at debug, until it succeeds', async (t) => {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  const up = new Upstream({ credentials: false, maxConcurrent: 1, health: await healthBook(undefined, log), stats: emptyStats(), log });
  const s: PullSource = {
    reference: 'm.example:5000/app@sha256:' + 'a'.repeat(64),
    endpoint: { host: 'm.example:5000', insecure: true },
    role: 'mirror',
    blocked: false,
  };
  const refused = (): RegistryError => new RegistryError('http://m.example:5000: connect ECONNREFUSED 127.0.0.1:5000', 'unhealthy', 'refused');
  for (let i = 0; i < 5; i++) up.failed(s, refused());
  up.failed(s, new RegistryError('http://m.example:5000: no response headers within 10000 ms', 'unhealthy', 'headers-timeout'));
  up.succeeded(s, 5);
  up.failed(s, refused());
  const warned = lines.filter((l) => l.level === 40).map((l) => l.msg);
  t.same(warned, [
    `local mirror: ${s.reference}: http://m.example:5000: connect ECONNREFUSED 127.0.0.1:5000`,
    `local mirror: ${s.reference}: http://m.example:5000: no response headers within 10000 ms`,
    `local mirror: ${s.reference}: http://m.example:5000: connect ECONNREFUSED 127.0.0.1:5000`,
  ]);
  t.equal(lines.filter((l) => l.level === 20 && /ECONNREFUSED/.test(l.msg)).length, 4, 'the repeats at debug');
  await up.close();
});

t.test('a health cache file that cannot be written is logged once, not at every request', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-book-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'not-a-dir'), '');
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  const book = await healthBook(join(dir, 'not-a-dir', 'health.json'), log);
  for (let i = 0; i < 4; i++) {
    book.record('insecure://m.example:5000', { endpoint: 'insecure://m.example:5000', failures: 0, updatedAt: Date.now() });
    await book.flush();
  }
  t.equal(lines.filter((l) => /health cache .* not updated/.test(l.msg)).length, 1);
});

t.test('the clients of endpoints no rendered table names any more are let go: as many after 2N policy changes as after N', async (t) => {
  const up = await upstream(4);
  t.teardown(() => up.close());
  const source = (host: string): PullSource => ({
    reference: `${host}/app@sha256:${'a'.repeat(64)}`,
    endpoint: { host, insecure: true },
    role: 'mirror',
    blocked: false,
  });
  const confWith = (host: string): RegistriesConf => ({
    registries: [{ prefix: 'source.invalid/app', location: 'source.invalid/app', mirrors: [{ location: `${host}/app`, insecure: true }] }],
  });
  const change = async (i: number): Promise<void> => {
    const host = `m${i}.example:5000`;
    up.retainFor(confWith(host));
    await up.client(source(host)); // the new policy's mirror serves a pull
  };
  for (let i = 0; i < 10; i++) await change(i);
  const afterN = up.clientCount;
  for (let i = 10; i < 20; i++) await change(i);
  t.equal(afterN, 1, "only the current policy's mirror has a client");
  t.equal(up.clientCount, afterN, 'no more after 2N changes than after N');
  const kept = await up.client(source('m19.example:5000'));
  up.retainFor(confWith('m19.example:5000'));
  t.equal(await up.client(source('m19.example:5000')), kept, 'a client the new policy still names is kept (its connections, its tokens)');
});

t.test(
  'a client a request took stays usable when a new policy drops its endpoint: its next step (a token, a redirect, a resumed blob) is not refused',
  async (t) => {
    const server = createServer((req, res) => res.writeHead(req.url === '/v2/' ? 200 : 404).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => server.close(() => r())));
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const up = await upstream(1);
    t.teardown(() => up.close());
    const s: PullSource = { reference: `${host}/app:t`, endpoint: { host, insecure: true }, role: 'mirror', blocked: false };
    const client = await up.client(s);
    await client.ping();
    up.retainFor({
      registries: [{ prefix: 'source.invalid/app', location: 'source.invalid/app', mirrors: [{ location: 'other.example:5000/app', insecure: true }] }],
    });
    t.equal(up.clientCount, 0, 'forgotten: the next request makes a new one');
    await t.resolves(client.ping(), 'the request that holds it goes on with it');
  },
);

t.test('what was logged of an endpoint the new policy drops is forgotten with it: back later, its first failure is news (warn) again', async (t) => {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  const up = new Upstream({ credentials: false, maxConcurrent: 1, health: await healthBook(undefined, log), stats: emptyStats(), log });
  t.teardown(() => up.close());
  const s: PullSource = {
    reference: `m.example:5000/app@sha256:${'a'.repeat(64)}`,
    endpoint: { host: 'm.example:5000', insecure: true },
    role: 'mirror',
    blocked: false,
  };
  const confWith = (host: string): RegistriesConf => ({
    registries: [{ prefix: 'source.invalid/app', location: 'source.invalid/app', mirrors: [{ location: `${host}/app`, insecure: true }] }],
  });
  const refused = (): RegistryError => new RegistryError('http://m.example:5000: connect ECONNREFUSED 127.0.0.1:5000', 'unhealthy', 'refused');
  const levels = (): number[] => lines.filter((l) => /ECONNREFUSED/.test(l.msg)).map((l) => l.level);
  up.failed(s, refused());
  up.retainFor(confWith('m.example:5000')); // still named: its failure is not news
  up.failed(s, refused());
  t.same(levels(), [40, 20]);
  up.retainFor(confWith('other.example:5000')); // dropped
  up.retainFor(confWith('m.example:5000')); // and back
  up.failed(s, refused());
  t.same(levels(), [40, 20, 40], 'news again after the endpoint was out of the policy');
});

t.test('firstAnswer: without an answer, absent only when no source failed; with absentDecides the first "not here" ends the search', async (t) => {
  const up = await upstream(1);
  const source = (host: string): PullSource => ({ reference: `${host}/app:t`, endpoint: { host, insecure: true }, role: 'mirror', blocked: false });
  const sources = [source('absent.example:1'), source('failing.example:2'), source('later.example:3')];
  const asked: string[] = [];
  const ask = async (s: PullSource): Promise<never> => {
    asked.push(s.endpoint.host);
    throw s.endpoint.host.startsWith('absent')
      ? new RegistryError('404 manifest unknown', 'absent', undefined, 404)
      : new RegistryError('connection refused', 'unhealthy', 'refused');
  };
  t.same(await up.firstAnswer(sources, { late: false }, ask), { absent: false }, 'one failed: not known to be absent');
  t.same(asked, ['absent.example:1', 'failing.example:2', 'later.example:3'], 'every source asked');
  asked.length = 0;
  t.same(await up.firstAnswer(sources, { late: false }, ask, true), { absent: true });
  t.same(asked, ['absent.example:1'], 'the first that answers "not here" decides');
  await up.close();
});

t.test('close(): the requests it cuts short mark no source down, and no client is made after it', async (t) => {
  const health = await healthBook(undefined, createLogger({ level: 'silent' }));
  const up = await upstream(2, health);
  const source = (host: string): PullSource => ({ reference: `${host}/app:t`, endpoint: { host, insecure: true }, role: 'mirror', blocked: false });
  const sources = [source('hung.example:1'), source('next.example:2')];
  let cut: (e: Error) => void = () => undefined;
  const asked: string[] = [];
  const answer = up.firstAnswer(sources, { late: false }, (s) => {
    asked.push(s.endpoint.host);
    return new Promise<never>((_, reject) => (cut = reject));
  });
  for (let i = 0; i < 1000 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  const closed = up.close();
  // What undici says to a request whose client was destroyed under it.
  cut(Object.assign(new Error('The client is destroyed'), { code: 'UND_ERR_DESTROYED' }));
  t.same(await answer, { absent: false }, 'no answer, and not "absent" either');
  await closed;
  t.same(asked, ['hung.example:1'], 'the next source is not asked once closing');
  t.same(health.view(), {}, 'nothing recorded against any source');
  await t.rejects(up.client(source('new.example:3')), /stopping/);
});

t.test("an endpoint's client is made again when its certs.d files change (looked at every TLS_RECHECK_MS), and kept while they do not", async (t) => {
  const certDir = mkdtempSync(join(tmpdir(), 'mpd-up-certs-'));
  t.teardown(() => rmSync(certDir, { recursive: true, force: true }));
  let now = 1_000_000;
  const log = createLogger({ level: 'silent' });
  const up = new Upstream({
    credentials: false,
    maxConcurrent: 1,
    health: await healthBook(undefined, log),
    stats: emptyStats(),
    log,
    certDir,
    now: () => now,
  });
  const s: PullSource = { reference: 'm.example:5000/app:t', endpoint: { host: 'm.example:5000', insecure: false }, role: 'mirror', blocked: false };
  const first = await up.client(s);
  now += TLS_RECHECK_MS + 1;
  t.equal(await up.client(s), first, 'certs.d unchanged: the same client');
  // A CA dropped into certs.d (its text is only read here: no connection is made).
  writeFileSync(join(certDir, 'ca.crt'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  t.equal(await up.client(s), first, 'not looked at again before TLS_RECHECK_MS');
  now += TLS_RECHECK_MS;
  const second = await up.client(s);
  t.not(second, first, 'a new client, with the CA');
  t.equal(up.clientCount, 1, 'the old one is let go');
  now += TLS_RECHECK_MS;
  t.equal(await up.client(s), second);
  await up.close();
});

t.test('blob transfers hold at most all slots but an eighth: a manifest never waits behind them, and waiting manifests go first', async (t) => {
  const up = await upstream(8);
  const transfers = await Promise.all(Array.from({ length: 7 }, () => up.slot(undefined, 'transfer')));
  let eighth: (() => void) | undefined;
  const waitingTransfer = up.slot(undefined, 'transfer').then((r) => (eighth = r));
  await new Promise((r) => setImmediate(r));
  t.equal(eighth, undefined, 'an eighth transfer waits: the last slot is kept for quick requests');
  const manifest = await up.slot(); // at once
  let queuedQuick: (() => void) | undefined;
  const waitingQuick = up.slot().then((r) => (queuedQuick = r));
  await new Promise((r) => setImmediate(r));
  t.equal(queuedQuick, undefined, 'all eight slots taken: the next manifest waits too');
  transfers[0]?.();
  await waitingQuick;
  t.ok(queuedQuick, 'a freed slot goes to the waiting manifest first');
  t.equal(eighth, undefined, 'the waiting transfer still waits');
  manifest();
  queuedQuick?.();
  transfers[1]?.();
  await waitingTransfer;
  t.ok(eighth, 'then to the transfer, within its share');
  for (const release of transfers.slice(2)) release();
  eighth?.();
  await up.close();
});
