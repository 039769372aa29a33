/**
 * The daemon: keeps the output (default /etc/containers/registries.conf) equal to the
 * forgiving render of the policy directory, live, and never leaves the host worse off.
 * A thin shell around the pure pipeline: it reads files, writes files, watches, talks
 * to systemd and answers `status`. One render at a time; triggers coalesce.
 * This class orchestrates; the parts are its own modules: start-up-claim, render-scheduler
 * (when to render), fragment-tracker, output-guard and status-report.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { startControlServer, type ControlServer } from '../control/server.js';
import { formatDiagnostic, unlabelledDiagnostic } from '../core/diagnostic.js';
import { FailureLog } from '../core/failure-log.js';
import { readDropIns } from '../registries-conf/drop-ins.js';
import { utf8Text } from '../registries-conf/parse.js';
import type { Logger } from '../core/log.js';
import type { SourceText } from '../pipeline/strict.js';
import { readPolicyDir, readPolicyDirNames, type FragmentReadCache, type PolicyDirContents } from '../fragments/policy-dir.js';
import { SweepCache } from '../core/sweep-cache.js';
import { findShadowing } from '../merge/shadowing.js';
import type { Notifier } from '../systemd/notify.js';
import { VERSION } from '../core/version.js';
import { runAfterRender } from './after-render.js';
import { mirrorEndpoints } from '../health/mirror-endpoints.js';
import type { Prober } from '../health/prober.js';
import { endpointKey, mergeHealth, type EndpointHealth, type HealthMap } from '../health/health.js';
import { applyHealthOrder } from '../health/order.js';
import { healthPath } from '../health/store.js';
import type { MetricsSnapshot } from '../metrics/format.js';
import { HealthKeeper } from '../health/keeper.js';
import { MetricsFile } from '../metrics/file.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import type { DaemonConfig } from './config.js';
import { keepStartOnly } from './run-options.js';
import { buildForgiving, parseAhead, type ParseCache } from '../pipeline/forgiving.js';
import { KeptChecks } from '../pipeline/kept-checks.js';
import { fsErrorLine, readOnlyHint, recordedPlaces, StateDir } from './state-dir.js';
import { claimStateDir, initStateDir, removeLeftTemps, StartError } from './start-up-claim.js';
import { PolicyDirPresence } from './policy-dir-presence.js';
import { FragmentTracker } from './fragment-tracker.js';
import { ourHostsIn, removeOurHosts, updateHostsDir } from '../containerd/hosts-dir.js';
import { tlsListing } from '../containerd/tls-files.js';
import { fileIdentity, inputsFingerprint } from './inputs-fingerprint.js';
import { LocalMirrorHost, localMirrorSettings, realEndpoint } from './local-mirror-host.js';
import { LOCAL_MIRROR_REGISTRIES_D } from '../local-mirror/mapping.js';
import { OutputGuard } from './output-guard.js';
import { readTrustedFile } from '../output/private-file.js';
import { EMPTY_SETTLE_MS, RenderScheduler, WRITE_HOLD_MS } from './render-scheduler.js';
import { MAX_BACKOFF_MS } from './retry.js';
import { ReloadQueue } from './reload-queue.js';
import { ReloadRender } from './reload-render.js';
import type { ReloadResult, ReloadsAnswer } from './reload-status.js';
import {
  buildStatus,
  degradedReasons,
  metricsSnapshot,
  statusLine,
  type ContainerdHostsStatus,
  type DaemonFacts,
  type DaemonStatus,
  type RenderInfo,
} from './status-report.js';
import { watchTargets, type Watcher } from './watcher.js';
import { counted } from '../core/count.js';

// What the CLI and the tests take from here, wherever it lives now.
export { StartError } from './start-up-claim.js';
export type { DriftEvent } from './output-guard.js';
export type { DaemonStatus, RenderInfo } from './status-report.js';

/** The config file read again at a reload: the settings, or none when it is refused; `problems` say why (or warn). */
export type ConfigLoader = () => Promise<{ readonly config?: DaemonConfig; readonly problems: readonly string[] }>;

/** Whether two reads of the policy directory found the same fragments with the same texts (a cached text is the same string). */
function sameTexts(a: readonly SourceText[], b: readonly SourceText[]): boolean {
  return a.length === b.length && a.every((f, i) => f.file === b[i]?.file && f.text === b[i]?.text);
}

/** How long the parse of new fragments holds the event loop at most before it yields (parseInSlices). */
const PARSE_SLICE_MS = 20;

/** How often the metrics file is rewritten while the local mirror serves (besides after each render and probe round). */
export const LOCAL_MIRROR_METRICS_MS = 5_000;

/** How many hand edits of containerd's hosts.toml files `status` keeps (the oldest go first). */
const CONTAINERD_DRIFT_KEPT = 10;

/** What the process around the daemon is told (`run` tunes V8 by it: cli/daemon-process.ts). */
export interface DaemonHooks {
  /** Once, when the fragments read first reach LARGE_POLICY_BYTES: optimized code pays from there. */
  readonly largePolicy?: () => void;
}

/** From this much fragment text on, a render is large enough for V8's optimizing compilers to pay (10 000 fragments: ~2.4 MB). */
export const LARGE_POLICY_BYTES = 1024 * 1024;

function textBytes(texts: readonly SourceText[]): number {
  let n = 0;
  for (const t of texts) n += t.text.length;
  return n;
}

export class Daemon {
  private readonly state: StateDir;
  private readonly startedAt = new Date().toISOString();
  private watcher?: Watcher;
  private control?: ControlServer;
  private readonly scheduler: RenderScheduler;
  /** SIGHUPs: counted, one reload at a time, READY=1 after each (reload-queue.ts). */
  private readonly reloads: ReloadQueue;
  /** READY=1 sent: the first render's after-render commands wait for it (deferredAfterRender). */
  private ready = false;
  /** The last render's look found the output settling (OutputGuard.look): it rendered nothing. */
  private outputSettling = false;
  /**
   * The after-render commands of the renders before READY=1, run once after it. A command may
   * wait for a unit ordered after ours (`systemctl reload crio.service` joins CRI-O's start job
   * at boot, which waits for our READY=1): run before it, it held the start until its timeout.
   */
  private deferredAfterRender: 'none' | 'due' | Promise<unknown> = 'none';
  /**
   * A write that changes the output was begun and its after-render commands have not run yet
   * (mirrored by the state dir's after-render-due, which carries it over a crash): owed even
   * when the next render finds the output already holding its text.
   */
  private afterRenderOwed = false;
  /** Writes that owed them, counted: a run of the commands clears the record only if none came since it began. */
  private afterRenderMarks = 0;
  /** The containerd hosts directory our files are in, as the state dir records it (read once). */
  private managedHostsDir?: { dir: string | undefined };
  private retireFailureLogged?: string;

