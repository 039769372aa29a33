/**
 * What the daemon reports about itself: the `status` answer, the one-line status systemd
 * shows, the degraded reasons and the metrics. Pure: the daemon gathers its state into
 * DaemonFacts (the time, the pid and the version among them) and these functions shape it.
 */
import { byteOrderCompare } from '../core/byte-order.js';
import { formatDiagnostic } from '../core/diagnostic.js';
import type { HealthMap } from '../health/health.js';
import type { HealthKeeper } from '../health/keeper.js';
import { mirrorMetrics, mirrorViews, type MirrorView } from '../health/mirror-view.js';
import type { MetricsSnapshot } from '../metrics/format.js';
import type { FragmentStatus } from '../pipeline/forgiving.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import type { DriftEvent } from './output-guard.js';
import type { LocalMirrorStatus } from './local-mirror-host.js';
import { noReloads, type ReloadOutcome, type ReloadStatus } from './reload-status.js';
import { counted } from '../core/count.js';

export interface RenderInfo {
  readonly at: string;
  readonly ms: number;
  readonly sha256: string;
  readonly changed: boolean;
  readonly fragments: number;
  readonly tables: number;
  readonly mirrors: number;
}

export interface DaemonStatus {
  readonly state: 'healthy' | 'degraded';
  readonly degraded: string[];
  readonly pid: number;
  readonly version: string;
  readonly startedAt: string;
  readonly policyDir: string;
  readonly output: string;
  readonly stateDir: string;
  readonly base: { readonly source: 'flag' | 'adopted' | 'none'; readonly path?: string };
  readonly fragments: Array<{ file: string; state: string; errors: string[]; warnings: string[] }>;
  /** Warnings not located in a fragment: files in the policy directory that are not fragments, the base. */
  readonly warnings: string[];
  readonly lastRender?: RenderInfo;
  readonly lastWriteError?: string;
  readonly drift: DriftEvent[];
  readonly shadowing: string[];
  /**
   * Each mirror endpoint of the render: `state` is its health in the cache (up, down, probe,
   * unknown), or `demoted` while health-aware order lists it after the healthy mirrors.
   */
  readonly mirrors?: MirrorView[];
  /** Present when health-aware order is on. */
  readonly healthAwareOrder?: { readonly demoted: string[]; readonly demotions: number; readonly rewrites: number; readonly rewritesLastMinute: number };
  /** Present while the local mirror is on. */
  readonly localMirror?: LocalMirrorStatus;
  /** Present while containerd's hosts directory is managed (`containerd-hosts-dir`). */
  readonly containerd?: ContainerdHostsStatus;
  readonly renders: number;
  readonly renderErrors: number;
  /** SIGHUPs counted, reloads begun and finished, and how the latest ended: what `mirror-policyd reload` waits on. */
  readonly reloads: ReloadStatus;
}

/** containerd's hosts directory as the last render left it. */
export interface ContainerdHostsStatus {
  readonly dir: string;
  /** The hosts whose hosts.toml is ours and current, in byte order. */
  readonly hosts: string[];
  /** What containerd cannot express of the policy (left out), formatted. */
  readonly warnings: string[];
  /** Our hosts.toml files found edited by hand (the latest few): when, and where the edited copy is. */
  readonly drift: Array<{ readonly at: string; readonly host: string; readonly savedAs: string }>;
}

/** The running totals the daemon counts. */
export interface DaemonCounters {
  readonly renders: number;
  readonly renderErrors: number;
  readonly writes: number;
  readonly healthRewrites: number;
  readonly probeRounds: number;
  readonly driftRestores: number;
}

/** The daemon's state at one moment, as the report reads it. */
export interface DaemonFacts {
  readonly now: number;
  readonly pid: number;
  readonly version: string;
  readonly startedAt: string;
  readonly policyDir: string;
  readonly output: string;
  readonly stateDir: string;
  readonly base: DaemonStatus['base'];
  readonly fragments: readonly FragmentStatus[];
  /** Formatted warnings not located in a fragment. */
  readonly otherWarnings: readonly string[];
  readonly lastRender?: RenderInfo;
  /** When the last render that wrote (or found the output equal) finished, ms since the epoch. */
  readonly lastSuccessAt?: number;
  readonly lastWriteError?: string;
  /** The policy directory's standing (missing, refused), already worded. */
  readonly policyDirProblems: readonly string[];
  /** Why the last-good copies are not safe in the state dir. */
  readonly savingProblems: readonly string[];
  /** The base or the whole render failing. */
  readonly generalProblems: readonly string[];
  /** Why the config file was refused at the last reload (worded FILE:LINE:COL); none when it was taken. */
  readonly configProblems?: readonly string[];
  readonly drift: readonly DriftEvent[];
  readonly shadowing: readonly string[];
  /** The configuration last rendered. */
  readonly conf?: RegistriesConf;
  /** The health cache as the prober last saw it. */
  readonly health: HealthMap;
  /** Present while health-aware order is on. */
  readonly keeper?: HealthKeeper;
  readonly counters: DaemonCounters;
  /** Present while the local mirror is on. */
  readonly localMirror?: LocalMirrorStatus;
  /** Why the local mirror is on but not serving (it is then not listed in the file). */
  readonly localMirrorProblems?: readonly string[];
  readonly containerd?: ContainerdHostsStatus;
  /** The reloads so far (none: never signalled). */
  readonly reloads?: ReloadStatus;
  /** The reloads finished, by outcome (none: never signalled). */
  readonly reloadOutcomes?: Readonly<Record<ReloadOutcome, number>>;
  /** Demotions counted while health-aware order was on before it was last turned off (a counter never goes back). */
  readonly earlierDemotions?: number;
}

