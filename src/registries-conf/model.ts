/**
 * The registries.conf v2 model: plain data mirroring containers/image's
 * `V2RegistriesConf`, `Registry` and `Endpoint` (containers-registries.conf(5)).
 * Only keys containers/image knows are modelled: everything we write is one of them.
 */
import type { Location } from '../core/diagnostic.js';

export type PullFromMirror = 'all' | 'digest-only' | 'tag-only';
export const PULL_FROM_MIRROR_VALUES: readonly string[] = ['all', 'digest-only', 'tag-only'];
export const SHORT_NAME_MODES: readonly string[] = ['enforcing', 'permissive', 'disabled'];

export interface Endpoint {
  location: string;
  insecure?: boolean;
  /** Absent means "" which containers/image treats as "all". */
  pullFromMirror?: string;
  /** Where the mirror came from, for error messages; never rendered. */
  origin?: Location;
}

export interface RegistryTable {
  /** Absent or "" means: same as location. */
  prefix?: string;
  location: string;
  insecure?: boolean;
  blocked?: boolean;
  mirrorByDigestOnly?: boolean;
  mirrors: Endpoint[];
  /** Where the table came from, for error messages; never rendered. */
  origin?: Location;
}

/**
 * Which pulls containers/image sends to mirror `m` of `table` (PullSourcesFromReference's
 * filter): a table's mirror-by-digest-only makes all its mirrors digest-only; else each
 * mirror's pull-from-mirror ("all", "" and absent: both).
 */
export function mirrorServes(table: RegistryTable, m: Endpoint): { readonly byTag: boolean; readonly byDigest: boolean } {
  if (table.mirrorByDigestOnly) return { byTag: false, byDigest: true };
  return { byTag: m.pullFromMirror !== 'digest-only', byDigest: m.pullFromMirror !== 'tag-only' };
}

export interface RegistriesConf {
  unqualifiedSearchRegistries?: string[];
  shortNameMode?: string;
  credentialHelpers?: string[];
  additionalLayerStoreAuthHelper?: string;
  aliases?: Record<string, string>;
  registries: RegistryTable[];
}

/** The scope a table answers for: containers/image keys tables by prefix, which defaults to location. */
export function registryScope(reg: Pick<RegistryTable, 'prefix' | 'location'>): string {
  return reg.prefix ? reg.prefix : reg.location;
}

/**
 * Whether containers/image pulls a table's names from another location than the one they name.
 * An empty location (a wildcard prefix's, say) rewrites nothing: the name is pulled as it is.
 */
export function isRewritten(reg: Pick<RegistryTable, 'prefix' | 'location'>): boolean {
  return reg.location !== '' && reg.location !== registryScope(reg);
}

export function emptyConf(): RegistriesConf {
  return { registries: [] };
}

/**
 * Whether two tables have the same content: everything renderTable, the parse-back's expected
 * data and validateTableRewrites read of a table; not its origin, which only locates messages
 * (a check that has a message to give is never skipped). Compared field by field: the strings
 * of an unchanged fragment's tables are the very ones of the render before, so each comparison
 * is mostly a pointer's (a key string built and hashed per table per render was a tenth of a
 * render of 10 000 tables).
 */
export function sameTableContent(a: RegistryTable, b: RegistryTable): boolean {
  if (a.prefix !== b.prefix || a.location !== b.location || !a.insecure !== !b.insecure || !a.blocked !== !b.blocked) return false;
  if (!a.mirrorByDigestOnly !== !b.mirrorByDigestOnly || a.mirrors.length !== b.mirrors.length) return false;
  return a.mirrors.every((m, i) => {
    const n = b.mirrors[i] as Endpoint;
    return m.location === n.location && !m.insecure === !n.insecure && m.pullFromMirror === n.pullFromMirror;
  });
}

export function cloneTable(t: RegistryTable): RegistryTable {
  return { ...t, mirrors: t.mirrors.map((m) => ({ ...m })) };
}

export function cloneConf(c: RegistriesConf): RegistriesConf {
  const out: RegistriesConf = { ...c, registries: c.registries.map(cloneTable) };
  if (c.unqualifiedSearchRegistries) out.unqualifiedSearchRegistries = [...c.unqualifiedSearchRegistries];
  if (c.credentialHelpers) out.credentialHelpers = [...c.credentialHelpers];
  if (c.aliases) out.aliases = Object.assign(Object.create(null) as Record<string, string>, c.aliases);
  return out;
}
