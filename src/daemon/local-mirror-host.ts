/**
 * The daemon's side of the local mirror: starts the endpoint when the setting is on, restarts
 * it when its address or credentials change, stops it when it is turned off or the daemon
 * stops, and gives it every new render.
 *
 * The endpoint is listed in registries.conf only while it listens (`listening()`): a port we
 * could not bind may be someone else's, and the runtimes must not be sent there.
 */
import type { Logger } from '../core/log.js';
import { mergeHealth, type HealthMap } from '../health/health.js';
import type { HealthBook } from '../local-mirror/upstream.js';
import { emptyStats, type LocalMirrorStats } from '../local-mirror/counters.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import type { ConfTransform } from '../pipeline/strict.js';
import { applyLocalMirror, planLocalMirror, withoutLocalMirror, type LocalMirrorPlan } from '../local-mirror/render.js';
import { parseLocalMirrorAddress, type DaemonConfig } from './config.js';

/** The endpoint's settings, from the validated config (the address was checked there). */
export interface LocalMirrorSettings {
  /** host:port as written in registries.conf, e.g. 127.0.0.1:5050. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** May the endpoint use the host's credentials (auth files) upstream? */
  readonly credentials: boolean;
}

/** The local mirror's settings, or undefined when it is off. */
export function localMirrorSettings(config: DaemonConfig): LocalMirrorSettings | undefined {
  if (config.localMirror === undefined) return undefined;
  const parsed = parseLocalMirrorAddress(config.localMirror, config.localMirrorAllowNonLoopback);
  return 'problem' in parsed ? undefined : { address: config.localMirror, ...parsed, credentials: config.localMirrorCredentials };
}

/** What the daemon needs of a running endpoint (src/local-mirror/server.ts). */
export interface RunningEndpoint {
  readonly address: string;
  setConf(conf: RegistriesConf): void;
  stats(): LocalMirrorStats;
  /** Stops accepting; in-flight transfers finish within `graceMs` or are cut. */
  close(graceMs?: number): Promise<void>;
}

export type StartEndpoint = (settings: LocalMirrorSettings, conf: RegistriesConf) => Promise<RunningEndpoint>;

export interface LocalMirrorStatus {
  readonly address: string;
  readonly listening: boolean;
  readonly credentials: boolean;
  /** Why it does not listen (and is not in registries.conf). */
  readonly error?: string;
  /** Tables that list it in the last render. */
  readonly fronted: number;
  /** Tables with mirrors from the policy that do not, and why (wildcard tables). */
  readonly skipped: LocalMirrorPlan['skipped'];
  /** The endpoint's counters (requests, bytes, per-source outcomes, fallbacks, errors). */
  readonly stats?: LocalMirrorStats;
}

/**
 * Starts the real endpoint (src/local-mirror/server.ts). Its health book is the shared cache
 * file (`pull` and the prober use it too): its view is the newer of the prober's last round and
 * its own passive outcomes per endpoint, so a mirror a request found dead is skipped by the next
 * request at once, and the prober's verdicts reach the endpoint without a request paying for them.
 */
export function realEndpoint(healthFile: string, proberView: () => HealthMap, log: Logger): { start: StartEndpoint; passive: () => HealthMap } {
  let own: HealthBook | undefined;
  const start: StartEndpoint = async (settings, conf) => {
    // Loaded only when the local mirror is on: it brings the registry client (undici).
    const [{ startLocalMirror }, { healthBook }, { collectYoungEvery }] = await Promise.all([
      import('../local-mirror/server.js'),
      import('../local-mirror/upstream.js'),
      import('../registry/young-collections.js'),
    ]);
    own ??= await healthBook(healthFile, log);
    const book = own;
    const health: HealthBook = {
      view: () => mergeHealth(proberView(), book.view()),
      record: (key, h) => book.record(key, h),
      flush: () => book.flush(),
    };
    return startLocalMirror({
      listen: { host: settings.host, port: settings.port },
      conf,
      credentials: settings.credentials,
      health,
      log,
      onBlobBytes: collectYoungEvery(),
    });
  };
  return { start, passive: () => own?.view() ?? {} };
}

/** In-flight transfers get this long at a stop or a change of settings, then are cut. */
export const LOCAL_MIRROR_CLOSE_GRACE_MS = 5_000;

/**
 * `a` + `b`, field by field (`inFlight` and `waiting` are `b`'s: gauges of the endpoint running now). The
 * endpoints stopped since the daemon started add their counts to the running one's, so that the
 * metrics file's counters never go back while the daemon runs.
 */
