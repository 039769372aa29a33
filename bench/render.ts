/**
 * Render benchmark: N fragments with 3 mirrors each → registries.conf, through the
 * whole pure pipeline (parse, merge, validate, render, parse back). Each size runs in
 * its own process so that peak RSS belongs to that size alone.
 * Goal (issue 2): 10 000 fragments in ≤ 1 s and ≤ 200 MB, growing about linearly.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildRegistriesConf, type SourceText } from '../src/pipeline/strict.js';

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

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]) measure(Number(process.argv[2]));
