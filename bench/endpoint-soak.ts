/**
 * The local mirror endpoint of the real daemon over many pulls under faults (soak part
 * `endpoint`): does anything grow with the number of pulls, distinct digests or repositories,
 * distinct clients or failures?
 *
 * Two real docker-registry processes hold the images; each is reached through a fault proxy
 * (5xx, hang, wrong bytes) in front of a hostile proxy (cut mid-body, slow, close-delimited
 * cut), so each round can give each mirror its own fault; a refused port is listed too, and
 * registry A is stopped in some rounds. The fault moves between A and B from round to round, so
 * the one with the fault is often the one the health cache tries first. Each round: skopeo copy
 * by digest, skopeo inspect by tag, GET/HEAD/Range by hand (every byte of a 200 or 206 checked
 * against the blob), clients that go away mid-blob, blobs and repositories that do not exist.
 *
 * Between rounds, once the endpoint is idle (status: nothing in flight), the daemon is sampled:
 * its open fds by kind, its TCP sockets by state, RSS, temp files in the state dir, the size of
 * health.json. Violations: fds or sockets at 2N rounds above those at N (the steady state
 * reached after the first half, plus a small slack), RSS at 2N beyond a generous bound over N,
 * any answer that carried wrong bytes, a daemon exit, a MaxListenersExceededWarning (or any
 * Node warning) in its output.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../src/control/client.js';
import type { DaemonStatus } from '../src/daemon/daemon.js';
import { localMirrorLocation } from '../src/local-mirror/mapping.js';
import { startFaultProxy, startHostileProxy, type FaultProxy, type FaultRule, type HostileRule } from '../test/helpers/fault-proxy.js';
import { buildImage, pushImage, type BuiltImage } from '../test/helpers/oci-image.js';
import { freePort, startRegistry, type Registry } from '../test/helpers/registry.js';
import { skopeo } from '../test/helpers/skopeo.js';
import { daemonArgs, makeDirs, removeDirs, sleep, startNotifyListener, stopDaemon, type RunningDaemon, procFigures } from './daemon-harness.js';

const SOURCE = 'soak.invalid';
const REPO = 'app';

export interface Sample {
  readonly round: number;
  readonly fds: number;
  readonly fdKinds: Record<string, number>;
  readonly tcp: Record<string, number>;
  /** the connections that are not listening: STATE local->peer */
  readonly peers: string[];
  readonly rssKb: number;
  readonly stateFiles: number;
  readonly healthBytes: number;
  readonly inFlight: number;
  /** from a heap snapshot (which collects everything first): the live heap, its objects by constructor */
  readonly heap?: { readonly bytes: number; readonly nodes: number; readonly byName: Record<string, number> };
}

export interface EndpointSoakResult {
  readonly rounds: number;
  readonly samples: Sample[];
  readonly pulls: { ok: number; failed: number };
  /** why pulls failed: the round, its fault, skopeo's last error line */
  readonly failedPulls: string[];
  readonly requests: number;
  readonly violations: string[];
  readonly ms: number;
}

type Mode =
  'none' | 'status-500' | 'hang' | 'corrupt' | 'truncate-close' | 'close-delimited-cut' | 'close-delimited-corrupt' | 'slow-body' | 'range-corrupt' | 'stopped';
const MODES: readonly Mode[] = [
  'status-500',
  'truncate-close',
  'corrupt',
  'close-delimited-cut',
  'hang',
  'slow-body',
  'close-delimited-corrupt',
  'range-corrupt',
  'stopped',
  'none',
];

interface Mirror {
  readonly registry: Registry;
  readonly faults: FaultProxy;
  readonly hostile: FaultProxy;
}

const BLOBS = /\/blobs\//;

function setMode(m: Mirror, mode: Mode): void {
  const fault = (f: FaultRule['fault']): FaultRule[] => [{ path: BLOBS, fault: f }];
  const hostile = (f: HostileRule['fault']): HostileRule[] => [{ path: BLOBS, fault: f }];
  m.faults.rules =
    mode === 'status-500' ? [{ path: /\/v2\/.+/, fault: 'status-500' }] : mode === 'hang' ? fault('hang') : mode === 'corrupt' ? fault('corrupt') : [];
  m.hostile.rules = (mode === 'truncate-close' ||
  mode === 'close-delimited-cut' ||
  mode === 'close-delimited-corrupt' ||
  mode === 'slow-body' ||
  mode === 'range-corrupt'
    ? hostile(mode)
    : []) as unknown as FaultRule[];
}

