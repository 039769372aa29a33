/**
 * Pull benchmark (issues #8 and #15), BENCH_ONLY=pull. Every row is printed beside a floor
 * measured in the same run and the ratio; nothing is asserted. BENCH_PULL_PARTS picks parts
 * (default all): small, refused, throughput, rss, failover.
 *   small      the whole `mirror-policyd pull` process on a small image, no fault, next to
 *              skopeo copy (goal ≤ 2×), with `node -e 0` and node loading the pull command's
 *              modules as floors; and how long each process lives after printing its report
 *              (goal: it exits at once). BENCH_SMALL_RUNS (7), interleaved, medians.
 *   refused    mirror 1 refuses connections: BENCH_REFUSED_PULLS (5) sequential pulls each
 *              (goal: ≤ 2× skopeo's total).
 *   throughput the blob phase alone (no process start, no manifest): a BENCH_BLOB_MIB (200)
 *              MiB blob, BENCH_BLOB_RUNS (5) runs, next to curl -o FILE, curl + sync, and a
 *              bare undici → sha256 → file → fsync loop (goal ≥ 0.9× curl + sync), and the
 *              same GET hashed with nothing written (the bound of a one-thread design).
 *   rss        peak RSS of a whole pull of a BENCH_RSS_MIB (300) MiB layer, skopeo's beside
 *              it (goal ≤ 64 MB).
 *   failover   mirror 1 broken three ways, BENCH_PULLS (10) sequential digest pulls: skopeo
 *              (no health memory, pays the timeout every pull) against us (health cache, pays
 *              it once). (a) TLS handshake stalls: skopeo +20 s a pull; (b) TLS completes,
 *              HTTP never answers: skopeo hangs (killed after BENCH_SKOPEO_LIMIT_S, 30 s);
 *              (c) connection refused.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, promises as fs, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { tunePullProcess } from '../src/cli/pull-process.js';
import { EndpointClient } from '../src/registry/client.js';
import { ensureBlobDir, writeBlobStream } from '../src/registry/oci-layout.js';
import { buildImage, pushImage, uploadBlob } from '../test/helpers/oci-image.js';
import { startRegistry } from '../test/helpers/registry.js';
import { refusingHost, startSilentListener } from '../test/helpers/fault-proxy.js';
import { BIN, ROOT } from './daemon-harness.js';
import { hungTlsServer, timed } from './timed.js';

const PULLS = Number(process.env.BENCH_PULLS ?? 10);
const SKOPEO_LIMIT_S = Number(process.env.BENCH_SKOPEO_LIMIT_S ?? 30);
const SMALL_RUNS = Number(process.env.BENCH_SMALL_RUNS ?? 7);
const REFUSED_PULLS = Number(process.env.BENCH_REFUSED_PULLS ?? 5);
const RSS_MIB = Number(process.env.BENCH_RSS_MIB ?? 300);
const PARTS = new Set((process.env.BENCH_PULL_PARTS ?? 'small,refused,throughput,rss,failover').split(','));
const LIMIT_MS = 120_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** A registry, a skopeo policy and the ways to run each client against it. */
interface Bench {
  readonly host: string;
  readonly work: string;
  readonly policy: string;
}

export async function runPullBench(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mpd-bench-pull-'));
  const reg = await startRegistry();
  const policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const b: Bench = { host: reg.host, work, policy };
  try {
    if (PARTS.has('small')) await runSmall(b);
    if (PARTS.has('refused')) await runRefused(b);
    if (PARTS.has('throughput')) await runThroughput(b);
    if (PARTS.has('rss')) await runRss(b);
    if (PARTS.has('failover')) await runFailover(b);
  } finally {
    await reg.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A registries.conf naming the source (insecure, it is plain http here), with mirror 1 before it when given. */
function writeConf(b: Bench, name: string, mirror?: { host: string; insecure: boolean }): string {
  const conf = join(b.work, `${name}.conf`);
  const m = mirror ? `\n  [[registry.mirror]]\n  location = "${mirror.host}/app"\n${mirror.insecure ? '  insecure = true\n' : ''}` : '';
  writeFileSync(conf, `[[registry]]\nlocation = "${b.host}/app"\ninsecure = true\n${m}`);
  return conf;
}

/** One process's figures: wall time, exit code, and how long it lived after its last output. */
interface Run {
  readonly ms: number;
  readonly code: number | null;
  readonly killed: boolean;
  /** ms from the last byte on stdout to the process's exit (NaN when it printed nothing) */
  readonly afterOutputMs: number;
}

/** Runs `cmd` to its end (killed after `limitMs`), timing its life after its last stdout byte. */
function run(cmd: string, args: string[], limitMs: number, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let lastOut = NaN;
    let exited = NaN;
    let killed = false;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], env });
    child.stdout.on('data', () => void (lastOut = performance.now()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('exit', () => void (exited = performance.now()));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: exited - t0, code, killed, afterOutputMs: exited - lastOut });
    });
  });
}

