/**
 * The merge: base registries.conf + policy fragments → one RegistriesConf.
 * A pure function in the manner of OpenShift's runtime-utils `EditRegistriesConfig`:
 *  1. registries.conf content of fragments is layered on the base in file-name order,
 *     as containers/image layers registries.conf.d drop-ins (a table replaces the table
 *     of the same prefix whole; the later file wins a genuine conflict, with a warning);
 *  2. mirror sets are merged per source and mode by topological order (topo.ts) and
 *     appended to that source's table: digest-only, then tag-only, then all;
 *     NeverContactSource on any set blocks the table;
 *  3. blocked scopes get tables, insecure and blocked propagate to nested scopes,
 *     and mirror-less nested tables inherit their mirrored scope's mirrors, so that a
 *     more specific table never hides the mirror configuration (MCO PR #2819).
 */
import { formatLocation, warning, type Diagnostic, type Location } from '../core/diagnostic.js';
import { checkBounds, type PolicyBounds } from './bounds.js';
import { findRepeatedObjects, findSourcePolicyConflicts } from './conflicts.js';
import { findBlockedMirrors } from './blocked-mirrors.js';
import { findImageBlockedWithMirrors } from './image-blocked.js';
import { hasRealMirror, type Fragment, type MirrorMode, type MirrorSet } from '../fragments/policy.js';
import {
  cloneConf,
  emptyConf,
  isRewritten,
  registryScope,
  sameTableContent,
  type Endpoint,
  type RegistriesConf,
  type RegistryTable,
} from '../registries-conf/model.js';
import { ScopeSet } from '../reference/scope.js';
import { byteOrderCompare, sortByteOrder } from '../core/byte-order.js';
import { mergeMirrorLists } from './topo.js';
import { layerTopLevelKeys } from '../registries-conf/layer.js';
import { SweepCache } from '../core/sweep-cache.js';

export interface MergeInput {
  readonly base?: RegistriesConf;
  /** Already in merge order: byte order of file names. */
  readonly fragments: readonly Fragment[];
  /** What the policy may expand to; DEFAULT_BOUNDS when absent. */
  readonly bounds?: PolicyBounds;
  /** The merged mirror lists of the merges before (the daemon's): see MergeMemo. */
  readonly memo?: MergeMemo;
}

/**
 * Each source's merged mirror list, kept across merges (the daemon keeps one; issue #15): a
 * merge of the very same mirror sets gives the same list, and an unchanged fragment's parse is
 * kept, so its sets are the same objects (never changed after the parse) from one render to
 * the next. At 10 000 sources, their topological sorts were a fifth of a merge. Swept after
 * each render (SweepCache).
 */
export class MergeMemo {
  private readonly byMode = new Map<MirrorMode, SweepCache<{ readonly sets: readonly MirrorSet[]; readonly merged: MergedSet }>>(
    MODE_ORDER.map((m) => [m, new SweepCache()]),
  );

  /** The merged list of `group` (sets of one source and mode, in merge order), from the memo when the same sets made it before. */
  merged(mode: MirrorMode, source: string, group: readonly MirrorSet[]): MergedSet {
    const cache = this.byMode.get(mode) as SweepCache<{ readonly sets: readonly MirrorSet[]; readonly merged: MergedSet }>;
    const hit = cache.get(source);
    if (hit !== undefined && hit.sets.length === group.length && hit.sets.every((s, i) => s === group[i])) return hit.merged;
    const merged = mergeGroup(mode, source, group);
    cache.set(source, { sets: group, merged });
    return merged;
  }

  sweep(): void {
    for (const c of this.byMode.values()) c.sweep();
  }

  clear(): void {
    for (const c of this.byMode.values()) c.clear();
  }
}

export interface MergeResult {
  readonly conf: RegistriesConf;
  readonly diagnostics: Diagnostic[];
}

const MODE_ORDER: readonly MirrorMode[] = ['digest-only', 'tag-only', 'all'];

