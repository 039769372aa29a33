/**
 * Large-list benchmark (issue 15): one fragment with 90 000 `insecure-registries` entries, and
 * the ImageDigestMirrorSet oc-mirror writes for a large catalog (10 000 entries, 1.2 MB), each
 * rendered through the whole pure pipeline. The floor, measured in the same run, is what any
 * tool must do with the same texts: parse the fragment (smol-toml or yaml), stringify the data,
 * and parse the registries.conf we render (smol-toml), as containers/image will. Half the
 * entries are rendered too: linear work makes the 2n / n ratio about 2, quadratic 4.
 */
import { parse as parseToml } from 'smol-toml';
import { parseAllDocuments } from 'yaml';
import { buildRegistriesConf } from '../src/pipeline/strict.js';
import { insecureList, ocMirrorIdms } from '../test/helpers/large-policies.js';
import { median, row } from './policy-dir.js';

const RUNS = Number(process.env.BENCH_LARGE_RUNS ?? 3);

function render(file: string, text: string): { ms: number; output: string } {
  const t0 = performance.now();
  const r = buildRegistriesConf({ fragments: [{ file, text }] });
  const ms = performance.now() - t0;
  if (r.text === undefined) throw new Error(`${file} did not render: ${r.diagnostics[0]?.message ?? ''}`);
  return { ms, output: r.text };
}

function floorMs(file: string, text: string, output: string): number {
  const t0 = performance.now();
  const data = file.endsWith('.toml') ? parseToml(text) : parseAllDocuments(text).map((d) => d.toJS() as unknown);
  JSON.stringify(data);
  parseToml(output);
  return performance.now() - t0;
}

/** Medians of interleaved runs: the figure and its floor alternate, so drift hits both alike. */
function measure(file: string, text: string): { ms: number; floor: number } {
  const ours: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = render(file, text);
    ours.push(r.ms);
    floor.push(floorMs(file, text, r.output));
  }
  return { ms: median(ours), floor: median(floor) };
}

export function runLargeListsBench(): void {
  console.log(`large lists: one fragment through parse, merge, validate, render, parse back (median of ${RUNS}, interleaved)`);
  const half = measure('10-insecure.toml', insecureList(45_000));
  const full = measure('10-insecure.toml', insecureList(90_000));
  console.log(row('insecure-registries, 45 000 entries', half.ms, half.floor));
  console.log(row('insecure-registries, 90 000 entries', full.ms, full.floor));
  console.log(`${'  90 000 / 45 000 (linear: 2, quadratic: 4)'.padEnd(44)} ${(full.ms / half.ms).toFixed(2).padStart(9)}`);
  const idms = ocMirrorIdms(10_000);
  const catalog = measure('90-catalog.yaml', idms);
  console.log(row(`oc-mirror IDMS, 10 000 entries (${(idms.length / 1e6).toFixed(2)} MB)`, catalog.ms, catalog.floor));
  console.log(
    'floor: smol-toml or yaml parse of the fragment + JSON.stringify + smol-toml parse of the output; goals: 90 000 entries <= 2 s, the IDMS <= 1.5x its floor',
  );
}
