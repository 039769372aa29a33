/**
 * The local mirror's naming scheme, both ways. Pure: no I/O.
 *
 * With `local-mirror` on, the renderer lists the endpoint first in each table it fronts, at
 * `<address>/mirror-policyd/<20 hex digits of sha256(table prefix)>`. containers/image rewrites a
 * name under the table to that location + the rest of the name, so the endpoint receives
 * `mirror-policyd/<hex>[/rest]` and maps it back here to the table and the original name.
 *
 * Why a hash and not the prefix itself: a prefix may be `*.example.com`, hold a port or
 * upper-case host labels, none of which a repository path may contain; lower-case hex always
 * is one path component, the same on every render, and one per table.
 *
 * containerd (issue #16) is sent by registry host instead: `certs.d/<host>/hosts.toml` lists
 * `<address>/v2/mirror-policyd/<hex of the host>` with `override_path`, and containerd appends
 * the repository. A registry-level table's path is the same hash, so both land here as
 * `<host>/<repository>`, and the sources are those of that name under the whole configuration
 * (`pullSources`): a namespace-scoped table under the host applies as it does for containers/image.
 */
import { createHash } from 'node:crypto';
import { registryScope, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
import { referenceName, referenceString } from '../reference/reference.js';
import { registryHostOf } from '../reference/scope.js';
import { findRegistry, keptMirrors, parseLogicalReference, pullSources, ResolveError, rewriteReference, type Source } from '../sources/sources.js';

/** The first path component of every endpoint location: names the owner, keeps other paths free. */
export const LOCAL_MIRROR_NAMESPACE = 'mirror-policyd';
/** The local mirror's drop-in in the registries.d directory beside the output (registries-d.ts). */
export const LOCAL_MIRROR_REGISTRIES_D = 'mirror-policyd-local-mirror.yaml';
/** 80 bits: collisions among a host's few thousand tables are out of reach. */
const HASH_HEX_DIGITS = 20;
const TABLE_PATH = new RegExp(`^${LOCAL_MIRROR_NAMESPACE}/([0-9a-f]{${HASH_HEX_DIGITS}})(/.*)?$`);

/** `mirror-policyd/<hex>`: the repository path the endpoint answers for the table of `prefix`. */
export function localMirrorPath(prefix: string): string {
  return `${LOCAL_MIRROR_NAMESPACE}/${createHash('sha256').update(prefix, 'utf8').digest('hex').slice(0, HASH_HEX_DIGITS)}`;
}

/** The mirror location listed first in the table of `prefix`: `<address>/mirror-policyd/<hex>`. */
export function localMirrorLocation(address: string, prefix: string): string {
  return `${address}/${localMirrorPath(prefix)}`;
}

/** A request of the endpoint, mapped back to the table whose endpoint location it came through. */
export interface LocalMirrorTarget {
  /**
   * The table of the rendered configuration (the endpoint's own mirror entry included); for a
   * request containerd sent by registry host, the table the original name falls under.
   */
  readonly table: RegistryTable;
  /** Its prefix (its location when it has none), as the table is keyed; the registry host for containerd's requests. */
  readonly prefix: string;
  /**
   * A `*.domain` table: containers/image rewrote the matched host away, so the original name
   * is unknown; only the table's mirrors can serve it, never its source.
   */
  readonly wildcard: boolean;
  /** What followed the table's path in the request's repository name: "" or "/ns/repo". */
  readonly remainder: string;
  /** The original repository name, prefix + remainder; absent for a wildcard table. */
  readonly name?: string;
}

/** What the endpoint serves a request from. */
export interface LocalMirrorRequest extends LocalMirrorTarget {
  /** The original reference (name:tag or name@digest); absent for a wildcard table. */
  readonly reference?: string;
  /**
   * The sources containers/image would try for the original reference, in its order (the
   * table's mirrors kept for a tag or a digest pull, then the primary), minus every source on
   * the endpoint's own address: the endpoint never asks itself. For a wildcard table: the
   * kept mirrors only.
   */
  readonly sources: readonly Source[];
}

/** Per configuration: endpoint path → table. Built once per rendered conf (the endpoint maps every request). */
const indexes = new WeakMap<RegistriesConf, Map<string, RegistryTable>>();
/** Per configuration: endpoint path → registry host containerd is sent through the endpoint for. */
const hostIndexes = new WeakMap<RegistriesConf, Map<string, string>>();

/**
 * The registry hosts containerd's hosts directory sends through the local mirror, in file order:
 * the host of every table with mirrors or a block, but wildcard tables (they name no host
 * directory). The hosts.toml renderer writes these; the endpoint answers for these.
 */
export function containerdRoutedHosts(conf: RegistriesConf): string[] {
  const hosts = new Set<string>();
  for (const t of conf.registries) {
    const scope = registryScope(t);
    if (scope === '' || scope.startsWith('*.') || (t.mirrors.length === 0 && t.blocked !== true)) continue;
    hosts.add(registryHostOf(scope));
  }
  return [...hosts];
}

function hostIndex(conf: RegistriesConf): Map<string, string> {
  let index = hostIndexes.get(conf);
  if (!index) {
    index = new Map(containerdRoutedHosts(conf).map((h) => [localMirrorPath(h), h]));
    hostIndexes.set(conf, index);
  }
  return index;
}

function tableIndex(conf: RegistriesConf): Map<string, RegistryTable> {
  let index = indexes.get(conf);
  if (!index) {
    index = new Map();
    for (const t of conf.registries) {
      const path = localMirrorPath(registryScope(t));
      if (!index.has(path)) index.set(path, t);
    }
    indexes.set(conf, index);
  }
  return index;
}

/**
 * The table a repository name received by the endpoint (`mirror-policyd/<hex>[/rest]`, no host,
 * no tag) belongs to, or undefined when it is not one of ours: not our namespace, no such table
 * in `conf`, or a table that does not list the endpoint at `address` (the setting changed since
 * containers/image read the file).
 */
export function mapLocalMirrorRepository(conf: RegistriesConf, address: string, repository: string): LocalMirrorTarget | undefined {
  const m = TABLE_PATH.exec(repository);
  if (!m) return undefined;
  const path = `${LOCAL_MIRROR_NAMESPACE}/${m[1] as string}`;
  const remainder = m[2] ?? '';
  const table = tableIndex(conf).get(path);
  if (!table || !table.mirrors.some((x) => x.location === `${address}/${path}`)) return mapRoutedHost(conf, path, remainder);
  const prefix = registryScope(table);
  const wildcard = prefix.startsWith('*.');
  return { table, prefix, wildcard, remainder, ...(wildcard ? {} : { name: prefix + remainder }) };
}

/** A request containerd sent by registry host (hosts.toml): the name under that host; undefined when the host is not one we route. */
function mapRoutedHost(conf: RegistriesConf, path: string, remainder: string): LocalMirrorTarget | undefined {
  const host = hostIndex(conf).get(path);
  // A host route always carries a repository: containerd appends it to the path.
  if (host === undefined || remainder === '') return undefined;
  const name = host + remainder;
  return { table: findRegistry(conf, name).table, prefix: host, wildcard: false, remainder, name };
}

/** "sha256:…" is a digest (a tag holds no ':'): the separator containers/image put before it. */
function referenceSuffix(tagOrDigest: string): string {
  return tagOrDigest.includes(':') ? `@${tagOrDigest}` : `:${tagOrDigest}`;
}

/**
 * A request `GET /v2/<repository>/manifests|blobs/<tagOrDigest>` mapped back to its table and
 * the sources to serve it from, or undefined when the repository is not one of ours (answer
 * NAME_UNKNOWN). Throws ResolveError when the original reference is not one containers/image
 * could have produced (an invalid tag, path or digest: answer NAME_INVALID / MANIFEST_UNKNOWN).
 * For a blob, pass the blob's digest: the sources are then those of a digest pull.
 */
export function mapLocalMirrorRequest(conf: RegistriesConf, address: string, repository: string, tagOrDigest: string): LocalMirrorRequest | undefined {
  const target = mapLocalMirrorRepository(conf, address, repository);
  if (!target) return undefined;
  const suffix = referenceSuffix(tagOrDigest);
  const notSelf = (s: Source): boolean => s.endpoint.host !== address;
  if (target.name !== undefined) {
    const input = target.name + suffix;
    const ref = parseLogicalReference(input);
    // Canonical only: "docker.io/busybox" is not what containers/image sends for docker.io/library/busybox.
    if (referenceString(ref) !== input) throw new ResolveError('invalid-reference', `"${input}" is not a canonical reference`, input);
    const found = pullSources(conf, input);
    return { ...target, reference: found.reference, sources: found.sources.filter(notSelf) };
  }
  // A wildcard table: the mirrors' rewrites of a name that kept only its path (the host is gone).
  const digested = suffix.startsWith('@');
  const sources: Source[] = [];
  for (const mirror of keptMirrors(target.table, digested)) {
    if (registryHostOf(mirror.location) === address) continue;
    // The prefix stands in for the host it matched: a wildcard rewrite replaces exactly that.
    const physical = rewriteReference(`${target.prefix}${target.remainder}${suffix}`, target.prefix, mirror.location);
    const under = findRegistry(conf, referenceName(physical));
    const blocked = !under.implicit && under.table.blocked === true;
    sources.push({
      reference: referenceString(physical),
      endpoint: { host: physical.domain, insecure: mirror.insecure === true },
      role: 'mirror',
      blocked,
      ...(blocked ? { blockedBy: under.prefix } : {}),
    });
  }
  return { ...target, sources };
}
