/**
 * registries.d (containers-registries.d(5)) for the pulls the local mirror serves, pure.
 * containers/image looks its registries.d settings up by the registry it pulls from
 * (docker/registries_d.go, by the physical reference): through the endpoint that is the
 * endpoint, so a `use-sigstore-attachments: true` keyed on a table's source or mirror (as an
 * operator, or OpenShift's MCO for an image policy, writes it) no longer applies, and images
 * whose signatures were verified fail their policy ("a signature was required"). The drop-in
 * rendered here carries the setting over to the endpoint's namespace of each such table. The
 * operator's own settings win: a table whose endpoint namespace they already cover (a key at or
 * above it, or `default-docker` saying true) gets nothing, and no key is ever defined twice
 * (containers/image refuses every pull then).
 */
import { parse } from 'yaml';
import { stampedHeader } from '../registries-conf/render.js';
import { byteOrderCompare } from '../core/byte-order.js';
import { registryScope, type RegistriesConf } from '../registries-conf/model.js';
import { nameAndParents, registryHostOf } from '../reference/scope.js';
import { localMirrorLocation } from './mapping.js';

export interface RegistriesDFile {
  readonly file: string;
  readonly text: string;
}

/** `use-sigstore-attachments` of each `docker` key, and of `default-docker`, where set. */
export interface SigstoreSettings {
  readonly byScope: ReadonlyMap<string, boolean | undefined>;
  readonly byDefault?: boolean;
}

function attachmentsOf(ns: unknown): boolean | undefined {
  const v = typeof ns === 'object' && ns !== null ? (ns as Record<string, unknown>)['use-sigstore-attachments'] : undefined;
  return typeof v === 'boolean' ? v : undefined;
}

/** The settings of the files containers/image reads (`*.yaml`); a file that does not parse is left out (containers/image would refuse it, and name it). */
export function sigstoreSettings(files: readonly RegistriesDFile[]): SigstoreSettings {
  const byScope = new Map<string, boolean | undefined>();
  let byDefault: boolean | undefined;
  for (const { text } of files) {
    let doc: unknown;
    try {
      doc = parse(text, { version: '1.1' }); // containers/image reads it with go-yaml v2: `yes` is true there
    } catch {
      continue;
    }
    if (typeof doc !== 'object' || doc === null) continue;
    const { docker, 'default-docker': defaults } = doc as Record<string, unknown>;
    byDefault ??= attachmentsOf(defaults);
    if (typeof docker === 'object' && docker !== null)
      for (const [scope, ns] of Object.entries(docker as Record<string, unknown>)) byScope.set(scope, attachmentsOf(ns));
  }
  return { byScope, ...(byDefault !== undefined ? { byDefault } : {}) };
}

/** containers/image's namespaces of a repository name, most specific first: the name, its parents, the host, then `*.domain` forms of the host. */
export function policyNamespaces(name: string): string[] {
  const out = nameAndParents(name);
  const hostPort = registryHostOf(name);
  let host = hostPort.includes(':') ? hostPort.slice(0, hostPort.indexOf(':')) : hostPort;
  for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.')) {
    host = host.slice(dot + 1);
    out.push(`*.${host}`);
  }
  return out;
}

/** What containers/image decides for a repository named `name`: the most specific key that sets it, else `default-docker`. */
function decided(s: SigstoreSettings, name: string): boolean | undefined {
  for (const ns of policyNamespaces(name)) {
    const v = s.byScope.get(ns);
    if (v !== undefined) return v;
  }
  return s.byDefault;
}

/** Whether pulls from `location` (and the repositories under it) read sigstore attachments for some name. */
function readsAttachments(s: SigstoreSettings, location: string): boolean {
  if (decided(s, location) === true) return true;
  for (const [scope, v] of s.byScope) if (v === true && scope.startsWith(`${location}/`)) return true;
  return false;
}

/**
 * Whether the operator's settings already speak for the endpoint's namespace `location`: a key
 * at or above it (whatever it sets: theirs, and never defined twice), or `default-docker` reading
 * attachments everywhere. A default of false does not: their key for a mirror is more specific.
 */
function covered(s: SigstoreSettings, location: string): boolean {
  return policyNamespaces(location).some((ns) => s.byScope.has(ns)) || s.byDefault === true;
}

/**
 * The endpoint namespaces (`<address>/mirror-policyd/<hex>`) that need
 * `use-sigstore-attachments: true`: those of the tables listing the endpoint whose source or
 * another mirror reads attachments, which nothing of the operator's covers. Sorted.
 */
export function endpointAttachmentScopes(conf: RegistriesConf, address: string, s: SigstoreSettings): string[] {
  const out: string[] = [];
  for (const t of conf.registries) {
    const endpoint = localMirrorLocation(address, registryScope(t));
    if (!t.mirrors.some((m) => m.location === endpoint) || covered(s, endpoint)) continue;
    const others = [...t.mirrors.filter((m) => m.location !== endpoint).map((m) => m.location), ...(t.location ? [t.location] : [])];
    if (others.some((l) => readsAttachments(s, l))) out.push(endpoint);
  }
  return [...new Set(out)].sort(byteOrderCompare);
}

/** The drop-in for `scopes` (our header and digest, as registries.conf's), or undefined when there is none. */
export function renderRegistriesD(scopes: readonly string[], version?: string): string | undefined {
  if (scopes.length === 0) return undefined;
  const body = `docker:\n${scopes.map((s) => `  ${JSON.stringify(s)}:\n    use-sigstore-attachments: true\n`).join('')}`;
  const comments = [
    '# for the local mirror: containers/image reads sigstore attachments through it as it would from',
    "# the tables' sources and mirrors (their registries.d settings are keyed on those).",
  ];
  return `${stampedHeader(version, comments, body)}\n${body}`;
}
