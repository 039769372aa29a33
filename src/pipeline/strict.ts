/**
 * The whole pure pipeline: fragment texts + base text → registries.conf text, or the
 * reasons why not. parse → merge → validate → render → parse back. Strict: any error
 * means no text (the daemon builds its forgiving mode from the same pieces).
 */
import { error, hasErrors, type DataPath, type Diagnostic, type Location } from '../core/diagnostic.js';
import { classifyName, parseFragment } from '../fragments/index.js';
import { mergePolicies } from '../merge/merge.js';
import type { Fragment } from '../fragments/policy.js';
import type { Endpoint, RegistriesConf, RegistryTable } from '../registries-conf/model.js';
import { parseRegistriesConf } from '../registries-conf/parse.js';
import { parse as parseToml } from 'smol-toml';
import { renderRegistriesConf, renderTable, type RenderFacts } from '../registries-conf/render.js';
import { sortByByteOrder } from '../core/byte-order.js';
import { RewriteChecks, validateConf, validateTableRewrites } from '../registries-conf/validate.js';
import type { KeptChecks, KeptTable } from './kept-checks.js';

export interface SourceText {
  /** As named in messages: a fragment's base name, or the base file's path. */
  readonly file: string;
  readonly text: string;
  /**
   * Read while it may still be being written: a fragment rewritten in place (the same file as
   * the last read) whose last write is that recent. The daemon keeps its previous content a moment.
   */
  readonly settling?: boolean;
}

/**
 * A pure rewrite of the merged configuration, applied after the merge and before it is
 * validated and rendered (the daemon's health-aware mirror order). It must return a new
 * configuration, not change its input.
 */
export type ConfTransform = (conf: RegistriesConf) => RegistriesConf;

export interface PipelineInput {
  readonly base?: SourceText;
  readonly fragments: readonly SourceText[];
  readonly transform?: ConfTransform;
  /** The version named in the rendered file's header (see RenderFacts.version). */
  readonly version?: string;
  /** containerd's hosts directory, named in the header (see RenderFacts.containerdHostsDir). */
  readonly containerdHostsDir?: string;
}

export interface PipelineResult {
  readonly diagnostics: Diagnostic[];
  /** Fragments that parsed without errors, in merge order. */
  readonly fragments: Fragment[];
  readonly conf?: RegistriesConf;
  /** The rendered file; absent when there was any error. */
  readonly text?: string;
}

/** Locates a path of the merged model by the origins its tables and mirrors carry. */
function originLocator(conf: RegistriesConf, fallback: Location): (path: DataPath) => Location {
  return (path) => {
    if (path[0] !== 'registry' || typeof path[1] !== 'number') return fallback;
    const t = conf.registries[path[1]];
    if (path[2] === 'mirror' && typeof path[3] === 'number') return t?.mirrors[path[3]]?.origin ?? t?.origin ?? fallback;
    return t?.origin ?? fallback;
  };
}

/**
 * Validates a merged model and renders it; the rendered text is parsed back and must mean the same.
 * `checks` carries the names already judged: one per render, however many rounds validate.
 * `kept` (the daemon's) carries the tables already parsed back by the renders before.
 */
export function finishConf(
  conf: RegistriesConf,
  facts: RenderFacts,
  output: Location,
  checks: RewriteChecks = new RewriteChecks(),
  kept?: KeptChecks,
): { text?: string; diagnostics: Diagnostic[] } {
  const locate = originLocator(conf, output);
  const known = kept?.tablesOf(conf);
  const diagnostics = validateConf(conf, locate);
  conf.registries.forEach((t, i) => {
    const k = known?.get(t);
    if (k?.rewritesClean === true) return; // a table with this content had nothing to say
    const before = diagnostics.length;
    validateTableRewrites(t, i, locate, checks, diagnostics);
    if (k !== undefined && diagnostics.length === before) k.rewritesClean = true;
  });
  if (hasErrors(diagnostics)) return { diagnostics };
  const text = renderRegistriesConf(conf, facts, known && ((t) => known.get(t)?.section ?? renderTable(t)));
  // Belt and braces: what we write must parse back (with an independent TOML parser) to exactly what we meant.
  if (!tablesParseBackTo(text, conf, known)) {
    return {
      diagnostics: [...diagnostics, error(output, 'internal error: the rendered registries.conf does not parse back to the merged policy; nothing written')],
    };
  }
  return { text, diagnostics };
}