/** A count of the daemon's open fds by what they are (socket, pipe, anon_inode:[eventpoll], a file's directory). */
function fdsOf(pid: number): { total: number; kinds: Record<string, number> } {
  const kinds: Record<string, number> = {};
  let total = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    total++;
    const kind = /^(socket|pipe):/.exec(target)?.[1] ?? (target.startsWith('anon_inode:') ? target : target.startsWith('/') ? 'file' : target);
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return { total, kinds };
}

/** The daemon's TCP sockets by state (ss), listening ones apart. */
function tcpOf(pid: number): { states: Record<string, number>; peers: string[] } {
  const out = execFileSync('ss', ['-tanp', 'exclude', 'time-wait'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const states: Record<string, number> = {};
  const peers: string[] = [];
  for (const line of out.split('\n')) {
    if (!line.includes(`pid=${pid},`)) continue;
    const cols = line.trim().split(/\s+/);
    const state = cols[0] ?? '?';
    states[state] = (states[state] ?? 0) + 1;
    if (state !== 'LISTEN') peers.push(`${state} ${cols[3]}->${cols[4]}`);
  }
  return { states, peers };
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** A request by hand through node:http (a new connection each: distinct clients); the body whole, or how it ended. */
function get(
  url: string,
  method: 'GET' | 'HEAD',
  headers: Record<string, string> = {},
  opts: { abortAfterBytes?: number; abortAfterMs?: number; timeoutMs?: number } = {},
): Promise<{ status: number; body: Buffer; complete: boolean; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { method, headers, agent: false });
    const timer = setTimeout(() => req.destroy(new Error('timeout')), opts.timeoutMs ?? 60_000);
    if (opts.abortAfterMs !== undefined) setTimeout(() => req.destroy(), opts.abortAfterMs).unref(); // a client gone while the endpoint waits for a source
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        n += c.length;
        if (opts.abortAfterBytes !== undefined && n >= opts.abortAfterBytes) req.destroy(); // a client gone mid-blob
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete: res.complete, headers: res.headers });
      });
      res.on('error', () => undefined);
      res.on('close', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete: res.complete, headers: res.headers });
      });
    });
    req.on('error', () => {
      clearTimeout(timer);
      resolve({ status: 0, body: Buffer.alloc(0), complete: false, headers: {} });
    });
    req.end();
  });
}

