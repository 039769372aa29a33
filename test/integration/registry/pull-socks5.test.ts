/**
 * socks5:// proxies in HTTPS_PROXY / HTTP_PROXY (Go's ProxyFromEnvironment accepts them, and
 * so does src/registry/proxy.ts), through a real SOCKS5 server (Debian's microsocks, see
 * test/helpers/socks5.ts) to real docker-registry processes. The registries are reached as
 * 0.0.0.0 (proxied by Go's rules, connected to 127.0.0.1 by Linux); the server's log of the
 * tunnels it opened proves which requests went through it.
 */
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, hostPlatform, type PullSource } from '../../../src/registry/pull.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { issue, makeCa } from '../../helpers/test-ca.js';
import { startSocks5 } from '../../helpers/socks5.js';
import { refusingHost, startHostileProxy, startSilentListener } from '../../helpers/fault-proxy.js';
import { runCli } from '../../helpers/cli.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-socks5-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
const ca = await makeCa(join(work, 'ca'));
const server = await issue(ca, 'registry', 'server', ['IP:0.0.0.0', 'IP:127.0.0.1']);
const certDir = join(work, 'certs');
mkdirSync(certDir);
copyFileSync(ca.certFile, join(certDir, 'ca.crt'));
const secure = await registryFor(t, { tls: server });
const plain = await registryFor(t, {});
const img = await buildImage(join(work, 'img'), { content: 'through socks5', tag: 'v1' });
await Promise.all([pushImage(img, `${secure.host}/app:v1`, { tlsVerify: true, certDir }), pushImage(img, `${plain.host}/app:v1`)]);
const D = img.manifestDigest;
const password = 'socks-secret-7c1e';
const socks = await startSocks5({ auth: { user: 'socksuser', password } });
t.teardown(() => socks.close());
/** The same host as the registry, but not loopback to Go's rules: proxied. */
const viaAny = (host: string): string => host.replace(/^127\.0\.0\.1:/, '0.0.0.0:');
const dest = (): string => mkdtempSync(join(work, 'dest-'));
const src = (host: string, insecure: boolean): PullSource => ({ reference: `${host}/app@${D}`, endpoint: { host, insecure }, role: 'primary', blocked: false });
/** Short deadlines, so that a deadline case costs seconds; a deadline is what is tested, not speed. */
const timeouts = { connectMs: 1000, headersMs: 1500, bodyIdleMs: 1500 };
const reset = async (): Promise<void> => {
  socks.tunnels.length = 0;
  await Promise.all([secure.clearLog(), plain.clearLog()]);
};

t.test('https through HTTPS_PROXY=socks5://user:pass@…: tunnels through the SOCKS server, TLS to the registry inside, digest verified', async (t) => {
  await reset();
  const host = viaAny(secure.host);
  const r = await pullImage([src(host, false)], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir, env: { HTTPS_PROXY: socks.url } });
  t.equal(r.digest, D);
  t.ok(socks.tunnels.length >= 1);
  t.same(new Set(socks.tunnels), new Set([host]), 'every connection tunnelled, to the registry');
  t.same(
    (await secure.requests()).filter((q) => q.kind).map((q) => q.kind),
    ['manifests', 'blobs', 'blobs'],
    'the registry served the pull',
  );
  t.notMatch(JSON.stringify(r), password);
});

t.test('an insecure http registry through HTTP_PROXY=socks5://…: https tried, then plain http, both tunnelled', async (t) => {
  await reset();
  const host = viaAny(plain.host);
  const r = await pullImage([src(host, true)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    env: { HTTPS_PROXY: socks.url, HTTP_PROXY: socks.url },
  });
  t.equal(r.digest, D);
  t.same(new Set(socks.tunnels), new Set([host]));
  t.ok(
    (await plain.requests()).some((q) => q.kind === 'manifests'),
    'the registry served it',
  );
});

t.test('NO_PROXY hosts go direct, past the SOCKS server', async (t) => {
  await reset();
  const host = viaAny(plain.host);
  const r = await pullImage([src(host, true)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    env: { HTTPS_PROXY: socks.url, HTTP_PROXY: socks.url, NO_PROXY: '0.0.0.0/8' },
  });
  t.equal(r.digest, D);
  t.same(socks.tunnels, [], 'the SOCKS server opened no tunnel');
});

