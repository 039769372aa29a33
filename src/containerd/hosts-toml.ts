/**
 * containerd's registry hosts (`certs.d/<host>/hosts.toml`, issue #16) from the merged
 * registries.conf, pure. containerd keys its configuration by registry host and tries the
 * `[host."…"]` entries in file order, then `server`; it can say which entries may resolve tags
 * (`capabilities`) and where a mirror's API root is (`override_path`), and nothing else. So:
 *
 * - a table whose scope is a whole registry (`quay.io`, `registry:5000`), not rewritten to
 *   another location, not blocked, becomes `server` plus its mirrors in order;
 * - a mirror the table uses for digest and tag pulls gets `["pull", "resolve"]`, one used for
 *   digest pulls only `["pull"]` (containerd resolves a digest reference with `pull` hosts too);
 *   a tag-only mirror cannot be expressed (containerd would use it for digests) and is left out;
 * - a mirror with a path (`mirror.example/quay`) is `https://mirror.example/v2/quay` with
 *   `override_path = true`: containerd then asks `/v2/quay/<repository>/…` as containers/image does;
 * - an insecure endpoint (containers/image: https without verification, then plain http)
 *   becomes the https entry with `skip_verify = true` followed by the http one.
 *
 * - the certificates containerd or containers/image use for a host (src/containerd/tls-files.ts,
 *   given here as paths) are named: `ca` and `client`, at the top for `server`, in each entry for
 *   a mirror — a hosts.toml turns off containerd's own reading of the directory's files.
 *
 * What containerd cannot express — a namespace-scoped or wildcard source, a source rewritten
 * to another location, a blocked source (NeverContactSource: containerd always falls back to
 * `server`) — is left out of hosts.toml with a warning naming the fragment and line.
 */
