/**
 * Pull benchmark (issue: the resolver). Mirror 1 is broken three ways and we time N
 * sequential digest pulls with skopeo (containers/image: no health memory, pays the
 * timeout every pull) and with `mirror-policyd pull` (health cache: pays it once), on the
 * same registries.conf. Then verified blob throughput next to curl from the same registry.
 *   (a) TLS handshake stalls (a TCP listener that never speaks): skopeo +20 s per pull
 *   (b) TLS completes, HTTP never answers: skopeo hangs; we report its time to our limit
 *   (c) connection refused: report only (~0.03 s either way)
 * Figures only; nothing asserted. BENCH_PULLS (10) and BENCH_SKOPEO_LIMIT_S (30) tune it.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildImage, pushImage } from '../test/helpers/oci-image.js';
import { makeSelfSignedCert, startRegistry, freePort } from '../test/helpers/registry.js';
import { refusingHost, startSilentListener } from '../test/helpers/fault-proxy.js';
import { BIN } from './daemon-harness.js';

const run = promisify(execFile);
const PULLS = Number(process.env.BENCH_PULLS ?? 10);
const SKOPEO_LIMIT_S = Number(process.env.BENCH_SKOPEO_LIMIT_S ?? 30);

function timed(cmd: string, args: string[], limitMs: number, env: NodeJS.ProcessEnv = process.env): Promise<{ ms: number; code: number | null; killed: boolean }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: 'ignore', env });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, code, killed });
    });
  });
}

async function hungTlsServer(dir: string): Promise<{ host: string; close(): void }> {
  const cert = await makeSelfSignedCert(dir);
  const server = createTlsServer({ cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) }, () => {
    // handshake done; never answer
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { host: `127.0.0.1:${port}`, close: () => server.close() };
}

export async function runPullBench(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'mpd-bench-pull-'));
  const reg = await startRegistry();
  try {
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
      timed('skopeo', ['--registries-conf', conf, 'copy', '--policy', policy, `docker://${ref}`, `oci:${dest}`], SKOPEO_LIMIT_S * 1000, { ...process.env, HOME: work });
    const ourPull = (conf: string, dest: string, state: string): Promise<{ ms: number; code: number | null; killed: boolean }> =>
      timed(process.execPath, [BIN, 'pull', ref, '--dest', dest, '--registries-conf', conf, '--state-dir', state, '--log-level', 'silent'], SKOPEO_LIMIT_S * 1000);
    const sBase = await skopeoPull(baseConf, join(work, 'b1'));
    const oBase = await ourPull(baseConf, join(work, 'b2'), join(work, 'state-base'));
    for (const c of cases) {
      const conf = join(work, `${c.name.slice(1, 2)}.conf`);
      writeFileSync(conf, `[[registry]]\nlocation = "${reg.host}/app"\ninsecure = true\n\n  [[registry.mirror]]\n  location = "${c.host}/app"\n${c.insecure ? '  insecure = true\n' : ''}`);
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
      console.log(`${c.name.padEnd(32)} ${(sTotal / 1000).toFixed(1).padStart(10)} s ${(oTotal / 1000).toFixed(1).padStart(10)} s ${(sLost / 1000).toFixed(2).padStart(16)} s ${(oLost / 1000).toFixed(2).padStart(14)} s ${String(ratio).padStart(13)}x${sFailed ? `   (skopeo failed/killed ${sFailed}/${PULLS})` : ''}`);
    }
    console.log('goal for (a): >= 10x less time lost than skopeo over the pulls');
    silent.close();
    hung.close();

    // Throughput: one 64 MiB layer, ours (streamed, sha256 verified, fsynced) next to curl (to /dev/null).
    const big = randomBytes(64 * 1024 * 1024).toString('base64').slice(0, 64 * 1024 * 1024);
    const bigImg = await buildImage(join(work, 'big'), { content: big });
    await pushImage(bigImg, `${reg.host}/big:v1`);
    const blobUrl = `http://${reg.host}/v2/big/blobs/${bigImg.layerDigest}`;
    const size = Number((await run('curl', ['-sI', blobUrl])).stdout.match(/content-length: (\d+)/i)?.[1] ?? 0);
    const curl = await timed('curl', ['-s', '-o', '/dev/null', blobUrl], 120_000);
    const conf = join(work, 'big.conf');
    writeFileSync(conf, `[[registry]]\nlocation = "${reg.host}"\ninsecure = true\n`);
    const ours = await timed(process.execPath, [BIN, 'pull', `${reg.host}/big@${bigImg.manifestDigest}`, '--dest', mkdtempSync(join(work, 'big-')), '--registries-conf', conf, '--state-dir', join(work, 'state-big'), '--log-level', 'silent'], 120_000);
    const mbps = (ms: number): string => ((size / 1e6) / (ms / 1000)).toFixed(0);
    console.log(`\nblob throughput (${(size / 1e6).toFixed(0)} MB layer from docker-registry on 127.0.0.1):`);
    console.log(`  curl -o /dev/null        ${mbps(curl.ms).padStart(6)} MB/s (${curl.ms.toFixed(0)} ms)`);
    console.log(`  mirror-policyd pull      ${mbps(ours.ms).padStart(6)} MB/s (${ours.ms.toFixed(0)} ms, whole process: start, manifest, verify, fsync)   ratio ${(curl.ms / ours.ms).toFixed(2)}x (goal >= 0.8)`);
  } finally {
    await reg.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}