/** The tables of a conf by scope, kept in step with `conf.registries` (linear lookups made 10 000 fragments quadratic). */
class Tables {
  private readonly byScope = new Map<string, number>();

  constructor(private readonly conf: RegistriesConf) {
    conf.registries.forEach((t, i) => this.byScope.has(registryScope(t)) || this.byScope.set(registryScope(t), i));
  }

  indexOf(scope: string): number {
    return this.byScope.get(scope) ?? -1;
  }

  /** Replaces the table of the same scope in place, or appends. */
  put(t: RegistryTable): void {
    const at = this.indexOf(registryScope(t));
    if (at >= 0) this.conf.registries[at] = t;
    else this.byScope.set(registryScope(t), this.conf.registries.push(t) - 1);
  }

  /** The table answering for `scope`, created (OpenShift style: wildcard → prefix, else location) if missing. */
  for(scope: string, origin: Location): RegistryTable {
    const at = this.indexOf(scope);
    if (at >= 0) return this.conf.registries[at] as RegistryTable;
    const t: RegistryTable = scope.startsWith('*.') ? { prefix: scope, location: '', mirrors: [], origin } : { location: scope, mirrors: [], origin };
    this.put(t);
    return t;
  }
}

/** Layer each fragment's registries.conf keys like a registries.conf.d drop-in (the rules: layerTopLevelKeys). */
function layerConfContent(conf: RegistriesConf, tables: Tables, fragments: readonly Fragment[], diagnostics: Diagnostic[]): void {
  const setBy = new Map<string, Location>(); // key → where a fragment last set it
  const note = (key: string, at: Location | undefined, same: boolean): void => {
    const earlier = setBy.get(key);
    if (earlier && at && !same) {
      diagnostics.push(warning(at, `${key} is also set in ${earlier.file}${earlier.line ? `:${earlier.line}` : ''}; ${at.file} wins (the later file name)`));
    }
    if (at) setBy.set(key, at);
  };
  // The aliases are copied once, not per alias (copying 5 000 aliases per alias took 12 s), and
  // only when a fragment sets one, so that the base's object is never changed.
  if (fragments.some((f) => f.conf.aliases !== undefined)) conf.aliases = Object.assign(Object.create(null) as Record<string, string>, conf.aliases);
  for (const f of fragments) {
    layerTopLevelKeys(conf, f.conf, (key, same) => {
      const alias = key.startsWith('aliases.') ? key.slice('aliases.'.length) : undefined;
      note(alias === undefined ? key : `alias "${alias}"`, f.confOrigins[key], same);
    });
    for (const t of f.conf.registries) {
      const scope = registryScope(t);
      const at = tables.indexOf(scope);
      const copy: RegistryTable = { ...t, mirrors: t.mirrors.map((m) => ({ ...m })) };
      note(`[[registry]] "${scope}"`, t.origin, at >= 0 && sameTableContent(conf.registries[at] as RegistryTable, copy)); // origins (of the mirrors too) do not count
      tables.put(copy);
    }
  }
}

interface MergedSet {
  readonly source: string;
  readonly mode: MirrorMode;
  readonly mirrors: readonly string[];
  /** Where each merged mirror was first written (the first set, in merge order, that lists it). */
  readonly mirrorOrigins: readonly Location[];
  readonly never: boolean;
  readonly origin: Location;
}

function firstOrigins(group: readonly MirrorSet[]): Map<string, Location> {
  const at = new Map<string, Location>();
  for (const s of group) s.mirrors.forEach((m, i) => at.has(m) || at.set(m, s.mirrorOrigins?.[i] ?? s.origin));
  return at;
}

