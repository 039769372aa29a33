/**
 * Policy-directory read benchmark (issue 15): readPolicyDir over 10 000 fragments, every trust
 * check on, against its floor measured in the same run: a plain loop that lists the directory
 * and reads each file (no checks, one file at a time, synchronous). Runs alternate between the
 * two so that drift on a shared machine hits both alike; the medians and their ratio are printed.
 */
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPolicyDir } from '../src/fragments/policy-dir.js';
import { makeFragments } from './render.js';

const FILES = 10_000;
const RUNS = Number(process.env.BENCH_READ_RUNS ?? 7);

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** One row: the figure, its floor, their ratio. */
export function row(label: string, figureMs: number, floorMs: number): string {
  return `${label.padEnd(44)} ${figureMs.toFixed(1).padStart(9)} ms  floor ${floorMs.toFixed(1).padStart(9)} ms  ratio ${(figureMs / floorMs).toFixed(2)}`;
}

function plainReadLoop(dir: string): number {
  let bytes = 0;
  for (const name of readdirSync(dir)) bytes += readFileSync(join(dir, name), 'utf8').length;
  return bytes;
}

export async function runPolicyDirBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-bench-reads-'));
  chmodSync(dir, 0o755);
  try {
    for (const f of makeFragments(FILES)) writeFileSync(join(dir, f.file), f.text, { mode: 0o644 });
    const ours: number[] = [];
    const floor: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      let t0 = performance.now();
      const got = await readPolicyDir(dir);
      ours.push(performance.now() - t0);
      if (got.fragments.length !== FILES || got.diagnostics.length > 0)
        throw new Error(`read ${got.fragments.length} of ${FILES} fragments: ${got.diagnostics[0]?.message ?? ''}`);
      t0 = performance.now();
      plainReadLoop(dir);
      floor.push(performance.now() - t0);
    }
    console.log(`policy dir: read ${FILES} fragments, trust checks on (median of ${RUNS}, interleaved)`);
    console.log(row(`readPolicyDir, ${FILES} files`, median(ours), median(floor)));
    console.log('floor: readdir + readFileSync of each file, no checks');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