  private readonly fragments: FragmentTracker;
  private generalProblems: string[] = [];
  /** Why the config file was refused at the last reload (the daemon is degraded until one takes it). */
  private configProblems: readonly string[] = [];
  private lastRender?: RenderInfo;
  private lastConf?: RegistriesConf;
  private prober?: Prober;
  private metricsTimer?: NodeJS.Timeout;
  /** Counts (re)starts of the probes, so that one still loading knows it was superseded. */
  private probing = 0;
  private readonly presence: PolicyDirPresence;
  private readonly output: OutputGuard;
  private shadowing: string[] = [];
  private readonly counters = { renders: 0, renderErrors: 0, writes: 0, healthRewrites: 0, probeRounds: 0 };
  private lastSuccessAt?: number;
  /** Health-aware order's memory; present while the setting is on. */
  private keeper?: HealthKeeper;
  /** The demotions of keepers dropped when health-aware order was turned off: the metric is a counter. */
  private earlierDemotions = 0;
  private rateLimitLogged = false;
  /** The output write failure logged at error, once per cause until a write succeeds. */
  private readonly writeFailure = new FailureLog();
  private readonly metrics: MetricsFile;
  private baseSource: DaemonStatus['base'] = { source: 'none' };
  /** The local mirror (issue #14): its endpoint runs while the setting is on and it could bind. */
  private readonly localMirror: LocalMirrorHost;
  /** What the local mirror's requests learnt of the mirrors' health (passive health). */
  private readonly passiveHealth: () => HealthMap;
  /** Each fragment's text as last read, and its parses: an unchanged fragment is neither opened nor parsed again (issue #15). */
  private readonly readCache: FragmentReadCache = new SweepCache();
  private readonly parseCache: ParseCache = new SweepCache();
  /** The names judged and the tables parsed back: a render in which one fragment changed checks little more than it. */
  private readonly kept = new KeptChecks();
  /**
   * Reads made for watcher events (readPolicyDirNames: the entries named, or the whole directory
   * when it changed meanwhile, as under `rm -rf`): their removals settle first (FragmentTracker.stamp).
   */
  private readonly namedReads = new WeakSet<PolicyDirContents>();
  /** The read of the policy directory in flight, if any (readPolicy). */
  private policyRead: Promise<unknown> = Promise.resolve();
  /** The policy directory as the last read found it (a render's next read starts from it). */
  private lastRead?: PolicyDirContents;
  /**
   * The entries the watcher reported since the last read began: a render reads only those
   * (readPolicyDirNames). Undefined: anything may have changed (at start, after an event that
   * names no entry, a failed read, a reload), and the next read is of the whole directory.
   */
  private reported?: Set<string>;
  /** The warnings about containerd last logged, to log them again only when they change. */
  private containerdWarnings = new Set<string>();
  /** The render failure (no output could be rendered) logged at error, until a render succeeds. */
  private renderFailureLogged: string | undefined;
  /** The containerd hosts write failure logged at error, once per cause until a write succeeds. */
  private readonly containerdFailure = new FailureLog();
  /**
   * The identities of the hosts.toml files the last containerd write left (drift between renders
   * is seen by the rescan), and the certificates it looked for, by name, as they were before it.
   */
  private containerdFiles: { readonly ours: string; readonly hosts: readonly string[]; readonly tls: string } | undefined;
  /** containerd's hosts directory as the last render left it; absent while it is not managed. */
  private containerdStatus: ContainerdHostsStatus | undefined;
  /** The render the reload under way waits for (a render in flight before it does not carry it). */
  private reloadRender?: ReloadRender;
  /** The identity of what the last render that left the daemon healthy read (the output: as it left it); undefined after any other. */
  private cleanRender?: { readonly others: string; readonly policy: string; readonly texts: readonly SourceText[]; readonly output: string };

  /** Whether the policy has been large (LARGE_POLICY_BYTES) since the start: `hooks.largePolicy` was called. */
  private large = false;

  constructor(
    private config: DaemonConfig,
    private readonly log: Logger,
    private readonly notifier: Notifier,
    /** How a reload reads the settings (the CLI's config file and flags); without one, a reload keeps the settings it has. */
    private readonly loadConfig: ConfigLoader = () => Promise.resolve({ config: this.config, problems: [] }),
    private readonly hooks: DaemonHooks = {},
  ) {
    this.reloads = new ReloadQueue({
      canRun: () => !this.scheduler.isStopped,
      begin: () => this.notifier.reloading(),
      run: () => this.reloadNow(),
      end: () => this.notifier.ready(this.statusLine()),
      failed: (e) => this.log.error({ err: e.stack }, `reload failed: ${e.message}`),
    });
    this.state = new StateDir(config.stateDir, { warn: (m) => log.warn(m) });
    this.scheduler = new RenderScheduler({
      render: () => this.render(),
      onError: (e) => {
        this.counters.renderErrors++;
        this.log.error({ err: e.stack }, `render failed: ${e.message}`);
      },
      afterEach: () => void this.writeMetrics(),
      debounceMs: () => this.config.debounceMs,
    });
    // Last-good copies are begun between renders: a first start's 10 000 in the background held up the changes after READY=1.
    this.fragments = new FragmentTracker(
      log,
      () => this.scheduler.recheckSoon(),
      () => this.scheduler.idle(),
    );
    this.output = new OutputGuard(() => this.config, this.state, log);
    this.metrics = new MetricsFile(log, () => this.metricsSnapshot());
    this.presence = new PolicyDirPresence(
      () => this.config.policyDir,
      log,
      () => this.trigger(),
    );
    if (config.healthAwareOrder) this.keeper = new HealthKeeper(config.hysteresis);
    const endpoint = realEndpoint(healthPath(config.stateDir), () => this.prober?.health() ?? {}, log);
    this.localMirror = new LocalMirrorHost(endpoint.start, log);
    this.passiveHealth = endpoint.passive;
  }

  /** The mirrors' health: per endpoint the newer of the prober's last round and the local mirror's own outcomes. */
  private health(): HealthMap {
    return mergeHealth(this.prober?.health() ?? {}, this.passiveHealth());
  }

