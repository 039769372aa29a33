/**
 * Health-aware order with real parts: docker-registry processes on 127.0.0.1, fault makers
 * for what a registry cannot do on demand (a listener that never speaks, a TLS server that
 * never answers, a proxy answering 500), the real daemon, and skopeo reading the rendered
 * file. Orders are asserted from skopeo's `Trying to access` lines, never from timings.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { readOrUndefined, replaceFile, sleep, startDaemon, workspace, type DaemonProcess, type Teardown, type Workspace } from '../../helpers/daemon.js';
import { refusingHost, startFaultProxy, startSilentListener, type FaultProxy } from '../../helpers/fault-proxy.js';
import { buildImage, pushImage, type BuiltImage } from '../../helpers/oci-image.js';
import { freePort, makeSelfSignedCert, registryFor, type Registry } from '../../helpers/registry.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';

/** Detection and recovery take a few probe rounds; generous, as the machine may be busy. */
const HEALTH_DEADLINE_MS = 45_000;

const SOURCE = 'source.invalid/app';

function policy(mirrors: readonly string[], insecure: readonly string[]): string {
  return `insecure-registries = ${JSON.stringify(insecure)}\n\n[[mirror-set]]\nsource = "${SOURCE}"\nmirrors = ${JSON.stringify(mirrors.map((h) => `${h}/app`))}\n`;
}

/** A config file: after-render appends a line to `after.log` (the flags carry the rest). */
function config(ws: Workspace): { file: string; afterLog: string; metrics: string } {
  const afterLog = join(ws.dir, 'after.log');
  const file = join(ws.dir, 'config.toml');
  writeFileSync(file, `after-render = [["/bin/sh", "-c", "echo rendered >> '${afterLog}'"]]\n`);
  return { file, afterLog, metrics: join(ws.dir, 'mirror-policyd.prom') };
}

const afterRuns = (file: string): number => (readOrUndefined(file) ?? '').split('\n').filter((l) => l === 'rendered').length;

/** Index of a mirror's location line in the rendered file (-1 when absent). */
const at = (text: string, host: string): number => text.indexOf(`location = "${host}/app"`);

/** The rendered text with the two mirror locations swapped back, header comments dropped. */
function body(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}

/** The text with the `[[registry.mirror]]` blocks (each with its own fields) of mirrors `a` and `b` swapped. */
function swap(text: string, a: string, b: string): string {
  const blocks = text.split('\n\n');
  const ia = blocks.findIndex((x) => x.includes('[[registry.mirror]]') && x.includes(`location = "${a}/app"`));
  const ib = blocks.findIndex((x) => x.includes('[[registry.mirror]]') && x.includes(`location = "${b}/app"`));
  if (ia < 0 || ib < 0) return text;
  [blocks[ia], blocks[ib]] = [blocks[ib] as string, blocks[ia] as string];
  return blocks.join('\n\n');
}

