/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as containers/image applies them (Go's
 * ProxyFromEnvironment; see src/registry/proxy.ts), against real docker-registry
 * processes and a recording proxy. The registries are reached by names only the proxy
 * resolves (registry.test), so a pull that succeeds went through it.
 */
import t from 'tap';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/log.js';
import { pullImage, hostPlatform, PullError, type PullSource } from '../../../src/registry/pull.js';
import { refusingHost, startSilentListener } from '../../helpers/fault-proxy.js';
import { EndpointClient } from '../../../src/registry/client.js';
import { RegistryError } from '../../../src/registry/errors.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';
import { issue, makeCa } from '../../helpers/test-ca.js';
import { startRecordingProxy } from '../../helpers/http-proxy.js';
import { runCli } from '../../helpers/cli.js';

const log = createLogger({ level: 'silent' });
const work = mkdtempSync(join(tmpdir(), 'mpd-proxy-'));
const ca = await makeCa(join(work, 'ca'));
const server = await issue(ca, 'registry', 'server', ['DNS:registry.test', 'IP:127.0.0.1']);
const certDir = join(work, 'certs');
mkdirSync(certDir);
copyFileSync(ca.certFile, join(certDir, 'ca.crt'));
const secure = await registryFor(t, { tls: server });
const plain = await registryFor(t, {});
const img = await buildImage(join(work, 'img'), { content: 'through the proxy', tag: 'v1' });
await Promise.all([pushImage(img, `${secure.host}/app:v1`, { tlsVerify: true, certDir }), pushImage(img, `${plain.host}/app:v1`)]);
const D = img.manifestDigest;
const proxyPassword = 'proxy-secret-3d9f';
const proxy = await startRecordingProxy({
  hosts: { 'registry.test': '127.0.0.1', 'plain.test': '127.0.0.1' },
  auth: { user: 'proxyuser', password: proxyPassword },
});
t.teardown(() => proxy.close());
const dest = (): string => mkdtempSync(join(work, 'dest-'));
const src = (host: string, insecure: boolean): PullSource => ({ reference: `${host}/app@${D}`, endpoint: { host, insecure }, role: 'primary', blocked: false });
const reset = async (): Promise<void> => {
  proxy.requests.length = 0;
  await Promise.all([secure.clearLog(), plain.clearLog()]);
};

t.test('https through HTTPS_PROXY: CONNECT tunnels with proxy credentials, TLS to the registry end to end', async (t) => {
  await reset();
  const host = `registry.test:${secure.port}`;
  const r = await pullImage([src(host, false)], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir, env: { HTTPS_PROXY: proxy.url } });
  t.equal(r.digest, D);
  t.ok(proxy.requests.length >= 1);
  t.same(new Set(proxy.requests.map((q) => q.line)), new Set([`CONNECT ${host}`]), 'only tunnels, to the registry by the name only the proxy knows');
  t.ok(
    proxy.requests.every((q) => q.proxyAuthorized),
    'Proxy-Authorization from the proxy URL',
  );
  t.same(
    (await secure.requests()).filter((q) => q.kind).map((q) => q.kind),
    ['manifests', 'blobs', 'blobs'],
    'the registry served the pull',
  );
  t.notMatch(JSON.stringify(r), proxyPassword);
});

t.test('an insecure http registry: https tried through HTTPS_PROXY, then plain http through HTTP_PROXY in absolute form', async (t) => {
  await reset();
  const host = `plain.test:${plain.port}`;
  const r = await pullImage([src(host, true)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url },
  });
  t.equal(r.digest, D);
  const lines = proxy.requests.map((q) => q.line);
  t.equal(lines[0], `CONNECT ${host}`, 'https first, tunnelled (the TLS handshake fails on a plain registry)');
  t.same(
    lines.slice(1),
    [
      `GET http://${host}/v2/`,
      `GET http://${host}/v2/app/manifests/${D}`,
      `GET http://${host}/v2/app/blobs/${img.configDigest}`,
      `GET http://${host}/v2/app/blobs/${img.layerDigest}`,
    ],
    'then http, forwarded as absolute-form requests (no CONNECT), as Go does',
  );
});

