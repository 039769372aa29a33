/**
 * An OpenShift Image's `blockedRegistries` does two things on a node (MCO's
 * updateRegistriesConfig and updatePolicyJSON): `blocked = true` tables in registries.conf, which
 * keep their mirrors, and a `reject` requirement per entry in policy.json, which containers/image
 * checks against the name asked for, not the mirror it came from. So a blocked source is not
 * pulled there, mirrors or not (only the release payload's repository is left out of policy.json).
 * We write registries.conf alone: a blocked scope whose table has mirrors (its own mirror set's, or
 * inherited) is pulled from them on this host. Said at the entry, with the way to say "mirrors
 * only" (NeverContactSource). Native TOML `blocked-registries` means the registries.conf block
 * alone, and gets no warning.
 */
import { warning, type Diagnostic } from '../core/diagnostic.js';
import type { Fragment } from '../fragments/policy.js';
import { ScopeSet } from '../reference/scope.js';
import { registryScope, type RegistriesConf } from '../registries-conf/model.js';

/** Warnings for the Image `blockedRegistries` entries under which `conf` has a table with mirrors. */
export function findImageBlockedWithMirrors(fragments: readonly Fragment[], conf: RegistriesConf): Diagnostic[] {
  // The OpenShift fragments (YAML, JSON) are the ones with objects; a TOML fragment's blocked list is native.
  const entries = fragments.flatMap((f) => (f.objects !== undefined ? f.blocked : []));
  if (entries.length === 0) return [];
  const scopes = new ScopeSet(entries.map((e) => e.value));
  const mirroredUnder = new Map<string, string>(); // entry → the first mirrored table under it
  for (const t of conf.registries) {
    if (t.mirrors.length === 0) continue;
    const scope = registryScope(t);
    for (const entry of scopes.enclosing(scope)) if (!mirroredUnder.has(entry)) mirroredUnder.set(entry, scope);
  }
  const said = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of entries) {
    const scope = mirroredUnder.get(e.value);
    if (scope === undefined || said.has(e.value)) continue;
    said.add(e.value);
    out.push(
      warning(
        e.origin,
        `blockedRegistries "${e.value}": "${scope}" has mirrors, and this host pulls its images from them (registries.conf keeps a blocked source's mirrors); ` +
          'OpenShift also rejects every image under a blocked entry by name in policy.json, mirrors or not. For "from the mirrors only", ' +
          'set mirrorSourcePolicy: NeverContactSource on the mirror set instead',
      ),
    );
  }
  return out;
}
