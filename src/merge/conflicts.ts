/**
 * Conflicts between fragments that OpenShift's MCO refuses (and then silently stops
 * updating registries.conf for every source). We refuse them loudly, naming both sides.
 * And one the cluster resolves by keeping one object, which a host does not: a warning.
 */
import { error, formatLocation, warning, type Diagnostic, type Location } from '../core/diagnostic.js';
import type { Fragment, MirrorSet } from '../fragments/policy.js';

/**
 * MCO: "conflicting mirrorSourcePolicy is set for the same source". An unset policy counts
 * as AllowContactingSource; ICSP entries always allow; mirror-less sets count too.
 * One error per source, at the first NeverContactSource set, naming the first allowing set.
 */
export function findSourcePolicyConflicts(sets: readonly MirrorSet[]): Diagnostic[] {
  const firstNever = new Map<string, MirrorSet>();
  for (const s of sets) if (s.sourcePolicy === 'never' && !firstNever.has(s.source)) firstNever.set(s.source, s);
  // Most policies block no source: then nothing can conflict, and the allowing sets (all of them) need no map.
  if (firstNever.size === 0) return [];
  const firstAllow = new Map<string, MirrorSet>();
  for (const s of sets) if (s.sourcePolicy !== 'never' && firstNever.has(s.source) && !firstAllow.has(s.source)) firstAllow.set(s.source, s);
  const out: Diagnostic[] = [];
  for (const [source, never] of firstNever) {
    const allow = firstAllow.get(source);
    if (!allow) continue;
    out.push({
      ...error(
        never.origin,
        `conflicting mirrorSourcePolicy for source "${source}": NeverContactSource here (${never.kind}), AllowContactingSource${allow.sourcePolicy ? '' : ' (unset)'} in ${formatLocation(allow.origin)} (${allow.kind})`,
      ),
      related: [allow.origin],
    });
  }
  return out;
}

/**
 * An OpenShift object of the same kind and name in two places (two oc-mirror runs' files kept
 * side by side, an old copy left behind): a cluster keeps one, the last applied, but this host
 * applies every file, so what the stale one says (a mirror since dropped) still holds. A warning
 * at each later definition, naming the first; the render goes on.
 */
export function findRepeatedObjects(fragments: readonly Fragment[]): Diagnostic[] {
  const first = new Map<string, Location>();
  const out: Diagnostic[] = [];
  for (const f of fragments) {
    for (const o of f.objects ?? []) {
      const earlier = first.get(o.value);
      if (earlier === undefined) {
        first.set(o.value, o.origin);
        continue;
      }
      out.push({
        ...warning(
          o.origin,
          `${o.value} is also defined at ${formatLocation(earlier)}: a cluster keeps one object of a kind and name (the last applied), this host applies both; remove the one that is out of date`,
        ),
        related: [earlier],
      });
    }
  }
  return out;
}
