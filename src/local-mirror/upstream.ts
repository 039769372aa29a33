/**
 * The local mirror's side toward the real mirrors: one registry client per endpoint (the
 * resolver's: deadlines, certs.d, proxies, and credentials only when allowed), the health
 * cache fed by every real request's outcome (passive health), and a bound on concurrent
 * upstream requests.
 */
import { endpointKey, orderByHealth, recordSuccess, type EndpointHealth, type HealthMap } from '../health/health.js';
import { readHealth, updateHealth } from '../health/store.js';
import { FailureLog } from '../core/failure-log.js';
import type { Logger } from '../core/log.js';
import { findCredentials, type FindCredentialsOptions } from '../registry/auth-file.js';
import { tlsFor } from '../registry/certs.js';
import { EndpointClient, type Timeouts } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { afterRequestFailure, asRegistryError } from '../registry/failure.js';
import { WrongContent } from '../registry/oci-layout.js';
import type { PullSource } from '../registry/pull.js';
import type { ProxyEnv } from '../registry/proxy.js';
import { countSource, type LocalMirrorStats } from './counters.js';
import type { QueueClock } from './reply.js';
import { registryHostOf } from '../reference/scope.js';
import { registryScope, type RegistriesConf } from '../registries-conf/model.js';

/** The health cache as the endpoint uses it: read at each request, written at each outcome. */
export interface HealthBook {
  view(): HealthMap;
  record(key: string, h: EndpointHealth): void;
  /** writes still under way finished (for a clean shutdown) */
  flush(): Promise<void>;
}

/** A health book in memory, persisted to the shared cache file when `file` is given (writes coalesced, never awaited by a request). */
export async function healthBook(file: string | undefined, log: Logger): Promise<HealthBook> {
  let map: Record<string, EndpointHealth> = file ? { ...(await readHealth(file)) } : {};
  let pending: Record<string, EndpointHealth> = {};
  let writing: Promise<void> | undefined;
  const failure = new FailureLog(); // a failed write logged once per cause, not at every request
  const write = async (): Promise<void> => {
    while (file && Object.keys(pending).length > 0) {
      const updates = pending;
      pending = {};
      try {
        map = { ...(await updateHealth(file, updates)), ...pending };
        failure.cleared();
      } catch (e) {
        if (failure.news(e)) log.warn(`health cache ${file} not updated: ${(e as Error).message} (logged again only when the reason changes)`);
      }
    }
    writing = undefined;
  };
  return {
    view: () => map,
    record(key, h) {
      map = { ...map, [key]: h };
      if (!file) return;
      pending[key] = h;
      writing ??= write();
    },
    flush: async () => {
      await writing;
    },
  };
}

export interface UpstreamOptions {
  /** whether the host's credentials (containers-auth.json) may be used: off, every request is anonymous */
  readonly credentials: boolean;
  readonly authFile?: string;
  /** registries.conf's `credential-helpers` as the latest render has them (default: the auth files alone) */
  readonly credentialHelpers?: () => readonly string[] | undefined;
  readonly certDir?: string;
  readonly timeouts?: Timeouts;
  readonly env?: ProxyEnv;
  /** concurrent upstream requests at most (a blob holds its slot while it streams) */
  readonly maxConcurrent: number;
  readonly health: HealthBook;
  readonly stats: LocalMirrorStats;
  readonly log: Logger;
  readonly now?: () => number;
}

export function sourceKey(s: PullSource): string {
  return endpointKey(s.endpoint.host, s.endpoint.insecure);
}

/**
 * The keys of every endpoint a request could be sent to under `conf`: each table's location,
 * scope and mirrors, secure or not (a superset: a client kept in vain costs little).
 */
export function endpointKeysOf(conf: RegistriesConf): Set<string> {
  const keys = new Set<string>();
  const add = (location: string): void => {
    const host = registryHostOf(location);
    keys.add(endpointKey(host, true));
    keys.add(endpointKey(host, false));
  };
  for (const t of conf.registries) {
    add(t.location);
    add(registryScope(t));
    for (const m of t.mirrors) add(m.location);
  }
  return keys;
}

/**
 * How often an endpoint's certs.d files are read again: a CA or client certificate added or
 * rotated there (the usual fix for a TLS failure, which the prober, reading them each round,
 * sees at once) must reach the endpoint's requests without a restart.
 */
export const TLS_RECHECK_MS = 10_000;
const RETIRED_CLIENT_GRACE_MS = 60_000;

/** An endpoint's client, with the TLS material it was made with and when that was last compared with certs.d. */
interface ClientEntry {
  readonly client: EndpointClient;
  readonly tls: string;
  checkedAt: number;
}

/** What a slot is held for: a blob's transfer (minutes, maybe), or a quick request (a manifest, a HEAD). */
export type SlotKind = 'transfer' | 'quick';

