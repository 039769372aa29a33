/**
 * containers/image reads registries.conf.d drop-ins after the main file, and a drop-in's
 * table replaces the main file's table for the same prefix whole. A drop-in defining a
 * prefix we manage silently overrides our render: warn about it. So does one nested in a
 * scope of ours that has mirrors or a block: containers/image takes the longest matching
 * prefix (governing-table.ts: `docker.io` answers for `docker.io:5000` too), so names under
 * it get the drop-in's table and lose our mirrors, block or insecure flag. And a drop-in
 * containers/image refuses (not TOML 1.0, not UTF-8, a value it rejects, the v1 format) fails
 * every pull on the host, ours included: said too.
 */
import { warning, type Diagnostic, type Location } from '../core/diagnostic.js';
import { registryScope, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
import { INVALID_UTF8, parseRegistriesConf, refusedFile, type ConfText } from '../registries-conf/parse.js';
import { tableFinder } from '../registries-conf/governing-table.js';

export function findShadowing(conf: RegistriesConf, dropIns: readonly ConfText[]): Diagnostic[] {
  const ours = new Map<string, RegistryTable>();
  for (const t of conf.registries) if (!ours.has(registryScope(t))) ours.set(registryScope(t), t);
  const find = tableFinder(conf);
  const out: Diagnostic[] = [];
  for (const d of dropIns) {
    if (d.invalidUtf8Line !== undefined) {
      out.push(refusedDropIn({ file: d.file, line: d.invalidUtf8Line, col: 1 }, INVALID_UTF8));
      continue;
    }
    const parsed = parseRegistriesConf(d.text, d.file);
    const refused = refusedFile(parsed, d.file, true);
    if (refused !== undefined) {
      out.push(refusedDropIn(refused.at, refused.reason));
      continue;
    }
    if (parsed.conf) out.push(...overriddenKeys(conf, parsed.conf, d));
    for (const t of parsed.conf?.registries ?? []) {
      const scope = registryScope(t);
      const at = t.origin ?? { file: d.file };
      if (ours.has(scope)) {
        out.push(
          warning(
            at,
            `this drop-in defines prefix "${scope}", which the rendered registries.conf manages; containers/image uses this table instead of ours, whole`,
          ),
        );
        continue;
      }
      // The table of ours containers/image would take for these names without the drop-in (anything it says is lost).
      const around = find(scope);
      const lost = around === undefined ? undefined : lostBelow(around.table);
      if (around === undefined || lost === undefined) continue;
      out.push(
        warning(
          at,
          `this drop-in defines prefix "${scope}" inside "${around.prefix}", which the rendered registries.conf manages; containers/image uses this table for names under "${scope}", without our ${lost} (unless it says the same)`,
        ),
      );
    }
  }
  return out;
}

const TOP_LEVEL_KEYS = [
  ['unqualifiedSearchRegistries', 'unqualified-search-registries'],
  ['shortNameMode', 'short-name-mode'],
  ['credentialHelpers', 'credential-helpers'],
  ['additionalLayerStoreAuthHelper', 'additional-layer-store-auth-helper'],
] as const;

/**
 * Top-level keys and aliases the drop-in sets to another value than the render: containers/image
 * takes a later file's value whole (layer.ts), so ours is not what the host uses (an Image's
 * containerRuntimeSearchRegistries, say, which MCO writes as a drop-in of its own so that it wins).
 */
function overriddenKeys(conf: RegistriesConf, dropIn: RegistriesConf, d: ConfText): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const [field, key] of TOP_LEVEL_KEYS) {
    const ours = conf[field];
    const theirs = dropIn[field];
    if (ours === undefined || theirs === undefined || JSON.stringify(ours) === JSON.stringify(theirs)) continue;
    out.push(warning(lineOf(d, key), `this drop-in sets ${key}, which the rendered registries.conf sets too; containers/image uses the drop-in's value`));
  }
  for (const [name, value] of Object.entries(dropIn.aliases ?? {})) {
    const ours = conf.aliases?.[name];
    if (ours === undefined || ours === value) continue;
    out.push(
      warning(
        lineOf(d, name),
        `this drop-in sets the alias "${name}", which the rendered registries.conf sets to "${ours}"; containers/image uses the drop-in's`,
      ),
    );
  }
  return out;
}

/** Where `key` is first written in the drop-in (keys match case-insensitively, as containers/image reads them); the file alone when not found. */
function lineOf(d: ConfText, key: string): Location {
  const escaped = key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const line = d.text.split('\n').findIndex((l) => new RegExp(`^\\s*"?${escaped}"?\\s*=`, 'i').test(l));
  return line < 0 ? { file: d.file } : { file: d.file, line: line + 1, col: 1 };
}

/** What names under a nested table of someone else's would lose of `t`: undefined when nothing. */
function lostBelow(t: RegistryTable): string | undefined {
  const lost = [t.mirrors.length > 0 ? 'mirrors' : '', t.blocked ? 'block' : '', t.insecure ? 'insecure flag' : ''].filter((x) => x !== '');
  return lost.length === 0 ? undefined : lost.join(', ');
}

function refusedDropIn(at: Location, reason: string): Diagnostic {
  return warning(
    { file: at.file, ...(at.line !== undefined && { line: at.line }), ...(at.col !== undefined && { col: at.col }) },
    `containers/image refuses this drop-in, so every pull on this host fails until it is mended or removed: ${reason}`,
  );
}
