/**
 * Layering a set of registries.conf files into the one configuration containers/image uses:
 * its `parsedConfig.updateWithConfigurationFrom` applied to the main file and then each drop-in
 * in turn, with the defaults it fills in at the end. Pure: the files are already parsed and
 * validated one by one (containers/image validates each file on its own, never the merge).
 * See docs/registries-semantics.md §1.5.
 */
import { cloneConf, registryScope, type RegistriesConf, type RegistryTable } from './model.js';
import { byteOrderCompare } from '../core/byte-order.js';

/** containers/image's reserved credential helper: "use the auth.json files". */
export const AUTH_FILE_HELPER = 'containers-auth.json';
/** What an unset short-name-mode means. */
export const DEFAULT_SHORT_NAME_MODE = 'permissive';

/** The first table of each prefix (containers/image silently drops the later ones), by prefix. */
function firstOfEachPrefix(tables: readonly RegistryTable[]): Map<string, RegistryTable> {
  const byPrefix = new Map<string, RegistryTable>();
  for (const t of tables) {
    const prefix = registryScope(t);
    if (!byPrefix.has(prefix)) byPrefix.set(prefix, t);
  }
  return byPrefix;
}

/** Tables by prefix in Go's sort.Strings order (UTF-8 bytes). */
function sortedByPrefix(byPrefix: ReadonlyMap<string, RegistryTable>): RegistryTable[] {
  return [...byPrefix.entries()].sort(([a], [b]) => byteOrderCompare(a, b)).map(([, t]) => t);
}

/**
 * One file's tables as containers/image keeps them: the first table of each prefix (later ones
 * are silently dropped), sorted by prefix. containers/image ≥5.2x sorts every file, so the
 * order of tables in a file never matters (it decides ties between equally long prefixes).
 */
export function normaliseTables(tables: readonly RegistryTable[]): RegistryTable[] {
  return sortedByPrefix(firstOfEachPrefix(tables));
}

/** A top-level key (or `aliases.NAME`) that a layer sets, and whether it already had that value. */
export type KeySetNote = (key: string, unchanged: boolean) => void;

const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The top-level keys of `updates` layered onto `target` (changed in place; its lists and
 * aliases must be its own), as containers/image's updateWithConfigurationFrom does:
 * unqualified-search-registries and credential-helpers are replaced when `updates` has the key
 * at all (a present but empty list clears them); short-name-mode and
 * additional-layer-store-auth-helper when non-empty; aliases per name, a "" value erasing one.
 * The one copy of these rules: drop-ins (below) and fragments (merge/merge.ts) both use it.
 */
export function layerTopLevelKeys(target: RegistriesConf, updates: RegistriesConf, note: KeySetNote = () => {}): void {
  if (updates.unqualifiedSearchRegistries !== undefined) {
    note('unqualified-search-registries', sameValue(target.unqualifiedSearchRegistries, updates.unqualifiedSearchRegistries));
    target.unqualifiedSearchRegistries = [...updates.unqualifiedSearchRegistries];
  }
  if (updates.credentialHelpers !== undefined) {
    note('credential-helpers', sameValue(target.credentialHelpers, updates.credentialHelpers));
    target.credentialHelpers = [...updates.credentialHelpers];
  }
  if (updates.shortNameMode) {
    note('short-name-mode', target.shortNameMode === updates.shortNameMode);
    target.shortNameMode = updates.shortNameMode;
  }
  if (updates.additionalLayerStoreAuthHelper) {
    note('additional-layer-store-auth-helper', target.additionalLayerStoreAuthHelper === updates.additionalLayerStoreAuthHelper);
    target.additionalLayerStoreAuthHelper = updates.additionalLayerStoreAuthHelper;
  }
  if (updates.aliases !== undefined) {
    const aliases = target.aliases ?? (Object.create(null) as Record<string, string>);
    for (const [name, value] of Object.entries(updates.aliases)) {
      note(`aliases.${name}`, aliases[name] === value);
      if (value === '') delete aliases[name];
      else aliases[name] = value;
    }
    target.aliases = aliases;
  }
}

/**
 * `updates` applied on top of `base` (neither is changed): a table of `updates` replaces the
 * table of the same prefix WHOLE (no field-level merge); new prefixes are added; the result is
 * sorted by prefix; the top-level keys as layerTopLevelKeys says.
 */
export function mergeRegistriesConf(base: RegistriesConf, updates: RegistriesConf): RegistriesConf {
  const out = cloneConf({ ...base, registries: [] });
  const byPrefix = firstOfEachPrefix(base.registries);
  for (const [prefix, t] of firstOfEachPrefix(updates.registries)) byPrefix.set(prefix, t);
  out.registries = sortedByPrefix(byPrefix).map((t) => ({ ...t, mirrors: t.mirrors.map((m) => ({ ...m })) })); // one sort, not three

  layerTopLevelKeys(out, updates);
  return out;
}

/**
 * The main file, then each drop-in in order, merged; then containers/image's defaults:
 * credential-helpers ["containers-auth.json"] when empty or unset, short-name-mode "permissive"
 * when unset. Tables come out sorted by prefix even with no drop-in. An alias erased by "" is
 * gone, also when the main file itself says "".
 */
export function mergeRegistriesConfs(main: RegistriesConf, dropIns: readonly RegistriesConf[] = []): RegistriesConf {
  let conf = mergeRegistriesConf({ registries: [] }, main);
  for (const d of dropIns) conf = mergeRegistriesConf(conf, d);
  if (!conf.credentialHelpers || conf.credentialHelpers.length === 0) conf.credentialHelpers = [AUTH_FILE_HELPER];
  conf.shortNameMode ??= DEFAULT_SHORT_NAME_MODE;
  return conf;
}
