/**
 * registries.conf text → RegistriesConf, with located diagnostics. Used for the
 * host's base file (lenient about unknown keys, as containers/image is) and for the
 * registries.conf content of native fragments (strict: a typo is an error).
 */
import { parse as parseToml, TomlError } from 'smol-toml';
import { error, lazyLocation, warning, type DataPath, type Diagnostic, type Location, type Locator } from '../core/diagnostic.js';
import { FieldReader, isTable, misplacedTopLevelKey, type Table } from '../core/field-reader.js';
import { type Endpoint, type RegistriesConf, type RegistryTable, registryScope } from './model.js';
import { isUtf8 } from 'node:buffer';
import { TomlIndex } from '../toml/locate.js';
import { structKeys, type StructKeys, type StructSchema } from '../toml/struct-keys.js';
import { tomlNextSyntax } from '../toml/next-syntax.js';
import { validateConf } from './validate.js';

export interface ParsedToml {
  readonly data?: Table;
  readonly diagnostics: Diagnostic[];
}

export function tomlLocator(text: string, file: string): Locator {
  const index = new TomlIndex(text); // parses the text on the first line read: most texts never need it
  return (path, needle) => lazyLocation(file, () => index.locate(path, needle));
}

/** TOML syntax only; a syntax error is reported at smol-toml's line and column. */
export function parseTomlText(text: string, file: string): ParsedToml {
  try {
    return { data: parseToml(text.replace(/^\uFEFF/, '')), diagnostics: [] };
  } catch (e) {
    if (e instanceof TomlError) {
      const message = e.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML';
      return { diagnostics: [error({ file, line: e.line, col: e.column }, `invalid TOML: ${message}`)] };
    }
    throw e;
  }
}

export const TOP_LEVEL_KEYS = [
  'unqualified-search-registries',
  'short-name-mode',
  'credential-helpers',
  'additional-layer-store-auth-helper',
  'aliases',
  'registry',
] as const;
const REGISTRY_KEYS = ['prefix', 'location', 'insecure', 'blocked', 'mirror-by-digest-only', 'mirror'];
const MIRROR_KEYS = ['location', 'insecure', 'pull-from-mirror'];

const stripSlash = (s: string): string => s.replace(/\/+$/, '');

/**
 * containers/image 5.23 to 5.34 trim a copy of each mirror's location (`for _, mir := range
 * reg.Mirrors`), so a mirror keeps its trailing "/" and the rewrite of every pull through the
 * table fails. 5.35+ trim it; so do we, and the rendered file has none.
 */
const mirrorSlashNote = (location: string): string =>
  `mirror location "${location}" ends in "/": containers/image before 5.35 (skopeo 1.9.3 among them) keeps it and fails every pull through this table ("rewriting reference: invalid reference format"); it is read, and rendered, without`;

/**
 * Reads the registries.conf v2 keys of `data` (other keys are the caller's business).
 * Tables dropped as duplicate prefixes go to `dropped` when given: containers/image drops them
 * too, but only after its insecure/blocked conflict check, which still sees them.
 */
