/**
 * What containerd tries for one pull, in order, from the registry's hosts.toml (pure; the
 * rules of containerd 1.6's `remotes/docker/config`): the `[host."…"]` entries in file order,
 * then `server` (the registry itself when absent). A host's path gets `/v2` appended unless
 * `override_path`; a tag is resolved only by hosts with both `pull` and `resolve` (the resolver
 * filters on both bits), a digest by those with `pull`; no `capabilities` means all of them.
 * What a tag resolved to is then fetched by digest, from the `pull` hosts (containerd's fetcher
 * filters on `pull` alone). For `resolve --runtime containerd`.
 */
import { parse } from 'smol-toml';
import { LOCAL_MIRROR_NAMESPACE } from '../local-mirror/mapping.js';
import { containerdDefaultServer } from './hosts-toml.js';

export interface ContainerdAttempt {
  /** The URL containerd asks, up to the repository: e.g. http://mirror:5000/v2/quay/team/app. */
  readonly url: string;
  readonly capabilities: readonly string[];
  readonly skipVerify: boolean;
  /** The hosts.toml's `server` (the last try), or one of its `[host."…"]` entries. */
  readonly role: 'host' | 'server';
  /** The URL is mirror-policyd's local mirror (its namespace in the path, plain http). */
  readonly localMirror: boolean;
}

const ALL = ['pull', 'resolve', 'push'];

type HostsFile = { server?: unknown; host?: Record<string, HostEntry> } & HostEntry;

interface HostEntry {
  capabilities?: unknown;
  skip_verify?: unknown;
  override_path?: unknown;
}

/** The API root of a host URL as containerd computes it (https:// when no scheme). */
function apiRoot(server: string, overridePath: boolean): string {
  const u = new URL(server.startsWith('http') ? server : `https://${server}`);
  let path = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
  if (!overridePath && !path.endsWith('/v2')) path = `${path}/v2`;
  return `${u.protocol}//${u.host}${path}`;
}

function capabilitiesOf(v: unknown): string[] {
  return Array.isArray(v) && v.length > 0 ? v.map((c) => String(c).toLowerCase()) : ALL;
}

/**
 * The attempts for `repository` (e.g. "team/app") of `registry` by digest or by tag. `hostsToml`
 * is the registry's hosts.toml text, undefined when there is none. Throws on a file containerd
 * would refuse to parse.
 */
export function containerdAttempts(registry: string, repository: string, byDigest: boolean, hostsToml: string | undefined): ContainerdAttempt[] {
  const parsed = hostsToml === undefined ? {} : (parse(hostsToml) as HostsFile);
  const data = refused(parsed) ? {} : parsed;
  const needed = byDigest ? ['pull'] : ['pull', 'resolve'];
  const out: ContainerdAttempt[] = [];
  const add = (role: ContainerdAttempt['role'], server: string, e: HostEntry): void => {
    const capabilities = capabilitiesOf(e.capabilities);
    if (!needed.every((c) => capabilities.includes(c))) return;
    const url = `${apiRoot(server, e.override_path === true)}/${repository}`;
    const localMirror = url.startsWith('http://') && new URL(url).pathname.startsWith(`/v2/${LOCAL_MIRROR_NAMESPACE}/`);
    out.push({ url, capabilities, skipVerify: e.skip_verify === true, role, localMirror });
  };
  for (const [url, e] of Object.entries(data.host ?? {})) add('host', url, e);
  add('server', typeof data.server === 'string' && data.server !== '' ? data.server : containerdDefaultServer(registry), data);
  return out;
}

/**
 * A file containerd 1.6 and 1.7 refuse, logging an error, and then use the registry alone (as
 * with no file): no `[host."…"]` table (getSortedHosts: "invalid `host` tree"), or a capability
 * it does not know.
 */
function refused(data: HostsFile): boolean {
  const known = (e: HostEntry): boolean => !Array.isArray(e.capabilities) || e.capabilities.every((c) => ALL.includes(String(c).toLowerCase()));
  return typeof data.host !== 'object' || !known(data) || !Object.values(data.host).every(known);
}