export function addStats(a: LocalMirrorStats, b: LocalMirrorStats): LocalMirrorStats {
  const sum = (x: Readonly<Record<string, number>>, y: Readonly<Record<string, number>>): Record<string, number> => {
    const out: Record<string, number> = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const sources: LocalMirrorStats['sources'] = {};
  for (const key of new Set([...Object.keys(a.sources), ...Object.keys(b.sources)])) {
    const x = a.sources[key] ?? { ok: 0, absent: 0, failed: 0 };
    const y = b.sources[key] ?? { ok: 0, absent: 0, failed: 0 };
    sources[key] = { ok: x.ok + y.ok, absent: x.absent + y.absent, failed: x.failed + y.failed };
  }
  return {
    requests: {
      base: a.requests.base + b.requests.base,
      manifests: a.requests.manifests + b.requests.manifests,
      blobs: a.requests.blobs + b.requests.blobs,
      refused: a.requests.refused + b.requests.refused,
    },
    responses: sum(a.responses, b.responses),
    bytesSent: a.bytesSent + b.bytesSent,
    sources,
    midBlobFallbacks: a.midBlobFallbacks + b.midBlobFallbacks,
    digestMismatches: a.digestMismatches + b.digestMismatches,
    deadlineAnswers: a.deadlineAnswers + b.deadlineAnswers,
    errors: a.errors + b.errors,
    inFlight: b.inFlight,
    waiting: b.waiting,
  };
}

const sameSettings = (a: LocalMirrorSettings, b: LocalMirrorSettings): boolean => a.address === b.address && a.credentials === b.credentials;

export class LocalMirrorHost {
  private running?: { settings: LocalMirrorSettings; endpoint: RunningEndpoint };
  private failed?: { settings: LocalMirrorSettings; error: string };
  private conf: RegistriesConf = { registries: [] };
  private plan: LocalMirrorPlan = { fronted: [], skipped: [] };
  /** The counts of the endpoints stopped so far (undefined: none ran yet). */
  private earlier?: LocalMirrorStats;

  constructor(
    private readonly start: StartEndpoint,
    private readonly log: Logger,
  ) {}

  /**
   * Brings the endpoint in line with `settings` (undefined: off) before a render; a failed start
   * is tried again at the next render. Resolves once it listens, or not.
   */
  async sync(settings: LocalMirrorSettings | undefined): Promise<void> {
    if (this.running && (!settings || !sameSettings(this.running.settings, settings))) await this.stop();
    if (!settings) {
      this.failed = undefined;
      return;
    }
    if (this.running) return;
    try {
      const endpoint = await this.start(settings, this.conf);
      this.running = { settings, endpoint };
      if (this.failed) this.log.info(`local mirror listening on ${settings.address} again`);
      this.failed = undefined;
    } catch (e) {
      const error = (e as Error).message;
      if (this.failed?.error !== error)
        this.log.error(`local mirror: cannot listen on ${settings.address}: ${error}; not listed in the rendered file, tried again at the next render`);
      this.failed = { settings, error };
    }
  }

  /** The address to list in registries.conf, or undefined while the endpoint does not listen. */
  listening(): string | undefined {
    return this.running?.settings.address;
  }

  /**
   * The render's transform (after the health order): the endpoint first in the tables it
   * fronts, while it listens; undefined otherwise, so that the render leaves no trace of it.
   * `baseFile` names the base as the merge did: tables with only its mirrors are the host's.
   */
  transform(baseFile: string | undefined): ConfTransform | undefined {
    const address = this.listening();
    if (address === undefined) {
      this.plan = { fronted: [], skipped: [] };
      return undefined;
    }
    const options = { address, ...(baseFile !== undefined ? { baseFile } : {}) };
    return (conf) => {
      const plan = planLocalMirror(conf, options);
      const was = new Set(this.plan.skipped.map((x) => x.prefix));
      for (const x of plan.skipped) if (!was.has(x.prefix)) this.log.info(`local mirror: not listed in [[registry]] "${x.prefix}": ${x.why}`);
      this.plan = plan;
      return applyLocalMirror(conf, options);
    };
  }

  /** The configuration without the endpoint (what probes, status and metrics are about). */
  withoutEndpoint(conf: RegistriesConf): RegistriesConf {
    const address = this.listening();
    return address === undefined ? conf : withoutLocalMirror(conf, address);
  }

  /** Each new render: the endpoint serves from its tables from now on. */
  setConf(conf: RegistriesConf): void {
    this.conf = conf;
    this.running?.endpoint.setConf(conf);
  }

  async stop(): Promise<void> {
    const r = this.running;
    this.running = undefined;
    if (!r) return;
    await r.endpoint.close(LOCAL_MIRROR_CLOSE_GRACE_MS);
    this.earlier = addStats(this.earlier ?? emptyStats(), { ...r.endpoint.stats(), inFlight: 0, waiting: 0 });
    this.log.info(`local mirror on ${r.settings.address} stopped`);
  }

  status(): LocalMirrorStatus | undefined {
    if (this.running) {
      const { settings, endpoint } = this.running;
      return {
        address: settings.address,
        listening: true,
        credentials: settings.credentials,
        fronted: this.plan.fronted.length,
        skipped: [...this.plan.skipped],
        stats: this.earlier ? addStats(this.earlier, endpoint.stats()) : endpoint.stats(),
      };
    }
    if (this.failed)
      return {
        address: this.failed.settings.address,
        listening: false,
        credentials: this.failed.settings.credentials,
        error: this.failed.error,
        fronted: 0,
        skipped: [],
        ...(this.earlier ? { stats: structuredClone(this.earlier) } : {}),
      };
    return undefined;
  }

  /** A reason the daemon is degraded, if any: on, but not listening. */
  degradedReasons(): string[] {
    return this.failed ? [`local mirror: cannot listen on ${this.failed.settings.address}: ${this.failed.error}`] : [];
  }
}
