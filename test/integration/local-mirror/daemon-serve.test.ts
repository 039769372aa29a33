/**
 * The daemon with `local-mirror` on, end to end: the real skopeo, pointed at the file the
 * daemon rendered, pulls by digest and by tag through the daemon's endpoint (which pulls from a
 * real docker-registry); `status` and the metrics file show the endpoint's work; with the daemon
 * stopped, the same file still serves skopeo through the configured mirror listed after it.
 */
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runArgs, startDaemon, workspace } from '../../helpers/daemon.js';
import { buildImage, pushImage, sha256 } from '../../helpers/oci-image.js';
import { freePort, registryFor } from '../../helpers/registry.js';
import { skopeo } from '../../helpers/skopeo.js';
import { localMirrorLocation } from '../../../src/local-mirror/mapping.js';

const SOURCE = 'source.invalid/app';

t.test('skopeo pulls through the daemon’s endpoint; stopped, through the mirror behind it', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'mpd-lm-daemon-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mirror = await registryFor(t);
  const img = await buildImage(join(work, 'img'), { content: randomBytes(200_000).toString('base64'), tag: 'v1' });
  await pushImage(img, `${mirror.host}/app:v1`);
  const D = img.manifestDigest;

  const ws = workspace(t);
  const address = `127.0.0.1:${await freePort()}`;
  const endpoint = localMirrorLocation(address, SOURCE);
  writeFileSync(
    join(ws.policy, '10-app.toml'),
    `insecure-registries = [${JSON.stringify(mirror.host)}]\n\n[[mirror-set]]\nsource = "${SOURCE}"\npull-from-mirror = "all"\nmirrors = ["${mirror.host}/app"]\n`,
  );
  const config = join(ws.dir, 'config.toml');
  const metrics = join(ws.dir, 'metrics.prom');
  writeFileSync(config, `local-mirror = ${JSON.stringify(address)}\nmetrics-file = ${JSON.stringify(metrics)}\n`);
  const d = await startDaemon(t, ws, { argv: runArgs(ws, 50, config) });
  await d.waitForOutput((o) => o.includes(endpoint), 'the endpoint in the output');

  const policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const copy = (ref: string, dest: string) =>
    skopeo(['--registries-conf', ws.output, 'copy', '--retry-times', '0', '--policy', policy, `docker://${ref}`, `dir:${join(work, dest)}`], {
      timeoutMs: 60_000,
    });

  const byDigest = await copy(`${SOURCE}@${D}`, 'digest');
  t.equal(byDigest.code, 0, byDigest.code === 0 ? 'skopeo copy' : byDigest.stderr);
  t.same(byDigest.tried, [`${endpoint}@${D}`], 'by digest: the endpoint served it all');
  t.equal(sha256(readFileSync(join(work, 'digest', img.layerDigest.slice(7)))), img.layerDigest, 'the layer, whole');

  const byTag = await copy(`${SOURCE}:v1`, 'tag');
  t.equal(byTag.code, 0, byTag.code === 0 ? 'skopeo copy' : byTag.stderr);
  t.same(byTag.tried, [`${endpoint}:v1`], 'by tag: the endpoint served it');
  t.equal(readFileSync(join(work, 'tag', 'manifest.json')).toString(), img.manifest.toString());

  const s = await d.status();
  t.equal(s.localMirror?.listening, true);
  t.equal(s.localMirror?.fronted, 1);
  t.ok((s.localMirror?.stats?.requests.manifests ?? 0) >= 2, 'status counts the manifest requests');
  t.ok((s.localMirror?.stats?.sources[`insecure://${mirror.host}`]?.ok ?? 0) >= 3, 'and what the mirror served');
  t.notOk(
    s.mirrors?.some((m) => m.endpoint.includes(address)),
    'the endpoint is not among the mirrors whose health is shown (nor probed)',
  );
  t.notOk(
    s.degraded.some((x) => x.includes('local mirror')),
    'not degraded',
  );
  await d.waitFor(
    () => /mirror_policyd_local_mirror_requests_total\{route="manifests"\} [1-9]/.test(readFileSync(metrics, 'utf8')),
    'the metrics file counts the requests (rewritten every few seconds while the endpoint serves)',
    30_000,
  );

  t.equal(await d.stop(), 0, 'SIGTERM: a clean stop with the endpoint up');

  const fallback = await copy(`${SOURCE}@${D}`, 'stopped');
  t.equal(fallback.code, 0, fallback.code === 0 ? 'skopeo copy' : fallback.stderr);
  t.same(fallback.tried, [`${endpoint}@${D}`, `${mirror.host}/app@${D}`], 'the daemon stopped: refused on loopback, then the configured mirror');
  t.equal(sha256(readFileSync(join(work, 'stopped', img.layerDigest.slice(7)))), img.layerDigest);
});

t.test('an address the daemon cannot bind: not listed, degraded, saying why', async (t) => {
  const ws = workspace(t);
  const { createServer } = await import('node:net');
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => taken.close(() => r())));
  const address = `127.0.0.1:${(taken.address() as { port: number }).port}`;
  writeFileSync(join(ws.policy, '10-app.toml'), `[[mirror-set]]\nsource = "${SOURCE}"\nmirrors = ["mirror.invalid/app"]\n`);
  const config = join(ws.dir, 'config.toml');
  writeFileSync(config, `local-mirror = ${JSON.stringify(address)}\n`);
  const d = await startDaemon(t, ws, { argv: runArgs(ws, 50, config) });
  const out = await d.waitForOutput((o) => o.includes('mirror.invalid/app'), 'the render');
  t.notMatch(out, address, 'a port someone else holds is never listed');
  const s = await d.status();
  t.equal(s.localMirror?.listening, false);
  t.match(s.degraded.join('\n'), /local mirror: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
  t.match(d.log(), /local mirror: cannot listen on/);
  t.equal(await d.stop(), 0);
});