/** Prometheus text → { "name{labels}": value }; throws on a line that is neither comment nor sample. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const v = Number(m[2]);
    if (!Number.isFinite(v)) throw new Error(`not a finite value: ${line}`);
    out.set(m[1] as string, v);
  }
  return out;
}

async function imageOn(t: Teardown, regs: readonly Registry[]): Promise<BuiltImage> {
  const img = await buildImage(join(workspace(t).dir, 'img'), { content: `health-aware ${Math.random()}` });
  for (const r of regs) await pushImage(img, `${r.host}/app:v1`);
  return img;
}

async function inspect(conf: string, img: BuiltImage): Promise<{ code: number; tried: string[] }> {
  // A hung mirror tried first would hang skopeo (it has no deadline of its own): bounded here.
  const r = await skopeoInspectRaw(`docker://${SOURCE}@${img.manifestDigest}`, { registriesConf: conf, timeoutMs: 20_000 });
  return { code: r.code, tried: r.tried };
}

// A probe deadline long enough that a live registry on a busy machine is never taken for a dead one.
const HEALTH_FLAGS = ['--health-aware-order', '--probe-interval-ms', '200', '--probe-timeout-ms', '3000'];

t.test('a stopped mirror is demoted, skopeo then tries the healthy one first; back up, the configured order returns byte for byte', async (t) => {
  const reg1 = await registryFor(t);
  const reg2 = await registryFor(t);
  const img = await imageOn(t, [reg1, reg2]);
  const ws = workspace(t);
  const cfg = config(ws);
  writeFileSync(join(ws.policy, '10-app.toml'), policy([reg1.host, reg2.host], [reg1.host, reg2.host]));
  const d = await startDaemon(t, ws, {
    config: cfg.file,
    args: [...HEALTH_FLAGS, '--demote-after', '2', '--restore-after', '2', '--min-dwell-ms', '1000', '--metrics-file', cfg.metrics],
  });
  const original = await d.waitForOutput((o) => at(o, reg2.host) > 0, 'the first render');
  t.ok(at(original, reg1.host) < at(original, reg2.host), 'configured order: mirror 1, then mirror 2');
  const before = await inspect(ws.output, img);
  t.equal(before.code, 0);
  t.equal(before.tried[0], `${reg1.host}/app@${img.manifestDigest}`, 'skopeo tries mirror 1 first while it is healthy');
  await d.waitFor(() => afterRuns(cfg.afterLog) >= 1, 'after-render of the first render');
  const runsBefore = afterRuns(cfg.afterLog);

  await reg1.stop();
  const demoted = await d.waitForOutput(
    (o) => at(o, reg2.host) > 0 && at(o, reg2.host) < at(o, reg1.host),
    'mirror 1 listed after mirror 2',
    HEALTH_DEADLINE_MS,
  );
  t.equal(body(swap(demoted, reg1.host, reg2.host)), body(original), 'only the order of the two mirrors changed');
  await d.waitForLog(new RegExp(`demoted insecure://${reg1.host.replace(/\./g, '\\.')}: 2 refused`));
  // The file is in place a moment before the line saying so is written.
  await d.waitForLog(/mirror order in .* rewritten: demoted insecure:\/\/127\.0\.0\.1:\d+: 2 refused/);
  await d.waitFor(() => afterRuns(cfg.afterLog) > runsBefore, 'after-render after the rewrite');

  const after = await inspect(ws.output, img);
  t.equal(after.code, 0);
  t.same(after.tried, [`${reg2.host}/app@${img.manifestDigest}`], 'skopeo tries mirror 2 first and is served by it: mirror 1 not even tried');

  const s = await d.status();
  const m1 = s.mirrors?.find((m) => m.endpoint === `insecure://${reg1.host}`);
  t.equal(m1?.state, 'demoted');
  t.equal(m1?.demoted, true);
  t.match(m1?.why, /demoted: 2 refused/);
  t.ok(m1?.lastProbe, 'last probe shown');
  const m2 = s.mirrors?.find((m) => m.endpoint === `insecure://${reg2.host}`);
  t.equal(m2?.state, 'up');
  t.type(m2?.latencyMs, 'number', 'latency shown');
  t.same(s.healthAwareOrder?.demoted, [`insecure://${reg1.host}`]);
  const human = await runCli(['status', '--control-socket', ws.control]);
  t.match(human.stdout, new RegExp(`demoted +insecure://${reg1.host.replace(/\./g, '\\.')} .*probed .*\\(demoted: 2 refused`));
  t.match(human.stdout, /health-aware order: demoted insecure:\/\/127\.0\.0\.1:\d+; 1 demotion\(s\)/);

  let metrics = new Map<string, number>();
  await d.waitFor(() => {
    metrics = parseMetrics(readFileSync(cfg.metrics, 'utf8'));
    // A probe round may write the file between the demotion and the render that carries it: wait for both.
    return metrics.get(`mirror_policyd_mirror_demoted{endpoint="insecure://${reg1.host}"}`) === 1 && metrics.get('mirror_policyd_health_rewrites_total') === 1;
  }, 'the metrics file to show the demotion and its rewrite');
  t.equal(metrics.get(`mirror_policyd_mirror_up{endpoint="insecure://${reg1.host}"}`), 0);
  t.equal(metrics.get(`mirror_policyd_mirror_up{endpoint="insecure://${reg2.host}"}`), 1);
  t.type(metrics.get(`mirror_policyd_mirror_probe_latency_seconds{endpoint="insecure://${reg2.host}"}`), 'number');
  t.equal(metrics.get('mirror_policyd_demotions_total'), 1);
  t.ok((metrics.get('mirror_policyd_renders_total') ?? 0) >= 2);
  t.equal(metrics.get('mirror_policyd_render_errors_total'), 0);
  t.equal(metrics.get('mirror_policyd_fragments{state="valid"}'), 1);
  t.ok((metrics.get('mirror_policyd_last_successful_render_timestamp_seconds') ?? 0) > 1_600_000_000, 'a unix time in seconds');
  t.equal(metrics.get('mirror_policyd_drift_restores_total'), 0);

  const runsDemoted = afterRuns(cfg.afterLog);
  await reg1.start();
  const restored = await d.waitForOutput((o) => at(o, reg1.host) > 0 && at(o, reg1.host) < at(o, reg2.host), 'the configured order back', HEALTH_DEADLINE_MS);
  t.equal(restored, original, 'byte-identical to the render before the demotion');
  await d.waitForLog(new RegExp(`restored insecure://${reg1.host.replace(/\./g, '\\.')}: \\d+ successful probes?`));
  await d.waitFor(() => afterRuns(cfg.afterLog) > runsDemoted, 'after-render after the restore');
  const again = await inspect(ws.output, img);
  t.equal(again.code, 0);
  t.equal(again.tried[0], `${reg1.host}/app@${img.manifestDigest}`, 'skopeo tries mirror 1 first again');
  await d.waitFor(
    () => parseMetrics(readFileSync(cfg.metrics, 'utf8')).get(`mirror_policyd_mirror_demoted{endpoint="insecure://${reg1.host}"}`) === 0,
    'the metrics file to show the restore',
  );
  t.equal((await d.status()).mirrors?.find((m) => m.endpoint === `insecure://${reg1.host}`)?.state, 'up');
  t.equal(await d.stop(), 0);
});

/** A TLS server that completes the handshake and never answers a request. */
async function hungTlsServer(t: Teardown): Promise<string> {
  const cert = await makeSelfSignedCert(workspace(t).dir);
  const server = createTlsServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, () => {});
  const sockets = new Set<import('node:net').Socket>();
  server.on('secureConnection', (s) => sockets.add(s));
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `127.0.0.1:${port}`;
}

