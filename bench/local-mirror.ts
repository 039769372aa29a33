/**
 * The local mirror (issue #14), BENCH_ONLY=local-mirror. The endpoint runs in this process
 * (as in the daemon: node:http, the resolver's clients); skopeo is the client. Each figure is
 * printed beside its floor, measured in the same run, and the ratio; nothing is asserted.
 *   (a) throughput: skopeo copy by digest of one image (a layer of LOCAL_MIRROR_BENCH_MB MB of
 *       random data, default 64; the issue's figure is 300) through the endpoint vs straight
 *       from the mirror; runs interleaved, medians (goal ≥ 0.9×).
 *   (b) per-request overhead: sequential GETs of a manifest by digest and HEADs of a blob, one
 *       keep-alive connection, through the endpoint vs straight to the mirror (goal ≤ 2 ms).
 *   (c) mirror 1 hung (its TLS handshake never completes), mirror 2 healthy: pulls through the
 *       endpoint (LOCAL_MIRROR_BENCH_PULLS, default 10) vs skopeo on the static file (mirror 1,
 *       mirror 2), each beside its no-fault floor. skopeo pays the stall on every pull, so it
 *       runs LOCAL_MIRROR_BENCH_STATIC_PULLS (default 2) and its total is scaled to the same
 *       count (goal: the endpoint loses at most one deadline in all).
 *   (d) the daemon stopped: what a pull pays for the endpoint refusing connections before
 *       skopeo falls through to the mirror listed after it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { createLogger } from '../src/core/log.js';
import { localMirrorLocation } from '../src/local-mirror/mapping.js';
import { startLocalMirror, type LocalMirror } from '../src/local-mirror/server.js';
import { healthBook } from '../src/local-mirror/upstream.js';
import { collectYoungEvery } from '../src/registry/young-collections.js';
import { keepWasmAtBaseline } from '../src/cli/wasm-baseline.js';
import { mergeRegistriesConfs } from '../src/registries-conf/layer.js';
import { parseRegistriesConf } from '../src/registries-conf/parse.js';
import { DEFAULT_TIMEOUTS } from '../src/registry/client.js';
import { startSilentListener } from '../test/helpers/fault-proxy.js';
import { buildImage, pushImage } from '../test/helpers/oci-image.js';
import { freePort, startRegistry } from '../test/helpers/registry.js';
import { timed } from './timed.js';

const SOURCE = 'source.invalid/app';
const MB = Number(process.env.LOCAL_MIRROR_BENCH_MB ?? 64);
const RUNS = Number(process.env.LOCAL_MIRROR_BENCH_RUNS ?? 3);
const REQUESTS = Number(process.env.LOCAL_MIRROR_BENCH_REQUESTS ?? 300);
const PULLS = Number(process.env.LOCAL_MIRROR_BENCH_PULLS ?? 10);
const STATIC_PULLS = Number(process.env.LOCAL_MIRROR_BENCH_STATIC_PULLS ?? 2);
const LIMIT_MS = 120_000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

interface Mirror {
  readonly location: string;
  readonly insecure: boolean;
}

/** A registries.conf for SOURCE with these mirrors, in order. */
function confText(mirrors: readonly Mirror[]): string {
  const list = mirrors.map((m) => `[[registry.mirror]]\nlocation = "${m.location}"\ninsecure = ${m.insecure}\n`).join('');
  return `unqualified-search-registries = []\n\n[[registry]]\nprefix = "${SOURCE}"\nlocation = "${SOURCE}"\n${list}`;
}

