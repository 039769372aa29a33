/**
 * Render benchmark: N fragments with 3 mirrors each → registries.conf, through the
 * whole pure pipeline (parse, merge, validate, render, parse back). Each size runs in
 * its own process so that peak RSS belongs to that size alone.
 * Goal (issue 2): 10 000 fragments in ≤ 1 s and ≤ 200 MB, growing about linearly.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments } from 'yaml';
import { buildRegistriesConf, type SourceText } from '../src/pipeline/strict.js';
import { BIN } from './daemon-harness.js';
import { runMeasured, type ProcessRun } from './process-figures.js';

export function makeFragments(n: number): SourceText[] {
  const out: SourceText[] = [];
  for (let i = 0; i < n; i++) {
    // Half TOML, half OpenShift YAML; every tenth source shared by two fragments to exercise the merge.
    const source = `registry-${Math.floor(i / (i % 10 === 0 ? 1 : 1))}.example.com/team-${i % 10 === 1 ? i - 1 : i}`;
    const mirrors = [0, 1, 2].map((m) => `mirror-${m}.example.net:5000/team-${i}`);
    const file = `${String(i).padStart(6, '0')}-policy.${i % 2 ? 'yaml' : 'toml'}`;
    const text =
      i % 2
        ? `apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: p${i}\nspec:\n  imageDigestMirrors:\n  - source: ${source}\n    mirrors:\n${mirrors.map((m) => `    - ${m}\n`).join('')}`
        : `[[mirror-set]]\nsource = "${source}"\nmirrors = [${mirrors.map((m) => `"${m}"`).join(', ')}]\n`;
    out.push({ file, text });
  }
  return out;
}

function measure(n: number): void {
  const fragments = makeFragments(n);
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const result = buildRegistriesConf({ fragments });
  const ms = performance.now() - t0;
  if (result.text === undefined) throw new Error(`render failed: ${result.diagnostics[0]?.message}`);
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(
    `${JSON.stringify({ n, ms: Math.round(ms), peakRssMB: Math.round(peak / 1e6), rssBeforeMB: Math.round(rssBefore / 1e6), tables: result.conf?.registries.length, bytes: result.text.length })}\n`,
  );
}

export function runRenderBench(): void {
  const self = fileURLToPath(import.meta.url);
  console.log('render: fragments → registries.conf (parse, merge, validate, render, parse back), 3 mirrors each');
  console.log('     n   time(ms)  peak RSS(MB)  ms/fragment   tables');
  for (const n of [100, 1000, 10000]) {
    const line = execFileSync(process.execPath, [self, String(n)], { encoding: 'utf8' }).trim();
    const r = JSON.parse(line) as { n: number; ms: number; peakRssMB: number; tables: number };
    console.log(
      `${String(r.n).padStart(6)} ${String(r.ms).padStart(10)} ${String(r.peakRssMB).padStart(13)} ${(r.ms / r.n).toFixed(3).padStart(12)} ${String(r.tables).padStart(8)}`,
    );
  }
  console.log('goal: 10000 fragments in <= 1000 ms and <= 200 MB peak RSS');
}

/** The whole-process floor: read each file, parse it (smol-toml or yaml), JSON.stringify the lot. */
function floorScript(dir: string): void {
  const data: unknown[] = [];
  for (const file of readdirSync(dir).sort()) {
    const text = readFileSync(join(dir, file), 'utf8');
    data.push(file.endsWith('.toml') ? parseToml(text) : parseAllDocuments(text).map((d) => d.toJS() as unknown));
  }
  process.stdout.write(JSON.stringify(data).length.toString());
}

const WHOLE_N = Number(process.env['BENCH_RENDER_PROCESS_N'] ?? 10_000);
const WHOLE_RUNS = Number(process.env['BENCH_RENDER_PROCESS_RUNS'] ?? 3);

const medianOf = (runs: readonly ProcessRun[], k: keyof ProcessRun): number => [...runs.map((r) => r[k])].sort((a, b) => a - b)[runs.length >> 1] ?? NaN;

/**
 * `mirror-policyd render` of WHOLE_N fragment files, the whole process (start, reads, trust
 * checks, render, atomic write), against the floor script in its own process; the two take
 * turns, medians of WHOLE_RUNS each.
 */
export async function runRenderProcessBench(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'mpd-bench-render-'));
  try {
    const policy = join(root, 'policy.d');
    mkdirSync(policy);
    for (const f of makeFragments(WHOLE_N)) writeFileSync(join(policy, f.file), f.text, { mode: 0o644 });
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['NODE_OPTIONS'];
    const ours: ProcessRun[] = [];
    const floor: ProcessRun[] = [];
    const renderArgv = [process.execPath, BIN, 'render', '--policy-dir', policy, '--base', '/dev/null', '--output', join(root, 'registries.conf')];
    for (let i = 0; i < WHOLE_RUNS; i++) {
      ours.push(await runMeasured([...renderArgv, '--allow-unsafe-fragments', '--log-level', 'warn'], env));
      floor.push(await runMeasured([process.execPath, fileURLToPath(import.meta.url), '--floor', policy], env));
    }
    const [ms, fms, mb, fmb] = [medianOf(ours, 'ms'), medianOf(floor, 'ms'), medianOf(ours, 'peakRssMB'), medianOf(floor, 'peakRssMB')];
    const [cpu, fcpu] = [medianOf(ours, 'cpuMs'), medianOf(floor, 'cpuMs')];
    console.log(
      `render, whole process, ${WHOLE_N} fragment files (median of ${WHOLE_RUNS}, taking turns with the floor; load average ${loadavg()[0]?.toFixed(1)}):`,
    );
    console.log(`  wall      ${ms.toFixed(0).padStart(7)} ms  floor ${fms.toFixed(0).padStart(7)} ms  ratio ${(ms / fms).toFixed(2)}   goal <= 1.2x`);
    console.log(
      `  CPU       ${cpu.toFixed(0).padStart(7)} ms  floor ${fcpu.toFixed(0).padStart(7)} ms  ratio ${(cpu / fcpu).toFixed(2)}   (user + system, all threads; less sensitive to a shared machine's load)`,
    );
    console.log(`  peak RSS  ${mb.toFixed(0).padStart(7)} MB  floor ${fmb.toFixed(0).padStart(7)} MB  ratio ${(mb / fmb).toFixed(2)}   goal <= 150 MB`);
    console.log('  floor: a node script that reads each file, parses it (smol-toml or yaml) and JSON.stringifies the lot');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--floor') floorScript(process.argv[3] as string);
else if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]) measure(Number(process.argv[2]));