import { warning, type Diagnostic } from '../core/diagnostic.js';
import { byteOrderCompare } from '../core/byte-order.js';
import { registryScope, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
import { keptMirrors } from '../sources/sources.js';
import { tomlString, tomlStringArray } from '../toml/syntax.js';

export interface HostsFile {
  /** The registry host (and port) the directory is named after: `certs.d/<host>/hosts.toml`. */
  readonly host: string;
  readonly text: string;
}

/** The certificate files a host's entries name (absolute paths). */
export interface HostTlsFiles {
  readonly ca: readonly string[];
  /** [certificate, key] pairs. */
  readonly client: ReadonlyArray<readonly [string, string]>;
}

export interface HostsRenderOptions {
  /** host[:port] → its certificate files (tls-files.ts); hosts without any are absent. */
  readonly tls?: ReadonlyMap<string, HostTlsFiles>;
}

export interface HostsRender {
  /** In byte order of the host names. */
  readonly files: HostsFile[];
  readonly warnings: Diagnostic[];
}

/** containerd's name for Docker Hub's API host (its default for docker.io). */
const DOCKER_HUB_SERVER = 'https://registry-1.docker.io';

/** Marks the files we write; a hosts.toml without it is someone else's. */
export const HOSTS_TOML_HEADER = '# Written by mirror-policyd from the mirror policy; do not edit: changes are overwritten.\n';

/** Why a table cannot be written for containerd, or undefined when it can. */
function whyNot(t: RegistryTable): string | undefined {
  const scope = registryScope(t);
  if (scope.startsWith('*.')) return 'a wildcard source';
  if (scope.includes('/')) return `a namespace-scoped source (${scope}): its mirrors are per registry host`;
  if (t.location !== scope) return `a source rewritten to another location (${t.location})`;
  if (t.blocked) return 'a blocked source (NeverContactSource): it always falls back to the registry itself';
  return undefined;
}

/** The `[host."…"]` URLs of an endpoint: https (unverified when insecure), then plain http when insecure. */
function hostUrls(location: string, insecure: boolean): Array<{ url: string; overridePath: boolean; skipVerify: boolean }> {
  const host = hostOf(location);
  const path = location.length > host.length ? `/v2${location.slice(host.length)}` : '';
  const entry = (scheme: string, skipVerify: boolean) => ({ url: `${scheme}://${host}${path}`, overridePath: path !== '', skipVerify });
  return insecure ? [entry('https', true), entry('http', false)] : [entry('https', false)];
}

/** `ca = [...]` and `client = [[cert, key], ...]` lines for an https endpoint with certificate files. */
function tlsLines(files: HostTlsFiles | undefined, indent: string): string[] {
  if (!files) return [];
  const lines: string[] = [];
  if (files.ca.length > 0) lines.push(`${indent}ca = ${tomlStringArray(files.ca)}`);
  if (files.client.length > 0) lines.push(`${indent}client = [${files.client.map((pair) => tomlStringArray(pair)).join(', ')}]`);
  return lines;
}

function hostTable(url: string, capabilities: readonly string[], overridePath: boolean, skipVerify: boolean, tls?: HostTlsFiles): string {
  const lines = [`[host.${tomlString(url)}]`, `  capabilities = ${tomlStringArray(capabilities)}`];
  if (skipVerify) lines.push('  skip_verify = true');
  else if (url.startsWith('https:')) lines.push(...tlsLines(tls, '  '));
  if (overridePath) lines.push('  override_path = true');
  return `${lines.join('\n')}\n`;
}

/** host[:port] of a location. */
function hostOf(location: string): string {
  const slash = location.indexOf('/');
  return slash < 0 ? location : location.slice(0, slash);
}

/** Every host a hosts.toml of `conf` may name: the registries with mirrors and their mirrors (for tls-files.ts). */
export function endpointHosts(conf: RegistriesConf): string[] {
  const hosts = new Set<string>();
  for (const t of conf.registries) {
    if (t.mirrors.length === 0 || whyNot(t) !== undefined) continue;
    hosts.add(registryScope(t));
    for (const m of t.mirrors) hosts.add(hostOf(m.location));
  }
  return [...hosts].sort(byteOrderCompare);
}

/** One registry's hosts.toml, and what of its table was left out. */
function renderTable(t: RegistryTable, warnings: Diagnostic[], tls: ReadonlyMap<string, HostTlsFiles>): HostsFile {
  const host = registryScope(t);
  const digest = new Set(keptMirrors(t, true));
  const tag = new Set(keptMirrors(t, false));
  const parts: string[] = [HOSTS_TOML_HEADER, `server = ${tomlString(host === 'docker.io' ? DOCKER_HUB_SERVER : `https://${host}`)}\n`];
  if (t.insecure) parts.push('skip_verify = true\n');
  else parts.push(...tlsLines(tls.get(host), '').map((l) => `${l}\n`));
  for (const m of t.mirrors) {
    if (!digest.has(m) && tag.has(m)) {
      warnings.push(
        warning(
          m.origin ?? t.origin ?? { file: host },
          `containerd cannot express a tag-only mirror (${m.location} of ${host}: it would use it for digest pulls too); left out of its hosts.toml`,
        ),
      );
      continue;
    }
    if (!digest.has(m)) continue;
    const capabilities = tag.has(m) ? ['pull', 'resolve'] : ['pull'];
    for (const u of hostUrls(m.location, m.insecure === true))
      parts.push('\n', hostTable(u.url, capabilities, u.overridePath, u.skipVerify, tls.get(hostOf(m.location))));
  }
  // An insecure source: its plain-http form after the mirrors, before `server` (https, unverified).
  if (t.insecure) parts.push('\n', hostTable(`http://${host}`, ['pull', 'resolve'], false, false));
  return { host, text: parts.join('') };
}

/** Every registry of `conf` with mirrors, as containerd's hosts.toml files, and what could not be expressed. */
export function renderHostsTomls(conf: RegistriesConf, options: HostsRenderOptions = {}): HostsRender {
  const tls = options.tls ?? new Map<string, HostTlsFiles>();
  const warnings: Diagnostic[] = [];
  const files: HostsFile[] = [];
  for (const t of conf.registries) {
    if (t.mirrors.length === 0 && !t.blocked) continue; // nothing to say beyond containerd's default
    const why = whyNot(t);
    if (why !== undefined) {
      warnings.push(
        warning(
          t.origin ?? { file: registryScope(t) },
          `containerd cannot express ${why}; [[registry]] "${registryScope(t)}" is left out of its hosts directory`,
        ),
      );
      continue;
    }
    files.push(renderTable(t, warnings, tls));
  }
  files.sort((a, b) => byteOrderCompare(a.host, b.host));
  return { files, warnings };
}