  /** The last render's configuration without the local mirror's entries: the mirrors probes, status and metrics are about. */
  private mirrorsConf(): RegistriesConf | undefined {
    return this.lastConf && this.localMirror.withoutEndpoint(this.lastConf);
  }

  /** Takes the state dir, renders once, starts watching and answering; READY=1 even when degraded. */
  async start(): Promise<void> {
    await initStateDir(this.state, this.config.stateDir);
    await claimStateDir(this.state, this.config, this.startedAt, this.log);
    try {
      this.control = await startControlServer(
        this.config.controlSocket,
        {
          status: () => this.status(),
          reloads: (): ReloadsAnswer => ({ pid: process.pid, reloads: this.reloads.status() }),
          ping: () => 'pong',
        },
        this.log,
      );
    } catch (e) {
      await this.state.clearRecord(process.pid);
      throw new StartError(`control socket ${this.config.controlSocket}: ${(e as Error).message}`);
    }
    try {
      await removeLeftTemps(this.state, this.config, this.log);
      await this.fragments.load(this.state);
      this.afterRenderOwed = await this.state.afterRenderDue();
      if (this.afterRenderOwed)
        this.log.warn(
          "the last output written before this start did not have its after-render commands run (a crash or a kill?): they run after this start's render",
        );
      // Watching first: a change made during the first render, or right after READY=1, must not be missed.
      await this.startWatching();
      await this.scheduler.renderNow();
      await this.outputSettled();
    } catch (e) {
      // Never a daemon half up (answering `status` as healthy but never rendering): all of it goes, in one line.
      this.log.debug({ err: (e as Error).stack }, 'start-up failed');
      await this.stop().catch(() => {});
      throw new StartError(fsErrorLine(e));
    }
    this.notifier.ready(this.statusLine());
    this.ready = true;
    this.reloads.open(); // a SIGHUP during the start is served now
    if (this.deferredAfterRender === 'due') this.deferredAfterRender = this.runAfterRender();
    this.notifier.startWatchdog();
    this.startProbingLogged();
    // The local mirror counts between renders and probe rounds: its figures are written on a timer too.
    this.metricsTimer = setInterval(() => {
      if (this.config.metricsFile !== undefined && this.localMirror.listening() !== undefined) void this.writeMetrics();
    }, LOCAL_MIRROR_METRICS_MS);
    this.metricsTimer.unref();
    this.log.info(
      { policyDir: this.config.policyDir, output: this.config.output, pid: process.pid },
      `mirror-policyd ${VERSION} watching ${this.config.policyDir} for ${this.config.output}`,
    );
  }

  private startProbingLogged(): void {
    this.startProbing().catch((e: Error) => this.log.error(`cannot start the probes: ${e.message}`));
  }

  /** (Re)starts the background probes; a later call or stop() supersedes one still loading. */
  private async startProbing(): Promise<void> {
    const generation = ++this.probing;
    this.prober?.stop();
    this.prober = undefined;
    if (this.config.probeIntervalMs <= 0) return;
    // Loaded after READY=1: the prober brings the registry client (undici), which a render does not need.
    const { probeTimeouts, startProber } = await import('../health/prober.js');
    if (generation !== this.probing || this.scheduler.isStopped) return;
    this.prober = startProber(
      () => {
        const conf = this.mirrorsConf();
        return conf ? mirrorEndpoints(conf) : [];
      },
      healthPath(this.config.stateDir),
      this.config.probeIntervalMs,
      this.log,
      probeTimeouts(this.config.probeTimeoutMs),
      (updates) => this.onProbeRound(updates),
    );
  }

  /** After each probe round: hysteresis, a re-render when the demoted set changed (rate limited), metrics. */
  private async onProbeRound(updates: Readonly<Record<string, EndpointHealth>>): Promise<void> {
    this.counters.probeRounds++;
    if (this.keeper && this.lastConf && !this.scheduler.isStopped) {
      const outcomes = Object.entries(updates).map(([key, h]) => ({
        key,
        ok: h.failures === 0,
        ...(h.failures > 0 && h.lastFailure ? { failureClass: h.lastFailure.class } : {}),
      }));
      const endpoints = mirrorEndpoints(this.mirrorsConf() ?? this.lastConf).map((e) => endpointKey(e.host, e.insecure));
      const verdict = this.keeper.observeRound(outcomes, endpoints, Date.now());
      for (const c of verdict.changes) {
        if (c.demoted) this.log.warn({ endpoint: c.key }, c.reason);
        else this.log.info({ endpoint: c.key }, c.reason);
      }
      if (verdict.rewrite === 'now') {
        this.rateLimitLogged = false;
        this.trigger();
      } else if (verdict.rewrite === 'deferred' && !this.rateLimitLogged) {
        this.rateLimitLogged = true;
        this.log.warn(
          `mirror order not rewritten yet: ${this.config.hysteresis.maxRewritesPerMinute} health rewrites in the last minute (max-rewrites-per-minute); trying again after the next probes`,
        );
      }
    }
    await this.writeMetrics();
  }

  /** Starts the watcher and the rescan; resolves when changes are being reported. */
  private async startWatching(): Promise<void> {
    const watcher = watchTargets(
      // A Kubernetes volume's fragments change when `..data` is swapped: an event for a name the watcher otherwise ignores.
      { policyDir: this.config.policyDir, output: this.config.output, alsoMatters: (name) => this.lastRead?.viaLinks?.has(name) === true },
      (what, path) =>
        void this.onWatchEvent(what, path).catch(() => {
          this.reported = undefined;
          this.scheduler.requestAndSettle();
        }),
      (e) => this.log.warn({ err: e.message }, `watcher: ${e.message}`),
    );
    this.watcher = watcher;
    this.scheduler.rescanEvery(this.config.rescanIntervalMs, () => this.inputsChanged());
    if (!(await watcher.ready))
      this.log.warn(`watcher: the initial scan did not finish; until it does, changes are seen by the rescan every ${this.config.rescanIntervalMs / 1000} s`);
  }