export class Upstream {
  private readonly clients = new Map<string, ClientEntry>();
  /** Clients replaced by newer ones, closed after a grace (retire()). */
  private readonly retiring = new Set<EndpointClient>();
  private active = 0;
  /** Of `active`, the blob transfers (SlotKind 'transfer'). */
  private transfers = 0;
  private readonly waitingQuick: Array<() => void> = [];
  private readonly waitingTransfers: Array<() => void> = [];
  private readonly now: () => number;
  /** Per endpoint, how its last failure logged at warn failed (kind and class); forgotten at its next success. */
  private readonly warned = new Map<string, string>();
  /**
   * close() began: requests still under way fail because we destroyed their clients, which says
   * nothing of the sources (recorded, it marked healthy ones down, in a health book that
   * outlives this endpoint). No new client is made and no failure recorded from then on.
   */
  private closing = false;

  constructor(private readonly opts: UpstreamOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The endpoint's client, made again when its certs.d files changed (looked at every TLS_RECHECK_MS). */
  async client(s: PullSource): Promise<EndpointClient> {
    if (this.closing) throw new RegistryError('the local mirror is stopping', 'unhealthy');
    const key = sourceKey(s);
    const kept = this.clients.get(key);
    if (kept && this.now() - kept.checkedAt < TLS_RECHECK_MS) return kept.client;
    if (kept) kept.checkedAt = this.now(); // one look per interval: requests meanwhile take the kept client
    let material: Awaited<ReturnType<typeof tlsFor>>;
    try {
      material = await tlsFor(s.endpoint.host, { ...(this.opts.certDir ? { certDir: this.opts.certDir } : {}), insecure: s.endpoint.insecure });
    } catch (e) {
      if (kept) return kept.client; // certs.d half-way through a change (a key without its cert yet): the client that worked
      throw e;
    }
    if (this.closing) throw new RegistryError('the local mirror is stopping', 'unhealthy');
    // The digest tlsFor made its context by, not the text: the material holds the system's CAs
    // (~200 KB), kept per endpoint. Without one (nothing but certs.d's few files) the text is small.
    const tls = material.digest ?? JSON.stringify(material);
    const current = this.clients.get(key); // another request may have made it meanwhile
    if (current?.tls === tls) return current.client;
    if (current) this.retire(current.client);
    const { credentials, authFile, timeouts, env } = this.opts;
    const client = new EndpointClient(s.endpoint.host, s.endpoint.insecure, {
      tls: material,
      credentials: credentials ? (repo) => findCredentials(repo, this.credentialOptions(authFile)) : () => Promise.resolve(undefined),
      ...(timeouts ? { timeouts } : {}),
      ...(env ? { env } : {}),
    });
    this.clients.set(key, { client, tls, checkedAt: this.now() });
    return client;
  }

  /**
   * A client replaced (new certs.d files): closed only after RETIRED_CLIENT_GRACE_MS, since a
   * request that took it may still need it for a step (a redirect, a token, a resumed blob),
   * which a closed client refuses, and that refusal would be taken for its source's failure.
   */
  private retire(client: EndpointClient): void {
    this.retiring.add(client);
    setTimeout(() => {
      this.retiring.delete(client);
      client.close().catch(() => undefined);
    }, RETIRED_CLIENT_GRACE_MS).unref();
  }

  private credentialOptions(authFile: string | undefined): FindCredentialsOptions {
    const credentialHelpers = this.opts.credentialHelpers?.();
    return { ...(authFile ? { authFile } : {}), ...(credentialHelpers ? { credentialHelpers } : {}) };
  }

  /** How many endpoint clients are kept (each with its connection pool and tokens). */
  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * A new rendered policy: the clients of endpoints it no longer names are forgotten and retired
   * (closed after the grace: a request under way may still need one for a step, a token, a
   * redirect, a resumed blob), so a daemon that lives through many policies keeps clients for
   * the endpoints of the current one, not of every one it has had. What was last logged of a
   * dropped endpoint goes with it (back in a later policy, its first failure is news again).
   */
  retainFor(conf: RegistriesConf): void {
    const keep = endpointKeysOf(conf);
    for (const [key, c] of this.clients) {
      if (keep.has(key)) continue;
      this.clients.delete(key);
      this.retire(c.client);
    }
    for (const key of this.warned.keys()) if (!keep.has(key)) this.warned.delete(key);
  }

  /** Sources in the order to try them: those the health cache marks down last. */
  ordered<T extends PullSource>(sources: readonly T[]): T[] {
    return orderByHealth(sources, sourceKey, this.opts.health.view(), this.now()).ordered;
  }

  succeeded(s: PullSource, ms: number): void {
    const key = sourceKey(s);
    this.opts.health.record(key, recordSuccess(this.opts.health.view()[key], key, this.now(), Math.round(ms)));
    countSource(this.opts.stats, key, 'ok');
    this.warned.delete(key);
  }

  /** A failed attempt: fed to the health cache when it says something about the endpoint. Returns whether it did. */
  failed(s: PullSource, e: unknown): boolean {
    if (this.closing) return true; // our own close cut it short: not the source's doing, and not "absent" either
    const key = sourceKey(s);
    const err = asRegistryError(e);
    const h = afterRequestFailure(this.opts.health.view()[key], key, err, this.now());
    if (h) this.opts.health.record(key, h);
    countSource(this.opts.stats, key, h ? 'failed' : 'absent');
    // Every client request (and its retries) may try a failing source again: its failure is logged
    // at warn when it is news (the first, or another kind), its repeats at debug until it succeeds.
    const how = `${err.kind}:${err.failureClass ?? ''}`;
    const level = this.warned.get(key) === how ? 'debug' : 'warn';
    this.warned.set(key, how);
    this.opts.log[level]({ source: s.reference, endpoint: key }, `local mirror: ${s.reference}: ${err.message}`);
    return h !== undefined;
  }

  /** A problem of no one source's making, for the log. */
  warn(message: string): void {
    this.opts.log.warn(`local mirror: ${message}`);
  }

  /** A source that served wrong content (a blob not matching its digest, found after its stream): a failure as pull counts it (failure.ts). */
  servedWrongContent(s: PullSource, message: string): void {
    this.failed(s, new WrongContent(message));
  }

  /**
   * Asks each source in health order, holding one upstream slot at a time, until `ask` answers;
   * every outcome feeds the health cache. Without an answer (or once `deadline` is late),
   * `absent` tells whether every source asked said 404 or forbidden, none failing; with
   * `absentDecides`, the first source that says so ends the search and `absent` is true.
   */
  async firstAnswer<T>(
    sources: readonly PullSource[],
    deadline: { readonly late: boolean } & Partial<QueueClock>,
    ask: (s: PullSource, client: EndpointClient) => Promise<T>,
    absentDecides = false,
  ): Promise<{ answer: T } | { absent: boolean }> {
    let absent = true;
    const over = (): boolean => deadline.late || deadline.left?.aborted === true; // late, or its client left: ask no source
    for (const s of this.ordered(sources)) {
      if (over() || this.closing) break;
      const release = await this.slot(deadline);
      const started = performance.now();
      try {
        if (over()) break;
        const answer = await ask(s, await this.client(s));
        this.succeeded(s, performance.now() - started);
        return { answer };
      } catch (e) {
        if (this.failed(s, e)) absent = false;
        else if (absentDecides) return { absent: true };
      } finally {
        release();
      }
    }
    return { absent };
  }

  /**
   * One upstream slot; call the returned function to give it back (exactly once). `clock` hears
   * of a wait for it. Blob transfers may hold all slots but an eighth: a manifest (or a blob's
   * HEAD) never waits behind minutes of layers, since the child manifest of an index the
   * endpoint served, or an image's signature, can only come from it (its 20 s deadline, spent
   * queuing, would fail the pull); waiting requests of that kind go first.
   */
  async slot(clock?: Partial<QueueClock>, kind: SlotKind = 'quick'): Promise<() => void> {
    if (this.free(kind)) this.take(kind);
    else {
      clock?.queued?.();
      const taken = await this.waitForSlot(kind === 'transfer' ? this.waitingTransfers : this.waitingQuick, clock?.left);
      clock?.dequeued?.();
      if (!taken) return () => undefined; // its client left meanwhile: no slot held, none to give back
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.active--;
      if (kind === 'transfer') this.transfers--;
      this.wake();
    };
  }

  /**
   * A place in `queue` until wake() hands it a slot (true), or until `left` aborts (false): a
   * client that left is taken out of the queue at once, not kept (its request and response with
   * it) until a slot frees, which a few long transfers can put off for minutes.
   */
  private waitForSlot(queue: Array<() => void>, left: AbortSignal | undefined): Promise<boolean> {
    if (left?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const onLeft = (): void => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        resolve(false);
      };
      const waiter = (): void => {
        left?.removeEventListener('abort', onLeft);
        resolve(true); // taken for us by wake()
      };
      queue.push(waiter);
      left?.addEventListener('abort', onLeft, { once: true });
    });
  }

  /** Requests waiting for an upstream slot now. */
  get waiting(): number {
    return this.waitingQuick.length + this.waitingTransfers.length;
  }

  private free(kind: SlotKind): boolean {
    const max = this.opts.maxConcurrent;
    return this.active < max && (kind === 'quick' || this.transfers < max - Math.floor(max / 8));
  }

  private take(kind: SlotKind): void {
    this.active++;
    if (kind === 'transfer') this.transfers++;
  }

  /** Hands freed slots to the waiting: quick requests first, then transfers as far as their share allows. */
  private wake(): void {
    for (;;) {
      const [queue, kind] =
        this.waitingQuick.length > 0 && this.free('quick') ? [this.waitingQuick, 'quick' as const] : [this.waitingTransfers, 'transfer' as const];
      if (queue.length === 0 || !this.free(kind)) return;
      this.take(kind);
      (queue.shift() as () => void)();
    }
  }

  /** Closes the clients at once: requests still under way upstream are abandoned (their clients are gone), then the health book is written. */
  async close(): Promise<void> {
    this.closing = true;
    // By now every client connection has finished or been cut: what is still in flight upstream (a hung mirror) is abandoned.
    const clients = [...[...this.clients.values()].map((c) => c.client), ...this.retiring];
    await Promise.all(clients.map((c) => c.destroy().catch(() => undefined)));
    await this.opts.health.flush();
  }
}
