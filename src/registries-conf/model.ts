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

export function emptyConf(): RegistriesConf {
  return { registries: [] };
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