  /**
   * What a render reads but the output and the policy directory, by identity (inputs-fingerprint.ts).
   * The policy directory's comes from its read (PolicyDirContents.identity), whose lstat of each
   * fragment is taken before the fragment is opened: a second pass over 10 000 fragments per
   * render cost as much as the read (issue #15).
   */
  private otherInputs(): string {
    return inputsFingerprint({
      output: this.config.output,
      ...(this.config.base !== undefined ? { base: this.config.base } : {}),
      // By the setting, not by whether the endpoint listens yet: the first render's look is taken before it does.
      ...(this.config.localMirror !== undefined ? { registriesD: { ours: LOCAL_MIRROR_REGISTRIES_D } } : {}),
    });
  }

  /**
   * The policy directory, read through the read cache; one read at a time (a render's, the
   * rescan's or the settle look's): two at once would each sweep from the cache what the other
   * used, and the next render would open every fragment again.
   */
  private readPolicy(whole: boolean): Promise<PolicyDirContents> {
    const read = this.policyRead.then(async () => {
      // Taken as the read begins: an entry reported from now on is read by the next one.
      const names = whole ? undefined : this.reported;
      // Every read, of named entries or whole, makes blocking calls in slices between which the loop turns (fragment-io.ts, slicedIo).
      const opts = { allowUnsafe: this.config.allowUnsafeFragments, maxFragmentBytes: this.config.maxFragmentBytes, cache: this.readCache };
      const since = this.lastRead;
      this.reported = new Set();
      try {
        const named = names !== undefined && since !== undefined;
        const got = named ? await readPolicyDirNames(this.config.policyDir, names, since, opts) : await readPolicyDir(this.config.policyDir, opts);
        if (named) this.namedReads.add(got);
        this.lastRead = got;
        return got;
      } catch (e) {
        this.reported = undefined; // what it would have read is unknown: the next read is whole
        throw e;
      }
    });
    this.policyRead = read.catch(() => undefined);
    return read;
  }

  /** A watcher event about `path`: its entry is read by the next render, or the whole directory when it names none. */
  private noteReported(path: string): void {
    const dir = resolve(this.config.policyDir);
    const name = basename(path);
    // fs.watch names the directory itself (its own attributes, a move) by its base name, as if an entry.
    if (dirname(path) === dir && name !== basename(dir)) this.reported?.add(name);
    else this.reported = undefined;
  }

  /**
   * For the rescan: whether anything a render reads may have changed since the last clean
   * render began. After a render that left the daemon degraded there is no such render, and
   * every rescan renders, as a retry; the whole directory is read first all the same, since the
   * render's own read takes only what events named: a change no event reported (an inotify
   * queue overflow, a network file system) would otherwise wait for SIGHUP. The policy directory
   * is read through the read cache: unchanged fragments are looked at (lstat), not opened.
   */
  private async inputsChanged(): Promise<boolean> {
    const clean = this.cleanRender;
    if (clean === undefined) {
      await this.readPolicy(true); // the net behind the watcher, degraded or not
      return true;
    }
    if (fileIdentity(this.config.output) !== clean.output || this.otherInputs() !== clean.others) return true;
    if (this.containerdFilesChanged()) return true; // a hosts.toml edited or removed (drift), or a certificate added or removed
    const dir = await this.readPolicy(true); // the whole directory: the net behind the watcher
    // Equal identities, and the same texts: a file rewritten within a tick of the clock after the
    // render looked at it keeps its identity, but the read cache reads such a file again (RACY_MS).
    return dir.identity !== clean.policy || !sameTexts(dir.fragments, clean.texts);
  }

  /** A watcher event: a render, unless it is the output as our own last write left it. */
  private async onWatchEvent(what: string, path: string): Promise<void> {
    const name = basename(path);
    // The output, or its directory (made by our first write): no reason to render while the
    // output is as our last write left it. inotify may report that write before the render
    // that made it has noted it: let that render finish first.
    const output = resolve(this.config.output);
    const aboutOutput = path === output || path === dirname(output);
    if (aboutOutput) await this.scheduler.idle();
    if (aboutOutput && this.output.isOwnWrite()) {
      this.log.trace({ event: what, file: name }, `${what} ${name}: our own write`);
      return;
    }
    if (!aboutOutput) this.noteReported(path);
    this.log.debug({ event: what, file: name }, `${what} ${name}`);
    this.scheduler.requestAndSettle();
  }

  /** A change happened (or might have): render now, or after the debounce window if one just ran. */
  trigger(): void {
    this.scheduler.request();
  }

  /**
   * SIGHUP: counted at once; a reload (the config file re-read, the policy directory re-read and
   * re-rendered) follows, one at a time: every SIGHUP made before a reload begins is served by it.
   */
  requestReload(): void {
    this.reloads.request();
  }

  /**
   * One reload: new settings, a full re-read and re-render. A config file refused (its problems
   * say why) keeps the previous settings, and the daemon is degraded until a reload takes one.
   * RELOADING=1 before it and READY=1 after it are the queue's (sent even when this throws).
   */
  private async reloadNow(): Promise<ReloadResult> {
    const stopping: ReloadResult = { outcome: 'stopped', problems: ['the daemon is stopping'], warnings: [] };
    const next = await this.loadConfig();
    for (const p of next.problems) this.log.error(`reload: ${p}`);
    if (!next.config) this.log.error('reload: configuration invalid; keeping the previous settings');
    this.configProblems = next.config ? [] : next.problems.length > 0 ? [...next.problems] : ['invalid configuration'];
    const warnings = next.config ? [...next.problems] : [];
    if (next.config) {
      const { config, refused } = this.withStartOnlyKept(next.config);
      warnings.push(...refused);
      const watchChanged = config.policyDir !== this.config.policyDir || config.output !== this.config.output;
      const probesChanged = config.probeIntervalMs !== this.config.probeIntervalMs || config.probeTimeoutMs !== this.config.probeTimeoutMs;
      const rescanChanged = config.rescanIntervalMs !== this.config.rescanIntervalMs;
      const placesChanged = config.output !== this.config.output || config.containerdHostsDir !== this.config.containerdHostsDir;
      this.config = config;
      if (placesChanged) await this.recordPlaces();
      // Health-aware order turned off: the next render restores the configured order.
      if (!config.healthAwareOrder) {
        this.earlierDemotions += this.keeper?.demotionsTotal ?? 0;
        this.keeper = undefined;
      } else if (this.keeper) this.keeper.setPolicy(config.hysteresis);
      else this.keeper = new HealthKeeper(config.hysteresis);
      if (probesChanged) this.startProbingLogged();
      if (watchChanged) {
        await this.watcher?.close();
        this.scheduler.stopRescan();
        await this.startWatching();
      } else if (rescanChanged) this.scheduler.rescanEvery(config.rescanIntervalMs, () => this.inputsChanged());
    }
    if (this.scheduler.isStopped) return stopping;
    this.fragments.forget();
    this.readCache.clear(); // a reload reads and parses everything afresh
    this.lastRead = undefined;
    this.reported = undefined;
    this.renderFailureLogged = undefined; // a reload logs what is still wrong again, as for fragments
    this.parseCache.clear();
    this.kept.clear();
    const render = new ReloadRender();
    this.reloadRender = render;
    await this.scheduler.renderAfterCurrent();
    await render.ended; // the render that carried it to the end: after this one when it had to look again
    if (this.scheduler.isStopped) return stopping;
    if (!next.config) {
      this.log.warn('reload done with the previous settings (the configuration file was refused); policy re-rendered');
      return { outcome: 'refused', problems: this.configProblems, warnings };
    }
    if (!render.reached) {
      this.log.warn(`reloaded: settings re-read; ${this.config.output} not rendered (the errors above say why)`);
      return { outcome: 'not-rendered', problems: this.degradedReasons(), warnings };
    }
    this.log.info('reloaded: settings re-read, policy re-rendered');
    return { outcome: 'applied', problems: [], warnings };
  }