function skopeoPull(b: Bench, ref: string, conf: string, limitMs = LIMIT_MS): Promise<Run> {
  const dest = mkdtempSync(join(b.work, 's-'));
  return run('skopeo', ['--registries-conf', conf, 'copy', '--policy', b.policy, `docker://${ref}`, `oci:${dest}`], limitMs, { ...process.env, HOME: b.work });
}

function ourPull(b: Bench, ref: string, conf: string, state: string, limitMs = LIMIT_MS): Promise<Run> {
  const dest = mkdtempSync(join(b.work, 'o-'));
  return run(process.execPath, [BIN, 'pull', ref, '--dest', dest, '--registries-conf', conf, '--state-dir', state, '--log-level', 'silent'], limitMs);
}

/** A small image pushed to the registry as `app`; its digest reference. */
async function smallImage(b: Bench): Promise<string> {
  const img = await buildImage(join(b.work, 'img'), { content: 'bench' });
  await pushImage(img, `${b.host}/app:v1`);
  return `${b.host}/app@${img.manifestDigest}`;
}

/** The whole process on a small image: ours, skopeo, and the floors of a node process. */
async function runSmall(b: Bench): Promise<void> {
  const ref = await smallImage(b);
  const conf = writeConf(b, 'small');
  const state = join(b.work, 'state-small');
  const pullModule = join(ROOT, 'dist', 'src', 'cli', 'pull.js');
  const ours: Run[] = [];
  const skopeo: Run[] = [];
  const bare: number[] = [];
  const loaded: number[] = [];
  await ourPull(b, ref, conf, state); // the health cache and the page cache warm, as for every later pull
  for (let i = 0; i < SMALL_RUNS; i++) {
    skopeo.push(await skopeoPull(b, ref, conf));
    ours.push(await ourPull(b, ref, conf, state));
    bare.push((await run(process.execPath, ['-e', '0'], LIMIT_MS)).ms);
    loaded.push((await run(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(pullModule)})`], LIMIT_MS)).ms);
  }
  const failed = ours.filter((r) => r.code !== 0).length + skopeo.filter((r) => r.code !== 0).length;
  const [o, s] = [median(ours.map((r) => r.ms)), median(skopeo.map((r) => r.ms))];
  console.log(`\npull, no fault, small image, whole process (median of ${SMALL_RUNS}, interleaved)${failed ? `  (${failed} pulls FAILED)` : ''}:`);
  console.log(`  skopeo copy                     ${secs(s)}`);
  console.log(`  mirror-policyd pull             ${secs(o)}   ratio to skopeo ${(o / s).toFixed(2)}x (goal <= 2x)`);
  console.log(`  floors: node -e 0 ${secs(median(bare))}; node loading the pull command's modules ${secs(median(loaded))}`);
  const after = ours.map((r) => r.afterOutputMs);
  console.log(
    `  after its report, a pull process lives ${median(after).toFixed(0)} ms (median; max ${Math.max(...after).toFixed(0)} ms; skopeo ${median(skopeo.map((r) => r.afterOutputMs)).toFixed(0)} ms) (goal: exits at once)`,
  );
}

/** Mirror 1 refuses connections: sequential pulls, skopeo's total beside ours. */
async function runRefused(b: Bench): Promise<void> {
  const ref = await smallImage(b);
  const conf = writeConf(b, 'refused', { host: await refusingHost(), insecure: false });
  const state = mkdtempSync(join(b.work, 'state-'));
  let s = 0;
  let o = 0;
  let failed = 0;
  for (let i = 0; i < REFUSED_PULLS; i++) {
    const sr = await skopeoPull(b, ref, conf);
    const or = await ourPull(b, ref, conf, state);
    s += sr.ms;
    o += or.ms;
    failed += Number(sr.code !== 0) + Number(or.code !== 0);
  }
  console.log(`\npull, mirror 1 refusing, ${REFUSED_PULLS} sequential pulls${failed ? `  (${failed} FAILED)` : ''}:`);
  console.log(`  skopeo ${secs(s)}, mirror-policyd pull ${secs(o)}: ratio ${(o / s).toFixed(2)}x (goal <= 2x)`);
}

/**
 * An image of one layer of `bytes` (not a real tar: no client here unpacks it), pushed as
 * `repo`: the config and layer uploaded as blobs, the manifest PUT by tag. Its digest reference.
 */
async function pushRawImage(host: string, repo: string, layer: Buffer): Promise<string> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const configDigest = await uploadBlob(host, repo, config);
  const layerDigest = await uploadBlob(host, repo, layer);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const put = await request(`http://${host}/v2/${repo}/manifests/v1`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`manifest upload: HTTP ${put.statusCode}`);
  return `${host}/${repo}@sha256:${createHash('sha256').update(manifest).digest('hex')}`;
}

/**
 * Our blob phase alone: GET through EndpointClient (endpoint already pinged), stream, hash,
 * verify, fsync, rename, with the upkeep `mirror-policyd pull` sets for its process (`onBytes`).
 */
async function oursOnce(host: string, repo: string, digest: string, size: number, dir: string, onBytes: (n: number) => void): Promise<number> {
  const client = new EndpointClient(host, true, { tls: {}, credentials: () => Promise.resolve(undefined) });
  try {
    await client.ping();
    await ensureBlobDir(dir, digest);
    const t0 = performance.now();
    const res = await client.get(`/v2/${repo}/blobs/${digest}`, repo);
    await writeBlobStream(dir, digest, size, res.body, onBytes);
    return performance.now() - t0;
  } finally {
    await client.close();
    rmSync(join(dir, 'blobs'), { recursive: true, force: true });
  }
}

/**
 * The bound of a one-thread design: the same GET, every chunk hashed, nothing written. The
 * receive and the hash cannot overlap on one thread, so no writer can beat this; the two cores
 * it could use are taken by the registry serving the blob and by anything else running (issue
 * #15: a worker for the hash costs ~13 MB of RSS the 64 MB goal has no room for).
 */
async function hashOnlyOnce(host: string, repo: string, digest: string, onBytes: (n: number) => void): Promise<number> {
  const client = new EndpointClient(host, true, { tls: {}, credentials: () => Promise.resolve(undefined) });
  try {
    await client.ping();
    const t0 = performance.now();
    const res = await client.get(`/v2/${repo}/blobs/${digest}`, repo);
    const hash = createHash('sha256');
    let n = 0;
    for await (const chunk of res.body) {
      hash.update(chunk as Buffer);
      onBytes((n += (chunk as Buffer).length));
    }
    if (`sha256:${hash.digest('hex')}` !== digest) throw new Error('hash-only loop: digest mismatch');
    return performance.now() - t0;
  } finally {
    await client.close();
  }
}

/** The floor in code: a bare undici GET piped through a streamed sha256 into a file, fsynced; nothing else. */
async function bareOnce(url: string, digest: string, file: string): Promise<number> {
  const agent = new Agent();
  try {
    await (await request(url, { method: 'HEAD', dispatcher: agent })).body.dump(); // connected, as ours is
    const t0 = performance.now();
    const res = await request(url, { dispatcher: agent });
    const hash = createHash('sha256');
    res.body.on('data', (c: Buffer) => hash.update(c));
    await pipeline(res.body, createWriteStream(file));
    const fh = await fs.open(file, 'r');
    await fh.sync();
    await fh.close();
    if (`sha256:${hash.digest('hex')}` !== digest) throw new Error('bare loop: digest mismatch');
    return performance.now() - t0;
  } finally {
    await agent.close();
    rmSync(file, { force: true });
  }
}

/**
 * Verified blob throughput, the blob phase alone (no process start, no manifest), next to
 * curl (process included: ~10 ms) and a bare undici loop; runs interleaved, medians.
 * curl -o writes a file without hashing or fsync; curl + sync makes it as durable as ours.
 */
async function runThroughput(b: Bench): Promise<void> {
  const mib = Number(process.env.BENCH_BLOB_MIB ?? 200);
  const runs = Number(process.env.BENCH_BLOB_RUNS ?? 5);
  const bytes = randomBytes(mib * 1024 * 1024);
  const digest = await uploadBlob(b.host, 'big', bytes);
  const onBytes = tunePullProcess(); // as the pull command does (this process's undici too: the bare loop gets it as well)
  const size = bytes.length;
  const url = `http://${b.host}/v2/big/blobs/${digest}`;
  const out = join(b.work, 'curl.out');
  const curlFile: number[] = [];
  const curlNull: number[] = [];
  const curlSync: number[] = [];
  const bare: number[] = [];
  const ours: number[] = [];
  const hashOnly: number[] = [];
  for (let i = 0; i < runs; i++) {
    curlFile.push((await timed('curl', ['-s', '-o', out, url], LIMIT_MS)).ms);
    rmSync(out, { force: true });
    curlNull.push((await timed('curl', ['-s', '-o', '/dev/null', url], LIMIT_MS)).ms);
    // coreutils sync FILE = fsync of that file
    curlSync.push((await timed('sh', ['-c', 'curl -s -o "$1" "$2" && sync "$1"', 'sh', out, url], LIMIT_MS)).ms);
    rmSync(out, { force: true });
    bare.push(await bareOnce(url, digest, join(b.work, 'bare.out')));
    ours.push(await oursOnce(b.host, 'big', digest, size, b.work, onBytes));
    hashOnly.push(await hashOnlyOnce(b.host, 'big', digest, onBytes));
  }
  const mbps = (ms: number): string => (size / 1e6 / (ms / 1000)).toFixed(0).padStart(5);
  const row = (name: string, ms: number, note = ''): void => console.log(`  ${name.padEnd(40)} ${mbps(ms)} MB/s (${ms.toFixed(0)} ms)${note}`);
  const [cf, cn, cs, bb, o, h] = [median(curlFile), median(curlNull), median(curlSync), median(bare), median(ours), median(hashOnly)];
  console.log(`\npull, blob phase alone (${(size / 1e6).toFixed(0)} MB blob from docker-registry on 127.0.0.1, median of ${runs}, interleaved):`);
  row('curl -o /dev/null', cn);
  row('curl -o FILE', cf);
  row('curl -o FILE && sync FILE (the floor)', cs);
  row('bare undici → sha256 → file → fsync', bb);
  row(
    'ours: GET, sha256, size, write, fsync, rename',
    o,
    `   ratio to curl + sync ${(cs / o).toFixed(2)}x (goal >= 0.9x), to curl -o FILE ${(cf / o).toFixed(2)}x, to bare ${(bb / o).toFixed(2)}x`,
  );
  row('GET + sha256 alone, no file (one thread)', h, `   the most one thread can reach: ${(cs / h).toFixed(2)}x curl + sync`);
}

/** Peak RSS (kB) and exit code of a command, from GNU time. */
async function peakRss(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ kb: number; ms: number; code: number | null }> {
  const out = join(tmpdir(), `mpd-bench-rss-${process.pid}`);
  try {
    const r = await timed('/usr/bin/time', ['-f', '%M', '-o', out, cmd, ...args], LIMIT_MS, env);
    return { kb: Number(readFileSync(out, 'utf8').trim().split('\n').pop()), ms: r.ms, code: r.code };
  } finally {
    rmSync(out, { force: true });
  }
}

/** Peak RSS of a whole pull of an image with one large layer, skopeo's beside it. */
async function runRss(b: Bench): Promise<void> {
  const ref = await pushRawImage(b.host, 'rss', randomBytes(RSS_MIB * 1024 * 1024));
  const conf = join(b.work, 'rss.conf');
  writeFileSync(conf, `[[registry]]\nlocation = "${b.host}"\ninsecure = true\n`);
  const state = join(b.work, 'state-rss');
  const ours = await peakRss(process.execPath, [
    BIN,
    'pull',
    ref,
    '--dest',
    mkdtempSync(join(b.work, 'o-')),
    '--registries-conf',
    conf,
    '--state-dir',
    state,
    '--log-level',
    'silent',
  ]);
  const skopeo = await peakRss(
    'skopeo',
    ['--registries-conf', conf, 'copy', '--policy', b.policy, `docker://${ref}`, `oci:${mkdtempSync(join(b.work, 's-'))}`],
    {
      ...process.env,
      HOME: b.work,
    },
  );
  const bare = await peakRss(process.execPath, ['-e', '0']);
  const mb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;
  const failed = Number(ours.code !== 0) + Number(skopeo.code !== 0);
  console.log(`\npull, peak RSS of the whole process, one ${RSS_MIB} MiB layer${failed ? `  (${failed} FAILED)` : ''}:`);
  console.log(`  mirror-policyd pull ${mb(ours.kb)} (${secs(ours.ms)}; goal <= 64 MB); skopeo ${mb(skopeo.kb)} (${secs(skopeo.ms)}); node -e 0 ${mb(bare.kb)}`);
}

/** Mirror 1 broken three ways: what each client loses to it over BENCH_PULLS pulls. */
async function runFailover(b: Bench): Promise<void> {
  const ref = await smallImage(b);
  const silent = await startSilentListener();
  const hung = await hungTlsServer(b.work);
  const refused = await refusingHost();
  const cases: Array<{ name: string; host: string; insecure: boolean }> = [
    { name: '(a) TLS handshake stalls', host: silent.host, insecure: false },
    { name: '(b) TLS ok, HTTP never answers', host: hung.host, insecure: true },
    { name: '(c) connection refused', host: refused, insecure: false },
  ];
  const limit = SKOPEO_LIMIT_S * 1000;
  console.log(`\npull: ${PULLS} sequential digest pulls, mirror 1 broken, the source healthy (skopeo killed after ${SKOPEO_LIMIT_S} s a pull)`);
  console.log('case                              skopeo total   ours total   skopeo lost/pull   ours lost/pull   ratio (lost)');
  // Baseline: the pull with no broken mirror, to count only the time lost to mirror 1.
  const baseConf = writeConf(b, 'base');
  const sBase = await skopeoPull(b, ref, baseConf, limit);
  const oBase = await ourPull(b, ref, baseConf, join(b.work, 'state-base'), limit);
  for (const c of cases) {
    const conf = writeConf(b, c.name.slice(1, 2), c);
    const state = mkdtempSync(join(b.work, 'state-'));
    let sTotal = 0;
    let oTotal = 0;
    let sFailed = 0;
    for (let i = 0; i < PULLS; i++) {
      const s = await skopeoPull(b, ref, conf, limit);
      sTotal += s.ms;
      if (s.code !== 0) sFailed++;
      oTotal += (await ourPull(b, ref, conf, state, limit)).ms;
    }
    const sLost = sTotal / PULLS - sBase.ms;
    const oLost = oTotal / PULLS - oBase.ms;
    const ratio = oLost > 0 ? (sLost / oLost).toFixed(1) : '∞';
    console.log(
      `${c.name.padEnd(32)} ${(sTotal / 1000).toFixed(1).padStart(10)} s ${(oTotal / 1000).toFixed(1).padStart(10)} s ${(sLost / 1000).toFixed(2).padStart(16)} s ${(oLost / 1000).toFixed(2).padStart(14)} s ${String(ratio).padStart(13)}x${sFailed ? `   (skopeo failed/killed ${sFailed}/${PULLS})` : ''}`,
    );
  }
  console.log('goal for (a): >= 10x less time lost than skopeo over the pulls');
  await silent.close();
  hung.close();
}
