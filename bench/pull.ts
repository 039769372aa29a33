/**
 * Pull benchmark (issue: the resolver). Mirror 1 is broken three ways and we time N
 * sequential digest pulls with skopeo (containers/image: no health memory, pays the
 * timeout every pull) and with `mirror-policyd pull` (health cache: pays it once), on the
 * same registries.conf. Then verified blob throughput next to curl from the same registry.
 *   (a) TLS handshake stalls (a TCP listener that never speaks): skopeo +20 s per pull
 *   (b) TLS completes, HTTP never answers: skopeo hangs; we report its time to our limit
 *   (c) connection refused: report only (~0.03 s either way)
 * Figures only; nothing asserted. BENCH_PULLS (10) and BENCH_SKOPEO_LIMIT_S (30) tune it;
 * BENCH_PULL_PARTS=failover|throughput runs one part; BENCH_BLOB_MIB (200), BENCH_BLOB_RUNS (5).
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { EndpointClient } from '../src/registry/client.js';
import { writeBlobStream } from '../src/registry/oci-layout.js';
import { buildImage, pushImage } from '../test/helpers/oci-image.js';
import { startRegistry } from '../test/helpers/registry.js';
import { refusingHost, startSilentListener } from '../test/helpers/fault-proxy.js';
import { BIN } from './daemon-harness.js';
import { hungTlsServer, timed } from './timed.js';

const run = promisify(execFile);
const PULLS = Number(process.env.BENCH_PULLS ?? 10);
const SKOPEO_LIMIT_S = Number(process.env.BENCH_SKOPEO_LIMIT_S ?? 30);
/** BENCH_PULL_PARTS: failover,throughput (default both) */
const PARTS = new Set((process.env.BENCH_PULL_PARTS ?? 'failover,throughput').split(','));