export async function runEndpointSoak(opts: {
  rounds: number;
  bin: string;
  seed?: number;
  onSample?: (s: Sample) => void;
  onSetup?: (line: string) => void;
  /** heap snapshots at each sample (default on) */
  heap?: boolean;
}): Promise<EndpointSoakResult> {
  const started = performance.now();
  const work = mkdtempSync(join(tmpdir(), 'mpd-endpoint-soak-'));
  const violations: string[] = [];
  const samples: Sample[] = [];
  const pulls = { ok: 0, failed: 0 };
  const failedPulls: string[] = [];
  const lastError = (stderr: string): string =>
    (
      stderr
        .split('\n')
        .filter((l) => /level=(error|fatal)|^Error|FATA/.test(l))
        .pop() ??
      stderr.trim().split('\n').pop() ??
      ''
    ).slice(0, 300);
  let requests = 0;
  const cleanup: Array<() => Promise<void> | void> = [() => rmSync(work, { recursive: true, force: true })];
  try {
    // the images: three, each on both registries (a layer of ~1 MB: long enough to be cut mid-body)
    const images: BuiltImage[] = [];
    for (let i = 0; i < 3; i++)
      images.push(await buildImage(join(work, `img${i}`), { content: randomBytes(800_000 + i * 1000).toString('base64'), tag: `v${i}` }));
    const blobBytes = new Map<string, Buffer>();
    for (const img of images)
      for (const d of [img.layerDigest, img.configDigest]) blobBytes.set(d, readFileSync(join(img.layoutDir, 'blobs', 'sha256', d.slice(7))));
    const mirrors: Mirror[] = [];
    for (let m = 0; m < 2; m++) {
      const registry = await startRegistry();
      cleanup.push(() => registry.destroy());
      for (const img of images) await pushImage(img, `${registry.host}/${REPO}:${img.tag}`);
      const hostile = await startHostileProxy(registry.host, []);
      cleanup.push(() => hostile.close());
      const faults = await startFaultProxy(hostile.host, []);
      cleanup.push(() => faults.close());
      mirrors.push({ registry, hostile, faults });
    }
    const refused = `127.0.0.1:${await freePort()}`;
    const hosts = [...mirrors.map((m) => m.faults.host), refused];
    opts.onSetup?.(
      `mirrors: A ${mirrors[0]?.faults.host} (hostile ${mirrors[0]?.hostile.host}, registry ${mirrors[0]?.registry.host}), B ${mirrors[1]?.faults.host} (hostile ${mirrors[1]?.hostile.host}, registry ${mirrors[1]?.registry.host}), refused ${refused}`,
    );

    const dirs = makeDirs('mpd-endpoint-soak-');
    cleanup.push(() => removeDirs(dirs));
    writeFileSync(
      join(dirs.policy, '10-soak.toml'),
      `insecure-registries = ${JSON.stringify(hosts)}\n\n[[mirror-set]]\nsource = "${SOURCE}"\npull-from-mirror = "all"\nmirrors = ${JSON.stringify(hosts)}\n`,
      { mode: 0o644 },
    );
    const address = `127.0.0.1:${await freePort()}`;
    const config = join(work, 'config.toml');
    writeFileSync(config, `local-mirror = ${JSON.stringify(address)}\n`);
    const notify = await startNotifyListener();
    cleanup.push(() => notify.close());
    const args = daemonArgs(dirs, { bin: opts.bin, logLevel: 'warn' });
    args[args.indexOf('--config') + 1] = config;
    const env: NodeJS.ProcessEnv = { ...process.env, NOTIFY_SOCKET: notify.path };
    for (const k of Object.keys(env))
      if (k === 'NODE_OPTIONS' || k.startsWith('_TAPJS_') || ['WATCHDOG_USEC', 'WATCHDOG_PID', 'JOURNAL_STREAM'].includes(k)) delete env[k];
    // SIGUSR2 writes a heap snapshot (after a full collection) into the daemon's cwd
    const snapshots = mkdtempSync(join(work, 'heap-'));
    const child = spawn(process.execPath, ['--heapsnapshot-signal=SIGUSR2', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: snapshots });
    const warnings: string[] = [];
    let tail: string[] = [];
    const watch = (b: Buffer): void => {
      for (const line of b.toString('utf8').split('\n').filter(Boolean)) {
        tail.push(line);
        if (/Warning|uncaught|unhandled/i.test(line) && !/"level":40/.test(line)) warnings.push(line.slice(0, 400));
      }
      if (tail.length > 60) tail = tail.slice(-60);
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const d: RunningDaemon = {
      child,
      pid: child.pid ?? 0,
      ready: Promise.resolve(0),
      exited: exited.then(() => ({ code: child.exitCode, signal: child.signalCode })),
      tail: () => tail.join('\n'),
    };
    cleanup.push(async () => void (await stopDaemon(d)));
    await notify.waitFor((m) => m.split('\n').includes('READY=1'), 15_000);
    const alive = (): boolean => child.exitCode === null && child.signalCode === null;

    const status = async (): Promise<DaemonStatus | undefined> => {
      const r = await controlRequest(dirs.control, { cmd: 'status' }).catch(() => undefined);
      return r?.ok ? (r.result as DaemonStatus) : undefined;
    };
    const repo = localMirrorLocation(address, `${SOURCE}/${REPO}`).slice(address.length + 1);
    const base = `http://${address}/v2/${repo}`;
    const policy = join(work, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const regConf = dirs.output;
    const skopeoEnv = { CONTAINERS_REGISTRIES_CONF: regConf, REGISTRIES_CONFIG_PATH: regConf };

    const sample = async (round: number): Promise<void> => {
      // idle first: nothing in flight (bounded wait), then the timers of cut transfers a moment to fire
      let st = await status();
      for (let i = 0; i < 200 && (st?.localMirror?.stats?.inFlight ?? 0) > 0; i++) {
        await sleep(100);
        st = await status();
      }
      await sleep(6500); // past the keep-alive of both sides (undici 4 s, the endpoint's 5 s): what is left is held
      const heap = opts.heap === false ? undefined : await heapOf(d.pid, snapshots);
      const f = fdsOf(d.pid);
      const state = readdirSync(dirs.state);
      const healthFile = join(dirs.state, 'health.json');
      const s: Sample = {
        round,
        fds: f.total,
        fdKinds: f.kinds,
        ...(({ states, peers }) => ({ tcp: states, peers }))(tcpOf(d.pid)),
        rssKb: procFigures(d.pid)?.rssKb ?? 0,
        stateFiles: state.length,
        healthBytes: existsSync(healthFile) ? statSync(healthFile).size : 0,
        inFlight: st?.localMirror?.stats?.inFlight ?? -1,
        ...(heap ? { heap } : {}),
      };
      samples.push(s);
      opts.onSample?.(s);
    };

    const checkBody = (what: string, r: { status: number; body: Buffer; complete: boolean }, digest: string, range?: [number, number]): void => {
      if (!r.complete) return; // cut: no client takes it as whole
      const want = blobBytes.get(digest);
      if (r.status === 200 && want && !r.body.equals(want))
        violations.push(`${what}: 200 with ${r.body.length} bytes that are not the blob's (${sha256(r.body)})`);
      if (r.status === 206 && want && range && !r.body.equals(want.subarray(range[0], range[1] + 1)))
        violations.push(`${what}: 206 with ${r.body.length} bytes that are not the blob's bytes ${range[0]}-${range[1]}`);
    };

    await sample(0);
    for (let round = 1; round <= opts.rounds; round++) {
      if (!alive()) {
        violations.push(`round ${round}: the daemon exited (${child.exitCode ?? child.signalCode}): ${d.tail()}`);
        break;
      }
      const faulty = mirrors[round % 2] as Mirror;
      const other = mirrors[(round + 1) % 2] as Mirror;
      const mode = MODES[Math.floor(round / 2) % MODES.length] as Mode;
      setMode(faulty, mode);
      setMode(other, 'none');
      if (mode === 'stopped') await faulty.registry.stop();
      const img = images[round % images.length] as BuiltImage;
      try {
        // skopeo by digest and by tag
        const copy = await skopeo(
          [
            '--registries-conf',
            regConf,
            'copy',
            '--retry-times',
            '0',
            '--policy',
            policy,
            `docker://${SOURCE}/${REPO}@${img.manifestDigest}`,
            `dir:${join(work, `out${round}`)}`,
          ],
          { timeoutMs: 120_000, env: skopeoEnv },
        );
        if (copy.code === 0) {
          pulls.ok++;
          const layer = readFileSync(join(work, `out${round}`, img.layerDigest.slice(7)));
          if (sha256(layer) !== img.layerDigest) violations.push(`round ${round}: skopeo copy succeeded with a wrong layer`);
        } else {
          pulls.failed++;
          failedPulls.push(`round ${round} (${mode} on ${faulty === mirrors[0] ? 'A' : 'B'}): copy by digest: ${lastError(copy.stderr)}`);
        }
        rmSync(join(work, `out${round}`), { recursive: true, force: true });
        const inspect = await skopeo(['--registries-conf', regConf, 'inspect', '--raw', `docker://${SOURCE}/${REPO}:${img.tag}`], {
          timeoutMs: 120_000,
          env: skopeoEnv,
        });
        if (inspect.code === 0) {
          pulls.ok++;
          if (inspect.stdout.trim() !== img.manifest.toString().trim()) violations.push(`round ${round}: skopeo inspect by tag gave another manifest`);
        } else {
          pulls.failed++;
          failedPulls.push(`round ${round} (${mode} on ${faulty === mirrors[0] ? 'A' : 'B'}): inspect by tag: ${lastError(inspect.stderr)}`);
        }

        // by hand: GET whole, Range, HEAD; clients gone mid-blob; unknown blobs and repositories
        const blob = `${base}/blobs/${img.layerDigest}`;
        const whole = await get(blob, 'GET');
        checkBody(`round ${round}: GET ${img.layerDigest}`, whole, img.layerDigest);
        const size = blobBytes.get(img.layerDigest)?.length ?? 0;
        const range: [number, number] = [Math.floor(size / 3), Math.floor(size / 3) + 70_000];
        const part = await get(blob, 'GET', { range: `bytes=${range[0]}-${range[1]}` });
        checkBody(`round ${round}: GET Range ${img.layerDigest}`, part, img.layerDigest, range);
        const cfg = await get(`${base}/blobs/${img.configDigest}`, 'GET');
        checkBody(`round ${round}: GET config`, cfg, img.configDigest);
        await get(blob, 'HEAD');
        await get(`${base}/manifests/${img.manifestDigest}`, 'HEAD', { accept: 'application/vnd.oci.image.manifest.v1+json' });
        // clients together, some gone mid-blob, one before its answer started, one asking past the end
        const together = await Promise.all([
          get(blob, 'GET'),
          get(blob, 'GET', {}, { abortAfterBytes: 1 }),
          get(blob, 'GET', {}, { abortAfterBytes: 300_000 }),
          get(blob, 'GET', {}, { abortAfterMs: 200 }),
          get(blob, 'GET', { range: `bytes=${size + 10}-` }),
          get(blob, 'GET', { range: `bytes=${range[0]}-${range[1]}` }),
        ]);
        checkBody(`round ${round}: GET ${img.layerDigest} (6 at once)`, together[0], img.layerDigest);
        checkBody(`round ${round}: GET Range ${img.layerDigest} (6 at once)`, together[5], img.layerDigest, range);
        // distinct digests and repositories every round, 10 of each: nothing keyed by them may stay
        for (let k = 0; k < 10; k++) {
          const unknown = `sha256:${randomBytes(32).toString('hex')}`;
          const otherRepo = localMirrorLocation(address, `${SOURCE}/r${round}x${randomBytes(4).toString('hex')}`).slice(address.length + 1);
          await Promise.all([
            get(`${base}/blobs/${unknown}`, 'GET'),
            get(`${base}/manifests/${unknown}`, 'GET'),
            get(`http://${address}/v2/${otherRepo}/manifests/latest`, 'GET'),
            get(`http://${address}/v2/${otherRepo}/blobs/${img.layerDigest}`, 'HEAD'),
          ]);
        }
        requests += 11 + 40;
      } finally {
        if (mode === 'stopped') await faulty.registry.start();
        setMode(faulty, 'none');
      }
      if (!alive()) {
        violations.push(`round ${round}: the daemon exited (${child.exitCode ?? child.signalCode}): ${d.tail()}`);
        break;
      }
      if (round === Math.floor(opts.rounds / 2) || round === opts.rounds || round % Math.max(10, Math.floor(opts.rounds / 10)) === 0) await sample(round);
    }
    for (const w of warnings.slice(0, 10)) violations.push(`the daemon printed: ${w}`);
    judge(samples, opts.rounds, violations);
    if (alive()) {
      const r = await stopDaemon(d);
      if (r.code !== 0) violations.push(`the daemon stopped with ${r.code ?? r.signal}: ${d.tail()}`);
    }
  } finally {
    for (const c of cleanup.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
  return { rounds: opts.rounds, samples, pulls, failedPulls, requests, violations, ms: performance.now() - started };
}

/** The daemon's heap, from a snapshot it writes on SIGUSR2 (bounded wait); undefined if none came. */
async function heapOf(pid: number, dir: string): Promise<Sample['heap']> {
  for (const f of readdirSync(dir)) rmSync(join(dir, f), { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await sleep(200);
    const file = readdirSync(dir).find((f) => f.endsWith('.heapsnapshot'));
    if (!file) continue;
    let snap: { snapshot: { meta: { node_fields: string[]; node_types: unknown[][] }; node_count: number }; nodes: number[]; strings: string[] };
    try {
      snap = JSON.parse(readFileSync(join(dir, file), 'utf8')) as typeof snap;
    } catch {
      continue; // still being written
    }
    rmSync(join(dir, file), { force: true });
    const fields = snap.snapshot.meta.node_fields;
    const width = fields.length;
    const typeAt = fields.indexOf('type');
    const nameAt = fields.indexOf('name');
    const sizeAt = fields.indexOf('self_size');
    const types = snap.snapshot.meta.node_types[0] as string[];
    let bytes = 0;
    const byName: Record<string, number> = {};
    for (let k = 0; k < snap.nodes.length; k += width) {
      bytes += snap.nodes[k + sizeAt] as number;
      const type = types[snap.nodes[k + typeAt] as number];
      const name =
        type === 'object' || type === 'closure' ? `${type === 'closure' ? 'fn ' : ''}${snap.strings[snap.nodes[k + nameAt] as number] ?? '?'}` : `(${type})`;
      byName[name] = (byName[name] ?? 0) + 1;
    }
    return { bytes, nodes: snap.snapshot.node_count, byName };
  }
  return undefined;
}

/** The heap's objects, but compiled code and object shapes (V8's, growing as it optimizes). */
function liveObjects(h: NonNullable<Sample['heap']>): number {
  return Object.entries(h.byName).reduce((n, [name, k]) => n + (name === '(code)' || name === '(object shape)' ? 0 : k), 0);
}

/** The constructors (and closures) whose count grew most from `a` to `b`. */
export function heapGrowth(a: NonNullable<Sample['heap']>, b: NonNullable<Sample['heap']>, top = 8): string[] {
  return Object.entries(b.byName)
    .map(([name, n]) => [name, n - (a.byName[name] ?? 0)] as const)
    .filter(([, d]) => d > 0)
    .sort((x, y) => y[1] - x[1])
    .slice(0, top)
    .map(([name, d]) => `${name} +${d}`);
}

/** The bounds: at 2N nothing above N (slack for a socket or two in passing), RSS within a generous bound. */
function judge(samples: readonly Sample[], rounds: number, violations: string[]): void {
  const at = (r: number): Sample | undefined => samples.find((s) => s.round === r);
  const half = at(Math.floor(rounds / 2));
  const end = at(rounds);
  if (!half || !end) {
    violations.push('no samples at N and 2N rounds (the campaign stopped early)');
    return;
  }
  const base = at(0);
  const FD_SLACK = 2;
  if (end.fds > half.fds + FD_SLACK)
    violations.push(`open fds grew: ${half.fds} at round ${half.round}, ${end.fds} at round ${end.round} (${JSON.stringify(end.fdKinds)})`);
  if (base && end.fds > base.fds + FD_SLACK)
    violations.push(
      `open fds did not return to their baseline when idle: ${base.fds} at round 0, ${end.fds} at round ${end.round} (${JSON.stringify(end.fdKinds)})`,
    );
  // idle past every keep-alive: any connection left is one held (a body never read, a request never ended)
  for (const s of [half, end]) if (s.peers.length > 0) violations.push(`round ${s.round}, idle: connections held: ${s.peers.join(', ')}`);
  if (half.heap && end.heap) {
    // the live heap after a full collection: a little noise (compiled code, caches), not growth with the rounds
    const HEAP_SLACK = 2 * 1024 * 1024;
    if (end.heap.bytes > half.heap.bytes * 1.1 + HEAP_SLACK)
      violations.push(
        `live heap grew: ${half.heap.bytes} B at round ${half.round}, ${end.heap.bytes} B at round ${end.round}; most grown: ${heapGrowth(half.heap, end.heap).join(', ')}`,
      );
    // Bytes hide a small leak (an entry per request is ~100 B); the number of heap objects does not:
    // from N to 2N rounds thousands of requests pass, and what V8 compiles meanwhile (code, shapes) is no leak.
    const OBJECT_SLACK = 400;
    const grown = liveObjects(end.heap) - liveObjects(half.heap);
    if (grown > OBJECT_SLACK)
      violations.push(
        `heap objects grew by ${grown} from round ${half.round} to ${end.round} (code and shapes aside); most grown: ${heapGrowth(half.heap, end.heap).join(', ')}`,
      );
  } else violations.push('no heap snapshot at N or 2N rounds');
  const RSS_SLACK_KB = 24 * 1024;
  if (end.rssKb > half.rssKb * 1.15 + RSS_SLACK_KB) violations.push(`RSS grew: ${half.rssKb} kB at round ${half.round}, ${end.rssKb} kB at round ${end.round}`);
  if (end.stateFiles > half.stateFiles) violations.push(`files in the state dir grew: ${half.stateFiles} → ${end.stateFiles}`);
  if (end.inFlight !== 0) violations.push(`requests still in flight when idle: ${end.inFlight}`);
}

export function formatSample(s: Sample): string {
  const kinds = Object.entries(s.fdKinds)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  const tcp = Object.entries(s.tcp)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  const heap = s.heap ? `; live heap ${(s.heap.bytes / 1024 / 1024).toFixed(2)} MiB (${s.heap.nodes} nodes, ${liveObjects(s.heap)} but code and shapes)` : '';
  const peers = s.peers.length > 0 ? `\n             ${s.peers.slice(0, 12).join('\n             ')}` : '';
  return `  round ${String(s.round).padStart(5)}: fds ${s.fds} (${kinds}); tcp ${tcp}; RSS ${(s.rssKb / 1024).toFixed(1)} MiB; state files ${s.stateFiles}; health.json ${s.healthBytes} B; in flight ${s.inFlight}${heap}${peers}`;
}
