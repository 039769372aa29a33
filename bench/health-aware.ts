/**
 * Health-aware order benchmark (issue 5): skopeo's time per digest pull when mirror 1 is
 * dead, with the file a static render writes (mirror 1 first: every pull pays its timeout)
 * and with the daemon's file once it has demoted mirror 1 (goal: ≤ 0.1 s extra a pull).
 * Mirror 1 is dead two ways: (a) a TCP listener that never speaks (the TLS handshake
 * stalls), (b) TLS completes and HTTP never answers (skopeo has no deadline: killed at
 * BENCH_SKOPEO_LIMIT_S). The daemon runs with the default probe settings (10 s interval,
 * demote after 3 failures), so the detection time printed is the default one.
 * Figures only; nothing asserted. BENCH_HEALTH_STATIC_PULLS (2), BENCH_HEALTH_PULLS (10)
 * and BENCH_SKOPEO_LIMIT_S (30) tune it.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, pushImage } from '../test/helpers/oci-image.js';
import { startRegistry } from '../test/helpers/registry.js';
import { startSilentListener } from '../test/helpers/fault-proxy.js';
import { makeDirs, removeDirs, sleep, startDaemon, startNotifyListener, stopDaemon, writeFragment } from './daemon-harness.js';
import { hungTlsServer, timed } from './timed.js';

const STATIC_PULLS = Number(process.env.BENCH_HEALTH_STATIC_PULLS ?? 2);
const PULLS = Number(process.env.BENCH_HEALTH_PULLS ?? 10);
const SKOPEO_LIMIT_S = Number(process.env.BENCH_SKOPEO_LIMIT_S ?? 30);
/** Detection with the defaults takes about 30 s; past this the case is reported as not detected. */
const DETECT_LIMIT_MS = 120_000;
const SOURCE = 'source.invalid/app';

interface Series {
  readonly meanMs: number;
  readonly failed: number;
}

export async function runHealthAwareBench(): Promise<void> {
  const work = mkdtempSync(join(process.env.TMPDIR ?? '/tmp', 'mpd-bench-health-'));
  const reg = await startRegistry();
  const closers: Array<() => unknown> = [];
  try {
    const img = await buildImage(join(work, 'img'), { content: 'bench health-aware' });
    await pushImage(img, `${reg.host}/app:v1`);
    const policy = join(work, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const ref = `docker://${SOURCE}@${img.manifestDigest}`;
    const env = { ...process.env, HOME: work };
    const pulls = async (conf: string, n: number): Promise<Series> => {
      let total = 0;
      let failed = 0;
      for (let i = 0; i < n; i++) {
        const r = await timed(
          'skopeo',
          ['--registries-conf', conf, 'copy', '--retry-times', '0', '--policy', policy, ref, `oci:${mkdtempSync(join(work, 'pull-'))}`],
          SKOPEO_LIMIT_S * 1000,
          env,
        );
        total += r.ms;
        if (r.code !== 0) failed++;
      }
      return { meanMs: total / Math.max(1, n), failed };
    };

    // Baseline: the healthy mirror alone.
    const baseConf = join(work, 'base.conf');
    writeFileSync(baseConf, `[[registry]]\nlocation = "${SOURCE}"\n\n  [[registry.mirror]]\n  location = "${reg.host}/app"\n  insecure = true\n`);
    const base = await pulls(baseConf, PULLS);

    const silent = await startSilentListener();
    closers.push(() => silent.close());
    const hung = await hungTlsServer(work);
    closers.push(() => hung.close());
    const cases = [
      { name: '(a) TLS handshake stalls', host: silent.host, insecure: false },
      { name: '(b) TLS ok, HTTP never answers', host: hung.host, insecure: true },
    ];
    console.log(
      `\nhealth-aware order: skopeo digest pulls, mirror 1 dead, mirror 2 healthy; baseline (mirror 2 alone) ${(base.meanMs / 1000).toFixed(2)} s a pull`,
    );
    console.log(`(skopeo killed after ${SKOPEO_LIMIT_S} s a pull; the daemon with default probe settings: every 10 s ±20 %, demoted after 3 failures)`);
    console.log('case                             static: extra/pull   detected after   demoted: extra/pull   goal ≤ 0.1 s');
    for (const c of cases) {
      const dirs = makeDirs('mpd-bh-');
      const notify = await startNotifyListener();
      let d: ReturnType<typeof startDaemon> | undefined;
      try {
        const insecure = c.insecure ? [c.host, reg.host] : [reg.host];
        writeFragment(
          dirs.policy,
          '10-app.toml',
          `insecure-registries = ${JSON.stringify(insecure)}\n\n[[mirror-set]]\nsource = "${SOURCE}"\nmirrors = ["${c.host}/app", "${reg.host}/app"]\n`,
        );
        d = startDaemon(dirs, { notify, extraArgs: ['--health-aware-order', '--probe-interval-ms', '10000'] });
        await d.ready;
        const started = performance.now();
        const staticConf = join(work, `static-${c.name.slice(1, 2)}.conf`);
        copyFileSync(dirs.output, staticConf); // the first render: configured order, as `render` writes it
        const first = readFileSync(staticConf, 'utf8');
        // Watch for the demotion in the background while skopeo pays the static file's price.
        let detectedMs: number | undefined;
        const watching = (async () => {
          while (performance.now() - started < DETECT_LIMIT_MS) {
            const now = existsSync(dirs.output) ? readFileSync(dirs.output, 'utf8') : first;
            if (now !== first) {
              detectedMs = performance.now() - started;
              return;
            }
            await sleep(100);
          }
        })();
        const stat = await pulls(staticConf, STATIC_PULLS);
        await watching;
        const notes: string[] = [];
        if (stat.failed) notes.push(`static: ${stat.failed}/${STATIC_PULLS} pulls failed or killed`);
        const staticCol = `${((stat.meanMs - base.meanMs) / 1000).toFixed(2).padStart(17)} s`;
        if (detectedMs === undefined) {
          console.log(`${c.name.padEnd(32)} ${staticCol}   not detected within ${DETECT_LIMIT_MS / 1000} s${notes.length ? `   (${notes.join('; ')})` : ''}`);
          continue;
        }
        const demoted = await pulls(dirs.output, PULLS);
        if (demoted.failed) notes.push(`demoted: ${demoted.failed}/${PULLS} pulls failed`);
        const extra = demoted.meanMs - base.meanMs;
        const line = `${c.name.padEnd(32)} ${staticCol} ${(detectedMs / 1000).toFixed(1).padStart(14)} s ${(extra / 1000).toFixed(3).padStart(20)} s   ${extra <= 100 ? 'met' : 'not met'}${notes.length ? `   (${notes.join('; ')})` : ''}`;
        console.log(line);
      } finally {
        if (d) await stopDaemon(d);
        await notify.close();
        removeDirs(dirs);
      }
    }
  } finally {
    for (const c of closers) await c();
    await reg.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}