/** What the keys above the tables must read back as. */
function expectedTop(conf: RegistriesConf): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (conf.unqualifiedSearchRegistries) out['unqualified-search-registries'] = conf.unqualifiedSearchRegistries;
  if (conf.shortNameMode) out['short-name-mode'] = conf.shortNameMode;
  if (conf.credentialHelpers) out['credential-helpers'] = conf.credentialHelpers;
  if (conf.additionalLayerStoreAuthHelper) out['additional-layer-store-auth-helper'] = conf.additionalLayerStoreAuthHelper;
  if (conf.aliases && Object.keys(conf.aliases).length > 0) out.aliases = { ...conf.aliases }; // a plain object, as JSON.parse makes
  return out;
}

/**
 * Whether one parsed `[[registry]]` section is exactly `{ registry: [t] }` as renderTable writes
 * it: each key written has its value and no other key is there. Compared in place rather than
 * against a built copy (for 10 000 tables, 10 000 expected objects and their mirror lists).
 */
function sectionReadsBackAs(data: unknown, t: RegistryTable): boolean {
  if (!isTomlTable(data) || keyCount(data) !== 1 || !Array.isArray(data.registry) || data.registry.length !== 1) return false;
  const r: unknown = data.registry[0];
  if (!isTomlTable(r)) return false;
  let keys = 1; // location
  if (t.prefix && t.prefix !== t.location && (++keys, r.prefix !== t.prefix)) return false;
  if (r.location !== t.location) return false;
  if (t.insecure && (++keys, r.insecure !== true)) return false;
  if (t.blocked && (++keys, r.blocked !== true)) return false;
  if (t.mirrorByDigestOnly && (++keys, r['mirror-by-digest-only'] !== true)) return false;
  if (t.mirrors.length > 0) {
    keys++;
    const mirrors = r.mirror;
    if (!Array.isArray(mirrors) || mirrors.length !== t.mirrors.length) return false;
    for (let i = 0; i < mirrors.length; i++) if (!mirrorReadsBackAs(mirrors[i], t.mirrors[i] as Endpoint)) return false;
  }
  return keyCount(r) === keys;
}

function mirrorReadsBackAs(data: unknown, m: Endpoint): boolean {
  if (!isTomlTable(data) || data.location !== m.location) return false;
  let keys = 1;
  if (m.insecure && (++keys, data.insecure !== true)) return false;
  if (m.pullFromMirror && (++keys, data['pull-from-mirror'] !== m.pullFromMirror)) return false;
  return keyCount(data) === keys;
}

/** A table of TOML data: a plain object (smol-toml's have a null prototype), never an array, a date or another object. */
function isTomlTable(o: unknown): o is Record<string, unknown> {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && isPlainObject(o);
}

function keyCount(o: object): number {
  return Object.keys(o).length;
}

/**
 * Deep equality of TOML data: the same keys (in any order), arrays of the same length, equal
 * strings and booleans. Objects must be plain (smol-toml's tables have a null prototype, ours
 * Object's): a date or any other object never equals. Walks both at once, where a JSON round
 * trip of the parse for isDeepStrictEqual copied all of it first.
 */
function sameTomlData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameTomlData(a[i], b[i])) return false;
    return true;
  }
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && sameTomlData(a[k], b[k]));
}

function isPlainObject(o: object): o is Record<string, unknown> {
  const proto = Object.getPrototypeOf(o) as unknown;
  return proto === null || proto === Object.prototype;
}

