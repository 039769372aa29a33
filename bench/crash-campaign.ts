/**
 * Crash consistency of the REAL daemon: start `mirror-policyd run` on temp directories, make
 * it re-render rapidly (fragments rewritten with changing mirror lists, some removed and
 * re-added), and kill -9 it at random moments; after every kill check what a host would be
 * left with, then restart it on the same directories.
 *
 * After every kill:
 *  - the output is exactly one complete render of ours: its header digest matches
 *    (classifyText === 'ours'), it parses with parseRegistriesConf without errors, and it is
 *    byte for byte the strict render of a fragment set read back from it (every fragment
 *    version is identified by its first mirror), in which each fragment is in a version it had
 *    on disk (or absent, if it was absent) at some moment of the round;
 *  - beside the output there is nothing but the daemon's own interrupted temp files
 *    (`.registries.conf.PID.RANDOM.tmp`, which nothing reads);
 *  - the state directory is complete: format-version is whole, daemon.json (if there)
 *    parses, every last-good file is exactly some content written for that fragment, and
 *    nothing was adopted, archived or taken for drift (the output was always ours); the
 *    start's claim lock (state/.claim.lock) a kill may leave is counted, not an error.
 * After every restart (READY=1) the output is exactly the render of what is on disk now.
 * Some rounds kill the daemon while it starts (before READY=1): then the output is the one
 * from before or the render of what is on disk. At the end one more start must come up on
 * all the leftovers and stop cleanly on SIGTERM (exit 0, daemon.json removed).
 *
 * Used by test/integration/daemon/crash.test.ts (50 rounds; CRASH_ROUNDS sets it, CI 25 on each runtime) and by
 * `npm run soak` (bench/soak.ts, 1 000 rounds). Every loop is bounded in count and time.
 */
import { existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { STATE_FORMAT_VERSION } from '../src/daemon/state-dir.js';
import { classifyText } from '../src/output/managed-file.js';
import { buildRegistriesConf } from '../src/pipeline/strict.js';
import { parseRegistriesConf } from '../src/registries-conf/parse.js';
import {
  makeDirs,
  prng,
  removeDirs,
  sleep,
  startDaemon,
  startNotifyListener,
  stopDaemon,
  writeFragment,
  type Dirs,
  type RunningDaemon,
} from './daemon-harness.js';
import { VERSION } from '../src/core/version.js';

export interface CampaignOptions {
  readonly rounds: number;
  readonly seed?: number;
  /** The daemon's --debounce-ms (default 2: renders as often as it can). */
  readonly debounceMs?: number;
  /** Stop starting rounds after this long (a bound, not a goal). Default: 2 s a round + 60 s. */
  readonly deadlineMs?: number;
  /** Share of rounds killed while starting, before READY=1 (default 0.1). */
  readonly startupKillShare?: number;
  readonly onProgress?: (r: CampaignResult) => void;
  readonly progressEvery?: number;
  /** Keep the temp directories (for a post-mortem). */
  readonly keep?: boolean;
  /** The program to run (default: this tree's bin/mirror-policyd). */
  readonly bin?: string;
}

export interface CampaignResult {
  readonly seed: number;
  rounds: number;
  kills: number;
  /** Kills before READY=1. */
  startupKills: number;
  /** Kills that left a new temp file behind: the daemon was killed in the middle of a write. */
  killsMidWrite: number;
  /** Kills after which the output was not yet the render of the fragments on disk: a render was pending or running. */
  killsWithRenderPending: number;
  restarts: number;
  /** Rounds after which the daemon's start lock (state/.claim.lock) was left behind by the kill. */
  claimLocksLeft: number;
  /** The longest spawn → READY=1 of any restart. */
  slowestReadyMs: number;
  /** Restarts that took more than 5 s to READY=1. */
  slowReadies: number;
  /** Fragment files written or removed by the test. */
  writes: number;
  /** Different outputs found after kills. */
  distinctOutputs: number;
  /** Distinct violations, each with the round it was first seen in (at most 50 listed). */
  violations: string[];
  /** Every violation found, repeats included. */
  violationCount: number;
  stoppedEarly: boolean;
  ms: number;
  /** Where the time went: spawn → READY=1, writing until the kill, checking after it. */
  phaseMs: { ready: number; writing: number; checking: number };
  dirs?: string;
}

type Kind = 'toml' | 'toml-all' | 'idms' | 'itms';
interface Spec {
  readonly file: string;
  readonly source: string;
  readonly kind: Kind;
  readonly slug: string;
  /** May be removed and added again during a round. */
  readonly optional: boolean;
}

const SPECS: readonly Spec[] = [
  { file: '10-alpha.toml', source: 'alpha.example.com/team', kind: 'toml', slug: 'alpha', optional: false },
  { file: '20-beta.yaml', source: 'beta.example.com', kind: 'idms', slug: 'beta', optional: false },
  { file: '30-gamma.toml', source: 'gamma.example.com/ns/app', kind: 'toml-all', slug: 'gamma', optional: true },
  { file: '40-delta.yml', source: 'delta.example.com', kind: 'itms', slug: 'delta', optional: true },
];

/** Version `v` of a fragment: 1 to 3 mirrors, all named after v, so the first mirror identifies the version. */
function fragmentText(spec: Spec, v: number): { text: string; firstMirror: string } {
  const mirrors = Array.from({ length: 1 + (v % 3) }, (_, k) => `m${v}-${k}.${spec.slug}.example.net/${spec.slug}`);
  const yamlList = mirrors.map((m) => `    - ${m}\n`).join('');
  const text =
    spec.kind === 'toml'
      ? `# version ${v}\n[[mirror-set]]\nsource = "${spec.source}"\nmirrors = [${mirrors.map((m) => `"${m}"`).join(', ')}]\n`
      : spec.kind === 'toml-all'
        ? `[[mirror-set]]\nsource = "${spec.source}"\nmirrors = [${mirrors.map((m) => `"${m}"`).join(', ')}]\npull-from-mirror = "all"\n`
        : `apiVersion: config.openshift.io/v1\nkind: ${spec.kind === 'idms' ? 'ImageDigestMirrorSet' : 'ImageTagMirrorSet'}\nmetadata:\n  name: ${spec.slug}-${v}\nspec:\n  ${spec.kind === 'idms' ? 'imageDigestMirrors' : 'imageTagMirrors'}:\n  - source: ${spec.source}\n    mirrors:\n${yamlList}`;
  return { text, firstMirror: mirrors[0] as string };
}

/** A restart that does not reach READY=1 in this long has failed. */
const READY_TIMEOUT_MS = 30_000;
/** Restarts slower than this are counted (a figure, not a violation). */
const SLOW_READY_MS = 5000;

const OUTPUT_TEMP = /^\.registries\.conf\.\d+\.[0-9a-f]{8}\.tmp$/;
const ANY_TEMP = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

export async function runCrashCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const seed = opts.seed ?? Date.now() % 2_147_483_647;
  const rand = prng(seed);
  const between = (lo: number, hi: number): number => lo + rand() * (hi - lo);
  const started = performance.now();
  const deadline = started + (opts.deadlineMs ?? opts.rounds * 2000 + 60_000);
  const result: CampaignResult = {
    seed,
    rounds: 0,
    kills: 0,
    startupKills: 0,
    killsMidWrite: 0,
    killsWithRenderPending: 0,
    restarts: 0,
    claimLocksLeft: 0,
    slowestReadyMs: 0,
    slowReadies: 0,
    writes: 0,
    distinctOutputs: 0,
    violations: [],
    violationCount: 0,
    stoppedEarly: false,
    ms: 0,
    phaseMs: { ready: 0, writing: 0, checking: 0 },
  };
  const reported = new Set<string>();
  const violation = (round: number, what: string, d?: RunningDaemon): void => {
    result.violationCount++;
    if (reported.has(what)) return; // a leftover file is listed once, not every round after
    reported.add(what);
    const said = d?.tail().split('\n').slice(-5).join('\n    ') ?? '';
    if (result.violations.length < 50) result.violations.push(`round ${round} (seed ${seed}): ${what}${said ? `\n    daemon said: ${said}` : ''}`);
    else if (result.violations.length === 50) result.violations.push('... (more violations not listed)');
  };

  const dirs: Dirs = makeDirs('mpd-crash-');
  // No background probes of the (made-up) mirrors: they are not what is checked here, and would only reach for the network.
  const daemonSettings = { debounceMs: opts.debounceMs ?? 2, readyTimeoutMs: READY_TIMEOUT_MS, extraArgs: ['--probe-interval-ms', '0'], bin: opts.bin };
  // Each daemon gets its own NOTIFY_SOCKET: a READY=1 a killed daemon sent just before dying can never be taken for the next one's.
  let notify = await startNotifyListener();
  const freshNotify = async (): Promise<void> => {
    await notify.close();
    notify = await startNotifyListener();
  };
  const outputDir = dirname(dirs.output);

  // What the test wrote: every text per fragment, the fragment version behind each first mirror, what is on disk now.
  const textsEver = new Map<string, Set<string>>(SPECS.map((s) => [s.file, new Set<string>()]));
  const byFirstMirror = new Map<string, { file: string; text: string }>();
  const onDisk = new Map<string, string>();
  let version = 0;
  let history = new Map<string, Set<string | null>>();
  const tempsSeen = new Set<string>();
  const outputsSeen = new Set<string>();

  const put = (spec: Spec): void => {
    const { text, firstMirror } = fragmentText(spec, ++version);
    textsEver.get(spec.file)?.add(text);
    byFirstMirror.set(firstMirror, { file: spec.file, text });
    writeFragment(dirs.policy, spec.file, text);
    onDisk.set(spec.file, text);
    history.get(spec.file)?.add(text);
    result.writes++;
  };
  const remove = (spec: Spec): void => {
    unlinkSync(join(dirs.policy, spec.file));
    onDisk.delete(spec.file);
    history.get(spec.file)?.add(null);
    result.writes++;
  };
  const mutate = (): void => {
    const spec = SPECS[Math.floor(rand() * SPECS.length)] as Spec;
    if (spec.optional && rand() < 0.2) {
      if (onDisk.has(spec.file)) remove(spec);
      else put(spec);
    } else {
      put(spec);
    }
  };
  const renderOf = (set: ReadonlyMap<string, string>): string => {
    const r = buildRegistriesConf({ fragments: [...set].map(([file, text]) => ({ file, text })), version: VERSION });
    if (r.text === undefined) throw new Error(`the test's own fragments do not render: ${r.diagnostics.map((d) => d.message).join('; ')}`);
    return r.text;
  };

  /** Reads the fragment set an output shows, and proves the output is exactly its render. */
  const explain = (text: string): { set: Map<string, string> } | { why: string } => {
    const kind = classifyText(text);
    if (kind !== 'ours') return { why: `the output is ${kind}, not one complete render of ours (${text.length} bytes)` };
    const parsed = parseRegistriesConf(text, 'registries.conf');
    const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) return { why: `the output does not parse: ${errors[0]?.message}` };
    const set = new Map<string, string>();
    for (const table of parsed.conf?.registries ?? []) {
      const first = table.mirrors[0]?.location ?? '';
      const from = byFirstMirror.get(first);
      if (!from) return { why: `table ${table.location} (first mirror ${first}) is from no fragment the test wrote` };
      if (set.has(from.file)) return { why: `two tables from ${from.file}` };
      set.set(from.file, from.text);
    }
    if (renderOf(set) !== text) return { why: `the output is not byte for byte the render of the set it shows (${[...set.keys()].join(', ')})` };
    return { set };
  };

  const checkOutputDir = (round: number): number => {
    let fresh = 0;
    for (const name of readdirSync(outputDir)) {
      if (name === 'registries.conf') continue;
      if (OUTPUT_TEMP.test(name)) {
        if (!tempsSeen.has(`out/${name}`)) fresh++;
        tempsSeen.add(`out/${name}`);
        continue;
      }
      violation(round, `unexpected file beside the output: ${name}`);
    }
    return fresh;
  };

  const checkStateDir = (round: number): number => {
    let fresh = 0;
    const temp = (where: string, name: string): boolean => {
      if (!ANY_TEMP.test(name)) return false;
      if (!tempsSeen.has(`${where}/${name}`)) fresh++;
      tempsSeen.add(`${where}/${name}`);
      return true;
    };
    const names = readdirSync(dirs.state);
    for (const name of names) {
      if (['format-version', 'daemon.json', 'last-good', 'bases', 'drift'].includes(name) || temp('state', name)) continue;
      if (name === 'health.json' || name === 'health.json.lock') continue; // the probes' cache (off here; checked below if there)
      if (name === '.claim.lock') {
        // The start's lock around reading and writing daemon.json (a directory, removed right after): a kill in between leaves it.
        result.claimLocksLeft++;
        continue;
      }
      violation(round, `unexpected file in the state directory: ${name} (nothing should have been adopted)`);
    }
    const version = existsSync(join(dirs.state, 'format-version')) ? readFileSync(join(dirs.state, 'format-version'), 'utf8') : undefined;
    if (version !== `${STATE_FORMAT_VERSION}\n`) violation(round, `format-version is ${JSON.stringify(version)}`);
    if (names.includes('daemon.json')) {
      try {
        const r = JSON.parse(readFileSync(join(dirs.state, 'daemon.json'), 'utf8')) as { pid?: unknown; output?: unknown };
        if (typeof r.pid !== 'number' || r.output !== resolve(dirs.output)) violation(round, `daemon.json is not a whole record: ${JSON.stringify(r)}`);
      } catch (e) {
        violation(round, `daemon.json is torn: ${(e as Error).message}`);
      }
    }
    if (names.includes('health.json')) {
      try {
        JSON.parse(readFileSync(join(dirs.state, 'health.json'), 'utf8'));
      } catch (e) {
        violation(round, `health.json is torn: ${(e as Error).message}`);
      }
    }
    for (const name of existsSync(join(dirs.state, 'last-good')) ? readdirSync(join(dirs.state, 'last-good')) : []) {
      if (temp('last-good', name)) continue;
      const written = textsEver.get(name);
      if (!written) {
        violation(round, `last-good/${name}: no such fragment was ever written`);
        continue;
      }
      const text = readFileSync(join(dirs.state, 'last-good', name), 'utf8');
      if (!written.has(text)) violation(round, `last-good/${name} is not any content written for it (${text.length} bytes)`);
    }
    for (const sub of ['bases', 'drift']) {
      for (const name of existsSync(join(dirs.state, sub)) ? readdirSync(join(dirs.state, sub)) : [])
        if (!temp(sub, name)) violation(round, `${sub}/${name}: the output was always ours, nothing to keep`);
    }
    return fresh;
  };

  const readOutput = (): string | undefined => (existsSync(dirs.output) ? readFileSync(dirs.output, 'utf8') : undefined);

  let lastOutput: string | undefined;
  let round = 0;
  try {
    for (const spec of SPECS) put(spec); // the first start renders all four
    for (; round < opts.rounds; round++) {
      if (performance.now() > deadline) {
        result.stoppedEarly = true;
        break;
      }
      history = new Map(SPECS.map((s) => [s.file, new Set<string | null>([onDisk.get(s.file) ?? null])]));
      const startupKill = round > 0 && rand() < (opts.startupKillShare ?? 0.1);
      if (round > 0) await freshNotify();
      // READY=1 may take 10 s and more: a kill inside the start's claim of the state dir leaves a lock that the next start waits out.
      const d = startDaemon(dirs, { notify, ...daemonSettings });
      result.restarts++;

      if (startupKill) {
        await Promise.race([sleep(between(0, 400)), d.exited]);
        await stopDaemon(d, 'SIGKILL');
        if (d.child.signalCode !== 'SIGKILL') violation(round, `the daemon exited by itself while starting (code ${d.child.exitCode})`, d);
        result.kills++;
        result.startupKills++;
        const out = readOutput();
        if (out !== lastOutput && out !== renderOf(onDisk)) {
          const e = explain(out ?? '');
          violation(
            round,
            `killed while starting: the output is neither the one from before nor the render of what is on disk${'why' in e ? `: ${e.why}` : ''}`,
            d,
          );
        }
      } else {
        try {
          const readyMs = await d.ready;
          result.phaseMs.ready += readyMs;
          result.slowestReadyMs = Math.max(result.slowestReadyMs, readyMs);
          if (readyMs > SLOW_READY_MS) result.slowReadies++;
        } catch (e) {
          violation(round, `restart failed: ${(e as Error).message}`);
          await stopDaemon(d, 'SIGKILL');
          break; // nothing more can be learnt from this directory
        }
        const atReady = readOutput();
        if (atReady !== renderOf(onDisk))
          violation(round, `after the restart the output is not the render of the fragments on disk${atReady === undefined ? ' (no output)' : ''}`, d);

        const writingFrom = performance.now();
        // Keep it rendering: either write until a random moment and kill there, or a burst, then a (mostly short) pause, then kill.
        if (rand() < 0.5) {
          const killAt = performance.now() + between(10, 300);
          for (let n = 0; n < 2000 && performance.now() < killAt; n++) {
            mutate();
            const gap = rand() < 0.3 ? 0 : between(0, 6);
            await sleep(gap);
          }
        } else {
          const burst = 1 + Math.floor(rand() * 12);
          for (let n = 0; n < burst; n++) {
            mutate();
            if (rand() < 0.5) await sleep(between(0, 3));
          }
          await sleep(10 + 290 * rand() ** 2);
        }
        await stopDaemon(d, 'SIGKILL');
        const checkingFrom = performance.now();
        result.phaseMs.writing += checkingFrom - writingFrom;
        result.kills++;
        if (d.child.signalCode !== 'SIGKILL') violation(round, `the daemon was not killed but exited (code ${d.child.exitCode}) before the kill`, d);

        const out = readOutput();
        if (out === undefined) {
          violation(round, 'no output after the kill', d);
        } else {
          const e = explain(out);
          if ('why' in e) violation(round, e.why, d);
          else {
            for (const spec of SPECS) {
              const state = e.set.get(spec.file) ?? null;
              if (!history.get(spec.file)?.has(state))
                violation(round, `the output holds ${spec.file} ${state === null ? 'absent' : 'in a version'} that was not on disk during this round`, d);
            }
          }
          if (out !== renderOf(onDisk)) result.killsWithRenderPending++;
        }
        result.phaseMs.checking += performance.now() - checkingFrom;
      }
      const out = readOutput();
      if (out !== undefined) outputsSeen.add(createHash('sha256').update(out).digest('hex'));
      lastOutput = out;
      const fresh = checkOutputDir(round) + checkStateDir(round);
      if (fresh > 0) result.killsMidWrite++;
      result.rounds++;
      if (opts.onProgress && result.rounds % (opts.progressEvery ?? 50) === 0) {
        result.ms = Math.round(performance.now() - started);
        result.distinctOutputs = outputsSeen.size;
        opts.onProgress(result);
      }
    }

    // A last start after everything: it must come up on all the leftovers, render what is on disk, and stop cleanly.
    await freshNotify();
    const d = startDaemon(dirs, { notify, ...daemonSettings });
    result.restarts++;
    try {
      await d.ready;
      if (readOutput() !== renderOf(onDisk)) violation(round, 'final start: the output is not the render of the fragments on disk', d);
      // At once, as systemd does with a stop queued behind the start: SIGTERM is handled from READY=1 on.
      const stopFrom = performance.now();
      const { code, signal } = await stopDaemon(d, 'SIGTERM');
      if (code !== 0) violation(round, `final stop: exit code ${code}, signal ${signal}, after ${Math.round(performance.now() - stopFrom)} ms`, d);
      if (existsSync(join(dirs.state, 'daemon.json'))) violation(round, 'final stop: daemon.json left behind by a clean stop');
    } catch (e) {
      violation(round, `final start failed: ${(e as Error).message}`);
      await stopDaemon(d, 'SIGKILL');
    }
  } finally {
    await notify.close();
    if (opts.keep) result.dirs = dirs.root;
    else removeDirs(dirs);
  }
  result.distinctOutputs = outputsSeen.size;
  result.ms = Math.round(performance.now() - started);
  return result;
}