export function readConfKeys(data: Table, r: FieldReader, strict: boolean, dropped?: RegistryTable[]): RegistriesConf {
  const conf: RegistriesConf = { registries: [] };
  // A top-level key written after a table lands in it: say why (fragments have two more top-level keys).
  const topLevel: readonly string[] = strict ? [...TOP_LEVEL_KEYS, 'insecure-registries', 'blocked-registries'] : TOP_LEVEL_KEYS;
  const misplaced = (k: string): string => misplacedTopLevelKey(k, topLevel);
  const search = r.stringArray(data, 'unqualified-search-registries', []);
  if (search) conf.unqualifiedSearchRegistries = search.map(stripSlash);
  const mode = r.string(data, 'short-name-mode', []);
  if (mode) conf.shortNameMode = mode;
  const helpers = r.stringArray(data, 'credential-helpers', []);
  if (helpers) conf.credentialHelpers = helpers;
  const alsh = r.string(data, 'additional-layer-store-auth-helper', []);
  if (alsh) conf.additionalLayerStoreAuthHelper = alsh;
  const aliases = r.table(data, 'aliases', []);
  if (aliases) {
    conf.aliases = Object.create(null) as Record<string, string>; // "__proto__" must be an ordinary (and invalid) name
    for (const [name, value] of Object.entries(aliases)) {
      if (typeof value === 'string')
        conf.aliases[name] = value; // "registry" = "docker.io/library/registry" is a real alias
      else r.error(['aliases', name], `alias "${name}" must be a string, not ${typeof value}${misplaced(name)}`);
    }
  }
  const seen = new Set<string>();
  r.tables(data, 'registry', []).forEach((t, i) => {
    const path = ['registry', i];
    r.unknownKeys(t, REGISTRY_KEYS.concat(strict ? [] : ['pull-from-mirror']), path, strict ? 'error' : 'warning', '[[registry]]', misplaced);
    // An empty one is accepted, as containers/image accepts it (postProcessRegistries: != "").
    if (t['pull-from-mirror'] !== undefined && t['pull-from-mirror'] !== '') {
      r.error(
        [...path, 'pull-from-mirror'],
        `pull-from-mirror must not be set for a non-mirror registry "${typeof t.prefix === 'string' ? t.prefix : typeof t.location === 'string' ? t.location : ''}"`,
      );
    }
    const reg: RegistryTable = { location: stripSlash(r.string(t, 'location', path) ?? ''), mirrors: [] };
    const prefix = r.string(t, 'prefix', path);
    if (prefix) reg.prefix = stripSlash(prefix);
    for (const [key, field] of [
      ['insecure', 'insecure'],
      ['blocked', 'blocked'],
      ['mirror-by-digest-only', 'mirrorByDigestOnly'],
    ] as const) {
      const v = r.boolean(t, key, path);
      if (v) reg[field] = true;
    }
    r.tables(t, 'mirror', path).forEach((m, j) => {
      const mpath = [...path, 'mirror', j];
      r.unknownKeys(m, MIRROR_KEYS, mpath, strict ? 'error' : 'warning', '[[registry.mirror]]', misplaced);
      const written = r.string(m, 'location', mpath) ?? '';
      const ep: Endpoint = { location: stripSlash(written), origin: r.locatePath([...mpath, 'location']) };
      if (!strict && ep.location && ep.location !== written) r.warn([...mpath, 'location'], mirrorSlashNote(written), written);
      if (r.boolean(m, 'insecure', mpath)) ep.insecure = true;
      const pfm = r.string(m, 'pull-from-mirror', mpath);
      if (pfm) ep.pullFromMirror = pfm;
      reg.mirrors.push(ep);
    });
    const scope = registryScope(reg);
    reg.origin = r.locatePath(path);
    if (scope && seen.has(scope)) {
      // containers/image keeps the first table of a prefix within one file and drops the rest silently.
      r.diagnostics.push(
        (strict ? error : warning)(r.locatePath([...path]), `prefix "${scope}" is defined more than once in this file; only the first table counts`),
      );
      dropped?.push(reg);
      return;
    }
    seen.add(scope);
    conf.registries.push(reg);
  });
  return conf;
}

/**
 * The deprecated v1 tables, converted as containers/image ≤5.39 converts a v1 main file
 * (ConvertToV2): every entry loses its trailing slashes (parseLocation), blocked hosts come
 * first, then insecure ones, one table per host in that order of first mention.
 */
function readV1(data: Table, r: FieldReader): RegistriesConf {
  const v1 = r.table(data, 'registries', []) ?? {};
  const list = (key: string): Array<{ host: string; raw: string; path: DataPath }> => {
    const t = r.table(v1, key, ['registries']);
    const entries = t ? (r.stringArray(t, 'registries', ['registries', key]) ?? []) : [];
    return entries.map((raw, i) => ({ host: stripSlash(raw), raw, path: ['registries', key, 'registries', i] }));
  };
  const conf: RegistriesConf = { registries: [] };
  const search = list('search');
  if (search.length > 0) conf.unqualifiedSearchRegistries = search.map((e) => e.host);
  const tables = new Map<string, RegistryTable>();
  const table = ({ host, raw, path }: { host: string; raw: string; path: DataPath }): RegistryTable => {
    let t = tables.get(host);
    if (!t) tables.set(host, (t = { location: host, mirrors: [], origin: r.locatePath(path, raw) }));
    return t;
  };
  for (const entry of list('block')) table(entry).blocked = true;
  for (const entry of list('insecure')) table(entry).insecure = true;
  conf.registries = [...tables.values()];
  return conf;
}

