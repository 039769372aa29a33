/**
 * containers/image refuses a mirror whose own location falls under a blocked table: each
 * attempt looks up the table of the rewritten name (FindRegistry, the longest prefix by
 * refMatchingPrefix), and a blocked one fails it ("registry … is blocked in …"). OpenShift
 * renders such mirrors without a word (its V8 vector has two); we say it, at the mirror,
 * since no pull will ever use it.
 */
import { formatLocation, warning, type Diagnostic, type Location } from '../core/diagnostic.js';
import { registryScope, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
import { blockedFinder } from '../registries-conf/governing-table.js';

/** Warnings for the mirrors of `conf` that containers/image would refuse as blocked; `skip`: tables whose mirrors were said already (inherited copies). */
export function findBlockedMirrors(conf: RegistriesConf, skip: ReadonlySet<RegistryTable> = new Set()): Diagnostic[] {
  if (!conf.registries.some((t) => t.blocked === true)) return []; // most policies: no look-up at all
  const blockedBy = blockedFinder(conf);
  const out: Diagnostic[] = [];
  for (const t of conf.registries) {
    if (skip.has(t)) continue;
    for (const m of t.mirrors) {
      // Names under the mirror's location: the location itself stands for them (refMatchingPrefix matches it as it does them).
      const table = blockedBy(m.location)?.table;
      if (table === undefined) continue;
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