/** Where each of `mirrors` (a merged list of `group`) was first written. */
function mergedOrigins(group: readonly MirrorSet[], mirrors: readonly string[]): Location[] {
  const first = group[0] as MirrorSet;
  // One set whose list came out as it was written (the usual case), less a trailing source: the
  // merged list has no repeats, so the first place of each mirror is its index; no map needed.
  if (group.length === 1 && mirrors.every((m, i) => m === first.mirrors[i])) return mirrors.map((_, i) => first.mirrorOrigins?.[i] ?? first.origin);
  const origins = firstOrigins(group);
  return mirrors.map((m) => origins.get(m) ?? first.origin);
}

/** One source's sets of one mode, merged (mergeMirrorLists), each mirror with where it was first written. */
function mergeGroup(mode: MirrorMode, source: string, group: readonly MirrorSet[]): MergedSet {
  const mirrors = mergeMirrorLists(
    source,
    group.map((s) => s.mirrors),
  );
  return {
    source,
    mode,
    mirrors,
    mirrorOrigins: mergedOrigins(group, mirrors),
    never: group.some((s) => s.sourcePolicy === 'never'),
    origin: (group[0] as MirrorSet).origin,
  };
}

/** One merged list per (mode, source): sources in byte order within each mode, modes in MODE_ORDER. */
export function mergeMirrorSets(sets: readonly MirrorSet[], memo?: MergeMemo): MergedSet[] {
  // Grouped in one pass over the sets (not one per mode): by mode, then source, in merge order.
  const byMode = new Map<MirrorMode, Map<string, MirrorSet[]>>(MODE_ORDER.map((m) => [m, new Map()]));
  for (const s of sets) {
    const bySource = byMode.get(s.mode);
    if (bySource === undefined || !hasRealMirror(s)) continue; // OpenShift ignores mirror-less sets, policy included
    const group = bySource.get(s.source);
    if (group) group.push(s);
    else bySource.set(s.source, [s]); // not a copy per set: 10 000 sets of one source were quadratic
  }
  const out: MergedSet[] = [];
  for (const mode of MODE_ORDER) {
    const bySource = byMode.get(mode) as Map<string, MirrorSet[]>;
    for (const source of sortByteOrder([...bySource.keys()])) {
      const group = bySource.get(source) ?? [];
      out.push(memo ? memo.merged(mode, source, group) : mergeGroup(mode, source, group));
    }
  }
  return out;
}

function uniqueScopes(fragments: readonly Fragment[], key: 'insecure' | 'blocked'): Array<{ value: string; origin: Location }> {
  const seen = new Set<string>();
  const out: Array<{ value: string; origin: Location }> = [];
  for (const f of fragments) {
    for (const s of f[key]) {
      if (seen.has(s.value)) continue;
      seen.add(s.value);
      out.push(s);
    }
  }
  return out;
}

