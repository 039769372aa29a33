/**
 * Native TOML fragments: `[[mirror-set]]` tables, `insecure-registries` and
 * `blocked-registries` lists, and any registries.conf v2 content. The format is
 * documented key by key in docs/policy-formats.md ("Native TOML fragments").
 */
import { didYouMean, FieldReader, isTable, misplacedTopLevelKey, type Table } from '../core/field-reader.js';
import type { Location } from '../core/diagnostic.js';
import { type Fragment, type Located, type MirrorMode, type MirrorSet, type ParsedFragment, validateMirrorSet, validateScope } from './policy.js';
import { parseTomlText, readConfKeys, tomlLocator, TOP_LEVEL_KEYS } from '../registries-conf/parse.js';
import { validateConf } from '../registries-conf/validate.js';
import { contributesNothing } from './contribution.js';

export const FRAGMENT_KEYS = ['mirror-set', 'insecure-registries', 'blocked-registries', ...TOP_LEVEL_KEYS];
const MIRROR_SET_KEYS = ['source', 'mirrors', 'pull-from-mirror', 'source-policy'];
const MODES: readonly string[] = ['digest-only', 'tag-only', 'all'];
const POLICIES: readonly string[] = ['allow', 'never'];

/** The [[mirror-set]] tables. `[mirror-set]` (one pair of brackets) makes a plain table instead: the usual slip, said so. */
function mirrorSetTables(data: Table, r: FieldReader): Table[] {
  if (!isTable(data['mirror-set'])) return r.tables(data, 'mirror-set', []);
  r.error(['mirror-set'], '"mirror-set" must be an array of tables, not a table: write each mirror set under [[mirror-set]] (two brackets)');
  return [];
}

export function parseTomlFragment(text: string, file: string): ParsedFragment {
  const parsed = parseTomlText(text, file);
  if (!parsed.data) return { diagnostics: parsed.diagnostics };
  const data = parsed.data;
  const locate = tomlLocator(text, file);
  const r = new FieldReader(locate);
  r.unknownKeys(data, FRAGMENT_KEYS, [], 'error', 'a policy fragment', (k) => didYouMean(k, FRAGMENT_KEYS));
  if ('registries' in data) r.error(['registries'], 'the v1 format ([registries.search] ...) is not accepted in fragments; use registries.conf v2 keys');

  const mirrorSets: MirrorSet[] = [];
  mirrorSetTables(data, r).forEach((t, i) => {
    const path = ['mirror-set', i];
    r.unknownKeys(t, MIRROR_SET_KEYS, path, 'error', '[[mirror-set]]', (k) => misplacedTopLevelKey(k, FRAGMENT_KEYS) || didYouMean(k, MIRROR_SET_KEYS));
    const source = r.string(t, 'source', path);
    const mirrors = r.stringArray(t, 'mirrors', path) ?? [];
    const mode = r.string(t, 'pull-from-mirror', path) ?? 'digest-only';
    const policy = r.string(t, 'source-policy', path);
    if (source === undefined) {
      r.error(path, '[[mirror-set]] needs a "source"');
      return;
    }
    if (!MODES.includes(mode)) r.error([...path, 'pull-from-mirror'], `"pull-from-mirror" must be one of ${MODES.join(', ')}, not "${mode}"`, mode);
    if (policy !== undefined && !POLICIES.includes(policy))
      r.error([...path, 'source-policy'], `"source-policy" must be "allow" or "never", not "${policy}"`, policy);
    const mirrorsPath = ['mirror-set', i, 'mirrors'];
    const set: MirrorSet = {
      source,
      mirrors,
      mode: (MODES.includes(mode) ? mode : 'digest-only') as MirrorMode,
      kind: 'mirror-set',
      // Paths written out, not spread: each lives on in its lazy location, and a spread array keeps room for 17.
      origin: locate(['mirror-set', i, 'source'], source),
      mirrorOrigins: mirrors.map((m) => locate(mirrorsPath, m)),
      ...(policy === 'allow' || policy === 'never' ? { sourcePolicy: policy } : {}),
    };
    r.diagnostics.push(...validateMirrorSet(set, (needle) => locate(['mirror-set', i, needle === source ? 'source' : 'mirrors'], needle)));
    mirrorSets.push(set);
  });

  const scopes = (key: 'insecure-registries' | 'blocked-registries', kind: 'insecure' | 'blocked'): Located<string>[] =>
    (r.stringArray(data, key, []) ?? []).map((value, i) => {
      const origin = locate([key, i], value);
      r.diagnostics.push(...validateScope(kind, value, origin));
      return { value, origin };
    });
  const insecure = scopes('insecure-registries', 'insecure');
  const blocked = scopes('blocked-registries', 'blocked');

  let conf: ReturnType<typeof readConfKeys>;
  try {
    conf = readConfKeys(data, r, true);
  } catch (e) {
    // readConfKeys can trip over a value of the wrong type in a message of its own (a [[registry]] whose
    // location is a table, found by the fuzzer): an error at the tables, never an exception.
    r.error(['registry'], `[[registry]] tables cannot be read: ${(e as Error).message}`);
    conf = { registries: [] };
  }
  const confOrigins: Record<string, Location> = {};
  for (const key of TOP_LEVEL_KEYS) if (key in data && key !== 'registry') confOrigins[key] = locate([key]);
  for (const [name] of Object.entries(conf.aliases ?? {})) confOrigins[`aliases.${name}`] = locate(['aliases', name]);

  const diagnostics = [...r.diagnostics, ...validateConf(conf, locate)];
  const fragment: Fragment = { file, mirrorSets, insecure, blocked, conf, confOrigins };
  return { fragment, diagnostics: [...diagnostics, ...contributesNothing(fragment, diagnostics)] };
}