  /**
   * The state dir, the control socket and the logger are set up once, at start: a reload that
   * changes them would move some of what uses them (status, the prober's health cache) and not
   * the rest. Such a change is refused, with the restart that takes it; the rest of the reload goes on.
   */
  private withStartOnlyKept(config: DaemonConfig): { config: DaemonConfig; refused: string[] } {
    const { config: kept, refused } = keepStartOnly(this.config, config);
    const said = refused.map((r) => `"${r.name}" changed from ${r.was} to ${r.asked}: taken only at start; still ${r.was} (restart the daemon to change it)`);
    for (const line of said) this.log.error(`reload: ${line}`);
    return { config: kept, refused: said };
  }

  /** The record (daemon.json) told the output and hosts directory of a reload: what `render` checks before writing over them. */
  private async recordPlaces(): Promise<void> {
    try {
      await this.state.updateRecordPlaces(process.pid, recordedPlaces(this.config));
    } catch (e) {
      this.log.warn(`reload: ${this.state.path('daemon.json')} not updated with the new output or hosts directory: ${(e as Error).message}`);
    }
  }

  /**
   * Before READY=1: an output the first render only looked at (empty, or someone else's written
   * just now: OutputGuard.maybeHalfWritten) is looked at again until it is acted on, so that READY
   * means our render is in place (a unit ordered after ours reads it). WRITE_HOLD_MS at most.
   */
  private async outputSettled(): Promise<void> {
    const until = performance.now() + WRITE_HOLD_MS + EMPTY_SETTLE_MS;
    while (this.outputSettling && performance.now() < until && !this.scheduler.isStopped) {
      await new Promise((r) => setTimeout(r, EMPTY_SETTLE_MS));
      await this.scheduler.renderNow();
    }
  }

  /** SIGTERM: finish any write in flight, then stop everything. */
  async stop(): Promise<void> {
    clearInterval(this.metricsTimer);
    this.probing++;
    this.prober?.stop();
    this.scheduler.stop();
    this.endReloadRender(); // no render comes to carry it now
    this.notifier.stopping();
    await this.reloads.settled();
    this.presence.stop();
    await this.scheduler.idle();
    if (this.deferredAfterRender !== 'none' && this.deferredAfterRender !== 'due') await this.deferredAfterRender;
    await this.fragments.stopSaving();
    await this.metrics.remove(); // a stopped daemon's last figures must not be exported as current
    await this.watcher?.close();
    await this.localMirror.stop();
    await this.control?.close();
    await this.state.clearRecord(process.pid);
    this.notifier.close();
    this.log.info('stopped');
  }

  /** A render that looks again in a moment passes the reload's render on to that one (not once the daemon stops: none comes). */
  private handOnReloadRender(render: ReloadRender | undefined): void {
    if (render !== undefined && !this.scheduler.isStopped && render.handOn()) this.reloadRender = render;
  }

  private endReloadRender(): void {
    this.reloadRender?.finish();
    this.reloadRender = undefined;
  }

  private async readBase(): Promise<{ base?: SourceText; source: 'flag' | 'adopted' | 'none' }> {
    const { base } = this.config;
    if (base !== undefined) {
      // A missing explicit base is an error worth a degraded state. Its text becomes registries.conf
      // as a fragment's does: refused, as a fragment, when someone else could have written it.
      const text = utf8Text(this.config.allowUnsafeFragments ? await fs.readFile(base) : await readTrustedFile(base), base);
      return { base: { file: base, text }, source: 'flag' };
    }
    const adopted = await this.state.readBase();
    return adopted !== undefined ? { base: { file: this.state.path('base.conf'), text: adopted }, source: 'adopted' } : { source: 'none' };
  }

  private async render(): Promise<void> {
    // Taken before anything is read (the policy directory's as it is read): a change made during this render differs from them.
    const others = this.otherInputs();
    const outputBefore = fileIdentity(this.config.output);
    this.cleanRender = undefined;
    const forReload = this.reloadRender;
    this.reloadRender = undefined;
    let read: PolicyDirContents;
    try {
      read = await this.renderSteps(forReload);
    } finally {
      if (this.reloadRender !== forReload) forReload?.finish();
    }
    if (this.degradedReasons().length > 0) return;
    // The output as our write left it, if it is that (else as it was before the render).
    const output = this.output.isOwnWrite() ? fileIdentity(this.config.output) : outputBefore;
    this.cleanRender = { others, policy: read.identity, texts: read.fragments, output };
  }

