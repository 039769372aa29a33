/**
 * Credentials from auth files never leave the process: a TLS registry with basic auth, an
 * auth file with the test password, then `pull` (served, and refused with a wrong password)
 * at the most verbose log level in both log formats, and the daemon probing that registry
 * with the same auth file (probes on, metrics file on, trace logs), `status` and
 * `status --json`. Every byte they print or leave behind (stdout, stderr, the state dir,
 * the metrics file, the OCI layout's index) is scanned for the password, the base64 of
 * `user:password` and the wrong password. The scan is proven able to fail: the auth file
 * itself, scanned the same way, is a hit.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { cleanEnv, fragment, startDaemon, workspace } from '../../helpers/daemon.js';
import { buildImage, pushImage } from '../../helpers/oci-image.js';
import { makeHtpasswd, makeSelfSignedCert, registryFor } from '../../helpers/registry.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-secrets-'));
t.teardown(() => import('node:fs').then((fs) => fs.rmSync(work, { recursive: true, force: true })));
const user = 'puller';
const password = `pw-${randomBytes(9).toString('hex')}`;
const wrong = `wrong-${randomBytes(9).toString('hex')}`;
const tls = await makeSelfSignedCert(join(work, 'tls'));
const reg = await registryFor(t, {
  tls: { certFile: tls.certFile, keyFile: tls.keyFile },
  htpasswdFile: await makeHtpasswd(join(work, 'htpasswd'), user, password),
});
const img = await buildImage(join(work, 'img'), { content: 'secret-free image', tag: 'v1' });
await pushImage(img, `${reg.host}/secure/app:v1`, { tlsVerify: true, certDir: tls.certDir, creds: `${user}:${password}` });

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const NEEDLES = [password, b64(`${user}:${password}`), wrong, b64(`${user}:${wrong}`)];
const authFile = join(work, 'auth.json');
writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: b64(`${user}:${password}`) } } }));
const wrongAuthFile = join(work, 'wrong-auth.json');
writeFileSync(wrongAuthFile, JSON.stringify({ auths: { [reg.host]: { auth: b64(`${user}:${wrong}`) } } }));

/** Where a credential shows up in `text` (also JSON- or URL-escaped), or [] . */
function leaks(text: string): string[] {
  return NEEDLES.filter((n) => text.includes(n) || text.includes(JSON.stringify(n).slice(1, -1)) || text.includes(encodeURIComponent(n)));
}

/** Every regular file under `dir`, read whole (binary as latin1, so any byte sequence is seen). */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((rel) => join(dir, rel))
    .filter((p) => statSync(p).isFile())
    .map((path) => ({ path, text: readFileSync(path).toString('latin1') }));
}

t.test('the scan finds a credential where there is one (the auth files themselves)', async (t) => {
  t.same(leaks(readFileSync(authFile, 'utf8')), [b64(`${user}:${password}`)]);
  t.same(leaks(readFileSync(wrongAuthFile, 'utf8')), [b64(`${user}:${wrong}`)]);
  t.same(leaks(`{"error":"${password}"}`), [password]);
});

t.test('pull: served with credentials, refused with wrong ones; no credential in any output or file', async (t) => {
  const conf = join(work, 'registries.conf');
  writeFileSync(conf, `[[registry]]\nlocation = "${reg.host}/secure"\n`);
  const state = join(work, 'pull-state');
  const scanned: string[] = [];
  for (const [name, file, wantCode] of [
    ['right', authFile, 0],
    ['wrong', wrongAuthFile, 1],
  ] as const) {
    for (const format of ['json', 'pretty']) {
      const destDir = join(work, `dest-${name}-${format}`);
      const r = await runCli(
        [
          'pull',
          `${reg.host}/secure/app@${img.manifestDigest}`,
          '--dest',
          destDir,
          '--registries-conf',
          conf,
          '--authfile',
          file,
          '--cert-dir',
          tls.certDir,
          '--state-dir',
          state,
          '--log-level',
          'trace',
          '--log-format',
          format,
          ...(format === 'json' ? ['--json'] : []),
        ],
        { env: cleanEnv(), timeoutMs: 60_000 },
      );
      t.equal(r.code, wantCode, `${name} credentials, ${format} logs: exit ${r.code}\n${r.stderr.slice(-500)}`);
      t.same(leaks(r.stdout), [], `${name}/${format}: stdout clean`);
      t.same(leaks(r.stderr), [], `${name}/${format}: stderr clean`);
      if (name === 'wrong') t.match(r.stdout + r.stderr, /401|unauthori[sz]ed|denied/i, 'the refusal is reported (without the credential)');
      for (const f of filesUnder(destDir)) {
        scanned.push(f.path);
        t.same(leaks(f.text), [], `${f.path} clean`);
      }
    }
  }
  for (const f of filesUnder(state)) {
    scanned.push(f.path);
    t.same(leaks(f.text), [], `${f.path} clean`);
  }
  t.ok(
    scanned.some((p) => p.endsWith('health.json')),
    'the health cache was written and scanned',
  );
});

