/**
 * containers/image reads registries.conf.d drop-ins after the main file, and a drop-in's
 * table replaces the main file's table for the same prefix whole. A drop-in defining a
 * prefix we manage silently overrides our render: warn about it.
 */
import { warning, type Diagnostic } from '../core/diagnostic.js';
import { registryScope, type RegistriesConf } from '../registries-conf/model.js';
import { parseRegistriesConf } from '../registries-conf/parse.js';
import type { SourceText } from '../pipeline/strict.js';

export function findShadowing(conf: RegistriesConf, dropIns: readonly SourceText[]): Diagnostic[] {
  const ours = new Set(conf.registries.map(registryScope));
  const out: Diagnostic[] = [];
  for (const d of dropIns) {
    const parsed = parseRegistriesConf(d.text, d.file);
    for (const t of parsed.conf?.registries ?? []) {
      const scope = registryScope(t);
      if (ours.has(scope)) {
        out.push(
          warning(
            t.origin ?? { file: d.file },
            `this drop-in defines prefix "${scope}", which the rendered registries.conf manages; containers/image uses this table instead of ours, whole`,
          ),
        );
      }
    }
  }
  return out;
}