export interface ParsedConf {
  readonly conf?: RegistriesConf;
  readonly diagnostics: Diagnostic[];
  /** 'v1' when the file was in the deprecated v1 format and was converted (drop-ins may not be v1). */
  readonly format?: 'v1' | 'v2';
}

/**
 * containers/image's V1RegistriesConf.Nonempty: the file is v1 only when one of the three v1
 * lists has an entry; `[registries.search] registries = []` alone is an (empty) v2 file.
 * A wrongly typed v1 key counts as v1, so that readV1 reports the type error.
 */
function isV1(data: Table): boolean {
  const v1 = data.registries;
  if (v1 === undefined) return false;
  if (!isTable(v1)) return true;
  return ['search', 'insecure', 'block'].some((key) => {
    const t = v1[key];
    if (t === undefined) return false;
    if (!isTable(t)) return true;
    const list = t.registries;
    return list !== undefined && (!Array.isArray(list) || list.length > 0);
  });
}

/**
 * containers/image 5.23's V2RegistriesConf.Nonempty: a v2 key counts beside v1 tables only when it
 * holds something (`short-name-mode = ""`, `unqualified-search-registries = []` or an empty
 * `[aliases]` leave the file v1). A value of the wrong type counts, so that its error is reported.
 * (5.24+ count a present empty list too: either way the file we render from it is v2.)
 */
function hasV2Settings(data: Table): boolean {
  return TOP_LEVEL_KEYS.some((key) => {
    const v = data[key];
    if (v === undefined || v === '') return false;
    if (Array.isArray(v)) return v.length > 0;
    return !isTable(v) || Object.keys(v).length > 0;
  });
}

/** Tables sharing a physical location must agree on insecure and blocked: the check that sees dropped duplicates too. */
function droppedConflicts(kept: readonly RegistryTable[], dropped: readonly RegistryTable[], file: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const key = (t: RegistryTable): string => t.location || (t.prefix ?? '');
  for (const d of dropped) {
    for (const other of [...kept, ...dropped]) {
      if (other === d || key(other) !== key(d)) continue;
      const flag = (['insecure', 'blocked'] as const).find((f) => (other[f] === true) !== (d[f] === true));
      if (flag) {
        out.push(error(d.origin ?? { file }, `registry '${key(d)}' is defined multiple times with conflicting '${flag}' setting`));
        break;
      }
    }
  }
  return out;
}

const MIRROR_STRUCT: StructSchema = { location: null, insecure: null, 'pull-from-mirror': null };
const V1_LIST: StructSchema = { registries: null };
/**
 * The structs containers/image decodes a file into (tomlConfig: V2RegistriesConf beside
 * V1RegistriesConf): their field names, which keys match in any case. `aliases` is a map: its
 * names are kept as written. (additional-layer-store-auth-helper is a field since 5.29.)
 */
const FILE_STRUCT: StructSchema = {
  registry: { prefix: null, location: null, insecure: null, blocked: null, 'mirror-by-digest-only': null, 'pull-from-mirror': null, mirror: MIRROR_STRUCT },
  'unqualified-search-registries': null,
  'credential-helpers': null,
  'short-name-mode': null,
  'additional-layer-store-auth-helper': null,
  aliases: null,
  registries: { search: V1_LIST, insecure: V1_LIST, block: V1_LIST },
};

/** Keys containers/image decodes into a field spelled otherwise, and two keys it decodes into one field (located by `written`, which takes paths as written). */
function spellingNotes(keys: StructKeys, written: Locator): Diagnostic[] {
  const last = (path: DataPath): string => String(path[path.length - 1]);
  const notes = keys.respelled.map((k) =>
    warning(written(k.path), `key "${last(k.path)}" is read as "${k.field}": containers/image's TOML decoder matches keys in any case`),
  );
  for (const k of keys.sameField.filter((s) => s.differ)) {
    const other = k.kept === last(k.path) ? k.other : k.kept;
    notes.push(
      warning(
        written(k.path),
        `"${last(k.path)}" and "${other}" are the same key for containers/image, which takes either value at random; "${k.kept}" is used here`,
      ),
    );
  }
  return notes;
}