export function mergePolicies(input: MergeInput): MergeResult {
  const diagnostics: Diagnostic[] = [];
  const conf = input.base ? cloneConf(input.base) : emptyConf();
  const baseTables = new Set(conf.registries); // the host's own tables, until a fragment's table replaces one
  const tables = new Tables(conf);
  layerConfContent(conf, tables, input.fragments, diagnostics);

  const allSets = input.fragments.flatMap((f) => f.mirrorSets);
  for (const d of findSourcePolicyConflicts(allSets)) diagnostics.push(d); // no spread: there may be 100 000
  for (const d of findRepeatedObjects(input.fragments)) diagnostics.push(d);

  const merged = mergeMirrorSets(allSets, input.memo);
  for (const set of merged) {
    const t = tables.for(set.source, set.origin);
    if (set.never) t.blocked = true;
    const digestOnly = t.mirrorByDigestOnly === true ? inDigestOnlyTable(set.mode) : undefined;
    if (digestOnly?.narrowed) diagnostics.push(digestOnlyTableNote(t, digestOnly.narrowed, set.origin, "the set's"));
    if (digestOnly?.keep === false) continue;
    for (const [i, location] of set.mirrors.entries()) {
      const ep: Endpoint = { location, origin: set.mirrorOrigins[i] ?? set.origin };
      if (set.mode !== 'all' && !digestOnly) ep.pullFromMirror = set.mode;
      t.mirrors.push(ep);
    }
  }

  const blocked = uniqueScopes(input.fragments, 'blocked');
  const insecure = uniqueScopes(input.fragments, 'insecure');
  // Blocked tables exist before insecure propagation, so *.blocked.insecure.com can become both.
  for (const s of blocked) tables.for(s.value, s.origin);
  for (const s of insecure) tables.for(s.value, s.origin).insecure = true;
  // Each pass only when there is a scope to propagate: a catalog of mirror sets has none, and 10 000 tables are 30 000 look-ups.
  const insecureScopes = new ScopeSet(insecure.map((s) => s.value));
  if (insecureScopes.size > 0) {
    for (const t of conf.registries) {
      if (insecureScopes.encloses(registryScope(t))) t.insecure = true;
      for (const m of t.mirrors) if (insecureScopes.encloses(m.location)) m.insecure = true;
    }
  }
  const blockedScopes = new ScopeSet(blocked.map((s) => s.value));
  if (blockedScopes.size > 0) for (const t of conf.registries) if (blockedScopes.encloses(registryScope(t))) t.blocked = true;

  // Count before building: inheriting multiplies mirrors (5 000 nested scopes × 200 mirrors).
  const plan = planInheritance(conf, baseTables, merged);
  const exceeded = checkBounds(conf, plan, input.bounds);
  for (const d of exceeded) diagnostics.push(d);
  if (exceeded.length === 0) inheritMirrors(plan, diagnostics);
  for (const d of findBlockedMirrors(conf, new Set(plan.map((step) => step.table)))) diagnostics.push(d);
  for (const d of findImageBlockedWithMirrors(input.fragments, conf)) diagnostics.push(d);
  return { conf, diagnostics };
}

/**
 * What containers/image appends to a wildcard source's mirror for names in `scope`: the
 * rewrite of `*.d` replaces the host name only, so the port and path stay. A nested
 * wildcard keeps the mirrors as they are.
 */
function wildcardSuffix(scope: string): string {
  if (scope.startsWith('*.')) return '';
  const end = scope.search(/[:/]/);
  return end < 0 ? '' : scope.slice(end);
}

/**
 * Whether `location + suffix` is still a name: a port (what a wildcard's rewrite keeps of
 * `host.d:5000/...`) can follow a bare host only, not a path or another port.
 */
function canCarry(location: string, suffix: string): boolean {
  return !suffix.startsWith(':') || !/[:/]/.test(location);
}

export interface Inheritance {
  /** A mirror-less table nested in a mirrored scope. */
  readonly table: RegistryTable;
  /** The table of the most specific mirrored scope around it. */
  readonly from: RegistryTable;
  /** What is appended to each inherited mirror's location. */
  readonly suffix: string;
}

/**
 * containers/image uses only the longest matching table, so a mirror-less table nested in a
 * mirrored scope (say a blocked or insecure namespace) would hide the mirrors. Give it the
 * mirrors of the most specific mirrored scope around it, with the nested suffix appended,
 * and that scope's block (NeverContactSource): a name the scope would never send to its
 * source is not sent there because a nested table exists.
 * Deviations from runtime-utils, on purpose: it takes the first mirrored scope in source
 * order (the least specific), which routes such a table differently from how
 * containers/image would route the same name without it; we take the most specific, the
 * one that sorts first between equally long ones, as containers/image does (its tables are
 * sorted: registries-conf/governing-table.ts). It looks only at mirror sets' sources; we also
 * at tables with mirrors of their own (a fragment's or the host's `[[registry]]`; see
 * inheritsFromTable for the exceptions). It does not carry a block (NeverContactSource left
 * the source reachable through a nested table). And it fails the whole render for a
 * table inside a wildcard source ("internal error"); we carry the mirrors with the suffix
 * containers/image's wildcard rewrite would append.
 */