t.test('wrong SOCKS credentials: the pull fails naming the proxy refusal, never the password', async (t) => {
  await reset();
  const wrong = socks.url.replace(encodeURIComponent(password), 'not-the-password');
  const failed = await pullImage([src(viaAny(secure.host), false)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    certDir,
    timeouts,
    env: { HTTPS_PROXY: wrong },
  }).then(
    () => undefined,
    (e: unknown) => e as Error & { attempts?: Array<{ error: string }> },
  );
  t.ok(failed, 'the pull failed');
  t.match(failed?.attempts?.[0]?.error, /the SOCKS5 proxy refused the username and password/, 'the attempt says the SOCKS server refused them');
  t.same(socks.tunnels, [], 'no tunnel opened');
  t.notMatch(JSON.stringify(failed?.attempts) + String(failed?.message), /not-the-password|socks-secret/);
});

t.test('a SOCKS server without authentication; one that wants it, given none', async (t) => {
  const open = await startSocks5();
  t.teardown(() => open.close());
  await reset();
  const host = viaAny(plain.host);
  const r = await pullImage([src(host, true)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    env: { HTTPS_PROXY: open.url, HTTP_PROXY: open.url },
  });
  t.equal(r.digest, D);
  t.same(new Set(open.tunnels), new Set([host]));
  const anonymous = socks.url.replace(/\/\/[^@]*@/, '//');
  const failed = await pullImage([src(host, true)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    timeouts,
    env: { HTTPS_PROXY: anonymous, HTTP_PROXY: anonymous },
  }).then(
    () => undefined,
    (e: unknown) => e as Error & { attempts?: Array<{ error: string }> },
  );
  t.match(failed?.attempts?.[0]?.error, /requires a username and password \(none in the proxy URL\)/);
});

t.test('a SOCKS proxy that refuses connections: the pull fails, the endpoint "refused"', async (t) => {
  const url = `socks5://${await refusingHost()}`;
  const host = viaAny(plain.host);
  const failed = await pullImage([src(host, true)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    timeouts,
    env: { HTTPS_PROXY: url, HTTP_PROXY: url },
  }).then(
    () => undefined,
    (e: unknown) => e as Error & { health?: Record<string, { lastFailure?: { class?: string } }> },
  );
  t.match(failed?.health?.[`insecure://${host}`]?.lastFailure, { class: 'refused' });
});

t.test('the header deadline holds through a SOCKS tunnel (a registry that never finishes its headers)', async (t) => {
  await reset();
  const hostile = await startHostileProxy(plain.host, [{ path: /\/manifests\//, fault: 'slow-headers' }]);
  t.teardown(() => hostile.close());
  const host = viaAny(hostile.host);
  const failed = await pullImage([src(host, true)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    timeouts,
    env: { HTTPS_PROXY: socks.url, HTTP_PROXY: socks.url },
  }).then(
    () => undefined,
    (e: unknown) => e as Error & { health?: Record<string, { endpoint: string; lastFailure?: { class?: string } }> },
  );
  t.ok(failed, 'the pull failed');
  t.match(failed?.health?.[`insecure://${host}`]?.lastFailure, { class: 'headers-timeout' }, 'cut off by the headers deadline');
  t.ok(socks.tunnels.includes(host), 'through the tunnel');
});

t.test('the connect deadline holds through a SOCKS tunnel (a registry that accepts and never answers the TLS handshake)', async (t) => {
  await reset();
  const silent = await startSilentListener();
  t.teardown(() => silent.close());
  const host = viaAny(silent.host);
  const failed = await pullImage([src(host, false)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    certDir,
    timeouts,
    env: { HTTPS_PROXY: socks.url },
  }).then(
    () => undefined,
    (e: unknown) => e as Error & { health?: Record<string, { lastFailure?: { class?: string; message?: string } }> },
  );
  t.ok(failed, 'the pull failed');
  t.match(
    failed?.health?.[`https://${host}`]?.lastFailure,
    { class: 'connect-timeout', message: /through the SOCKS5 proxy/ },
    'cut off by the connect deadline',
  );
  t.ok(socks.tunnels.includes(host), 'through the tunnel');
});

t.test('the CLI reads a socks5:// HTTPS_PROXY from its environment; the SOCKS password appears in no output', async (t) => {
  await reset();
  const host = viaAny(secure.host);
  const conf = join(work, 'registries.conf');
  writeFileSync(conf, `[[registry]]\nlocation = "${host}"\n`);
  const r = await runCli(
    [
      'pull',
      `${host}/app@${D}`,
      '--dest',
      dest(),
      '--registries-conf',
      conf,
      '--cert-dir',
      certDir,
      '--state-dir',
      join(work, 'state'),
      '--json',
      '--log-level',
      'trace',
    ],
    { env: { ...process.env, HTTPS_PROXY: socks.url, NO_PROXY: '' } },
  );
  t.equal(r.code, 0, r.stderr);
  t.equal((JSON.parse(r.stdout) as { digest: string }).digest, D);
  t.same(new Set(socks.tunnels), new Set([host]));
  t.notMatch(r.stdout + r.stderr, password);
});
