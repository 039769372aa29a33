/**
 * `npm run bench`: prints figures; nothing here asserts a time.
 * BENCH_IDLE_S sets the daemon's idle window (default 60), BENCH_DAEMON_CHANGES its changes (200); BENCH_PULLS (10) and
 * BENCH_SKOPEO_LIMIT_S (30) the pull comparison; BENCH_HEALTH_STATIC_PULLS (2) and
 * BENCH_HEALTH_PULLS (10) the health-aware order one; BENCH_RUNTIME_STARTS (7) the runtimes one;
 * BENCH_READ_RUNS (7) the policy-dir reads; BENCH_LARGE_RUNS (3) the large lists;
 * LOCAL_MIRROR_BENCH_MB (64), _RUNS (3), _REQUESTS (300), _PULLS (10) and _STATIC_PULLS (2) the
 * local mirror's; BENCH_RENDER_PROCESS_N (10 000) and _RUNS (3) the whole-process
 * render; BENCH_ONLY=render|render-process|reads|large|daemon|pull|health|runtimes|local-mirror runs one part.
 */
import { cpus, loadavg } from 'node:os';
import { VERSION } from '../src/core/version.js';
import { runDaemonBench } from './daemon.js';
import { runHealthAwareBench } from './health-aware.js';
import { runLargeListsBench } from './large-lists.js';
import { runLocalMirrorBench } from './local-mirror.js';
import { runPolicyDirBench } from './policy-dir.js';
import { runPullBench } from './pull.js';
import { runRenderBench, runRenderProcessBench } from './render.js';
import { runRuntimesBench } from './runtimes.js';

/**
 * What the figures below were measured with: they differ by runtime (on Node 24 every RSS figure
 * is 10–17 MB above Node 20's, docs/performance.md) and by machine.
 */
function measuredOn(): string {
  const cores = cpus();
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  return `bench: mirror-policyd ${VERSION} on node ${process.version} (V8 ${process.versions.v8}), ${cores.length} CPUs (${cores[0]?.model.trim() ?? 'model unknown'}), load average ${load}, ${when} UTC`;
}

/** Each part, in the order they run, with the other BENCH_ONLY value that runs it too. */
const PARTS: ReadonlyArray<readonly [name: string, run: () => unknown, alsoUnder?: string]> = [
  ['render', runRenderBench],
  ['render-process', runRenderProcessBench, 'render'],
  ['reads', runPolicyDirBench],
  ['large', runLargeListsBench],
  ['daemon', runDaemonBench],
  ['pull', runPullBench],
  ['health', runHealthAwareBench],
  ['runtimes', runRuntimesBench],
  ['local-mirror', runLocalMirrorBench],
];
const only = process.env.BENCH_ONLY || undefined;
// A misspelt part would otherwise run nothing and print nothing but this header.
if (only !== undefined && !PARTS.some(([name]) => name === only)) {
  console.error(`bench: BENCH_ONLY: no part named ${only} (the parts: ${PARTS.map(([name]) => name).join(', ')})`);
  process.exit(1);
}
console.log(measuredOn());
for (const [name, run, alsoUnder] of PARTS) if (only === undefined || only === name || only === alsoUnder) await run();