function planInheritance(conf: RegistriesConf, baseTables: ReadonlySet<RegistryTable>, merged: readonly MergedSet[]): Inheritance[] {
  const plan: Inheritance[] = [];
  // Built at the first mirror-less table: a policy of mirror sets only (an oc-mirror catalog) has none.
  let lookups: InheritanceLookups | undefined;
  for (const t of conf.registries) {
    // A table that rewrites its names elsewhere hides no mirrors: it routes its names on purpose.
    if (t.mirrors.length > 0 || isRewritten(t)) continue;
    const { mirrored, byScope, setSources, rewritten } = (lookups ??= inheritanceLookups(conf, merged));
    const scope = registryScope(t);
    // Most specific first; one that passes nothing to `t` leaves it to a scope further out (a
    // mirror set's mirrors always go down), but never past a table that rewrites `t`'s names
    // elsewhere, mirrored or not: mirrors from beyond it were never meant for those names.
    const longestFirst = (a: string, b: string): number => b.length - a.length || byteOrderCompare(a, b);
    const barrier = rewritten
      ?.enclosing(scope)
      .filter((s) => s !== scope)
      .sort(longestFirst)[0];
    const arounds = mirrored
      .enclosing(scope)
      .filter((s) => s !== scope)
      .sort(longestFirst);
    for (const around of arounds) {
      if (barrier !== undefined && longestFirst(around, barrier) > 0) break; // further out than the barrier, in FindRegistry's order
      const from = byScope.get(around);
      if (from === undefined) continue;
      const passes = isRewritten(from) ? 'none' : setSources.has(around) ? 'yes' : inheritance(t, from, baseTables);
      if (passes === 'yes') plan.push({ table: t, from, suffix: around.startsWith('*.') ? wildcardSuffix(scope) : scope.slice(around.length) });
      if (passes !== 'further') break;
    }
  }
  return plan;
}

/**
 * Whether `t` takes the mirrors of `from`, a scope mirrored only by a `[[registry]]` table (not by
 * a mirror set, whose mirrors always go down, as runtime-utils carries them): 'yes', or 'further'
 * (not these; a mirror set further out still passes its own down, as runtime-utils V15 does) or
 * 'none' is the caller's: a table that rewrites its names elsewhere passes none, nor lets a scope
 * further out pass its own (the nested table would take mirrors without the rewrite). Not into a
 * blocked table: there, blocked means "never pulled from" (containers-registries.conf(5)), and a
 * nested block under such a table was never mirrored by it. Not between two of the host's own
 * tables: the host wrote them so.
 */
function inheritance(t: RegistryTable, from: RegistryTable, baseTables: ReadonlySet<RegistryTable>): 'yes' | 'further' {
  return t.blocked === true || (baseTables.has(t) && baseTables.has(from)) ? 'further' : 'yes';
}

/** What planInheritance looks mirrored scopes up in. */
interface InheritanceLookups {
  readonly mirrored: ScopeSet;
  readonly byScope: Map<string, RegistryTable>;
  /** The sources of mirror sets: what the policy, not the host's own file, mirrors. */
  readonly setSources: ReadonlySet<string>;
  /** The scopes of tables that rewrite their names elsewhere, when there are any. */
  readonly rewritten: ScopeSet | undefined;
}

function inheritanceLookups(conf: RegistriesConf, merged: readonly MergedSet[]): InheritanceLookups {
  const byScope = new Map<string, RegistryTable>();
  for (const t of conf.registries) if (t.mirrors.length > 0 && !byScope.has(registryScope(t))) byScope.set(registryScope(t), t);
  const rewrites = conf.registries.filter(isRewritten).map(registryScope);
  return {
    mirrored: new ScopeSet(byScope.keys()),
    byScope,
    setSources: new Set(merged.map((s) => s.source)),
    rewritten: rewrites.length > 0 ? new ScopeSet(rewrites) : undefined,
  };
}

