/**
 * The local mirror against broken mirrors, with the real skopeo as its client and a real
 * docker-registry as the healthy mirror behind the broken one. Mirror 1 hung (accepts, never
 * answers), refused, answering 5xx, or black-holed (a connect that never completes): the first
 * pull pays for it once, every later pull never asks it again (asserted by what the endpoint and
 * the fault makers recorded, never by time). A blob cut mid-transfer is finished from the next
 * mirror; a mirror serving a wrong blob is never accepted; with every source hung the endpoint
 * answers an error at its deadline instead of hanging its client.
 */
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { endpointKey, healthState } from '../../../src/health/health.js';
import { refusingHost, startFaultProxy, startHostileProxy, startSilentListener } from '../../helpers/fault-proxy.js';
import { localMirrorSetup, type LocalMirrorSetup } from '../../helpers/local-mirror.js';
import { buildImage, pushImage, sha256, type BuiltImage } from '../../helpers/oci-image.js';
import { registryFor } from '../../helpers/registry.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-lm-faults-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const mirror2 = await registryFor(t);
// A layer of 1 MiB of random bytes (stored, not compressed further): big enough to be cut mid-stream.
const img = await buildImage(join(work, 'img'), { content: randomBytes(1024 * 1024).toString('base64'), tag: 'v1' });
await pushImage(img, `${mirror2.host}/app:v1`);
const D = img.manifestDigest;
const PULLS = 3;

/** What the endpoint has asked of `host` so far (every outcome). */
function asked(setup: LocalMirrorSetup, host: string): number {
  const s = setup.endpoint?.stats().sources[endpointKey(host, true)];
  return s ? s.ok + s.absent + s.failed : 0;
}

async function pullsAreWhole(t: Test, setup: LocalMirrorSetup, image: BuiltImage, name: string): Promise<void> {
  const dest = join(work, `${name}-${Math.random().toString(36).slice(2)}`);
  const r = await setup.copy(`@${image.manifestDigest}`, dest);
  t.equal(r.code, 0, r.code === 0 ? `${name}: skopeo copy through the endpoint` : r.stderr);
  t.same(r.tried, [`${setup.address}/${setup.repository}@${image.manifestDigest}`], `${name}: the endpoint served it all`);
  t.equal(sha256(readFileSync(join(dest, image.layerDigest.slice(7)))), image.layerDigest, `${name}: the layer, whole`);
}

/**
 * A stand-in for a black-holed address on loopback: a listening socket that never accepts, its
 * backlog filled, so the kernel drops every further SYN and a connect neither succeeds nor fails.
 */
async function blackHole(t: Test): Promise<string> {
  const script = [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'port = s.getsockname()[1]',
    'fill = []',
    'for _ in range(8):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(("127.0.0.1", port))',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'print(port, flush=True)',
    'time.sleep(600)',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void child.kill('SIGKILL'));
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()));
    child.once('exit', (code) => reject(new Error(`python3 exited ${code}`)));
  });
  return `127.0.0.1:${port}`;
}

/** Mirror 1 broken (`host`), mirror 2 healthy: PULLS pulls, mirror 1 asked in the first only. */
async function brokenFirstMirror(t: Test, name: string, host: string, contacts?: () => number): Promise<void> {
  const setup = await localMirrorSetup(t, [`${host}/app`, `${mirror2.host}/app`]);
  await setup.start();
  await pullsAreWhole(t, setup, img, `${name}, pull 1`);
  const askedFirst = asked(setup, host);
  const contactsFirst = contacts?.();
  t.ok(askedFirst >= 1, `${name}: the first pull asked mirror 1 (${askedFirst} request(s))`);
  t.equal(healthState(setup.health.view()[endpointKey(host, true)], Date.now()), 'down', `${name}: mirror 1 marked down`);
  for (let i = 2; i <= PULLS; i++) await pullsAreWhole(t, setup, img, `${name}, pull ${i}`);
  t.equal(asked(setup, host), askedFirst, `${name}: the later pulls never asked mirror 1`);
  if (contacts) t.equal(contacts(), contactsFirst, `${name}: no further connection reached mirror 1`);
  t.ok((setup.endpoint?.stats().sources[endpointKey(mirror2.host, true)]?.ok ?? 0) >= PULLS, `${name}: mirror 2 served every pull`);
}

t.test('mirror 1 hung (accepts, never answers): paid once', async (t) => {
  const hung = await startSilentListener();
  t.teardown(() => hung.close());
  await brokenFirstMirror(t, 'hung', hung.host, () => hung.connections());
});

t.test('mirror 1 refusing connections: paid once', async (t) => {
  await brokenFirstMirror(t, 'refused', await refusingHost());
});

t.test('mirror 1 answering 500: paid once', async (t) => {
  const failing = await startFaultProxy(mirror2.host, [{ path: /^\/v2\/.+/, fault: 'status-500' }]);
  t.teardown(() => failing.close());
  await brokenFirstMirror(t, '5xx', failing.host, () => failing.hits.length);
});

t.test('mirror 1 black-holed (a connect that never completes): paid once', async (t) => {
  await brokenFirstMirror(t, 'black-holed', await blackHole(t));
});

