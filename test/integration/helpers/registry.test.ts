// Smoke test of the real-registry harness: two docker-registry processes,
// images built without a container engine, the real skopeo as client.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryFor, manifestRequests, makeSelfSignedCert, makeHtpasswd, type Registry } from '../../helpers/registry.js';
import { buildImage, pushImage, sha256 } from '../../helpers/oci-image.js';
import { skopeo, skopeoInspectRaw, type SkopeoResult } from '../../helpers/skopeo.js';

// exit code 0; skopeo's --debug stderr is shown only on failure
function okRun(t: Test, r: SkopeoResult, msg = 'skopeo exit 0'): void {
  if (!t.equal(r.code, 0, msg)) t.comment(r.stderr);
}

async function tempDir(t: Test, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// two mirrors in order, both plain http (insecure = true), for a fake source
function mirrorsConf(...mirrors: Registry[]): string {
  return [
    'unqualified-search-registries = []',
    '',
    '[[registry]]',
    'prefix = "source.invalid/app"',
    'location = "source.invalid/app"',
    ...mirrors.flatMap((m) => ['', '[[registry.mirror]]', `location = "${m.host}/app"`, 'insecure = true']),
    '',
  ].join('\n');
}

t.test('digest pull through mirrors A, B; fallback when A is down', async (t) => {
  const t0 = Date.now();
  const [a, b] = await Promise.all([registryFor(t), registryFor(t)]);
  t.not(a.port, b.port, 'distinct ports');
  const work = await tempDir(t, 'registry-smoke-');

  const img = await buildImage(join(work, 'layout'), { content: 'smoke image B\n', tag: 'v1' });
  await pushImage(img, `${b.host}/app:v1`);

  // the registry stores exactly our manifest bytes
  await writeFile(join(work, 'empty.conf'), 'unqualified-search-registries = []\n');
  const raw = await skopeoInspectRaw(`docker://${b.host}/app:v1`, { registriesConf: join(work, 'empty.conf'), tlsVerify: false });
  okRun(t, raw);
  t.equal(sha256(raw.stdout), img.manifestDigest, 'pushed manifest digest unchanged');
  t.equal(raw.stdout, img.manifest.toString(), 'same bytes');

  const conf = join(work, 'registries.conf');
  await writeFile(conf, mirrorsConf(a, b));
  const ref = `docker://source.invalid/app@${img.manifestDigest}`;
  const triedA = `${a.host}/app@${img.manifestDigest}`;
  const triedB = `${b.host}/app@${img.manifestDigest}`;

  await a.clearLog();
  await b.clearLog();
  const r1 = await skopeoInspectRaw(ref, { registriesConf: conf, timeoutMs: 10_000 });
  okRun(t, r1);
  t.equal(sha256(r1.stdout), img.manifestDigest);
  t.strictSame(r1.tried, [triedA, triedB], 'mirror 1 then mirror 2; source not reached');
  const aReqs = manifestRequests(await a.requests(), 'app', img.manifestDigest);
  const bReqs = manifestRequests(await b.requests(), 'app', img.manifestDigest);
  t.ok(aReqs.length >= 1 && aReqs.every((r) => r.status === 404), 'A was asked and said 404');
  t.ok(
    bReqs.some((r) => r.method === 'GET' && r.status === 200),
    'B served the manifest',
  );

  await a.stop();
  t.notOk(a.running);
  await b.clearLog();
  const r2 = await skopeoInspectRaw(ref, { registriesConf: conf, timeoutMs: 10_000 });
  okRun(t, r2);
  t.strictSame(r2.tried, [triedA, triedB], 'A still tried first (connection refused), then B');
  t.match(r2.stderr, 'connect: connection refused');
  t.ok(
    manifestRequests(await b.requests(), 'app', img.manifestDigest).some((r) => r.status === 200),
    'B served it',
  );

  // restart A on the same port/storage; give A its own image
  await a.start();
  t.ok(a.running);
  const img2 = await buildImage(join(work, 'layout'), { content: 'smoke image A\n', tag: 'v2' });
  t.not(img2.manifestDigest, img.manifestDigest, 'content changes the digest');
  await pushImage(img2, `${a.host}/app:v2`);
  await a.clearLog();
  await b.clearLog();
  const r3 = await skopeoInspectRaw(`docker://source.invalid/app@${img2.manifestDigest}`, { registriesConf: conf });
  okRun(t, r3);
  t.strictSame(r3.tried, [`${a.host}/app@${img2.manifestDigest}`], 'served by A, B not tried');
  t.ok(manifestRequests(await a.requests(), 'app', img2.manifestDigest).some((r) => r.status === 200));
  t.strictSame(manifestRequests(await b.requests(), 'app'), [], 'B never asked');
  t.comment(`scenario took ${Date.now() - t0} ms`);
});

t.test('skopeo failure messages recorded in skopeo.ts', async (t) => {
  const reg = await registryFor(t);
  const work = await tempDir(t, 'registry-msgs-');
  const bad = join(work, 'bad.conf');
  await writeFile(bad, '[[registry]\nlocation = "x"\n');
  const r1 = await skopeoInspectRaw(`docker://${reg.host}/app:v1`, { registriesConf: bad, tlsVerify: false });
  t.equal(r1.code, 1);
  t.match(r1.stderr, /level=fatal msg="Error parsing image name .*loading registries configuration \\"[^"\\]*bad\.conf\\": toml: line 2/);
  t.strictSame(r1.tried, [], 'nothing tried');

  // a missing --registries-conf file is a load error too (no fallback to /etc)
  const r1b = await skopeo(['--registries-conf', join(work, 'missing.conf'), 'inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/app:v1`]);
  t.equal(r1b.code, 1);
  t.match(r1b.stderr, /loading registries configuration \\"[^"\\]*missing\.conf\\": open .*: no such file or directory/);

  const blocked = join(work, 'blocked.conf');
  await writeFile(blocked, `[[registry]]\nlocation = "${reg.host}"\ninsecure = true\nblocked = true\n`);
  await reg.clearLog();
  const r2 = await skopeoInspectRaw(`docker://${reg.host}/app:v1`, { registriesConf: blocked });
  t.equal(r2.code, 1);
  t.match(r2.stderr, `registry ${reg.host} is blocked in ${blocked}`);
  t.strictSame(r2.tried, [`${reg.host}/app:v1`], 'blocked registry still appears as "Trying to access"');
  t.strictSame(await reg.requests(), [], 'no request reached the blocked registry');

  // 127.0.0.1 is not implicitly insecure: without insecure=true / --tls-verify=false skopeo only speaks https
  const plain = join(work, 'plain.conf');
  await writeFile(plain, 'unqualified-search-registries = []\n');
  const r3 = await skopeoInspectRaw(`docker://${reg.host}/app:v1`, { registriesConf: plain });
  t.equal(r3.code, 1);
  t.match(r3.stderr, 'http: server gave HTTP response to HTTPS client');
});

t.test('tls + htpasswd registry', async (t) => {
  const work = await tempDir(t, 'registry-tls-');
  const tls = await makeSelfSignedCert(work);
  const htpasswdFile = await makeHtpasswd(join(work, 'htpasswd'), 'tester', 's3cret');
  const reg = await registryFor(t, { tls: { certFile: tls.certFile, keyFile: tls.keyFile }, htpasswdFile });
  t.equal(reg.scheme, 'https');
  const img = await buildImage(join(work, 'layout'), { content: 'tls image\n' });
  await pushImage(img, `${reg.host}/secure/app:latest`, { tlsVerify: true, certDir: tls.certDir, creds: 'tester:s3cret' });
  const conf = join(work, 'r.conf');
  await writeFile(conf, 'unqualified-search-registries = []\n');
  const ok = await skopeoInspectRaw(`docker://${reg.host}/secure/app@${img.manifestDigest}`, {
    registriesConf: conf,
    extraArgs: ['--cert-dir', tls.certDir, '--creds', 'tester:s3cret'],
  });
  okRun(t, ok);
  t.equal(sha256(ok.stdout), img.manifestDigest);
  const anon = await skopeoInspectRaw(`docker://${reg.host}/secure/app@${img.manifestDigest}`, {
    registriesConf: conf,
    extraArgs: ['--cert-dir', tls.certDir],
  });
  t.equal(anon.code, 1);
  t.match(anon.stderr, /unauthorized|authentication required/);
  const reqs = await reg.requests();
  t.ok(
    reqs.some((r) => r.status === 401),
    'registry answered 401',
  );
});

t.test('port taken: another free port is chosen; restart keeps the port', async (t) => {
  const blocker = createServer((s) => s.destroy()); // a foreign listener holding the port
  await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
  t.teardown(() => new Promise<void>((res) => blocker.close(() => res())));
  const addr = blocker.address();
  const taken = typeof addr === 'object' && addr ? addr.port : 0;
  const reg = await registryFor(t, { port: taken });
  t.not(reg.port, taken, 'EADDRINUSE -> retried on another port');
  t.match(await reg.log(), 'address already in use', 'first attempt hit the busy port');
  const port = reg.port;
  await reg.stop();
  t.equal(reg.pid, undefined);
  await reg.start();
  t.equal(reg.port, port, 'same port after restart');
  t.match(await reg.log(), `listening on 127.0.0.1:${port}`);
  t.match(await reg.log(), 'registry-harness-probe', 'the readiness probes are in the log');
  t.strictSame(await reg.requests(), [], '... but requests() leaves them out');
});
