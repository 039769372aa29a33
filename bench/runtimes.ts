/**
 * Startup cost per Node.js runtime (issue 8), BENCH_ONLY=runtimes: the program as packaged
 * (packaging/stage.sh: HEAD's build, production node_modules, the unix-dgram addon built for
 * the runtime's own ABI with its own headers) started by each runtime through the package's
 * launcher.js:
 *  - the machine's Node 20 (the node running the bench when it is 20, else /usr/bin/node);
 *  - Node 24 as the self-contained package carries it (packaging/node-runtime.sh, stripped
 *    by stage.sh): from BENCH_NODE24_DIR, else /opt/node24 (CI's), else fetched from the npm
 *    registry into a temp dir.
 * Figures: `--version` (the runtime's own start-up plus loading the CLI), and start → READY=1
 * with 100 fragments (`--probe-interval-ms 0`): one first start on an empty state directory,
 * then the median of BENCH_RUNTIME_STARTS (default 7) restarts on that state, the runtimes
 * taking turns so that a busy machine weighs on both alike. Nothing asserts a time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { makeFragments } from './render.js';
import { makeDirs, removeDirs, ROOT, startDaemon, startNotifyListener, stopDaemon, writeFragment, type Dirs, type NotifyListener } from './daemon-harness.js';

interface Runtime {
  readonly label: string;
  /** The node binary. */
  readonly node: string;
  /** The staged /usr/lib/mirror-policyd/launcher.js. */
  readonly launcher: string;
}

const FRAGMENTS = 100;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function nodeVersion(node: string): string | undefined {
  const r = spawnSync(node, ['-p', 'process.versions.node + " ABI " + process.versions.modules'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** packaging/stage.sh into `dest`: the addon for `node` (unbundled: node first on PATH) or for the runtime in `runtimeDir`. */
function stage(dest: string, opts: { node?: string; runtimeDir?: string }): string | undefined {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.npm_config_nodedir; // `npm run bench` sets none, but a caller's would pick the wrong headers
  if (opts.runtimeDir) env.MPD_NODE = opts.runtimeDir;
  if (opts.node) env.PATH = `${dirname(opts.node)}:${env.PATH ?? ''}`;
  const r = spawnSync('bash', [join(ROOT, 'packaging/stage.sh'), dest], { env, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) {
    console.log(`  staging failed: ${(r.stderr ?? '').trim().split('\n').slice(-5).join(' | ')}`);
    return undefined;
  }
  return join(dest, 'usr/lib/mirror-policyd/launcher.js');
}

function timeVersion(rt: Runtime, runs: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(rt.node, [rt.launcher, '--version'], { encoding: 'utf8' });
    const dt = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${rt.label}: --version failed: ${r.stderr}`);
    out.push(dt);
  }
  return out;
}

async function timeReady(rt: Runtime, dirs: Dirs, notify: NotifyListener): Promise<number> {
  const d = startDaemon(dirs, { notify, node: rt.node, bin: rt.launcher, readyTimeoutMs: 30_000 });
  try {
    return await d.ready;
  } finally {
    await stopDaemon(d);
  }
}

const row = (label: string, value: string): string => `  ${label.padEnd(74)} ${value}`;

export async function runRuntimesBench(): Promise<void> {
  const starts = Number(process.env.BENCH_RUNTIME_STARTS ?? 7);
  console.log('');
  console.log(`runtimes: the packaged program (stage.sh) started by each Node.js through launcher.js, ${FRAGMENTS} fragments, probes off`);
  let notify: NotifyListener;
  try {
    notify = await startNotifyListener();
  } catch (e) {
    console.log(`  skipped: no NOTIFY_SOCKET listener (${(e as Error).message}); build the unix-dgram addon`);
    return;
  }
  const work = mkdtempSync(join(tmpdir().length <= 60 ? tmpdir() : '/tmp', 'mpd-rt-'));
  const all: Dirs[] = [];
  try {
    const runtimes: Runtime[] = [];
    process.stdout.write('  (staging the program for each runtime: ~20 s each ...)\n');
    // The machine's Node 20.
    const node20 = process.versions.node.startsWith('20.')
      ? process.execPath
      : existsSync('/usr/bin/node') && nodeVersion('/usr/bin/node')?.startsWith('20.')
        ? '/usr/bin/node'
        : undefined;
    if (!node20) console.log('  no Node 20 here (neither the running node nor /usr/bin/node): skipped');
    else {
      const launcher = stage(join(work, 'stage20'), { node: node20 });
      if (launcher) runtimes.push({ label: `Node ${nodeVersion(node20)} (${node20})`, node: node20, launcher });
    }
    // Node 24, as the self-contained package has it.
    let dir24 =
      process.env.BENCH_NODE24_DIR ??
      (existsSync('/opt/node24/include/node') && nodeVersion('/opt/node24/bin/node')?.startsWith('24.') ? '/opt/node24' : undefined);
    if (!dir24) {
      dir24 = join(work, 'node24');
      const f = spawnSync('bash', [join(ROOT, 'packaging/node-runtime.sh'), '24', dir24], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
      if (f.status !== 0) {
        console.log(`  could not fetch Node 24 from the npm registry: ${(f.stderr ?? '').trim()}`);
        dir24 = undefined;
      }
    }
    if (dir24) {
      const launcher = stage(join(work, 'stage24'), { runtimeDir: dir24 });
      const node = join(work, 'stage24/usr/lib/mirror-policyd/node/bin/node');
      if (launcher) runtimes.push({ label: `Node ${nodeVersion(node)} (bundled, stripped)`, node, launcher });
    }
    if (runtimes.length === 0) return;

    const version = new Map<Runtime, number[]>();
    const cold = new Map<Runtime, number>();
    const warm = new Map<Runtime, number[]>();
    const dirsOf = new Map<Runtime, Dirs>();
    for (const rt of runtimes) {
      const dirs = makeDirs('mpd-rtb-');
      all.push(dirs);
      for (const f of makeFragments(FRAGMENTS)) writeFragment(dirs.policy, f.file, f.text);
      dirsOf.set(rt, dirs);
      version.set(rt, []);
      warm.set(rt, []);
    }
    for (const rt of runtimes) {
      timeVersion(rt, 1); // page cache
      cold.set(rt, await timeReady(rt, dirsOf.get(rt)!, notify));
    }
    for (let i = 0; i < starts; i++) {
      for (const rt of runtimes) {
        version.get(rt)!.push(...timeVersion(rt, 1));
        warm.get(rt)!.push(await timeReady(rt, dirsOf.get(rt)!, notify));
      }
    }
    for (const rt of runtimes) {
      console.log(`  ${rt.label}`);
      console.log(row(`--version (start-up, CLI loaded), median of ${starts}`, `${median(version.get(rt)!).toFixed(0)} ms`));
      console.log(row(`start → READY=1, ${FRAGMENTS} fragments, median of ${starts} restarts`, `${median(warm.get(rt)!).toFixed(0)} ms`));
      console.log(
        row(
          `  (each: ${warm
            .get(rt)!
            .map((x) => x.toFixed(0))
            .join(', ')} ms)`,
          '',
        ),
      );
      console.log(row(`start → READY=1, ${FRAGMENTS} fragments, first start (empty state)`, `${cold.get(rt)!.toFixed(0)} ms`));
    }
  } finally {
    for (const d of all) removeDirs(d);
    rmSync(work, { recursive: true, force: true });
    await notify.close();
  }
}