/** Demotions since the start, health-aware order turned off and on again included. */
function demotionsTotal(f: DaemonFacts): number {
  return (f.earlierDemotions ?? 0) + (f.keeper?.demotionsTotal ?? 0);
}

export function fragmentCounts(statuses: readonly FragmentStatus[]): { valid: number; held: number; invalid: number } {
  const c = { valid: 0, held: 0, invalid: 0 };
  for (const s of statuses) c[s.state]++;
  return c;
}

const NOT_RENDERED = 'not rendered yet';

/** Why the daemon is degraded (empty: healthy), most local first. */
export function degradedReasons(f: DaemonFacts): string[] {
  const out: string[] = [];
  // First: the settings in effect are not the file's, and the next start (a reboot) would refuse the file.
  if ((f.configProblems ?? []).length > 0)
    out.push(
      `configuration refused at the last reload (${(f.configProblems ?? []).join('; ')}); the previous settings stay in effect, and a restart would fail until it is fixed`,
    );
  const { held, invalid } = fragmentCounts(f.fragments);
  if (held > 0) out.push(`${held} fragment(s) held at their last valid content`);
  if (invalid > 0) out.push(`${invalid} fragment(s) left out`);
  out.push(...f.policyDirProblems);
  if (!f.lastRender) out.push(NOT_RENDERED);
  if (f.lastWriteError) out.push(`cannot write ${f.output}: ${f.lastWriteError}`);
  out.push(...f.savingProblems);
  out.push(...f.generalProblems);
  out.push(...(f.localMirrorProblems ?? []));
  return out;
}

/** How much of the first degraded reason the status line keeps: `systemctl status` shows one line. */
const STATUS_REASON_CHARS = 120;

/** The one line systemd shows (STATUS=): healthy or degraded, the first reason why, the counts. */
export function statusLine(f: DaemonFacts): string {
  const { valid, held, invalid } = fragmentCounts(f.fragments);
  const r = f.lastRender;
  const reasons = degradedReasons(f);
  // "not rendered yet" follows from another reason when there is one: that one says more.
  const first = reasons.find((x) => x !== NOT_RENDERED) ?? reasons[0] ?? '';
  const why = first.length > STATUS_REASON_CHARS ? `${first.slice(0, STATUS_REASON_CHARS)}…` : first;
  const more = reasons.length > 1 ? ` (+${reasons.length - 1} more)` : '';
  const last = r ? `, ${counted(r.tables, 'table')}, ${counted(r.mirrors, 'mirror')}, rendered ${r.at}` : first === NOT_RENDERED ? '' : ', not rendered yet';
  const counts = `fragments ${valid} valid, ${held} held, ${invalid} invalid${last}`;
  return reasons.length > 0 ? `degraded: ${why}${more}; ${counts}` : `healthy: ${counts}`;
}

/** The answer to `status`. */
export function buildStatus(f: DaemonFacts): DaemonStatus {
  const degraded = degradedReasons(f);
  return {
    state: degraded.length > 0 ? 'degraded' : 'healthy',
    degraded,
    pid: f.pid,
    version: f.version,
    startedAt: f.startedAt,
    policyDir: f.policyDir,
    output: f.output,
    stateDir: f.stateDir,
    base: f.base,
    fragments: f.fragments.map((s) => ({ file: s.file, state: s.state, errors: s.errors.map(formatDiagnostic), warnings: s.warnings.map(formatDiagnostic) })),
    warnings: [...f.otherWarnings],
    ...(f.lastRender ? { lastRender: f.lastRender } : {}),
    ...(f.lastWriteError ? { lastWriteError: f.lastWriteError } : {}),
    drift: [...f.drift],
    shadowing: [...f.shadowing],
    mirrors: mirrorViews(f.conf, f.health, f.keeper, f.now),
    ...(f.keeper
      ? {
          healthAwareOrder: {
            demoted: [...f.keeper.demoted()].sort(byteOrderCompare),
            demotions: demotionsTotal(f),
            rewrites: f.counters.healthRewrites,
            rewritesLastMinute: f.keeper.recentRewrites(f.now),
          },
        }
      : {}),
    ...(f.localMirror ? { localMirror: f.localMirror } : {}),
    ...(f.containerd ? { containerd: f.containerd } : {}),
    renders: f.counters.renders,
    renderErrors: f.counters.renderErrors,
    reloads: f.reloads ?? { requested: 0, started: 0, finished: 0 },
  };
}

/** The figures of the metrics file. */
export function metricsSnapshot(f: DaemonFacts): MetricsSnapshot {
  return {
    mirrors: mirrorMetrics(f.conf, f.health, f.keeper?.demoted() ?? new Set()),
    rendersTotal: f.counters.renders,
    renderErrorsTotal: f.counters.renderErrors,
    writesTotal: f.counters.writes,
    healthRewritesTotal: f.counters.healthRewrites,
    probeRoundsTotal: f.counters.probeRounds,
    fragments: fragmentCounts(f.fragments),
    ...(f.lastSuccessAt !== undefined ? { lastSuccessfulRenderTimestampSeconds: f.lastSuccessAt / 1000 } : {}),
    driftRestoresTotal: f.counters.driftRestores,
    demotionsTotal: demotionsTotal(f),
    info: { version: f.version },
    degraded: degradedReasons(f).length > 0,
    // Refused (config problems) or failed: the settings in effect are not the file's.
    configLastReloadSuccessful: (f.configProblems ?? []).length === 0 && f.reloads?.last?.outcome !== 'failed',
    reloads: { ...(f.reloadOutcomes ?? noReloads()) },
    brokenFragments: f.fragments.flatMap((x) => (x.state === 'valid' ? [] : [{ file: x.file, state: x.state }])),
    ...(f.localMirror ? { localMirror: { listening: f.localMirror.listening, ...f.localMirror.stats } } : {}),
  };
}
