/**
 * Torn writes of the state directory: a writer process (bench/torn-writer.ts) that replaces
 * the daemon's state files through the daemon's own code (last-good fragments, health.json,
 * daemon.json) is killed with SIGKILL at a random moment, again and again on the same
 * directory. After every kill each file must be whole: every last-good file exactly one text
 * the writer wrote for that fragment (self-checking: a header with the body's sha256), health.json
 * JSON in the cache's format, daemon.json a whole record, format-version whole; beside them
 * only the writers' own temp files (`.NAME.PID.RANDOM.tmp`, which no reader takes) and the
 * health lock a kill can leave (counted, then removed as its staleness rule would after 10 s).
 *
 * Cheaper than a daemon round (no daemon start, no READY=1): about 0.1 to 0.2 s a kill, so the
 * suite runs 150 of these beside the daemon's 50 (test/integration/daemon/crash.test.ts; CI 75
 * and 25 on each of its two runtimes), and `npm run soak` more.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { STATE_FORMAT_VERSION } from '../src/daemon/state-dir.js';
import { untracked } from '../test/helpers/untracked.js';
import { prng, ROOT, sleep } from './daemon-harness.js';
import { isWholeTornText, TORN_FRAGMENTS } from './torn-text.js';

export interface TornOptions {
  readonly rounds: number;
  readonly seed?: number;
  /** Stop starting rounds after this long (a bound, not a goal). Default: 1 s a round + 30 s. */
  readonly deadlineMs?: number;
  readonly onProgress?: (r: TornResult) => void;
  readonly progressEvery?: number;
  /** The compiled writer to run (default: dist/bench/torn-writer.js of this tree). */
  readonly writer?: string;
}

export interface TornResult {
  readonly seed: number;
  rounds: number;
  kills: number;
  /** Kills that left a new temp file behind (killed in the middle of a write). */
  killsMidWrite: number;
  /** Kills that left health.json.lock behind. */
  healthLocksLeft: number;
  /** Files checked whole after kills (last-good, health.json, daemon.json, format-version). */
  filesChecked: number;
  violations: string[];
  violationCount: number;
  stoppedEarly: boolean;
  ms: number;
}

/** The compiled writer, whether this runs from dist or from the sources. */
const WRITER = join(ROOT, 'dist', 'bench', 'torn-writer.js');
const TEMP = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;
const START_TIMEOUT_MS = 10_000;

