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
 *   a mirror listed again (digest-only and tag-only copies) is one entry doing what its copies do;
 * - a mirror with a path (`mirror.example/quay`) is `https://mirror.example/v2/quay` with
 *   `override_path = true`: containerd then asks `/v2/quay/<repository>/…` as containers/image does;
 * - an insecure endpoint (containers/image: https without verification, then plain http)
 *   becomes the https entry with `skip_verify = true` followed by the http one (an insecure
 *   source: its https entry last, plain http as `server`);
 * - the certificates containerd or containers/image use for a host (tls-files.ts, given here
 *   as paths) are named: `ca` and `client`, at the top for `server`, in each https entry for a
 *   mirror — a hosts.toml turns off containerd's own reading of the directory's files.
 *
 * What containerd cannot express — a namespace-scoped or wildcard source, a source rewritten
 * to another location, a blocked source (NeverContactSource: containerd always falls back to
 * `server`) — is left out of hosts.toml with a warning naming the fragment and line.
 *
 * With the local mirror on (issue #14; `localMirror`: its address), every hosts.toml lists the
 * endpoint FIRST, at `http://ADDRESS/v2/mirror-policyd/<hex of the registry host>` with
 * `override_path` (mapping.ts maps that path back to the registry host, whatever table the
 * name falls under, and serves the pull from the sources containers/image would use): the same
 * "resolver in front, configured mirrors behind it" rule as registries.conf. A per-host path,
 * not containerd's `ns` query parameter: it works whether or not containerd sends `ns`, and
 * `server` can name it too. So what containerd cannot express is routed through it by registry
 * host instead of left out (only wildcard sources stay out: they name no host directory):
 *
 * - a namespace-scoped source: the endpoint first, then the registry-level table's own
 *   mirrors (if it has an expressible one), then `server` = the registry;
 * - a source rewritten to another location: `server` is that location (where containers/image
 *   would pull from), never the registry it replaces;
 * - a blocked source anywhere under the host, or a namespace under it rewritten to another
 *   location: `server` is the endpoint too, and the registry's own mirrors are not listed, so
 *   containerd's fallback after the `[host."…"]` entries cannot reach the blocked registry, nor
 *   the registry a rewrite replaces (the endpoint asks neither); with the endpoint down, such
 *   pulls fail rather than break the block or the rewrite (closedHosts).
 *
 * A mirror containers/image refuses as blocked (its location under a blocked table) is never
 * listed: containerd would ask it.
 */
import { warning, type Diagnostic, type Location } from '../core/diagnostic.js';
import { byteOrderCompare } from '../core/byte-order.js';
import { containerdRoutedHosts, localMirrorPath } from '../local-mirror/mapping.js';
import { refMatchingPrefix, registryHostOf } from '../reference/scope.js';
import { blockedFinder } from '../registries-conf/governing-table.js';
import { withoutLocalMirror } from '../local-mirror/render.js';
import { isRewritten, registryScope, type Endpoint, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
import { keptMirrors } from '../sources/sources.js';
import { tomlString, tomlStringArray } from '../toml/syntax.js';
import { apiHost } from '../registry/api-host.js';

export interface HostsFile {
  /** The registry host (and port) the directory is named after: `certs.d/<host>/hosts.toml`. */
  readonly host: string;
  readonly text: string;
}

/** A table containerd cannot express that its registry host's hosts.toml sends through the local mirror. */
export interface RoutedTable {
  readonly prefix: string;
  readonly at: Location;
  /** What containerd could not express of it. */
  readonly why: string;
}

export interface HostsRender {
  /** In byte order of the host names. */
  readonly files: HostsFile[];
  /** What is left out or cannot be served faithfully. */
  readonly warnings: Diagnostic[];
  /** With the local mirror on: the tables it carries for containerd (nothing lost; for the log and `check`). */
  readonly routed: RoutedTable[];
}

/** The certificate files a host's entries name (absolute paths). */
export interface HostTlsFiles {
  readonly ca: readonly string[];
  /** [certificate, key] pairs. */
  readonly client: ReadonlyArray<readonly [string, string]>;
}

export type TlsFiles = ReadonlyMap<string, HostTlsFiles>;

export interface HostsRenderOptions {
  /** host:port of the listening local mirror (as registries.conf names it); absent: off. */
  readonly localMirror?: string;
  /** host[:port] → its certificate files (tls-files.ts); hosts without any are absent. */
  readonly tls?: TlsFiles;
}

/** Marks the files we write; a hosts.toml without it is someone else's. */
export const HOSTS_TOML_HEADER = '# Written by mirror-policyd from the mirror policy; do not edit: changes are overwritten.\n';

const PULL_AND_RESOLVE = ['pull', 'resolve'];

/** Why a table cannot be written for containerd, or undefined when it can. */
function whyNot(t: RegistryTable): string | undefined {
  const scope = registryScope(t);
  if (scope.startsWith('*.')) return 'a wildcard source';
  if (scope.includes('/')) return `a namespace-scoped source (${scope}): its mirrors are per registry host`;
  if (t.location !== scope) return `a source rewritten to another location (${t.location})`;
  if (t.blocked) return 'a blocked source (NeverContactSource): it always falls back to the registry itself';
  return undefined;
}

interface HostUrl {
  readonly url: string;
  readonly overridePath: boolean;
  readonly skipVerify: boolean;
  /** The host whose certificates it uses: the name, not the API host (docker.io's are under docker.io, as containers/image reads them). */
  readonly tlsHost: string;
}

/**
 * The `[host."…"]` URLs of an endpoint: https (unverified when insecure), then plain http when
 * insecure. An endpoint on docker.io is asked at registry-1.docker.io, as containers/image does
 * (containerd maps docker.io only for its default `server`, never in a URL it is given).
 */
function hostUrls(location: string, insecure: boolean): HostUrl[] {
  const host = registryHostOf(location);
  const path = location.length > host.length ? `/v2${location.slice(host.length)}` : '';
  const entry = (scheme: string, skipVerify: boolean): HostUrl => ({
    url: `${scheme}://${apiHost(host)}${path}`,
    overridePath: path !== '',
    skipVerify,
    tlsHost: host,
  });
  return insecure ? [entry('https', true), entry('http', false)] : [entry('https', false)];
}

/** The local mirror's URL for a registry host: plain http on loopback, its own path per registry host. */
function localMirrorUrl(address: string, registryHost: string): HostUrl {
  return { url: `http://${address}/v2/${localMirrorPath(registryHost)}`, overridePath: true, skipVerify: false, tlsHost: address };
}

/**
 * `ca = [...]` and `client = [[cert, key], ...]` for an https URL whose host has certificate
 * files. An unverified one (skip_verify) still presents its client certificate, as
 * containers/image does for an insecure registry and containerd does with skip_verify; only the
 * CA goes unused. A plain-http entry gets neither (containerd ≥ 1.6.32 would try TLS first on it).
 */
function tlsLines(u: HostUrl, tls: TlsFiles, indent: string): string[] {
  if (!u.url.startsWith('https://')) return [];
  const files = tls.get(u.tlsHost);
  if (!files) return [];
  const lines: string[] = [];
  if (files.ca.length > 0 && !u.skipVerify) lines.push(`${indent}ca = ${tomlStringArray(files.ca)}`);
  if (files.client.length > 0) lines.push(`${indent}client = [${files.client.map((pair) => tomlStringArray(pair)).join(', ')}]`);
  return lines;
}

function hostTable(u: HostUrl, capabilities: readonly string[], tls: TlsFiles): string {
  const lines = [`[host.${tomlString(u.url)}]`, `  capabilities = ${tomlStringArray(capabilities)}`];
  if (u.skipVerify) lines.push('  skip_verify = true');
  lines.push(...tlsLines(u, tls, '  '));
  if (u.overridePath) lines.push('  override_path = true');
  return `${lines.join('\n')}\n`;
}

/** The top-level keys: `server` (containerd's last try) and how to reach it. `capabilities` only when it is not containerd's default (all). */
function serverKeys(u: HostUrl, tls: TlsFiles, capabilities?: readonly string[]): string {
  const lines = [`server = ${tomlString(u.url)}`];
  if (capabilities) lines.push(`capabilities = ${tomlStringArray(capabilities)}`);
  if (u.skipVerify) lines.push('skip_verify = true');
  lines.push(...tlsLines(u, tls, ''));
  if (u.overridePath) lines.push('override_path = true');
  return `${lines.join('\n')}\n`;
}

/**
 * A host containerd asks over plain http when it has no `server` for it (docker.IsLocalhost:
 * `localhost` or a loopback address, any port; neither ctr nor the CRI plugin sets another
 * default scheme). The policy says nothing about the registry's scheme unless it is insecure.
 */
function loopback(host: string): boolean {
  const withPort = /^(.*):\d+$/.exec(host);
  const name = withPort?.[1] ?? host;
  // `[::1]` only with a port: Go's SplitHostPort takes the brackets off only then, and ParseIP refuses them.
  return name === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) || (withPort !== null && name === '[::1]');
}

/** What containerd asks for a registry host without a `server` (ConfigureHosts' default host). */
/**
 * The directories containerd looks in for a registry host, in its order (hostPaths in
 * remotes/docker/config, 1.6 to 2.x): `host_port_` for a `host:port`, then the host itself, then
 * `_default`. It takes the first that exists, hosts.toml in it or not.
 */
export function containerdHostDirNames(host: string): string[] {
  const colon = host.lastIndexOf(':');
  const portDir = colon > 0 ? [`${host.slice(0, colon)}_${host.slice(colon + 1)}_`] : [];
  return [...portDir, host, '_default'];
}

export function containerdDefaultServer(host: string): string {
  return loopback(host) ? `http://${host}` : `https://${apiHost(host)}`;
}

/**
 * `server` for a registry host, and an insecure one's unverified https entry: containers/image
 * asks an insecure registry over https first (unverified) and over plain http only when that
 * fails, so the https form is the last `[host."…"]` entry and the plain http one `server`,
 * containerd's last try (before, containerd asked plain http first, sending credentials in
 * clear to a registry that answers both).
 */
function primaryUrls(host: string, table: RegistryTable | undefined): { server: HostUrl; httpsFirst?: HostUrl } {
  // A loopback registry keeps containerd's own http: an https `server` would cut it off (it was reached before our file).
  if ((table === undefined || table.location === host) && table?.insecure !== true && loopback(host))
    return { server: { url: `http://${host}`, overridePath: false, skipVerify: false, tlsHost: host } };
  // Rewritten: containers/image pulls from the location, never from the registry it replaces.
  const location = table === undefined || table.location === host ? host : table.location;
  const [https, http] = hostUrls(location, table?.insecure === true) as [HostUrl, HostUrl | undefined];
  return http ? { server: http, httpsFirst: https } : { server: https };
}

/** A `[host."…"]` table to write: its URL and settings, what it may do, and the mirror it is for. */
interface HostEntry {
  readonly u: HostUrl;
  readonly capabilities: readonly string[];
  readonly mirror?: Endpoint;
}

/**
 * One entry per URL, at its first place, with what all its copies may do: TOML refuses a table
 * defined twice, and containerd then drops the whole hosts.toml (every mirror) for the registry
 * alone. A mirror listed again is common: an ImageDigestMirrorSet and an ImageTagMirrorSet naming
 * the same mirror give it a digest-only and a tag-only entry, the base file's own may repeat a
 * fragment's.
 */
function oneEntryPerUrl(entries: readonly HostEntry[]): HostEntry[] {
  const byUrl = new Map<string, { first: HostEntry; capabilities: Set<string> }>();
  for (const e of entries) {
    const seen = byUrl.get(e.u.url);
    if (seen) for (const c of e.capabilities) seen.capabilities.add(c);
    else byUrl.set(e.u.url, { first: e, capabilities: new Set(e.capabilities) });
  }
  return [...byUrl.values()].map(({ first, capabilities }) => ({ ...first, capabilities: PULL_AND_RESOLVE.filter((c) => capabilities.has(c)) }));
}

/** The mirrors' locations in the order `entries` gives them `capability`, each once. */
function orderFor(entries: readonly HostEntry[], capability: string): string[] {
  return [...new Set(entries.flatMap((e) => (e.mirror && e.capabilities.includes(capability) ? [e.mirror.location] : [])))];
}

function sameOrder(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * How much of a mirror containers/image refuses as blocked (each attempt looks up the table of
 * the rewritten name): `all` when its location falls under a blocked table, `some` when a blocked
 * table lies under its location; undefined when nothing under it is blocked.
 */
type BlockedReach = (location: string) => { readonly reach: 'all' | 'some'; readonly by: string } | undefined;

function blockedReach(conf: RegistriesConf): BlockedReach {
  const blocked = conf.registries.filter((t) => t.blocked === true).map(registryScope);
  if (blocked.length === 0) return () => undefined; // most policies
  const blockedBy = blockedFinder(conf);
  return (location) => {
    const governing = blockedBy(location);
    if (governing !== undefined) return { reach: 'all', by: governing.prefix };
    const under = blocked.find((scope) => scope.length > location.length && refMatchingPrefix(scope, location) !== -1);
    return under === undefined ? undefined : { reach: 'some', by: under };
  };
}

/**
 * The `[host."…"]` entries of a table's mirrors in order (one per URL), and what of them was left
 * out or moved. A mirror containers/image refuses as blocked is left out: containerd would ask it
 * (the merge warns of it already); one blocked for some names only is left out too, with a
 * warning: containerd cannot tell those names apart, and a block must hold.
 */
function mirrorEntries(t: RegistryTable, host: string, warnings: Diagnostic[], routed: boolean, blocked: BlockedReach): HostEntry[] {
  const digest = new Set(keptMirrors(t, true));
  const tag = new Set(keptMirrors(t, false));
  const copies: HostEntry[] = [];
  for (const m of t.mirrors) {
    if (!digest.has(m) && !tag.has(m)) continue;
    const block = blocked(m.location);
    if (block?.reach === 'some')
      warnings.push(
        warning(
          m.origin ?? t.origin ?? { file: host },
          `containerd cannot express a mirror blocked for some names only (${m.location} of ${host}: "${block.by}" is blocked); left out of its hosts.toml${routed ? ' (the local mirror still uses it for the others)' : ''}`,
        ),
      );
    if (block !== undefined) continue;
    const capabilities = digest.has(m) ? (tag.has(m) ? PULL_AND_RESOLVE : ['pull']) : ['resolve'];
    for (const u of hostUrls(m.location, m.insecure === true)) copies.push({ u, capabilities, mirror: m });
  }
  const entries: HostEntry[] = [];
  for (const e of oneEntryPerUrl(copies)) {
    if (e.capabilities.includes('pull')) {
      entries.push(e);
      continue;
    }
    const m = e.mirror;
    if (!m || (e.u.url.startsWith('http://') && m.insecure === true)) continue; // an insecure one's https twin says it
    const served = routed ? ' (the local mirror still uses it for tags)' : '';
    warnings.push(
      warning(
        m.origin ?? t.origin ?? { file: host },
        `containerd cannot express a tag-only mirror (${m.location} of ${host}: it would use it for digest pulls too); left out of its hosts.toml${served}`,
      ),
    );
  }
  const expressed = new Set(entries.map((e) => e.mirror?.location));
  const expected = (digested: boolean): string[] => [...new Set(keptMirrors(t, digested).map((m) => m.location))].filter((l) => expressed.has(l));
  if (!sameOrder(orderFor(entries, 'pull'), expected(true)) || !sameOrder(orderFor(entries, 'resolve'), expected(false))) {
    warnings.push(
      warning(
        t.origin ?? { file: host },
        `containerd tries each mirror of ${host} once, at its first place, for digest and tag pulls alike: a mirror listed again in another place (digest-only and tag-only) is tried in a different order than containers/image tries it`,
      ),
    );
  }
  return entries;
}

function hostTables(entries: readonly HostEntry[], tls: TlsFiles): string[] {
  return oneEntryPerUrl(entries).flatMap((e) => ['\n', hostTable(e.u, e.capabilities, tls)]);
}

/**
 * One registry's hosts.toml without the local mirror (a table whyNot accepts); undefined when
 * it would have no `[host."…"]` entry (every mirror left out): containerd 1.6 and 1.7 refuse
 * such a file ("invalid `host` tree", logged at every pull) and use the registry alone, as
 * with no file.
 */
function renderTable(t: RegistryTable, warnings: Diagnostic[], tls: TlsFiles, blocked: BlockedReach): HostsFile | undefined {
  const host = registryScope(t);
  const { server, httpsFirst } = primaryUrls(host, t);
  const entries = mirrorEntries(t, host, warnings, false, blocked);
  // An insecure source: its unverified https form after the mirrors, before `server` (plain http).
  if (httpsFirst) entries.push({ u: httpsFirst, capabilities: PULL_AND_RESOLVE });
  return entries.length === 0 ? undefined : { host, text: [HOSTS_TOML_HEADER, serverKeys(server, tls), ...hostTables(entries, tls)].join('') };
}

/** Tables with something to say to containerd: mirrors, or a block. */
function withPolicy(t: RegistryTable): boolean {
  return t.mirrors.length > 0 || t.blocked === true;
}

function leftOut(t: RegistryTable, why: string): Diagnostic {
  const prefix = registryScope(t);
  return warning(t.origin ?? { file: prefix }, `containerd cannot express ${why}; [[registry]] "${prefix}" is left out of its hosts directory`);
}

function isNamespaceScoped(t: RegistryTable): boolean {
  const scope = registryScope(t);
  return scope.includes('/') && !scope.startsWith('*.');
}

/**
 * A namespace-scoped table left out (`why`). Where its registry has a hosts.toml of ours,
 * containerd pulls its names through that file (the registry's mirrors, then the registry): say
 * so, for a block there is not enforced and other mirrors are used.
 */
function namespaceLeftOut(t: RegistryTable, why: string, written: ReadonlySet<string>): Diagnostic {
  const scope = registryScope(t);
  const host = registryHostOf(scope);
  const d = leftOut(t, why);
  if (!written.has(host)) return d;
  return { ...d, message: `${d.message}: containerd pulls ${scope}/… through ${host}'s hosts.toml (its mirrors, then ${host})` };
}

/** What containerd cannot carry of a mirror-less table reachOnly names (insecure, or rewritten). */
function reachOnlyWhy(t: RegistryTable, scope: string): string {
  const insecure = t.insecure === true;
  if (scope.startsWith('*.')) return `${insecure ? 'an insecure' : 'a rewritten'} wildcard source (it names no registry host)`;
  if (scope.includes('/') && insecure) return `an insecure namespace-scoped source (${scope}): skip_verify and plain http are per registry host`;
  if (scope.includes('/')) return `a namespace-scoped source (${scope}) rewritten to ${t.location}: containerd pulls its names from ${registryHostOf(scope)}`;
  return `${insecure ? 'an insecure ' : 'a '}source rewritten to another location (${t.location}): containerd pulls its names from ${scope}`;
}

/**
 * A table without mirrors or a block that still changes how its names are reached. Insecure:
 * containerd must hear it, or it verifies https and fails where podman pulls; a registry-level
 * table gets its file (https unverified, then plain http as `server`), a narrower or
 * wildcard one is named (a host-wide skip_verify would loosen every name under the host).
 * Rewritten to another location: containerd would pull from the registry itself, so it is named.
 */
function reachOnly(t: RegistryTable, warnings: Diagnostic[], tls: TlsFiles, blocked: BlockedReach): HostsFile | undefined {
  const scope = registryScope(t);
  if (withPolicy(t) || (t.insecure !== true && !isRewritten(t))) return undefined;
  if (whyNot(t) === undefined) return renderTable(t, warnings, tls, blocked);
  warnings.push(leftOut(t, reachOnlyWhy(t, scope)));
  return undefined;
}

/** Every registry of `conf` with mirrors, as containerd's hosts.toml files, and what could not be expressed. */
export function renderHostsTomls(conf: RegistriesConf, options: HostsRenderOptions = {}): HostsRender {
  const tls = options.tls ?? new Map<string, HostTlsFiles>();
  if (options.localMirror !== undefined) return renderThroughLocalMirror(withoutLocalMirror(conf, options.localMirror), options.localMirror, tls);
  const blocked = blockedReach(conf);
  // In file order; a namespace-scoped table's warning waits to know whether its host got a file.
  const notes: Array<Diagnostic | { readonly table: RegistryTable; readonly why: string }> = [];
  const files: HostsFile[] = [];
  for (const t of conf.registries) {
    const why = withPolicy(t) ? whyNot(t) : undefined;
    if (why !== undefined) {
      notes.push(isNamespaceScoped(t) ? { table: t, why } : leftOut(t, why));
      continue;
    }
    const found: Diagnostic[] = [];
    const file = withPolicy(t) ? renderTable(t, found, tls, blocked) : reachOnly(t, found, tls, blocked);
    if (file) files.push(file);
    notes.push(...found);
  }
  files.sort((a, b) => byteOrderCompare(a.host, b.host));
  const written = new Set(files.map((f) => f.host));
  const warnings = notes.map((n) => ('table' in n ? namespaceLeftOut(n.table, n.why, written) : n));
  return { files, warnings, routed: [] };
}

/**
 * With the local mirror at `address`: one hosts.toml per registry host with policy (mapping.ts
 * containerdRoutedHosts, the same set the endpoint answers for), the endpoint first.
 */
function renderThroughLocalMirror(conf: RegistriesConf, address: string, tls: TlsFiles): HostsRender {
  const warnings: Diagnostic[] = [];
  const routed: RoutedTable[] = [];
  const blocked = blockedReach(conf);
  // Per registry host: whether names under it must never reach the registry (closedHosts), and
  // its registry-level table (with or without mirrors of its own: its insecure and location count).
  const closed = closedHosts(conf);
  const registryLevel = new Map<string, RegistryTable>();
  for (const t of conf.registries) {
    const scope = registryScope(t);
    if (scope === registryHostOf(scope) && !registryLevel.has(scope)) registryLevel.set(scope, t);
    if (!withPolicy(t)) continue;
    if (scope.startsWith('*.')) {
      warnings.push(leftOut(t, 'a wildcard source (it names no registry host, so no hosts.toml, even through the local mirror)'));
      continue;
    }
    const why = whyNot(t);
    if (why !== undefined) routed.push({ prefix: scope, at: t.origin ?? { file: scope }, why });
  }
  const routedHosts = containerdRoutedHosts(conf);
  const files = routedHosts.map((host) => renderRoutedHost(host, address, closed.has(host), registryLevel.get(host), warnings, tls, blocked));
  // A registry the endpoint does not carry (no mirror or block under it): insecure, its file; rewritten, a warning.
  const carried = new Set(routedHosts);
  for (const t of conf.registries) {
    if (carried.has(registryHostOf(registryScope(t)))) continue;
    const file = reachOnly(t, warnings, tls, blocked);
    if (file) files.push(file);
  }
  files.sort((a, b) => byteOrderCompare(a.host, b.host));
  return { files, warnings, routed };
}

/**
 * The registry hosts containerd must never fall back to the registry for, nor to its
 * registry-level mirrors (containerd's fallbacks after the endpoint, for every name under the
 * host alike): a table under the host is blocked, or a namespace under it is rewritten to another
 * location. containers/image never asks the registry for those names; containerd would, after a
 * 404 from the endpoint (a tag the other location lacks: the public image of that name instead,
 * dependency confusion) or with the endpoint down.
 */
function closedHosts(conf: RegistriesConf): Set<string> {
  const closed = new Set<string>();
  for (const t of conf.registries) {
    const scope = registryScope(t);
    if (scope.startsWith('*.')) continue;
    if (t.blocked === true || (scope.includes('/') && isRewritten(t))) closed.add(registryHostOf(scope));
  }
  return closed;
}

/** One registry host's hosts.toml with the local mirror; `closed`: its names must never fall back past the endpoint (closedHosts). */
function renderRoutedHost(
  host: string,
  address: string,
  closed: boolean,
  registryLevel: RegistryTable | undefined,
  warnings: Diagnostic[],
  tls: TlsFiles,
  blocked: BlockedReach,
): HostsFile {
  const endpoint = localMirrorUrl(address, host);
  const parts: string[] = [HOSTS_TOML_HEADER];
  const primary = closed ? { server: endpoint } : primaryUrls(host, registryLevel);
  parts.push(serverKeys(primary.server, tls, closed ? PULL_AND_RESOLVE : undefined));
  const entries: HostEntry[] = [{ u: endpoint, capabilities: PULL_AND_RESOLVE }];
  // The registry's own mirrors behind it, as containerd's fallback when the endpoint is down.
  if (!closed && registryLevel && withPolicy(registryLevel)) entries.push(...mirrorEntries(registryLevel, host, warnings, true, blocked));
  if (primary.httpsFirst) entries.push({ u: primary.httpsFirst, capabilities: PULL_AND_RESOLVE });
  parts.push(...hostTables(entries, tls));
  return { host, text: parts.join('') };
}

/**
 * Every host a hosts.toml of `conf` may name over https, for tls-files.ts: the registries with
 * policy or that reachOnly writes a file for (insecure, rewritten), where they are rewritten to,
 * and their mirrors. A few more than a render uses (a host without files costs one readdir),
 * never fewer: a hosts.toml turns off containerd's own reading of its directory's certificates,
 * so one that does not name them loses a client certificate containerd presented before.
 */
export function endpointHosts(conf: RegistriesConf): string[] {
  const hosts = new Set<string>();
  for (const t of conf.registries) {
    const scope = registryScope(t);
    if ((!withPolicy(t) && t.insecure !== true && !isRewritten(t)) || scope.startsWith('*.')) continue;
    hosts.add(registryHostOf(scope));
    if (t.location !== '') hosts.add(registryHostOf(t.location));
    for (const m of t.mirrors) hosts.add(registryHostOf(m.location));
  }
  return [...hosts].sort(byteOrderCompare);
}