/** BurntSushi/toml refuses a file with a byte that is not UTF-8 ("invalid UTF-8 byte"), whole. */
export const INVALID_UTF8 = 'invalid UTF-8 (containers/image reads UTF-8 only)';

/**
 * The line of a file's first byte that is not UTF-8; undefined when there is none. Files are read
 * as bytes for it: read as UTF-8 text, a Latin-1 byte would become U+FFFD and the file would pass.
 */
export function invalidUtf8Line(bytes: Uint8Array): number | undefined {
  if (isUtf8(bytes)) return undefined;
  let line = 1;
  for (let start = 0; start < bytes.length; line++) {
    const end = bytes.indexOf(0x0a, start);
    if (!isUtf8(bytes.subarray(start, end < 0 ? bytes.length : end))) break;
    start = end < 0 ? bytes.length : end + 1;
  }
  return line;
}

/**
 * A registries.conf (or TOML settings) file's bytes as text; an Error `FILE:LINE: invalid UTF-8`
 * when they are not UTF-8, which BurntSushi/toml refuses (read as UTF-8 text, a Latin-1 byte
 * would become U+FFFD and the file would pass, changed).
 */
export function utf8Text(bytes: Uint8Array, file: string): string {
  const line = invalidUtf8Line(bytes);
  if (line !== undefined) throw new Error(`${file}:${line}: ${INVALID_UTF8}`);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/** A registries.conf file as read: its text, or the line of its first byte that is not UTF-8 (then no text). */
export interface ConfText {
  readonly file: string;
  readonly text: string;
  readonly invalidUtf8Line?: number;
}

/** Why containers/image refuses a whole file, and where. */
export interface Refusal {
  readonly at: Location;
  readonly reason: string;
  readonly errors: readonly Diagnostic[];
}

/**
 * What makes containers/image refuse a parsed file (its first error, or, for a drop-in, the v1
 * format: drop-ins must be v2); undefined when it loads it. One rule for `resolve`'s load and
 * the warnings about the drop-ins beside our output.
 */
export function refusedFile(parsed: ParsedConf, file: string, dropIn: boolean): Refusal | undefined {
  if (dropIn && parsed.format === 'v1') return { at: { file }, reason: 'registry must be in v2 format but is in v1', errors: [] }; // containers/image's words
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0];
  if (first !== undefined) return { at: first, reason: first.message, errors };
  return parsed.conf ? undefined : { at: { file }, reason: 'cannot be parsed', errors };
}

/** A whole registries.conf file (the base): lenient about unknown keys, validated like containers/image loads it. */
export function parseRegistriesConf(text: string, file: string): ParsedConf {
  const parsed = parseTomlText(text, file);
  if (!parsed.data) return { diagnostics: parsed.diagnostics };
  const next = tomlNextSyntax(text); // smol-toml reads TOML 1.1; containers/image refuses it with the whole file
  if (next) {
    const message = `invalid TOML for containers/image: ${next.message} (TOML 1.1 syntax; containers/image reads TOML 1.0 and refuses the whole file)`;
    return { diagnostics: [error({ file, line: next.line, col: next.col }, message)] };
  }
  const keys = structKeys(parsed.data, FILE_STRUCT);
  const written = tomlLocator(text, file);
  const locate: Locator = (path, needle) => written(keys.writtenPath(path), needle);
  const r = new FieldReader(locate, spellingNotes(keys, written));
  const data = keys.data;
  if (isV1(data)) {
    if (hasV2Settings(data)) {
      return { diagnostics: [error(locate(['registries']), 'mixing sysregistry v1/v2 is not supported')], format: 'v1' };
    }
    r.warn(['registries'], 'deprecated v1 format ([registries.search], [registries.insecure], [registries.block]) converted to v2');
    const conf = readV1(data, r);
    return { conf, diagnostics: [...r.diagnostics, ...validateConf(conf, locate)], format: 'v1' };
  }
  // An empty v1 [registries] table is no error and no unknown key for containers/image.
  r.unknownKeys(data, [...TOP_LEVEL_KEYS, 'registries'], [], 'warning', 'registries.conf');
  const dropped: RegistryTable[] = [];
  const conf = readConfKeys(data, r, false, dropped);
  const diagnostics = [...r.diagnostics, ...validateConf(conf, locate), ...droppedConflicts(conf.registries, dropped, file)];
  return { conf, diagnostics, format: 'v2' };
}