for (const [name, file] of [
  ['right', authFile],
  ['wrong', wrongAuthFile],
] as const) {
  t.test(`the daemon probing with the ${name} credentials: logs, status, state dir and metrics hold no credential`, async (t) => {
    const ws = workspace(t);
    writeFileSync(join(ws.policy, '10-secure.toml'), fragment('secure.example.com', [`${reg.host}/secure`]));
    const metrics = join(ws.dir, 'metrics', 'mirror-policyd.prom');
    mkdirSync(join(ws.dir, 'metrics'));
    const config = join(ws.dir, 'config.toml');
    writeFileSync(config, `metrics-file = ${JSON.stringify(metrics)}\nlog-level = "trace"\n`);
    const d = await startDaemon(t, ws, {
      config,
      args: ['--probe-interval-ms', '300', '--log-level', 'trace'],
      // The probes trust the CA the way a host would, and find the credentials in $REGISTRY_AUTH_FILE.
      env: { REGISTRY_AUTH_FILE: file, NODE_EXTRA_CA_CERTS: tls.certFile },
    });
    const probed = await d.waitForStatus(
      (s) => (s.mirrors ?? []).some((m) => m.endpoint.includes(reg.host) && m.lastProbe !== undefined),
      'a probe of the registry',
      20_000,
    );
    const mine = (probed.mirrors ?? []).find((m) => m.endpoint.includes(reg.host));
    t.comment(`probe with the ${name} credentials: ${JSON.stringify(mine)}`);
    if (name === 'right') t.equal(mine?.state, 'up', 'the authenticated probe says up');
    await d.waitFor(() => existsSync(metrics), 'the metrics file');
    await d.waitFor(() => existsSync(join(ws.state, 'health.json')), 'the health cache');
    const statusText = await runCli(['status', '--control-socket', ws.control], { env: cleanEnv() });
    const statusJson = await runCli(['status', '--json', '--control-socket', ws.control], { env: cleanEnv() });
    t.match(statusJson.stdout, reg.host, 'status --json lists the probed mirror');
    const metricsText = readFileSync(metrics, 'utf8'); // read while the daemon runs: a clean stop removes the file
    t.equal(await d.stop(), 0);
    const outputs = {
      'metrics file': metricsText,
      'daemon stdout': d.stdout(),
      'daemon stderr': d.stderr(),
      status: statusText.stdout + statusText.stderr,
      'status --json': statusJson.stdout + statusJson.stderr,
    };
    t.match(d.stdout(), /^(DEBUG|TRACE): /m, `the debug/trace log was there to scan (${d.stdout().length} bytes)`);
    t.match(d.stdout(), /INFO: rendered/);
    for (const [what, text] of Object.entries(outputs)) t.same(leaks(text), [], `${what} clean`);
    const files = [...filesUnder(ws.state), ...filesUnder(join(ws.dir, 'metrics')), ...filesUnder(join(ws.dir, 'out'))];
    t.match(metricsText, /^mirror_policyd_/m, 'the metrics file was there to scan');
    t.ok(
      files.some((f) => f.path.endsWith('health.json')),
      'the health cache was scanned',
    );
    for (const f of files) t.same(leaks(f.text), [], `${f.path.slice(ws.dir.length)} clean`);
  });
}