t.test('a hung mirror (TLS handshake stalls, or TLS fine and HTTP never answers) is demoted; skopeo is then served by mirror 2 first', async (t) => {
  const reg2 = await registryFor(t);
  const img = await imageOn(t, [reg2]);
  const silent = await startSilentListener();
  t.teardown(() => silent.close());
  const cases: Array<{ name: string; host: string; insecure: boolean }> = [
    { name: 'TLS handshake stalls (accepts TCP, never speaks)', host: silent.host, insecure: false },
    { name: 'TLS completes, HTTP never answers', host: await hungTlsServer(t), insecure: true },
  ];
  // The two cases are independent (a daemon and a workspace each; mirror 2 serves both): run side by
  // side, as each spends its time waiting out probe deadlines of its hung mirror.
  const runCase = async (c: (typeof cases)[number]): Promise<void> => {
    const ws = workspace(t);
    writeFileSync(join(ws.policy, '10-app.toml'), policy([c.host, reg2.host], c.insecure ? [c.host, reg2.host] : [reg2.host]));
    const d = await startDaemon(t, ws, { args: [...HEALTH_FLAGS, '--demote-after', '2', '--min-dwell-ms', '0'] });
    const first = await d.waitForOutput((o) => at(o, reg2.host) > 0, `${c.name}: the first render`);
    t.ok(at(first, c.host) < at(first, reg2.host), `${c.name}: configured order first`);
    const demoted = await d.waitForOutput((o) => at(o, reg2.host) < at(o, c.host), `${c.name}: the hung mirror listed last`, HEALTH_DEADLINE_MS);
    t.equal(body(swap(demoted, c.host, reg2.host)), body(first), `${c.name}: only the order changed`);
    const key = `${c.insecure ? 'insecure' : 'https'}://${c.host}`;
    await d.waitForLog(new RegExp(`demoted ${key.replace(/[./]/g, '\\$&')}: 2 `));
    const r = await inspect(ws.output, img);
    t.equal(r.code, 0, `${c.name}: skopeo pulls`);
    t.same(r.tried, [`${reg2.host}/app@${img.manifestDigest}`], `${c.name}: the hung mirror is not tried at all`);
    t.equal((await d.status()).mirrors?.find((m) => m.endpoint === key)?.state, 'demoted', `${c.name}: status says demoted`);
    t.equal(await d.stop(), 0);
  };
  // Settled, not all: a failing case must not end the test while the other still asserts.
  for (const r of await Promise.allSettled(cases.map(runCase))) if (r.status === 'rejected') throw r.reason;
});

