/**
 * Conflicts between fragments that OpenShift's MCO refuses (and then silently stops
 * updating registries.conf for every source). We refuse them loudly, naming both sides.
 */
import { error, formatLocation, type Diagnostic } from '../core/diagnostic.js';
import type { MirrorSet } from '../fragments/policy.js';

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
