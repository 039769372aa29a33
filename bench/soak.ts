/**
 * `npm run soak`: the reliability campaign of issue 7 at soak strength, part by part, each
 * printing its figures; exits 1 on any violation (or when a part could not run).
 *
 *   crash   the real daemon killed with SIGKILL at random moments while it re-renders
 *           (bench/crash-campaign.ts), 1 000 rounds (CRASH_ROUNDS; CRASH_SEED repeats)
 *   torn    kill -9 of a process writing the state directory (bench/torn-writes.ts),
 *           1 000 rounds (TORN_ROUNDS)
 *   fuzz    fast-check over TOML and YAML fragments (bench/fuzz.ts), 10 000 random cases
 *           and 2 000 plain/hostile pairs (FUZZ_RUNS, FUZZ_PAIRS; FUZZ_SEED repeats)
 *   fuzzd   the real daemon fed 1 000 fuzz fragments in batches of 20 (FUZZ_DAEMON_CASES):
 *           it stays up, answers status, and its output stays one whole valid render
 *   storm   the real daemon under storms of 1 000 fragment writes in about a second,
 *           10 storms (STORMS): renders per storm, and the final file equal to the strict render
 *   cap     a policy directory at the cap on the number of fragments (50 000) and one over:
 *           read time, the one over refused
 *   endpoint  the daemon's local mirror endpoint over 200 rounds of pulls and requests by hand
 *           while its mirrors fail in turns (bench/endpoint-soak.ts; ENDPOINT_ROUNDS): fds,
 *           sockets and RSS at N rounds against 2N, no wrong bytes, no crash, no warning
 *
 *   npm run soak                       every part
 *   SOAK_ONLY=fuzz,torn npm run soak   some parts (crash, torn, fuzz, fuzzd, storm, cap, endpoint)
 *   SOAK_KEEP=1 npm run soak           keep the crash campaign's temp directories
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { controlRequest } from '../src/control/client.js';
import type { DaemonStatus } from '../src/daemon/daemon.js';
import { buildRegistriesConf } from '../src/pipeline/strict.js';
import { MAX_FRAGMENTS, readPolicyDir } from '../src/fragments/policy-dir.js';
import { formatCampaign, runCrashCampaign } from './crash-campaign.js';
import { makeDirs, removeDirs, sleep, snapshotBuild, startDaemon, startNotifyListener, stopDaemon, writeFragment } from './daemon-harness.js';
import { formatSample, heapGrowth, runEndpointSoak, type Sample } from './endpoint-soak.js';
import { formatFuzz, runFuzz } from './fuzz.js';
import { formatTornWrites, runTornWriteCampaign } from './torn-writes.js';
import { VERSION } from '../src/core/version.js';

const num = (name: string, dflt: number): number => {
  const v = Math.floor(Number(process.env[name] ?? dflt));
  return Number.isFinite(v) && v > 0 ? v : dflt;
};
const seedOf = (name: string): { seed: number } | Record<string, never> => {
  const v = process.env[name];
  return v !== undefined && Number.isFinite(Number(v)) ? { seed: Number(v) } : {};
};
const PARTS = ['crash', 'torn', 'fuzz', 'fuzzd', 'storm', 'cap', 'endpoint'] as const;
const only = (process.env['SOAK_ONLY'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
// A misspelt part would otherwise run nothing and pass.
const unknownParts = only.filter((p) => !(PARTS as readonly string[]).includes(p));
if (unknownParts.length > 0) {
  console.error(`soak: SOAK_ONLY: no part named ${unknownParts.join(', ')} (the parts: ${PARTS.join(', ')})`);
  process.exit(1);
}
const want = (part: (typeof PARTS)[number]): boolean => only.length === 0 || only.includes(part);
const verdicts: string[] = [];
let failed = false;
const verdict = (ok: boolean, line: string): void => {
  failed ||= !ok;
  verdicts.push(`${ok ? 'OK    ' : 'FAILED'} ${line}`);
  console.log(`soak: ${ok ? 'OK' : 'FAILED'}, ${line}`);
};

// The daemon and the writer run from a private copy of this build: a rebuild of the working tree during the soak must not change them.
const build = snapshotBuild();
try {
  if (want('crash')) {
    const rounds = num('CRASH_ROUNDS', 1000);
    console.log(`\nsoak/crash: ${rounds} rounds of start → rapid re-renders → kill -9 → check → restart`);
    const r = await runCrashCampaign({
      rounds,
      bin: build.bin,
      ...seedOf('CRASH_SEED'),
      keep: process.env['SOAK_KEEP'] === '1',
      progressEvery: Math.max(10, Math.floor(rounds / 20)),
      onProgress: (x) =>
        console.log(
          `  ${String(x.rounds).padStart(6)} rounds  ${String(x.kills).padStart(6)} kills  ${String(x.killsMidWrite).padStart(4)} mid-write  ${String(x.violationCount).padStart(3)} violations  ${(x.ms / 1000).toFixed(0)} s`,
        ),
    });
    console.log(formatCampaign(r));
    verdict(
      r.violationCount === 0 && r.rounds === rounds,
      `crash: ${r.rounds}/${rounds} rounds, ${r.kills} kills, ${r.violationCount} violations (seed ${r.seed})`,
    );
  }

  if (want('torn')) {
    const rounds = num('TORN_ROUNDS', 1000);
    console.log(`\nsoak/torn: ${rounds} kill -9 rounds of a process writing last-good, health.json and daemon.json`);
    const r = await runTornWriteCampaign({
      rounds,
      writer: join(dirname(build.bin), '..', 'dist', 'bench', 'torn-writer.js'),
      progressEvery: Math.max(10, Math.floor(rounds / 10)),
      onProgress: (x) =>
        console.log(
          `  ${String(x.rounds).padStart(6)} rounds  ${String(x.killsMidWrite).padStart(5)} mid-write  ${String(x.violationCount).padStart(3)} violations  ${(x.ms / 1000).toFixed(0)} s`,
        ),
    });
    console.log(formatTornWrites(r));
    verdict(
      r.violationCount === 0 && r.rounds === rounds,
      `torn: ${r.rounds}/${rounds} rounds, ${r.filesChecked} files checked whole, ${r.violationCount} violations (seed ${r.seed})`,
    );
  }

  if (want('fuzz')) {
    const runs = num('FUZZ_RUNS', 10_000);
    const pairs = num('FUZZ_PAIRS', 2000);
    console.log(`\nsoak/fuzz: ${runs} random fragment cases and ${pairs} plain/hostile pairs`);
    try {
      const f = runFuzz({ runs, slotRuns: pairs, ...seedOf('FUZZ_SEED') });
      console.log(formatFuzz(f));
      verdict(true, `fuzz: ${f.cases + f.slotCases} cases, ${f.accepted + f.slotAccepted} rendered and checked, every property held`);
    } catch (e) {
      const err = e as Error & { cause?: Error };
      console.log(err.message.slice(0, 3000));
      if (err.cause) console.log(`broken: ${String(err.cause.message ?? err.cause).slice(0, 3000)}`);
      verdict(false, 'fuzz: a property broke (counterexample and seed above)');
    }
  }

  if (want('fuzzd')) {
    const cases = num('FUZZ_DAEMON_CASES', 1000);
    console.log(`\nsoak/fuzzd: the daemon fed ${cases} fuzz fragments, 20 at a time`);
    const r = await runDaemonFuzz(cases, build.bin, seedOf('FUZZ_SEED').seed ?? Date.now() % 2_147_483_647);
    console.log(
      `  batches ${r.batches}, fragments ${r.fragments} (${r.invalid} refused with a located error, ${r.fragments - r.invalid} valid), ${(r.ms / 1000).toFixed(1)} s, seed ${r.seed}`,
    );
    for (const p of r.problems.slice(0, 10)) console.log(`  problem: ${p}`);
    verdict(r.problems.length === 0 && r.fragments === cases, `fuzzd: ${r.fragments}/${cases} fragments, daemon up throughout, ${r.problems.length} problems`);
  }

  if (want('storm')) {
    const storms = num('STORMS', 10);
    console.log(`\nsoak/storm: ${storms} storms of 1 000 fragment writes in about one second (250 files × 4 versions, then 10 deletes)`);
    const r = await runStorms(storms, build.bin);
    console.log(
      `  renders per storm: ${r.renders.join(', ')}  (max ${Math.max(...r.renders)}, mean ${(r.renders.reduce((a, b) => a + b, 0) / r.renders.length).toFixed(1)})`,
    );
    console.log(`  first write → output equal to the strict render of the final set: ${r.settleMs.map((ms) => `${Math.round(ms)}`).join(', ')} ms`);
    verdict(
      r.mismatches === 0 && r.renders.length === storms,
      `storm: ${r.renders.length}/${storms} storms, ${r.mismatches} final outputs not the render of the final set`,
    );
  }

  if (want('cap')) {
    console.log(`\nsoak/cap: a policy directory with ${MAX_FRAGMENTS} + 1 fragments`);
    const dir = mkdtempSync(join(tmpdir(), 'mpd-cap-'));
    try {
      for (let i = 0; i <= MAX_FRAGMENTS; i++) writeFileSync(join(dir, `${String(i).padStart(6, '0')}.toml`), `# ${i}\n`, { mode: 0o644 });
      const t0 = performance.now();
      const got = await readPolicyDir(dir, { allowUnsafe: true });
      const ms = performance.now() - t0;
      const t1 = performance.now();
      const rendered = buildRegistriesConf({ fragments: got.fragments });
      const renderMs = performance.now() - t1;
      console.log(
        `  read ${got.fragments.length} fragments in ${Math.round(ms)} ms; refused: ${got.diagnostics.map((d) => `${d.file}: ${d.message}`).join('; ')}`,
      );
      console.log(
        `  render of ${got.fragments.length} (comment-only) fragments: ${Math.round(renderMs)} ms, ${rendered.text !== undefined ? 'rendered' : 'not rendered'}`,
      );
      verdict(
        got.fragments.length === MAX_FRAGMENTS && got.diagnostics.length === 1 && got.diagnostics[0]?.file === `${String(MAX_FRAGMENTS).padStart(6, '0')}.toml`,
        `cap: ${got.fragments.length} read, ${got.diagnostics.length} refused (the one over the cap)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  if (want('endpoint')) {
    const rounds = 2 * Math.ceil(num('ENDPOINT_ROUNDS', 200) / 2);
    console.log(`\nsoak/endpoint: ${rounds} rounds of pulls through the daemon's local mirror endpoint, its mirrors failing in turns`);
    let previous: Sample | undefined;
    const onSample = (s: Sample): void => {
      console.log(formatSample(s));
      if (previous?.heap && s.heap)
        console.log(`             heap objects grown since round ${previous.round}: ${heapGrowth(previous.heap, s.heap).join(', ') || 'none'}`);
      previous = s;
    };
    const r = await runEndpointSoak({ rounds, bin: build.bin, onSample, onSetup: (l) => console.log(`  ${l}`) });
    const at = (n: number): string => {
      const s = r.samples.find((x) => x.round === n);
      return s ? `${s.fds} fds, ${(s.rssKb / 1024).toFixed(1)} MiB` : 'not sampled';
    };
    console.log(`  pulls ${r.pulls.ok} ok, ${r.pulls.failed} failed; ${r.requests} requests by hand; ${(r.ms / 1000).toFixed(0)} s`);
    for (const f of r.failedPulls.slice(0, 10)) console.log(`  failed pull: ${f}`);
    for (const v of r.violations.slice(0, 20)) console.log(`  violation: ${v}`);
    verdict(
      r.violations.length === 0,
      `endpoint: ${rounds} rounds; round 0: ${at(0)}; round ${rounds / 2}: ${at(rounds / 2)}; round ${rounds}: ${at(rounds)}; ${r.violations.length} violations`,
    );
  }
} finally {
  build.remove();
}
console.log(`\nsoak summary:\n  ${verdicts.join('\n  ')}`);
process.exitCode = failed ? 1 : 0;

/** Storms against one daemon; renders counted by its status, the final output compared with the strict render. */
async function runStorms(storms: number, bin: string): Promise<{ renders: number[]; settleMs: number[]; mismatches: number }> {
  const dirs = makeDirs('mpd-storm-');
  const notify = await startNotifyListener();
  const d = startDaemon(dirs, { notify, bin, debounceMs: 100 });
  const renders: number[] = [];
  const settleMs: number[] = [];
  let mismatches = 0;
  const status = async (): Promise<DaemonStatus> => {
    const r = await controlRequest(dirs.control, { cmd: 'status' });
    if (!r.ok) throw new Error(r.error);
    return r.result as DaemonStatus;
  };
  const { readFileSync, existsSync } = await import('node:fs');
  try {
    await d.ready;
    const onDisk = new Map<string, string>();
    for (let s = 0; s < storms; s++) {
      const before = (await status()).renders;
      const started = performance.now();
      for (let v = 0; v < 4; v++) {
        for (let i = 0; i < 250; i++) {
          const file = `${String(i).padStart(3, '0')}-storm.toml`;
          const text = `[[mirror-set]]\nsource = "storm.example/ns${i}"\nmirrors = ["m${s}-${v}-${i}.example/ns${i}"]\n`;
          writeFragment(dirs.policy, file, text);
          onDisk.set(file, text);
        }
        await sleep(Math.max(0, started + (v + 1) * 250 - performance.now()));
      }
      for (let i = 240 + (s % 2) * 5; i < 250; i++) {
        const file = `${String(i).padStart(3, '0')}-storm.toml`;
        if (onDisk.delete(file)) unlinkSync(join(dirs.policy, file));
      }
      const expected = buildRegistriesConf({ fragments: [...onDisk].map(([file, text]) => ({ file, text })), version: VERSION }).text;
      const deadline = performance.now() + 60_000;
      let ok = false;
      while (performance.now() < deadline) {
        if (existsSync(dirs.output) && readFileSync(dirs.output, 'utf8') === expected) {
          ok = true;
          break;
        }
        await sleep(50);
      }
      settleMs.push(performance.now() - started);
      if (!ok) mismatches++;
      await sleep(500); // let a trailing render (the daemon's own write) land in this storm's count
      renders.push((await status()).renders - before);
    }
  } finally {
    await stopDaemon(d);
    await notify.close();
    removeDirs(dirs);
  }
  return { renders, settleMs, mismatches };
}