export async function runTornWriteCampaign(opts: TornOptions): Promise<TornResult> {
  const seed = opts.seed ?? Date.now() % 2_147_483_647;
  const rand = prng(seed);
  const started = performance.now();
  const deadline = started + (opts.deadlineMs ?? opts.rounds * 1000 + 30_000);
  const result: TornResult = {
    seed,
    rounds: 0,
    kills: 0,
    killsMidWrite: 0,
    healthLocksLeft: 0,
    filesChecked: 0,
    violations: [],
    violationCount: 0,
    stoppedEarly: false,
    ms: 0,
  };
  const seen = new Set<string>();
  const violation = (round: number, what: string): void => {
    result.violationCount++;
    if (seen.has(what)) return;
    seen.add(what);
    if (result.violations.length < 50) result.violations.push(`round ${round} (seed ${seed}): ${what}`);
  };
  const writer = opts.writer ?? WRITER;
  if (!existsSync(writer)) throw new Error(`${writer} is missing: run npm run build first`);
  const root = mkdtempSync(join(tmpdir(), 'mpd-torn-'));
  const state = join(root, 'state');
  const temps = new Set<string>();
  try {
    for (let round = 0; round < opts.rounds; round++) {
      if (performance.now() > deadline) {
        result.stoppedEarly = true;
        break;
      }
      const child = spawn(...untracked(process.execPath, [writer, state, String(round + 1)]), { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise<void>((r) => child.on('close', () => r()));
      const writing = new Promise<boolean>((r) => {
        child.stdout.on('data', (b: Buffer) => b.toString().includes('writing') && r(true));
        void exited.then(() => r(false));
        setTimeout(() => r(false), START_TIMEOUT_MS).unref();
      });
      if (!(await writing)) {
        child.kill('SIGKILL');
        await exited;
        violation(round, `the writer did not start: ${err.trim().split('\n').slice(-3).join(' | ')}`);
        break;
      }
      // Most kills land early (the first writes after start), some after many writes.
      await Promise.race([sleep(rand() < 0.6 ? rand() * 15 : 15 + rand() * 120), exited]);
      const killed = child.kill('SIGKILL');
      await exited;
      if (!killed || child.signalCode !== 'SIGKILL')
        violation(round, `the writer ended before the kill (code ${child.exitCode}): ${err.trim().split('\n').slice(-3).join(' | ')}`);
      result.kills++;

      let fresh = false;
      const lookAtTemps = (where: string, name: string): boolean => {
        if (!TEMP.test(name)) return false;
        if (!temps.has(`${where}/${name}`)) fresh = true;
        temps.add(`${where}/${name}`);
        return true;
      };
      for (const name of readdirSync(state)) {
        if (lookAtTemps('state', name) || ['last-good', 'bases', 'drift'].includes(name)) continue;
        const text = readFileSync(join(state, name), 'utf8');
        result.filesChecked++;
        if (name === 'format-version') {
          if (text !== `${STATE_FORMAT_VERSION}\n`) violation(round, `format-version is ${JSON.stringify(text)}`);
        } else if (name === 'health.json') {
          try {
            const j = JSON.parse(text) as { version?: unknown; endpoints?: Record<string, { endpoint?: unknown; updatedAt?: unknown }> };
            const eps = Object.values(j.endpoints ?? {});
            if (j.version !== 1 || eps.length !== 20 || eps.some((e) => typeof e.endpoint !== 'string' || typeof e.updatedAt !== 'number'))
              violation(round, `health.json is not a whole cache: ${text.slice(0, 120)}`);
          } catch (e) {
            violation(round, `health.json is torn: ${(e as Error).message}`);
          }
        } else if (name === 'health.json.lock') {
          result.healthLocksLeft++;
          result.filesChecked--;
          unlinkSync(join(state, name)); // what the staleness rule does after 10 s; the campaign does not wait for it
        } else if (name === 'daemon.json') {
          try {
            const r = JSON.parse(text) as { pid?: unknown; output?: unknown; controlSocket?: unknown; startedAt?: unknown };
            if (typeof r.pid !== 'number' || typeof r.output !== 'string' || typeof r.controlSocket !== 'string' || typeof r.startedAt !== 'string')
              violation(round, `daemon.json is not a whole record: ${text.slice(0, 120)}`);
          } catch (e) {
            violation(round, `daemon.json is torn: ${(e as Error).message}`);
          }
        } else violation(round, `unexpected file in the state directory: ${name}`);
      }
      for (const name of existsSync(join(state, 'last-good')) ? readdirSync(join(state, 'last-good')) : []) {
        if (lookAtTemps('last-good', name)) continue;
        result.filesChecked++;
        if (!TORN_FRAGMENTS.includes(name)) violation(round, `last-good/${name}: no such fragment was written`);
        else if (!isWholeTornText(name, readFileSync(join(state, 'last-good', name), 'utf8')))
          violation(round, `last-good/${name} is torn (not one whole text written for it)`);
      }
      if (fresh) result.killsMidWrite++;
      result.rounds++;
      if (opts.onProgress && result.rounds % (opts.progressEvery ?? 100) === 0) {
        result.ms = Math.round(performance.now() - started);
        opts.onProgress(result);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  result.ms = Math.round(performance.now() - started);
  return result;
}

export function formatTornWrites(r: TornResult): string {
  return [
    `torn writes of the state directory (seed ${r.seed}): ${r.rounds} rounds in ${(r.ms / 1000).toFixed(1)} s${r.stoppedEarly ? ' (stopped at the time bound)' : ''}`,
    `  kills (SIGKILL)            ${r.kills}`,
    `    in the middle of a write ${r.killsMidWrite}   (a new temp file was left behind)`,
    `    health lock left         ${r.healthLocksLeft}`,
    `  files checked whole        ${r.filesChecked}`,
    `  violations                 ${r.violationCount}`,
    ...r.violations.map((v) => `    ${v}`),
  ].join('\n');
}