/**
 * Flaps mirror 1 in step with the probes: the proxy in front of it answers 500 to everything,
 * then passes, switching as soon as a probe (GET /v2/) has seen the current state, `flips`
 * times. So every probe round sees the other state: the fastest flapping the daemon can see.
 */
async function flap(proxy: FaultProxy, flips: number): Promise<void> {
  const probes = (): number => proxy.hits.filter((h) => h.startsWith('GET /v2/ ')).length;
  for (let i = 0; i < flips; i++) {
    proxy.rules = i % 2 === 0 ? [{ path: /.*/, fault: 'status-500' }] : [];
    const seenBefore = probes();
    const deadline = Date.now() + 10_000;
    while (probes() === seenBefore && Date.now() < deadline) await sleep(10);
  }
  proxy.rules = [];
}

async function flappingSetup(t: Teardown, extra: readonly string[]): Promise<{ d: DaemonProcess; proxy: FaultProxy; afterLog: string }> {
  const reg1 = await registryFor(t);
  const reg2 = await registryFor(t);
  const proxy = await startFaultProxy(reg1.host);
  t.teardown(() => proxy.close());
  const ws = workspace(t);
  const cfg = config(ws);
  writeFileSync(join(ws.policy, '10-app.toml'), policy([proxy.host, reg2.host], [proxy.host, reg2.host]));
  const d = await startDaemon(t, ws, { config: cfg.file, args: [...HEALTH_FLAGS, '--demote-after', '1', '--restore-after', '1', ...extra] });
  await d.waitForOutput((o) => at(o, reg2.host) > 0, 'the first render');
  await d.waitFor(() => afterRuns(cfg.afterLog) === 1, 'after-render of the first render');
  await d.waitFor(() => proxy.hits.some((h) => h.startsWith('GET /v2/ pass')), 'mirror 1 probed');
  return { d, proxy, afterLog: cfg.afterLog };
}

/** Probes of mirror 1 that saw each state: the daemon must have seen the flapping for the test to mean anything. */
function seen(hits: readonly string[]): { failed: number; passed: number } {
  const v2 = hits.filter((h) => h.startsWith('GET /v2/ '));
  return { failed: v2.filter((h) => h.endsWith('status-500')).length, passed: v2.filter((h) => h.endsWith('pass')).length };
}

t.test('a mirror flapping faster than the dwell time causes no rewrite storm', async (t) => {
  // Demoted after 1 failure, restored after 1 success: only the dwell holds the file still.
  const { d, proxy, afterLog } = await flappingSetup(t, ['--min-dwell-ms', '3000', '--max-rewrites-per-minute', '600']);
  const hitsBefore = proxy.hits.length;
  const started = Date.now();
  await flap(proxy, 16);
  const { failed, passed } = seen(proxy.hits.slice(hitsBefore));
  t.ok(failed >= 8 && passed >= 7, `every probe saw the other state (${failed} failed, ${passed} passed probes)`);
  const s = await d.status();
  const elapsed = Date.now() - started;
  const rewrites = s.healthAwareOrder?.rewrites ?? -1;
  // Changes of one mirror are at least the dwell apart, so this many at most (16 without it).
  const bound = 1 + Math.floor(elapsed / 3000);
  t.ok(rewrites >= 1 && rewrites <= bound, `rewrites bounded by the dwell: ${rewrites} ≤ ${bound} in ${elapsed} ms`);
  t.ok(rewrites < 8, 'far fewer than the flips');
  t.ok(afterRuns(afterLog) - 1 <= bound, `after-render runs bounded too: ${afterRuns(afterLog) - 1}`);
  t.equal(await d.stop(), 0);
});

t.test('without a dwell, the rewrite cap holds the file still: at most max-rewrites-per-minute', async (t) => {
  const { d, proxy, afterLog } = await flappingSetup(t, ['--min-dwell-ms', '0', '--max-rewrites-per-minute', '2']);
  const hitsBefore = proxy.hits.length;
  await flap(proxy, 8);
  const { failed, passed } = seen(proxy.hits.slice(hitsBefore));
  t.ok(failed >= 4 && passed >= 3, `every probe saw the other state (${failed} failed, ${passed} passed probes)`);
  const s = await d.status();
  const rewrites = s.healthAwareOrder?.rewrites ?? -1;
  t.ok(rewrites >= 1 && rewrites <= 2, `rewrites capped: ${rewrites}`);
  t.ok(afterRuns(afterLog) - 1 <= 2, `after-render runs capped too: ${afterRuns(afterLog) - 1}`);
  await d.waitForLog(/max-rewrites-per-minute/); // the held-back rewrite is logged
  t.ok((s.healthAwareOrder?.rewritesLastMinute ?? 99) <= 2, 'the status says so too');
  t.equal(await d.stop(), 0);
});