/**
 * Only mirror-less tables inherit, from tables that have mirrors: no table is both, so the order does not matter.
 * A mirror the suffix would make no name of (a wildcard's mirror with a path, for a scope with a port) is left
 * out, with a warning: containers/image would fail every pull of such a name without the nested table too.
 */
function inheritMirrors(plan: readonly Inheritance[], diagnostics: Diagnostic[]): void {
  for (const { table, from, suffix } of plan) {
    table.mirrors = [];
    const digestOnlyTable = table.mirrorByDigestOnly === true && from.mirrorByDigestOnly !== true;
    const narrowed = new Set<'tag-only' | 'all'>();
    for (const m of from.mirrors) {
      if (!canCarry(m.location, suffix)) {
        if (table.origin) diagnostics.push(uncarried(table, from, m, suffix));
        continue;
      }
      const mode = m.pullFromMirror === 'tag-only' ? 'tag-only' : m.pullFromMirror === 'digest-only' ? 'digest-only' : 'all';
      const digestOnly = digestOnlyTable ? inDigestOnlyTable(mode) : undefined;
      if (digestOnly?.narrowed) narrowed.add(digestOnly.narrowed);
      if (digestOnly?.keep === false) continue;
      const carried: Endpoint = { ...m, location: m.location + suffix };
      if (digestOnly) delete carried.pullFromMirror;
      // The scope's mirror-by-digest-only made its mirrors digest-only: a nested table without that key says so per mirror.
      else if (from.mirrorByDigestOnly === true && table.mirrorByDigestOnly !== true) carried.pullFromMirror = 'digest-only';
      table.mirrors.push(carried);
    }
    if (table.origin) for (const mode of narrowed) diagnostics.push(digestOnlyTableNote(table, mode, table.origin, `the ${registryScope(from)}`));
    if (from.blocked) table.blocked = true;
  }
}

function uncarried(table: RegistryTable, from: RegistryTable, m: Endpoint, suffix: string): Diagnostic {
  const scope = registryScope(table);
  const d = warning(
    table.origin as Location,
    `names under "${scope}" are not sent to mirror "${m.location}" of "${registryScope(from)}": its rewrite would give "${m.location}${suffix}/...", which is not a valid reference`,
  );
  return m.origin ? { ...d, related: [m.origin] } : d;
}

/**
 * What a mirror meant for `mode` becomes in a `mirror-by-digest-only` table: containers/image
 * refuses `pull-from-mirror` beside that key (so a kept mirror carries none: the key already
 * makes it digest-only), a tag-only mirror is left out, and one for tags too is narrowed to
 * digests; `narrowed` is what digestOnlyTableNote then says.
 */
function inDigestOnlyTable(mode: MirrorMode): { keep: boolean; narrowed: 'tag-only' | 'all' | undefined } {
  return { keep: mode !== 'tag-only', narrowed: mode === 'digest-only' ? undefined : mode };
}

/**
 * A table the base or a fragment made `mirror-by-digest-only` takes mirrors for digests only:
 * containers/image refuses `pull-from-mirror` beside that key, so mirrors meant for tags too
 * serve digests only there, and tag-only mirrors are left out. Said, not silent. `whose`
 * names the mirrors: the set's at its source line, or what a nested table inherits.
 */
function digestOnlyTableNote(table: RegistryTable, mode: 'tag-only' | 'all', at: Location, whose: string): Diagnostic {
  const where = table.origin && table.origin !== at ? ` (${formatLocation(table.origin)})` : '';
  const what = mode === 'tag-only' ? `${whose} tag-only mirrors are left out` : `${whose} mirrors serve pulls by digest only, not by tag`;
  const d = warning(at, `"${registryScope(table)}" is mirror-by-digest-only${where}, so ${what}`);
  return where ? { ...d, related: [table.origin as Location] } : d;
}