export function formatCampaign(r: CampaignResult): string {
  const lines = [
    `crash campaign (seed ${r.seed}): ${r.rounds} rounds in ${(r.ms / 1000).toFixed(1)} s${r.stoppedEarly ? ' (stopped at the time bound)' : ''}`,
    `  kills (SIGKILL)            ${r.kills}`,
    `    while starting           ${r.startupKills}`,
    `    in the middle of a write ${r.killsMidWrite}   (a new temp file was left behind)`,
    `    with a render pending    ${r.killsWithRenderPending}   (output not yet the render of what was on disk)`,
    `  restarts                   ${r.restarts}   (slowest spawn → READY=1: ${Math.round(r.slowestReadyMs)} ms; ${r.slowReadies} over 5 s)`,
    `  start lock left by a kill  ${r.claimLocksLeft}   (rounds that found state/.claim.lock after the kill)`,
    `  fragment writes/removals   ${r.writes}`,
    `  distinct outputs seen      ${r.distinctOutputs}`,
    `  time a round (mean)        ${r.rounds > 0 ? [`start→READY ${Math.round(r.phaseMs.ready / r.rounds)} ms`, `writing ${Math.round(r.phaseMs.writing / r.rounds)} ms`, `checking ${Math.round(r.phaseMs.checking / r.rounds)} ms`].join(', ') : '-'}`,
    `  violations                 ${r.violationCount}${r.violationCount > r.violations.length ? ` (${r.violations.length} distinct listed)` : ''}`,
    ...r.violations.map((v) => `    ${v}`),
  ];
  if (r.dirs) lines.push(`  directories kept in ${r.dirs}`);
  return lines.join('\n');
}