t.test('NO_PROXY hosts go direct; the same host without NO_PROXY goes through the proxy', async (t) => {
  // 0.0.0.0 is not loopback to Go's rules (so it is proxied unless NO_PROXY says not), and Linux connects it to 127.0.0.1
  const host = `0.0.0.0:${plain.port}`;
  const env = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url };
  for (const noProxy of ['0.0.0.0', `0.0.0.0:${plain.port}`, '0.0.0.0/8']) {
    await reset();
    const r = await pullImage([src(host, true)], { dest: dest(), platform: hostPlatform(), health: {}, log, env: { ...env, NO_PROXY: noProxy } });
    t.equal(r.digest, D);
    t.same(proxy.requests, [], `NO_PROXY=${noProxy}: the proxy saw nothing`);
    t.ok(
      (await plain.requests()).some((q) => q.kind === 'manifests'),
      'the registry served it directly',
    );
  }
  await reset();
  await pullImage([src(host, true)], { dest: dest(), platform: hostPlatform(), health: {}, log, env: { ...env, NO_PROXY: `0.0.0.0:1,other.test` } });
  t.ok(
    proxy.requests.some((q) => q.line === `GET http://${host}/v2/app/manifests/${D}`),
    'not listed (another port): proxied',
  );
});

t.test('loopback registries are never proxied (as containers/image), whatever the environment', async (t) => {
  await reset();
  const r = await pullImage([src(secure.host, false)], {
    dest: dest(),
    platform: hostPlatform(),
    health: {},
    log,
    certDir,
    env: { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url },
  });
  t.equal(r.digest, D);
  t.same(proxy.requests, []);
});

t.test('the CLI reads HTTPS_PROXY from its environment; the proxy password appears in no output', async (t) => {
  await reset();
  const host = `registry.test:${secure.port}`;
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
    { env: { ...process.env, HTTPS_PROXY: proxy.url, NO_PROXY: '' } },
  );
  t.equal(r.code, 0, r.stderr);
  t.equal((JSON.parse(r.stdout) as { digest: string }).digest, D);
  t.ok(proxy.requests.length > 0 && proxy.requests.every((q) => q.line === `CONNECT ${host}`));
  t.notMatch(r.stdout + r.stderr, proxyPassword);
});

t.test('a proxy that refuses the connection or the password: the error names the proxy by host, never its password', async (t) => {
  const host = `registry.test:${secure.port}`;
  const wrong = proxy.url.replace(proxyPassword, 'not-the-password-77');
  const refused = `http://proxyuser:${proxyPassword}@${await refusingHost()}`;
  for (const [what, url] of [
    ['refused', refused],
    ['wrong password', wrong],
  ] as const) {
    const e = await pullImage([src(host, false)], { dest: dest(), platform: hostPlatform(), health: {}, log, certDir, env: { HTTPS_PROXY: url } }).then(
      () => undefined,
      (x: unknown) => x as PullError,
    );
    t.ok(e instanceof PullError, `${what}: the pull fails`);
    const said = `${e?.message ?? ''} ${JSON.stringify(e?.attempts ?? [])}`;
    t.match(said, `through the proxy ${new URL(url).host}`, `${what}: the proxy is named`);
    t.notMatch(said, /proxy-secret-3d9f|not-the-password-77|proxyuser:/, `${what}: no proxy credentials`);
  }
});

t.test('a proxy that accepts the connection and never answers costs the deadlines, not undici 300 s: a tunnel (https) and a plain-http request', async (t) => {
  const silent = await startSilentListener();
  t.teardown(() => silent.close());
  const proxyUrl = `http://${silent.host}`;
  const timeouts = { connectMs: 800, headersMs: 800, bodyIdleMs: 800 };
  for (const insecure of [false, true]) {
    const c = new EndpointClient('registry.test:5000', insecure, {
      tls: {},
      timeouts,
      env: { HTTPS_PROXY: proxyUrl, HTTP_PROXY: proxyUrl },
      credentials: async () => undefined,
    });
    t.teardown(() => c.destroy());
    // A bound far over the deadlines (a few attempts of 800 ms), far under undici's 300 s: reached, the request hung.
    const hung = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000).unref());
    const outcome = await Promise.race([
      c.get('/v2/', undefined).then(
        () => 'answered',
        (e: unknown) => e,
      ),
      hung,
    ]);
    t.ok(outcome instanceof RegistryError, `${insecure ? 'plain http' : 'https'}: failed, not ${String(outcome)}`);
    t.match((outcome as Error).message, `through the proxy ${silent.host}: no response headers in time`);
  }
});