/** Fuzz fragments through the real daemon; after every batch: still running, status lists them, output whole and valid, the anchor in effect. */
async function runDaemonFuzz(
  cases: number,
  bin: string,
  seed: number,
): Promise<{ batches: number; fragments: number; invalid: number; problems: string[]; ms: number; seed: number }> {
  const fc = (await import('fast-check')).default;
  const { fuzzCase } = await import('./fuzz.js');
  const { classifyText } = await import('../src/output/managed-file.js');
  const { parseRegistriesConf } = await import('../src/registries-conf/parse.js');
  const { readFileSync } = await import('node:fs');
  const started = performance.now();
  const dirs = makeDirs('mpd-fuzzd-');
  writeFragment(dirs.policy, '00-anchor.toml', '[[mirror-set]]\nsource = "anchor.example.com"\nmirrors = ["mirror.anchor.example.net/a"]\n');
  const notify = await startNotifyListener();
  const d = startDaemon(dirs, { notify, bin, debounceMs: 20 });
  const problems: string[] = [];
  let fragments = 0;
  let invalid = 0;
  let batches = 0;
  const status = async (): Promise<DaemonStatus> => {
    const r = await controlRequest(dirs.control, { cmd: 'status' });
    if (!r.ok) throw new Error(r.error);
    return r.result as DaemonStatus;
  };
  try {
    await d.ready;
    const all = fc.sample(fuzzCase, { numRuns: cases, seed });
    for (let b = 0; b * 20 < all.length; b++) {
      batches++;
      const names = all.slice(b * 20, (b + 1) * 20).map((c, i) => {
        const name = `${String(b * 20 + i + 10).padStart(5, '0')}-fuzz.${c.file.endsWith('.toml') ? 'toml' : 'yaml'}`;
        writeFragment(dirs.policy, name, c.text);
        return name;
      });
      let st: DaemonStatus | undefined;
      const deadline = performance.now() + 30_000;
      while (performance.now() < deadline) {
        st = await status().catch(() => undefined);
        if (st && names.every((n) => st?.fragments.some((f) => f.file === n))) break;
        await sleep(50);
      }
      if (d.child.exitCode !== null || d.child.signalCode !== null) {
        problems.push(`batch ${b}: the daemon exited (${d.child.exitCode ?? d.child.signalCode}): ${d.tail()}`);
        break;
      }
      if (!st || !names.every((n) => st?.fragments.some((f) => f.file === n))) problems.push(`batch ${b}: status did not list the batch within 30 s`);
      for (const f of st?.fragments.filter((x) => names.includes(x.file) && x.state !== 'valid') ?? []) {
        invalid++;
        if (f.errors.length === 0 || f.errors.some((e) => !/^[^:]+:\d+(:\d+)?: /.test(e) || !e.includes(f.file)))
          problems.push(`batch ${b}: ${f.file}: an error without its file and line: ${JSON.stringify(f.errors).slice(0, 300)}`);
      }
      fragments += names.length;
      const out = readFileSync(dirs.output, 'utf8');
      if (classifyText(out) !== 'ours') problems.push(`batch ${b}: the output is not one whole render of ours`);
      if (parseRegistriesConf(out, 'registries.conf').diagnostics.some((x) => x.severity === 'error'))
        problems.push(`batch ${b}: the output does not validate`);
      if (!out.includes('mirror.anchor.example.net/a')) problems.push(`batch ${b}: the valid anchor fragment is no longer in effect`);
      for (const n of names) unlinkSync(join(dirs.policy, n));
    }
  } finally {
    await stopDaemon(d);
    await notify.close();
    removeDirs(dirs);
  }
  return { batches, fragments, invalid, problems, ms: performance.now() - started, seed };
}