export async function runLocalMirrorBench(): Promise<void> {
  keepWasmAtBaseline(); // as the daemon runs (cli/main.ts): before this process's first connection
  const work = mkdtempSync(join(tmpdir(), 'mpd-bench-lm-'));
  const reg = await startRegistry();
  const hung = await startSilentListener();
  const endpoints: LocalMirror[] = [];
  try {
    console.log(`\nlocal mirror: the endpoint in this process, skopeo its client, docker-registry on 127.0.0.1 the mirror`);
    const policy = join(work, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const small = await buildImage(join(work, 'small'), { content: 'small image', tag: 'v1' });
    await pushImage(small, `${reg.host}/app:small`);
    process.stdout.write(`  (building and pushing an image with a ${MB} MB layer ...)\n`);
    const big = await buildImage(join(work, 'big'), { content: randomBytes(Math.round((MB * 1024 * 1024 * 3) / 4)).toString('base64'), tag: 'v1' });
    await pushImage(big, `${reg.host}/app:big`);

    const mirror2: Mirror = { location: `${reg.host}/app`, insecure: true };
    const hungMirror: Mirror = { location: `${hung.host}/app`, insecure: false };
    const start = async (mirrors: readonly Mirror[]): Promise<{ address: string; conf: string }> => {
      const port = await freePort();
      const address = `127.0.0.1:${port}`;
      const endpoint: Mirror = { location: localMirrorLocation(address, SOURCE), insecure: true };
      const text = confText([endpoint, ...mirrors]);
      const file = join(work, `endpoint-${endpoints.length}.conf`);
      writeFileSync(file, text);
      const parsed = parseRegistriesConf(text, file);
      if (!parsed.conf) throw new Error('bench registries.conf does not parse');
      const log = createLogger({ level: 'silent' });
      endpoints.push(
        // onBlobBytes as the daemon sets it (daemon/local-mirror-host.ts)
        await startLocalMirror({
          listen: { host: '127.0.0.1', port },
          conf: mergeRegistriesConfs(parsed.conf),
          health: await healthBook(undefined, log),
          log,
          onBlobBytes: collectYoungEvery(),
        }),
      );
      return { address, conf: file };
    };
    const staticConf = (name: string, mirrors: readonly Mirror[]): string => {
      const file = join(work, `${name}.conf`);
      writeFileSync(file, confText(mirrors));
      return file;
    };
    let n = 0;
    const pull = async (conf: string, digest: string): Promise<number> => {
      const dest = join(work, `dest-${n++}`);
      const r = await timed(
        'skopeo',
        ['--registries-conf', conf, 'copy', '--retry-times', '0', '--policy', policy, `docker://${SOURCE}@${digest}`, `dir:${dest}`],
        LIMIT_MS,
        { ...process.env, HOME: work },
      );
      rmSync(dest, { recursive: true, force: true });
      if (r.code !== 0) throw new Error(`skopeo copy failed (${r.killed ? 'killed at the limit' : `exit ${r.code}`}) with ${conf}`);
      return r.ms;
    };

    // (a) throughput
    const direct = staticConf('direct', [mirror2]);
    const through = await start([mirror2]);
    const directMs: number[] = [];
    const throughMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      directMs.push(await pull(direct, big.manifestDigest));
      throughMs.push(await pull(through.conf, big.manifestDigest));
    }
    const layerMB = statSync(join(big.layoutDir, 'blobs', 'sha256', big.layerDigest.slice(7))).size / (1024 * 1024);
    const rate = (ms: number): string => `${(layerMB / (ms / 1000)).toFixed(0)} MB/s`;
    console.log(`  (a) skopeo copy, a ${layerMB.toFixed(0)} MiB layer (${MB} MB of base64 random data, gzipped), median of ${RUNS} interleaved runs`);
    console.log(
      `      through the endpoint ${fmt(median(throughMs))} (${rate(median(throughMs))}); floor, straight from the mirror ${fmt(median(directMs))} (${rate(median(directMs))})`,
    );
    console.log(`      throughput ratio ${(median(directMs) / median(throughMs)).toFixed(2)}× (goal ≥ 0.9×)`);

    // (b) per-request overhead
    const perRequest = async (origin: string, repo: string): Promise<number> => {
      const pool = new Pool(origin, { connections: 1 });
      try {
        const paths = [`/v2/${repo}/manifests/${small.manifestDigest}`, `/v2/${repo}/blobs/${small.layerDigest}`];
        for (const p of paths) await (await pool.request({ path: p, method: 'GET' })).body.dump(); // warm
        const t0 = performance.now();
        for (let i = 0; i < REQUESTS; i++) {
          const r = await pool.request({
            path: paths[i % 2] as string,
            method: i % 2 === 0 ? 'GET' : 'HEAD',
            headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
          });
          await r.body.dump();
          if (r.statusCode !== 200) throw new Error(`${origin}${paths[i % 2]}: HTTP ${r.statusCode}`);
        }
        return (performance.now() - t0) / REQUESTS;
      } finally {
        await pool.close();
      }
    };
    const repo = localMirrorLocation(through.address, SOURCE).slice(through.address.length + 1);
    const viaMs: number[] = [];
    const floorMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      floorMs.push(await perRequest(`http://${reg.host}`, 'app'));
      viaMs.push(await perRequest(`http://${through.address}`, repo));
    }
    const over = median(viaMs) - median(floorMs);
    console.log(`  (b) ${REQUESTS} sequential requests (GET manifest by digest, HEAD blob), one connection, median of ${RUNS}`);
    console.log(
      `      through the endpoint ${median(viaMs).toFixed(2)} ms a request; floor, straight to the mirror ${median(floorMs).toFixed(2)} ms; ` +
        `overhead ${over.toFixed(2)} ms a request (goal ≤ 2 ms), ratio ${(median(viaMs) / median(floorMs)).toFixed(1)}×`,
    );

    // (c) mirror 1 hung
    const faultThrough = await start([hungMirror, mirror2]);
    const staticHung = staticConf('static-hung', [hungMirror, mirror2]);
    const floorThrough = await pull(through.conf, small.manifestDigest);
    const floorStatic = await pull(direct, small.manifestDigest);
    const hungThrough: number[] = [];
    for (let i = 0; i < PULLS; i++) hungThrough.push(await pull(faultThrough.conf, small.manifestDigest));
    const hungStatic: number[] = [];
    for (let i = 0; i < STATIC_PULLS; i++) hungStatic.push(await pull(staticHung, small.manifestDigest));
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    const lostThrough = sum(hungThrough) - PULLS * floorThrough;
    const lostStatic = ((sum(hungStatic) - STATIC_PULLS * floorStatic) * PULLS) / STATIC_PULLS;
    console.log(`  (c) ${PULLS} pulls, mirror 1 hung (TLS handshake never completes), mirror 2 healthy`);
    console.log(
      `      through the endpoint: ${fmt(sum(hungThrough))} in all, ${fmt(lostThrough)} lost beyond its no-fault floor (${fmt(floorThrough)} a pull); ` +
        `one deadline is ${fmt(DEFAULT_TIMEOUTS.connectMs)} (connect): ${(lostThrough / DEFAULT_TIMEOUTS.connectMs).toFixed(2)} deadlines`,
    );
    console.log(
      `      skopeo on the static file: ${fmt(lostStatic)} lost for ${PULLS} pulls (${STATIC_PULLS} run, ${fmt((sum(hungStatic) - STATIC_PULLS * floorStatic) / STATIC_PULLS)} a pull, scaled); ` +
        `ratio of time lost ${(lostStatic / Math.max(lostThrough, 1)).toFixed(0)}×`,
    );

    // (d) the daemon stopped
    const stopped = await start([mirror2]);
    await endpoints.pop()?.close(100);
    const stoppedMs: number[] = [];
    const openMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      stoppedMs.push(await pull(stopped.conf, small.manifestDigest));
      openMs.push(await pull(direct, small.manifestDigest));
    }
    console.log(`  (d) the endpoint stopped (connection refused), small image, median of ${RUNS}`);
    console.log(
      `      skopeo ${fmt(median(stoppedMs))} a pull; floor, the file without the endpoint ${fmt(median(openMs))}; cost ${(median(stoppedMs) - median(openMs)).toFixed(0)} ms a pull`,
    );
  } finally {
    for (const e of endpoints) await e.close(100);
    await hung.close();
    await reg.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}