export async function runPullBench(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mpd-bench-pull-'));
  const reg = await startRegistry();
  try {
    if (PARTS.has('failover')) await runFailover(reg.host, work);
    if (PARTS.has('throughput')) await runThroughput(reg.host, work);
  } finally {
    await reg.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

async function runFailover(host: string, work: string): Promise<void> {
  const reg = { host };
  const img = await buildImage(join(work, 'img'), { content: 'bench' });
  await pushImage(img, `${reg.host}/app:v1`);
  const policy = join(work, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const silent = await startSilentListener();
  const hung = await hungTlsServer(work);
  const refused = await refusingHost();
  const cases: Array<{ name: string; host: string; insecure: boolean }> = [
    { name: '(a) TLS handshake stalls', host: silent.host, insecure: false },
    { name: '(b) TLS ok, HTTP never answers', host: hung.host, insecure: true },
    { name: '(c) connection refused', host: refused, insecure: false },
  ];
  console.log(`\npull: ${PULLS} sequential digest pulls, mirror 1 broken, the source healthy (skopeo killed after ${SKOPEO_LIMIT_S} s a pull)`);
  console.log('case                              skopeo total   ours total   skopeo lost/pull   ours lost/pull   ratio (lost)');
  // Baseline: the pull with no broken mirror, to count only the time lost to mirror 1.
  const baseConf = join(work, 'base.conf');
  writeFileSync(baseConf, `[[registry]]\nlocation = "${reg.host}/app"\ninsecure = true\n`);
  const ref = `${reg.host}/app@${img.manifestDigest}`;
  const skopeoPull = (conf: string, dest: string): Promise<{ ms: number; code: number | null; killed: boolean }> =>
    timed('skopeo', ['--registries-conf', conf, 'copy', '--policy', policy, `docker://${ref}`, `oci:${dest}`], SKOPEO_LIMIT_S * 1000, {
      ...process.env,
      HOME: work,
    });
  const ourPull = (conf: string, dest: string, state: string): Promise<{ ms: number; code: number | null; killed: boolean }> =>
    timed(
      process.execPath,
      [BIN, 'pull', ref, '--dest', dest, '--registries-conf', conf, '--state-dir', state, '--log-level', 'silent'],
      SKOPEO_LIMIT_S * 1000,
    );
  const sBase = await skopeoPull(baseConf, join(work, 'b1'));
  const oBase = await ourPull(baseConf, join(work, 'b2'), join(work, 'state-base'));
  for (const c of cases) {
    const conf = join(work, `${c.name.slice(1, 2)}.conf`);
    writeFileSync(
      conf,
      `[[registry]]\nlocation = "${reg.host}/app"\ninsecure = true\n\n  [[registry.mirror]]\n  location = "${c.host}/app"\n${c.insecure ? '  insecure = true\n' : ''}`,
    );
    const state = mkdtempSync(join(work, 'state-'));
    let sTotal = 0;
    let oTotal = 0;
    let sFailed = 0;
    for (let i = 0; i < PULLS; i++) {
      const s = await skopeoPull(conf, mkdtempSync(join(work, 's-')));
      sTotal += s.ms;
      if (s.code !== 0) sFailed++;
      const o = await ourPull(conf, mkdtempSync(join(work, 'o-')), state);
      oTotal += o.ms;
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

/** Uploads `bytes` as a blob of `repo` (monolithic upload: POST, then PUT ?digest=). */
async function uploadBlob(host: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const start = await request(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  const loc = new URL(String(start.headers.location), `http://${host}`);
  loc.searchParams.set('digest', digest);
  const put = await request(loc, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`blob upload: HTTP ${put.statusCode}`);
  return digest;
}

/** Our blob phase alone: GET through EndpointClient (endpoint already pinged), stream, hash, verify, fsync, rename. */
async function oursOnce(host: string, repo: string, digest: string, size: number, dir: string): Promise<number> {
  const client = new EndpointClient(host, true, { tls: {}, credentials: () => Promise.resolve(undefined) });
  try {
    await client.ping();
    const t0 = performance.now();
    const res = await client.get(`/v2/${repo}/blobs/${digest}`, repo);
    await writeBlobStream(dir, digest, size, res.body);
    return performance.now() - t0;
  } finally {
    await client.close();
    rmSync(join(dir, 'blobs'), { recursive: true, force: true });
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/**
 * Verified blob throughput next to curl, the blob phase alone (no process start, no
 * manifest): a BENCH_BLOB_MIB (200) MiB blob, BENCH_BLOB_RUNS (5) runs each, medians.
 * curl -o writes a file without hashing or fsync; ours hashes, checks size and digest,
 * fsyncs and renames. Then the whole `mirror-policyd pull` process for reference.
 */
async function runThroughput(host: string, work: string): Promise<void> {
  const mib = Number(process.env.BENCH_BLOB_MIB ?? 200);
  const runs = Number(process.env.BENCH_BLOB_RUNS ?? 5);
  const bytes = randomBytes(mib * 1024 * 1024);
  const digest = await uploadBlob(host, 'big', bytes);
  const size = bytes.length;
  const url = `http://${host}/v2/big/blobs/${digest}`;
  const out = join(work, 'curl.out');
  const curlFile: number[] = [];
  const curlNull: number[] = [];
  const curlSync: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < runs; i++) {
    curlFile.push((await timed('curl', ['-s', '-o', out, url], 120_000)).ms);
    rmSync(out, { force: true });
    curlNull.push((await timed('curl', ['-s', '-o', '/dev/null', url], 120_000)).ms);
    // The like-for-like: curl's file made durable too, as ours is (coreutils sync FILE = fsync).
    curlSync.push((await timed('sh', ['-c', 'curl -s -o "$1" "$2" && sync "$1"', 'sh', out, url], 120_000)).ms);
    rmSync(out, { force: true });
    ours.push(await oursOnce(host, 'big', digest, size, work));
  }
  const mbps = (ms: number): string => (size / 1e6 / (ms / 1000)).toFixed(0);
  const [cf, cn, cs, o] = [median(curlFile), median(curlNull), median(curlSync), median(ours)];
  console.log(`\nblob throughput, blob phase alone (${(size / 1e6).toFixed(0)} MB blob from docker-registry on 127.0.0.1, median of ${runs}):`);
  console.log(`  curl -o FILE              ${mbps(cf).padStart(6)} MB/s (${cf.toFixed(0)} ms, process included)`);
  console.log(`  curl -o /dev/null         ${mbps(cn).padStart(6)} MB/s (${cn.toFixed(0)} ms)`);
  console.log(`  curl -o FILE && sync FILE ${mbps(cs).padStart(6)} MB/s (${cs.toFixed(0)} ms, process included)`);
  console.log(
    `  ours: GET+sha256+write+fsync+rename ${mbps(o).padStart(6)} MB/s (${o.toFixed(0)} ms)   ratio to curl -o FILE ${(cf / o).toFixed(2)}x (goal >= 0.8), to curl + sync ${(cs / o).toFixed(2)}x`,
  );

  // For reference, the whole process on a smaller image (start-up, ping, manifest, config, layer, index).
  const big = randomBytes(48 * 1024 * 1024)
    .toString('base64')
    .slice(0, 64 * 1024 * 1024);
  const bigImg = await buildImage(join(work, 'bigimg'), { content: big });
  await pushImage(bigImg, `${host}/bigimg:v1`);
  const layerUrl = `http://${host}/v2/bigimg/blobs/${bigImg.layerDigest}`;
  const layerSize = Number((await run('curl', ['-sI', layerUrl])).stdout.match(/content-length: (\d+)/i)?.[1] ?? 0);
  const curl = await timed('curl', ['-s', '-o', '/dev/null', layerUrl], 120_000);
  const conf = join(work, 'big.conf');
  writeFileSync(conf, `[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
  const whole = await timed(
    process.execPath,
    [
      BIN,
      'pull',
      `${host}/bigimg@${bigImg.manifestDigest}`,
      '--dest',
      mkdtempSync(join(work, 'big-')),
      '--registries-conf',
      conf,
      '--state-dir',
      join(work, 'state-big'),
      '--log-level',
      'silent',
    ],
    120_000,
  );
  const lmbps = (ms: number): string => (layerSize / 1e6 / (ms / 1000)).toFixed(0);
  console.log(
    `  whole process, ${(layerSize / 1e6).toFixed(0)} MB layer: curl -o /dev/null ${lmbps(curl.ms)} MB/s (${curl.ms.toFixed(0)} ms); mirror-policyd pull ${lmbps(whole.ms)} MB/s (${whole.ms.toFixed(0)} ms: node start, ping, manifest, config, layer, fsyncs)`,
  );
}
