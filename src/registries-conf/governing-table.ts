/**
 * The table containers/image takes for a name (sysregistriesv2 FindRegistry): the longest
 * prefix that refMatchingPrefix matches, the first in table order between equally long ones.
 * Its `:` boundary lets `example.com` answer for `example.com:5000/...`, a quirk upstream keeps
 * (and MCO's nesting, reference/scope.ts ScopeSet, does not share).
 */
import { refMatchingPrefix } from '../reference/scope.js';
import { registryScope, type RegistriesConf, type RegistryTable } from './model.js';

/**
 * Every prefix refMatchingPrefix could match for a name below `location`: the location cut at
 * each '/', ':' or '@', and `*` + each '.'-suffix of its host. A superset, checked by the caller.
 */
export function candidatePrefixes(location: string): string[] {
  const out = [location];
  for (let i = 0; i < location.length; i++) {
    const c = location[i];
    if (c === '/' || c === ':' || c === '@') out.push(location.slice(0, i));
  }
  const end = location.search(/[/:@]/);
  const host = end < 0 ? location : location.slice(0, end);
  for (let dot = host.indexOf('.'); dot > 0; dot = host.indexOf('.', dot + 1)) out.push(`*${host.slice(dot)}`);
  return out;
}

/** A look-up of the table containers/image takes for names under a location (`location/...`), built once for `conf`. */
export function governingTable(conf: RegistriesConf): (location: string) => RegistryTable | undefined {
  const first = new Map<string, { table: RegistryTable; index: number }>();
  conf.registries.forEach((table, index) => first.has(registryScope(table)) || first.set(registryScope(table), { table, index }));
  return (location) => {
    const name = `${location}/x`;
    let best: { table: RegistryTable; index: number; length: number } | undefined;
    for (const prefix of candidatePrefixes(location)) {
      const hit = first.get(prefix);
      if (hit === undefined || refMatchingPrefix(name, prefix) < 0) continue;
      if (best === undefined || prefix.length > best.length || (prefix.length === best.length && hit.index < best.index))
        best = { ...hit, length: prefix.length };
    }
    return best?.table;
  };
}