  /** Returns the policy directory as read. */
  private async renderSteps(forReload: ReloadRender | undefined): Promise<PolicyDirContents> {
    const started = performance.now();
    this.counters.renders++;
    const dir = await this.readPolicy(false);
    const verdict = this.presence.judge(
      dir,
      this.fragments.known(),
      this.lastRender
        ? `the last render (${counted(this.lastRender.fragments, 'fragment')}) and every fragment's last valid content stay in effect`
        : `nothing is rendered and ${this.config.output} is left as it is`,
    );
    if (!verdict.render) {
      this.notifier.status(this.statusLine());
      return dir;
    }
    for (const f of dir.ignored) this.log.trace({ fragment: f.name }, `ignored ${f.name}: ${f.why}`);
    const { unreadable, warnings: dirWarnings } = verdict;

    const fragments = this.fragments.stamp(dir.fragments, this.namedReads.has(dir));
    if (!this.large && textBytes(fragments) >= LARGE_POLICY_BYTES) {
      this.large = true;
      this.hooks.largePolicy?.();
    }

    this.generalProblems = [];
    // An output we cannot even read or keep a copy of is a write problem (retried with backoff), not a base problem.
    const look = await this.output.look();
    this.outputSettling = 'settling' in look;
    if ('settling' in look) {
      this.log.debug(`${this.config.output} is empty or was written just now: looking again in a moment (an in-place write?)`);
      this.scheduler.recheckSoon();
      this.handOnReloadRender(forReload);
      return dir;
    }
    let baseInfo: Awaited<ReturnType<Daemon['readBase']>>;
    try {
      baseInfo = await this.readBase();
      this.baseSource =
        baseInfo.source === 'flag'
          ? { source: 'flag', path: this.config.base }
          : baseInfo.source === 'adopted'
            ? { source: 'adopted', path: this.state.path('base.conf') }
            : { source: 'none' };
    } catch (e) {
      this.generalProblems.push(`base: ${(e as Error).message}`);
      this.logRenderFailure(`cannot read the base: ${(e as Error).message}; ${this.config.output} left as it was`);
      this.counters.renderErrors++;
      this.notifier.status(this.statusLine());
      return dir;
    }
    // Health-aware order: the mirrors demoted now go after the healthy ones of their tables.
    const keeper = this.keeper;
    const demoted = keeper?.demoted();
    const healthOrder = demoted && demoted.size > 0 ? (c: RegistriesConf) => applyHealthOrder(c, demoted) : undefined;
    // The local mirror goes first after the health order, so that it stays first. It is listed only
    // while its endpoint listens (a port we could not bind may be someone else's); off, no trace of it is left.
    await this.localMirror.sync(localMirrorSettings(this.config));
    const fronting = this.localMirror.transform(baseInfo.base?.file);
    const transform = fronting ? (c: RegistriesConf) => fronting(healthOrder ? healthOrder(c) : c) : healthOrder;
    await this.parseInSlices(fragments);
    const result = buildForgiving(
      {
        ...(baseInfo.base ? { base: baseInfo.base } : {}),
        fragments,
        unreadable,
        lastGood: this.fragments.lastGood,
        parseCache: this.parseCache,
        kept: this.kept,
        ...(transform ? { transform } : {}),
        version: VERSION,
        ...(this.config.containerdHostsDir !== undefined ? { containerdHostsDir: this.config.containerdHostsDir } : {}),
      },
      { file: basename(this.config.output) },
    );
    // Statuses are recorded once the write's outcome is known, so that `status` never lists a
    // fragment the output does not yet hold while the write is under way (a failed write is
    // reported beside them): at the rename itself when the file changes, so that neither does it
    // list a fragment the output no longer holds while the directory is fsynced. Once.
    let recorded = false;
    const recordStatuses = (): void => {
      if (recorded) return;
      recorded = true;
      this.fragments.record(result.statuses, [...dirWarnings, ...result.diagnostics]);
    };
    if (result.text === undefined) {
      recordStatuses();
      this.counters.renderErrors++;
      this.generalProblems.push(...result.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic));
      this.logRenderFailure(`not rendered: ${this.generalProblems.join('; ') || 'no valid render'}; ${this.config.output} left as it was`);
      this.notifier.status(this.statusLine());
      return dir;
    }
    this.fragments.accept(result.lastGood);
    this.renderFailureLogged = undefined;

