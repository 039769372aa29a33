/**
 * The table containers/image takes for a name (sysregistriesv2 FindRegistry): among the tables
 * whose prefix matches the name (refMatchingPrefix), the one with the longest prefix *text* (a
 * wildcard counts its own text, e.g. 13 for `*.example.com`); ties go to the prefix that sorts
 * first, the table containers/image meets first in its sorted list, never the order in the file.
 * The `:` boundary lets `example.com` answer for `example.com:5000/...`, a quirk upstream keeps
 * (and MCO's nesting, reference/scope.ts ScopeSet, does not share).
 *
 * Looked up by candidates rather than by a pass over every table: a name can only match the
 * prefixes it can be cut to, so a look-up costs a few map reads however many tables there are
 * (the merge asks it for every mirror near a block; 10 000 of them against 10 000 tables).
 */
import { byteOrderCompare } from '../core/byte-order.js';
import { refMatchingPrefix } from '../reference/scope.js';
import { registryScope, type RegistriesConf, type RegistryTable } from './model.js';

export interface FoundTable {
  /** The winning table's prefix (its location when it has none). */
  readonly prefix: string;
  readonly table: RegistryTable;
}

/** A look-up of the table containers/image takes for a name (`host[:port]/path`, no tag or digest), built once for `conf`; undefined when none matches. */
export function tableFinder(conf: RegistriesConf): (name: string) => FoundTable | undefined {
  const byPrefix = new Map<string, RegistryTable>();
  for (const table of conf.registries) {
    const prefix = registryScope(table);
    if (prefix !== '' && !byPrefix.has(prefix)) byPrefix.set(prefix, table);
  }
  return (name) => {
    let best: FoundTable | undefined;
    for (const prefix of candidatePrefixes(name)) {
      const table = byPrefix.get(prefix);
      if (table === undefined || refMatchingPrefix(name, prefix) === -1) continue;
      if (best === undefined || prefix.length > best.prefix.length || (prefix.length === best.prefix.length && byteOrderCompare(prefix, best.prefix) < 0))
        best = { prefix, table };
    }
    return best;
  };
}

/**
 * The blocked table containers/image refuses a name by (each attempt looks up the table of its
 * rewritten name: a mirror's location stands for every name under it), or undefined when the
 * name's table is not blocked; undefined for every name, with no look-up built, when no table
 * is blocked (most policies).
 */
export function blockedFinder(conf: RegistriesConf): (name: string) => FoundTable | undefined {
  if (!conf.registries.some((t) => t.blocked === true)) return () => undefined;
  const find = tableFinder(conf);
  return (name) => {
    const found = find(name);
    return found?.table.blocked === true ? found : undefined;
  };
}

/**
 * Every prefix refMatchingPrefix could match for `name`: the name itself, the name cut at each
 * '/', ':' or '@', and `*` + each '.'-suffix of its host. A superset, checked by the caller.
 */
function candidatePrefixes(name: string): string[] {
  const out = [name];
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '/' || c === ':' || c === '@') out.push(name.slice(0, i));
  }
  const end = name.search(/[/:@]/);
  const host = end < 0 ? name : name.slice(0, end);
  for (let dot = host.indexOf('.'); dot > 0; dot = host.indexOf('.', dot + 1)) out.push(`*${host.slice(dot)}`);
  return out;
}