const TABLE_HEADER = '\n[[registry]]\n';

/**
 * Whether the rendered text reads back (smol-toml, not our writer) as exactly `conf`, section by
 * section: the keys above the first table, then each table apart, so that no parse of the whole
 * file (some 40 MB of objects for 10 000 tables, alive at once beside every fragment's parse) is
 * ever built, and the daemon can skip the sections it parsed before: one cut from this text that
 * is the very one a table of the same content parsed back from (`known`, KeptChecks.tablesOf) is
 * not parsed again. A rendered value
 * never holds a raw newline (strings are escaped, comments too), so each line `[[registry]]`
 * starts one table, and a table's keys and mirrors cannot reach past the next one: the sections
 * parsed apart read back as the whole does. The count of sections must be that of the tables,
 * or the check fails.
 */
export function tablesParseBackTo(text: string, conf: RegistriesConf, known?: ReadonlyMap<RegistryTable, KeptTable>): boolean {
  const starts: number[] = [];
  for (let at = text.indexOf(TABLE_HEADER); at >= 0; at = text.indexOf(TABLE_HEADER, at + 1)) starts.push(at + 1);
  if (starts.length !== conf.registries.length) return false;
  try {
    if (!sameTomlData(parseToml(text.slice(0, starts[0] ?? text.length)), expectedTop(conf))) return false;
    return conf.registries.every((t, i) => {
      const section = text.slice(starts[i], starts[i + 1] ?? text.length);
      const k = known?.get(t);
      if (k?.parsedBackAs === section) return true;
      if (!sectionReadsBackAs(parseToml(section), t)) return false;
      if (k !== undefined) k.parsedBackAs = section;
      return true;
    });
  } catch {
    return false;
  }
}

/** `push(...items)` without the spread: 90 000 diagnostics overflow the call stack. */
function append<T>(to: T[], items: readonly T[]): void {
  for (const item of items) to.push(item);
}

export function buildRegistriesConf(input: PipelineInput, output: Location = { file: 'registries.conf' }): PipelineResult {
  const diagnostics: Diagnostic[] = [];
  let base: RegistriesConf | undefined;
  if (input.base) {
    const parsed = parseRegistriesConf(input.base.text, input.base.file);
    append(diagnostics, parsed.diagnostics);
    base = parsed.conf;
  }
  const fragments: Fragment[] = [];
  const ordered = sortByByteOrder([...input.fragments], (f) => f.file);
  for (const src of ordered) {
    const cls = classifyName(src.file);
    if ('ignored' in cls) continue;
    const parsed = parseFragment(src.file, cls.format, src.text);
    append(diagnostics, parsed.diagnostics);
    if (parsed.fragment && !hasErrors(parsed.diagnostics)) fragments.push(parsed.fragment);
  }
  const merged = mergePolicies({ base, fragments });
  append(diagnostics, merged.diagnostics);
  if (hasErrors(diagnostics)) return { diagnostics, fragments, conf: merged.conf };
  const facts = { fragments: fragments.map((f) => f.file), ...(input.base ? { base: baseName(input.base.file) } : {}), ...headerFacts(input) };
  const conf = input.transform ? input.transform(merged.conf) : merged.conf;
  const finished = finishConf(conf, facts, output);
  append(diagnostics, finished.diagnostics);
  return { diagnostics, fragments, conf, text: finished.text };
}

/** The name a base file goes by in the header: never an absolute (temp) path. */
export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

/** What the header names besides the fragments and the base. */
export function headerFacts(input: { readonly version?: string; readonly containerdHostsDir?: string }): Pick<RenderFacts, 'version' | 'containerdHostsDir'> {
  return {
    ...(input.version !== undefined ? { version: input.version } : {}),
    ...(input.containerdHostsDir !== undefined ? { containerdHostsDir: input.containerdHostsDir } : {}),
  };
}