    // Before the output: a pull through an endpoint the output newly lists reads its signatures at once.
    if (result.conf) await this.writeRegistriesD(result.conf);
    if (this.config.afterRender.length > 0 && !this.afterRenderOwed && 'text' in look && look.text !== result.text) await this.owesAfterRender();
    let changed: boolean;
    try {
      // The output first: the last-good copies are saved after it, off the path of a change (saveSoon).
      const outcome = await this.output.replace(result.text, look, recordStatuses).finally(() => this.saveLastGood());
      if (outcome === 'raced') {
        // Not recorded: the output does not hold this render, and the render asked for now follows.
        this.trigger();
        this.handOnReloadRender(forReload);
        return dir;
      }
      changed = outcome.changed;
      recordStatuses();
      this.scheduler.writeSucceeded();
      this.writeFailure.cleared();
    } catch (e) {
      recordStatuses(); // the fragments' own problems are news whatever became of the write
      this.counters.renderErrors++;
      const message = this.output.failed(e);
      const retryInMs = this.scheduler.writeFailed();
      // Logged once per cause, its retries at debug.
      if (this.writeFailure.news(e))
        this.log.error(
          { path: this.config.output, retryInMs },
          `cannot write ${this.config.output}: ${message}; the old file is intact; retrying in ${retryInMs / 1000} s, then less often (up to every ${MAX_BACKOFF_MS / 1000} s); repeats are logged at debug`,
        );
      else this.log.debug({ path: this.config.output, retryInMs }, `still cannot write ${this.config.output}: ${message}; retrying in ${retryInMs / 1000} s`);
      this.notifier.status(this.statusLine());
      return dir;
    }
    const tables = result.conf?.registries.length ?? 0;
    const mirrors = result.conf?.registries.reduce((n, t) => n + t.mirrors.length, 0) ?? 0;
    const ms = Math.round(performance.now() - started);
    this.lastConf = result.conf;
    // The endpoint serves from what the file now says (a failed write leaves it on the file before).
    if (result.conf) this.localMirror.setConf(result.conf);
    this.lastSuccessAt = Date.now();
    const healthReasons = keeper ? keeper.markApplied() : [];
    if (forReload) forReload.reached = true;
    this.lastRender = {
      at: new Date(this.lastSuccessAt).toISOString(),
      ms,
      sha256: createHash('sha256').update(result.text).digest('hex'),
      changed,
      fragments: result.inEffect.length,
      tables,
      mirrors,
    };
    this.shadowing = findShadowing(result.conf ?? { registries: [] }, await readDropIns(this.config.output)).map(formatDiagnostic);
    await this.retireHostsDir();
    if (this.config.containerdHostsDir !== undefined && result.conf) await this.writeContainerdHosts(this.config.containerdHostsDir, result.conf);
    if (changed) {
      this.counters.writes++;
      this.log.info(
        { path: this.config.output, fragments: result.inEffect.length, tables, mirrors, ms },
        `rendered ${this.config.output}: ${counted(result.inEffect.length, 'fragment')}, ${counted(mirrors, 'mirror')}, ${ms} ms`,
      );
      if (healthReasons.length > 0) {
        this.counters.healthRewrites++;
        this.log.warn({ path: this.config.output, reasons: healthReasons }, `mirror order in ${this.config.output} rewritten: ${healthReasons.join('; ')}`);
      }
      for (const s of this.shadowing) this.log.warn(s);
    } else {
      this.log.debug({ ms }, `unchanged ${this.config.output}`);
    }
    if (changed || this.afterRenderOwed) {
      if (!this.ready) this.deferredAfterRender = 'due';
      else await this.runAfterRender();
    }
    this.notifier.status(this.statusLine());
    return dir;
  }

  /** A render that failed: at error when its reason is new, at debug when a rescan only finds it again. */
  private logRenderFailure(line: string): void {
    if (line === this.renderFailureLogged) this.log.debug(`still ${line}`);
    else this.log.error(line);
    this.renderFailureLogged = line;
  }

  /**
   * Parses what is new among `fragments` into the parse cache, yielding to the event loop every
   * PARSE_SLICE_MS: `status` answers and the watchdog is fed during the parse of a large set
   * (10 000 new fragments at a start or a SIGHUP parse for a second or more). What stays
   * synchronous is the merge and render of one set, a fraction of that.
   */
  private async parseInSlices(fragments: readonly SourceText[]): Promise<void> {
    let sliceStart = performance.now();
    for (const f of fragments) {
      parseAhead(this.parseCache, f);
      if (performance.now() - sliceStart < PARSE_SLICE_MS) continue;
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }

  /** The after-render commands (none: nothing to wait for). */
  private async runAfterRender(): Promise<void> {
    const owedAt = this.afterRenderOwed ? this.afterRenderMarks : undefined;
    this.afterRenderOwed = false; // a render during the commands owes them again for its own write
    if (this.config.afterRender.length > 0) await runAfterRender(this.config.afterRender, this.config.afterRenderTimeoutMs, this.log);
    // The file goes once they have run (a crash before leaves them owed), unless a write since owes them again.
    if (owedAt !== undefined && owedAt === this.afterRenderMarks)
      await this.state.clearAfterRenderDue().catch((e: Error) => this.log.warn(`cannot remove ${this.state.path('after-render-due')}: ${e.message}`));
  }

  /** A write that changes the output is next: its after-render commands are owed, on record before it. */
  private async owesAfterRender(): Promise<void> {
    this.afterRenderOwed = true;
    this.afterRenderMarks++;
    await this.state
      .markAfterRenderDue()
      .catch((e: Error) => this.log.warn(`cannot record that the after-render commands are owed (${e.message}): a crash before they run would lose them`));
  }

  /** The last-good copies saved in the background; a failure is a render error, tried again after a backoff. */
  private saveLastGood(): void {
    this.fragments.saveSoon((retryInMs) => {
      this.counters.renderErrors++;
      this.scheduler.retryIn(retryInMs);
      this.notifier.status(this.statusLine());
    });
  }

  /**
   * A hosts directory we managed under an earlier setting (before a reload, or before this
   * start) that is no longer `containerd-hosts-dir`: our files there go (an edited one kept), or
   * containerd would go on pulling through mirrors the policy may since have dropped. Once: the
   * state dir then records the current one.
   */
  private async retireHostsDir(): Promise<void> {
    const current = this.config.containerdHostsDir !== undefined ? resolve(this.config.containerdHostsDir) : undefined;
    try {
      this.managedHostsDir ??= { dir: await this.state.readHostsDirRecord() };
      const old = this.managedHostsDir.dir;
      if (old === current) return;
      if (old !== undefined) {
        const why = current === undefined ? 'containerd-hosts-dir is no longer set' : `containerd-hosts-dir is now ${current}`;
        const done = await removeOurHosts(old);
        for (const e of done?.edited ?? []) this.log.warn(`${join(old, e.host, 'hosts.toml')} was edited since mirror-policyd wrote it: kept as ${e.savedAs}`);
        const left = await ourHostsIn(old);
        if (left.length > 0) {
          // Kept on record: tried again at the next render, said once.
          const line = `${why}, but our hosts.toml files in ${old} could not all be removed (${left.join(', ')} left); remove them by hand`;
          if (line !== this.retireFailureLogged) this.log.warn({ path: old, left }, line);
          this.retireFailureLogged = line;
          return;
        }
        this.log.info({ path: old, removed: done?.removed ?? [] }, `${why}: our hosts.toml files in ${old} removed (${done?.removed.length ?? 0})`);
      }
      await this.state.writeHostsDirRecord(current);
      this.managedHostsDir = { dir: current };
      this.retireFailureLogged = undefined;
    } catch (e) {
      // Never the render's failure: the output is written, containerd's new directory is still to be.
      const line = `containerd: the hosts directory managed before could not be looked after: ${(e as Error).message}`;
      if (line !== this.retireFailureLogged) this.log.warn(line);
      this.retireFailureLogged = line;
    }
  }

  /**
   * containerd's hosts directory from the configuration just written (issue #16). What cannot be
   * expressed is logged when it changes; a hosts.toml of someone else, or a failed write, makes
   * the daemon degraded until a render writes it (each rescan tries again).
   */
  private async writeContainerdHosts(dir: string, conf: RegistriesConf): Promise<void> {
    try {
      const localMirror = this.localMirror.listening();
      const outcome = await updateHostsDir(dir, conf, {
        containerdConfig: this.config.containerdConfig,
        ...(localMirror !== undefined ? { localMirror } : {}),
      });
      // Each logged once, when it first appears (not all again when one is added).
      const said = new Set<string>();
      for (const w of outcome.warnings) said.add(`warn:${unlabelledDiagnostic(w)}`);
      for (const r of outcome.routed) said.add(`info:containerd: [[registry]] "${r.prefix}" (${r.why}) is served through the local mirror`);
      for (const line of said) {
        if (this.containerdWarnings.has(line)) continue;
        if (line.startsWith('warn:')) this.log.warn(line.slice('warn:'.length));
        else this.log.info(line.slice('info:'.length));
      }
      this.containerdWarnings = said;
      this.generalProblems.push(...outcome.conflicts.map(formatDiagnostic));
      for (const e of outcome.edited)
        this.log.warn(
          { path: dir, host: e.host, savedAs: e.savedAs },
          `containerd hosts.toml of ${e.host} was edited by hand; the edited copy is kept as ${e.savedAs} and ours restored`,
        );
      const drift = [...(this.containerdStatus?.drift ?? []), ...outcome.edited.map((e) => ({ at: new Date().toISOString(), ...e }))].slice(
        -CONTAINERD_DRIFT_KEPT,
      );
      this.containerdStatus = { dir, hosts: outcome.current, warnings: outcome.warnings.map(formatDiagnostic), drift };
      this.containerdFiles = { ours: this.ourHostsTomlsIdentity(), hosts: outcome.tlsLook.hosts, tls: outcome.tlsLook.listing };
      if (outcome.written.length + outcome.removed.length > 0)
        this.log.info(
          { path: dir, written: outcome.written, removed: outcome.removed },
          `containerd hosts in ${dir}: ${outcome.written.length} written, ${outcome.removed.length} removed`,
        );
      if (this.containerdFailure.cleared()) this.log.info(`containerd's hosts in ${dir} written again`);
    } catch (e) {
      const why = `${(e as Error).message}${readOnlyHint(e)}`;
      this.generalProblems.push(`containerd hosts ${dir}: ${why}`);
      // Each rescan tries again: logged at error once per cause, the retries at debug.
      if (this.containerdFailure.news(e))
        this.log.error(`cannot write containerd's hosts in ${dir}: ${why}; tried again at each rescan (repeats are logged at debug)`);
      else this.log.debug(`still cannot write containerd's hosts in ${dir}: ${why}`);
    }
  }

  /**
   * The local mirror's registries.d drop-in beside the output (local-mirror/registries-d.ts),
   * brought in line at each render: written for the tables whose sigstore attachments
   * containers/image would read from their source or mirrors, removed when none is left (or the
   * endpoint is off). A file of its name that is not ours where ours is needed, one of ours
   * edited, or a failed write makes the daemon degraded until a render writes it.
   */
  private async writeRegistriesD(conf: RegistriesConf): Promise<void> {
    const dir = join(dirname(this.config.output), 'registries.d');
    const address = this.localMirror.listening();
    // Loaded only with the endpoint on, or to take ours back: it reads YAML, and yaml is not
    // loaded before a YAML fragment asks for it (the idle daemon's RSS, docs/performance.md).
    if (address === undefined && !existsSync(join(dir, LOCAL_MIRROR_REGISTRIES_D))) return;
    try {
      const { updateRegistriesD } = await import('../local-mirror/registries-d-file.js');
      const outcome = await updateRegistriesD(dir, conf, address, VERSION);
      if (outcome.problem) this.generalProblems.push(outcome.problem);
      if (outcome.change === 'written')
        this.log.info(
          { path: outcome.path, scopes: outcome.scopes },
          `${outcome.path}: sigstore attachments read through the local mirror for ${counted(outcome.scopes.length, 'table')}`,
        );
      else if (outcome.change === 'removed') this.log.info({ path: outcome.path }, `${outcome.path} removed: no table needs it`);
    } catch (e) {
      const why = `${(e as Error).message}${readOnlyHint(e)}`;
      this.generalProblems.push(`registries.d ${dir}: ${why}`);
      this.log.error(`cannot update the local mirror's drop-in in ${dir}: ${why}`);
    }
  }

  /** Each hosts.toml we keep, by identity (inputs-fingerprint.ts): equal, none was edited, replaced or removed. */
  private ourHostsTomlsIdentity(): string {
    const c = this.containerdStatus;
    return c === undefined ? '' : c.hosts.map((h) => `${h} ${fileIdentity(join(c.dir, h, 'hosts.toml'))}`).join('\n');
  }

  /** Whether a hosts.toml we keep, or a certificate one names or could name, changed since the last write. */
  private containerdFilesChanged(): boolean {
    const dir = this.config.containerdHostsDir;
    const last = this.containerdFiles;
    if (dir === undefined || last === undefined) return false;
    return this.ourHostsTomlsIdentity() !== last.ours || tlsListing(last.hosts, dir) !== last.tls;
  }

  /** The daemon's state now, for the status report (src/daemon/status-report.ts). */
  private facts(): DaemonFacts {
    const localMirror = this.localMirror.status();
    return {
      now: Date.now(),
      pid: process.pid,
      version: VERSION,
      startedAt: this.startedAt,
      policyDir: this.config.policyDir,
      output: this.config.output,
      stateDir: this.config.stateDir,
      base: this.baseSource,
      fragments: this.fragments.statuses,
      otherWarnings: this.fragments.warnings,
      ...(this.lastRender ? { lastRender: this.lastRender } : {}),
      ...(this.lastSuccessAt !== undefined ? { lastSuccessAt: this.lastSuccessAt } : {}),
      ...(this.output.lastWriteError ? { lastWriteError: this.output.lastWriteError } : {}),
      policyDirProblems: this.presence.degradedReasons(this.lastRender ? 'the last render stays in effect' : `${this.config.output} is left as it is`),
      savingProblems: this.fragments.savingProblems(),
      generalProblems: this.generalProblems,
      configProblems: this.configProblems,
      drift: this.output.drift,
      shadowing: this.shadowing,
      ...(this.lastConf ? { conf: this.mirrorsConf() } : {}),
      health: this.health(),
      ...(localMirror ? { localMirror } : {}),
      localMirrorProblems: this.localMirror.degradedReasons(),
      ...(this.config.containerdHostsDir !== undefined && this.containerdStatus ? { containerd: this.containerdStatus } : {}),
      ...(this.keeper ? { keeper: this.keeper } : {}),
      counters: { ...this.counters, driftRestores: this.output.driftRestores },
      reloads: this.reloads.status(),
      reloadOutcomes: this.reloads.outcomes(),
      earlierDemotions: this.earlierDemotions,
    };
  }

  degradedReasons(): string[] {
    return degradedReasons(this.facts());
  }

  statusLine(): string {
    return statusLine(this.facts());
  }

  status(): DaemonStatus {
    return buildStatus(this.facts());
  }

  metricsSnapshot(): MetricsSnapshot {
    return metricsSnapshot(this.facts());
  }

  /** After each render and probe round (when a metrics file is configured). */
  private writeMetrics(): Promise<void> {
    return this.metrics.write(this.config.metricsFile);
  }
}
