/**
 * containers/image refuses a mirror whose own location falls under a blocked table: each
 * attempt looks up the table of the rewritten name (FindRegistry, the longest prefix by
 * refMatchingPrefix), and a blocked one fails it ("registry … is blocked in …"). OpenShift
 * renders such mirrors without a word (its V8 vector has two); we say it, at the mirror,
 * since no pull will ever use it.
 */
import { formatLocation, warning, type Diagnostic, type Location } from '../core/diagnostic.js';
import { registryScope, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
import { candidatePrefixes, governingTable } from '../registries-conf/governing-table.js';

/** Warnings for the mirrors of `conf` that containers/image would refuse as blocked; `skip`: tables whose mirrors were said already (inherited copies). */
export function findBlockedMirrors(conf: RegistriesConf, skip: ReadonlySet<RegistryTable> = new Set()): Diagnostic[] {
  const blocked = new Set(conf.registries.filter((t) => t.blocked).map(registryScope));
  if (blocked.size === 0) return []; // most policies: no look-up at all
  let governing: ((location: string) => RegistryTable | undefined) | undefined;
  const out: Diagnostic[] = [];
  for (const t of conf.registries) {
    if (skip.has(t)) continue;
    for (const m of t.mirrors) {
      if (!candidatePrefixes(m.location).some((p) => blocked.has(p))) continue; // the usual mirror: a few set look-ups
      const table = (governing ??= governingTable(conf))(m.location);
      if (table?.blocked !== true) continue; // a more specific table that is not blocked answers for it
      const at: Location | undefined = m.origin ?? t.origin;
      if (at === undefined) continue;
      const where = table.origin ? ` (${formatLocation(table.origin)})` : '';
      const d = warning(
        at,
        `mirror "${m.location}" of "${registryScope(t)}" is under blocked "${registryScope(table)}"${where}: containers/image refuses every pull from it`,
      );
      out.push(table.origin ? { ...d, related: [table.origin] } : d);
    }
  }
  return out;
}