t.test('SIGHUP with health-aware-order turned off in the config file puts the configured order back; on again, it demotes again', async (t) => {
  const reg2 = await registryFor(t);
  const dead = await refusingHost();
  const ws = workspace(t);
  const file = join(ws.dir, 'config.toml');
  const settings = (on: boolean): string => `health-aware-order = ${on}\ndemote-after = 1\nmin-dwell-ms = 0\nprobe-timeout-ms = 3000\n`;
  writeFileSync(file, settings(true));
  writeFileSync(join(ws.policy, '10-app.toml'), policy([dead, reg2.host], [dead, reg2.host]));
  const d = await startDaemon(t, ws, { config: file, args: ['--probe-interval-ms', '200'] });
  const demoted = await d.waitForOutput((o) => at(o, reg2.host) > 0 && at(o, reg2.host) < at(o, dead), 'the refused mirror listed last', HEALTH_DEADLINE_MS);
  writeFileSync(file, settings(false));
  d.child.kill('SIGHUP');
  const configured = await d.waitForOutput((o) => at(o, dead) > 0 && at(o, dead) < at(o, reg2.host), 'the configured order after the reload');
  t.equal(body(swap(configured, dead, reg2.host)), body(demoted), 'only the order changed back');
  const s = await d.status();
  t.equal(s.healthAwareOrder, undefined, 'no health-aware summary when it is off');
  t.equal(s.mirrors?.find((m) => m.endpoint === `insecure://${dead}`)?.state, 'down', 'still probed: down, not demoted');
  writeFileSync(file, settings(true));
  d.child.kill('SIGHUP');
  await d.waitForOutput((o) => at(o, reg2.host) < at(o, dead), 'demoted again once it is on', HEALTH_DEADLINE_MS);
  t.equal(await d.stop(), 0);
});

t.test('the metrics file with probes off: renders, fragments by state, drift restores', async (t) => {
  const ws = workspace(t);
  const metricsFile = join(ws.dir, 'm.prom');
  writeFileSync(join(ws.policy, '10-a.toml'), policy(['mirror-a.example'], []));
  const d = await startDaemon(t, ws, { args: ['--metrics-file', metricsFile] });
  const ours = await d.waitForOutput((o) => o.includes('mirror-a.example/app'));
  await d.waitFor(() => parseMetrics(readFileSync(metricsFile, 'utf8')).get('mirror_policyd_fragments{state="valid"}') === 1, 'metrics after the first render');
  writeFileSync(ws.output, ours.replace('mirror-a.example/app', 'hand-edited.example/app'));
  await d.waitForOutput((o) => o === ours, 'our render restored');
  replaceFile(join(ws.policy, '20-broken.toml'), '[[mirror-set]\n');
  let m = new Map<string, number>();
  await d.waitFor(() => {
    m = parseMetrics(readFileSync(metricsFile, 'utf8'));
    return m.get('mirror_policyd_drift_restores_total') === 1 && m.get('mirror_policyd_fragments{state="invalid"}') === 1;
  }, 'drift restore and the invalid fragment counted');
  t.equal(m.get('mirror_policyd_fragments{state="valid"}'), 1);
  t.equal(m.get('mirror_policyd_fragments{state="held"}'), 0);
  t.notOk(
    [...m.keys()].some((k) => k.startsWith('mirror_policyd_mirror_up')),
    'no probes: no mirror_up series',
  );
  t.equal(m.get('mirror_policyd_mirror_demoted{endpoint="https://mirror-a.example"}'), 0);
  t.ok((m.get('mirror_policyd_renders_total') ?? 0) >= 3);
  t.equal(m.get('mirror_policyd_demotions_total'), 0);
  t.match(readFileSync(metricsFile, 'utf8'), /^# TYPE mirror_policyd_renders_total counter$/m);
  t.equal(await d.stop(), 0);
});