t.test('a blob cut mid-transfer is finished from the next mirror, the client sees nothing', async (t) => {
  const cutting = await startHostileProxy(mirror2.host, [{ path: /\/blobs\/sha256:/, fault: 'truncate-close' }]);
  t.teardown(() => cutting.close());
  const setup = await localMirrorSetup(t, [`${cutting.host}/app`, `${mirror2.host}/app`]);
  await setup.start();
  await pullsAreWhole(t, setup, img, 'cut mid-blob');
  const s = setup.endpoint?.stats();
  t.ok((s?.midBlobFallbacks ?? 0) >= 1, `a blob was finished from mirror 2 (${s?.midBlobFallbacks} fallback(s))`);
  const ranged = (await mirror2.requests()).filter((r) => r.kind === 'blobs');
  t.ok(ranged.length >= 1, 'mirror 2 was asked for the rest');
  t.equal(s?.digestMismatches, 0);
});

t.test('a mirror serving a wrong blob is never accepted; the next pull comes from the right mirror', async (t) => {
  const corrupting = await startFaultProxy(mirror2.host, [{ path: new RegExp(`/blobs/${img.layerDigest}`), fault: 'corrupt' }]);
  t.teardown(() => corrupting.close());
  const setup = await localMirrorSetup(t, [`${corrupting.host}/app`, `${mirror2.host}/app`]);
  await setup.start();
  // The first pull: the endpoint streams the corrupted layer, finds the digest wrong at its end and cuts the
  // connection before the last bytes. skopeo (which verifies too) must not end up with a wrong layer.
  const dest = join(work, 'corrupt-1');
  const first = await setup.copy(`@${D}`, dest);
  if (first.code === 0) t.equal(sha256(readFileSync(join(dest, img.layerDigest.slice(7)))), img.layerDigest, 'if the first pull succeeded, its layer is right');
  else t.match(first.stderr, /layer|blob|digest|EOF|connection|reset/i, 'the first pull failed on the layer');
  t.equal(setup.endpoint?.stats().digestMismatches, 1, 'the wrong blob was caught');
  t.equal(healthState(setup.health.view()[endpointKey(corrupting.host, true)], Date.now()), 'down', 'the corrupting mirror is marked down');
  await pullsAreWhole(t, setup, img, 'after the wrong blob');
  t.equal(setup.endpoint?.stats().digestMismatches, 1, 'not served from the corrupting mirror again');
});

t.test('a mirror serving a wrong manifest by digest is marked down, as for a wrong blob; with no other source the client gets 502', async (t) => {
  const corrupting = await startFaultProxy(mirror2.host, [{ path: new RegExp(`/manifests/${D}`), fault: 'corrupt' }]);
  t.teardown(() => corrupting.close());
  const setup = await localMirrorSetup(t, [`${corrupting.host}/app`]);
  await setup.start();
  const res = await request(`http://${setup.address}/v2/${setup.repository}/manifests/${D}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  await res.body.dump();
  t.equal(res.statusCode, 502, 'the sources failed: not "unknown"');
  t.equal(healthState(setup.health.view()[endpointKey(corrupting.host, true)], Date.now()), 'down', 'the corrupting mirror is marked down');

  const both = await localMirrorSetup(t, [`${corrupting.host}/app`, `${mirror2.host}/app`]);
  await both.start();
  await pullsAreWhole(t, both, img, 'after the wrong manifest');
});

t.test('every source hung: the endpoint answers 503 at its deadline, never hangs its client', async (t) => {
  const hung1 = await startSilentListener();
  const hung2 = await startSilentListener();
  t.teardown(() => Promise.all([hung1.close(), hung2.close()]));
  const setup = await localMirrorSetup(t, [`${hung1.host}/app`, `${hung2.host}/app`]);
  await setup.start({ answerWithinMs: 1500, timeouts: { connectMs: 20_000, headersMs: 20_000, bodyIdleMs: 20_000 } });
  const r = await request(`http://${setup.address}/v2/${setup.repository}/manifests/${D}`, { headersTimeout: 30_000, bodyTimeout: 30_000 });
  t.equal(r.statusCode, 503);
  t.match(await r.body.json(), { errors: [{ code: 'UNAVAILABLE' }] });
  t.equal(setup.endpoint?.stats().deadlineAnswers, 1);
});

t.test('close(grace): a transfer still running when the grace ends is cut, and close returns', async (t) => {
  const trickling = await startHostileProxy(mirror2.host, [{ path: /\/blobs\/sha256:/, fault: 'trickle-body' }]);
  t.teardown(() => trickling.close());
  const setup = await localMirrorSetup(t, [`${trickling.host}/app`]);
  const ep = await setup.start({ timeouts: { connectMs: 20_000, headersMs: 20_000, bodyIdleMs: 20_000 } });
  const r = await request(`http://${setup.address}/v2/${setup.repository}/blobs/${img.layerDigest}`, { headersTimeout: 30_000, bodyTimeout: 30_000 });
  t.equal(r.statusCode, 200, 'the blob started');
  const body = r.body.arrayBuffer().then(
    () => 'complete',
    () => 'cut',
  );
  await new Promise((resolve) => setTimeout(resolve, 300));
  await ep.close(500);
  t.pass('close returned with a transfer that would never have finished');
  t.equal(await body, 'cut', 'the client saw the transfer cut, never a complete (wrong) blob');
  setup.endpoint = undefined;
});
