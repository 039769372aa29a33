/**
 * The local mirror in the rendered file. Pure: a ConfTransform applied after the merge and the
 * health-aware order, before validation and rendering (where the daemon applies applyHealthOrder).
 *
 * Every table with mirrors from the policy gets the endpoint as its FIRST mirror, at
 * `<address>/mirror-policyd/<hex>` (mapping.ts), `insecure = true` (plain HTTP on loopback), with
 * a `pull-from-mirror` that covers what the table's mirrors cover. The configured mirrors stay
 * after it, in their order, as containers/image's own fallback when the endpoint is down. Turning
 * the setting off is not applying this: the next render has no trace of it.
 */
import { cloneConf, type Endpoint, type RegistriesConf, type RegistryTable, registryScope } from '../registries-conf/model.js';
import { keptMirrors } from '../sources/sources.js';
import { localMirrorLocation } from './mapping.js';

export interface LocalMirrorRender {
  /** host:port the endpoint listens on, as written in the file (e.g. 127.0.0.1:5050). */
  readonly address: string;
  /** The base file as the merge named it (the origin of its mirrors): tables with only its mirrors are the host's, not ours. */
  readonly baseFile?: string;
}

export interface LocalMirrorPlan {
  /** Prefixes of the tables that get the endpoint, in file order. */
  readonly fronted: string[];
  /** Tables with mirrors from the policy left alone, and why. */
  readonly skipped: Array<{ prefix: string; why: string }>;
}

/** A location a wildcard rewrite cannot append ":PORT/…" to: one with a port or a path. */
function cannotTakeAPort(location: string): boolean {
  return location.includes(':') || location.includes('/');
}

/** What the endpoint's pull-from-mirror must be to cover the table's mirrors; undefined = all (written as no key). */
function coverage(table: RegistryTable, mirrors: readonly Endpoint[]): string | undefined {
  // mirror-by-digest-only already filters every mirror of the table, ours too; pull-from-mirror would be refused next to it.
  if (table.mirrorByDigestOnly) return undefined;
  const modes = new Set(mirrors.map((m) => m.pullFromMirror || 'all'));
  return modes.size === 1 && !modes.has('all') ? [...modes][0] : undefined;
}

/**
 * Why a table is not fronted, or undefined when it is. A wildcard rewrite keeps the port of the
 * name (`a.example.com:5000/x` under `*.example.com` becomes `<location>:5000/x`), and a location
 * with a port followed by another is no reference: containers/image then fails the whole pull.
 * The endpoint has a port, so it may front a wildcard table only for the pulls (by tag, by digest)
 * that such names cannot make today anyway, i.e. where a mirror or the location tried already
 * has a port or a path.
 */
function whyNot(table: RegistryTable, ours: readonly Endpoint[]): string | undefined {
  if (ours.length === 0) return 'no mirrors from the policy';
  if (!registryScope(table).startsWith('*.')) return undefined;
  for (const digested of [false, true]) {
    const kept = keptMirrors(table, digested);
    if (kept.length === 0) continue;
    if (!cannotTakeAPort(table.location) && !kept.some((m) => cannotTakeAPort(m.location))) {
      return `its mirrors take names with a port (host${registryScope(table).slice(1)}:PORT/…) by ${digested ? 'digest' : 'tag'}, which the endpoint's location (it has a port) would make containers/image refuse`;
    }
  }
  return undefined;
}

function isOurs(options: LocalMirrorRender, m: Endpoint): boolean {
  return options.baseFile === undefined || m.origin?.file !== options.baseFile;
}

/** Which tables `applyLocalMirror` fronts and which it leaves alone (for the daemon's log and status). */
export function planLocalMirror(conf: RegistriesConf, options: LocalMirrorRender): LocalMirrorPlan {
  const fronted: string[] = [];
  const skipped: LocalMirrorPlan['skipped'] = [];
  for (const t of conf.registries) {
    const mirrors = withoutEndpoint(t, options.address);
    const ours = mirrors.filter((m) => isOurs(options, m));
    if (ours.length === 0) continue;
    const why = whyNot({ ...t, mirrors }, ours);
    if (why === undefined) fronted.push(registryScope(t));
    else skipped.push({ prefix: registryScope(t), why });
  }
  return { fronted, skipped };
}

/** The table's mirrors but the endpoint of this table (a base that already lists it, say a copied output). */
function withoutEndpoint(t: RegistryTable, address: string): Endpoint[] {
  const location = localMirrorLocation(address, registryScope(t));
  return t.mirrors.filter((m) => m.location !== location);
}

/** The configuration with the endpoint first in every table `planLocalMirror` fronts. A new configuration; the input is not changed. */
export function applyLocalMirror(conf: RegistriesConf, options: LocalMirrorRender): RegistriesConf {
  const out = cloneConf(conf);
  const fronted = new Set(planLocalMirror(conf, options).fronted);
  for (const t of out.registries) {
    const prefix = registryScope(t);
    if (!fronted.has(prefix)) continue;
    const mirrors = withoutEndpoint(t, options.address);
    const pullFromMirror = coverage(t, mirrors);
    const endpoint: Endpoint = { location: localMirrorLocation(options.address, prefix), insecure: true, ...(pullFromMirror ? { pullFromMirror } : {}) };
    t.mirrors = [endpoint, ...mirrors];
  }
  return out;
}

/** The configuration without the endpoint: what the mirrors' health (probes, status, metrics) is about. */
export function withoutLocalMirror(conf: RegistriesConf, address: string): RegistriesConf {
  const out = cloneConf(conf);
  for (const t of out.registries) t.mirrors = withoutEndpoint(t, address);
  return out;
}
