/**
 * Which proxy a request uses, decided as containers/image decides it: Go's
 * http.ProxyFromEnvironment (golang.org/x/net/http/httpproxy). Pure.
 *
 * - https URLs use HTTPS_PROXY only, http URLs HTTP_PROXY only (no fallback from one to
 *   the other, unlike curl and undici's EnvHttpProxyAgent); upper-case names win over
 *   lower-case, an empty value counts as unset.
 * - A proxy value without a scheme means http://; http, https and socks5 proxies.
 * - `localhost` and loopback addresses are never proxied.
 * - NO_PROXY: comma-separated; `*` = nothing proxied; an IP (optionally :port), a CIDR
 *   (any port), or a domain: `example.com` matches it and its subdomains, `.example.com`
 *   and `*.example.com` only subdomains; `:port` limits an entry to that port.
 * - Addresses and CIDRs are matched by node:net's BlockList, which, like Go's net.IP, takes an
 *   IPv4-mapped IPv6 address (::ffff:10.1.2.3) as its IPv4 address, either way round.
 */
import { BlockList, isIP } from 'node:net';

export interface ProxyEnv {
  readonly [name: string]: string | undefined;
}

/** A NO_PROXY domain entry: `suffix` is ".domain"; `matchHost` when the entry had no leading dot. */
interface DomainMatcher {
  readonly suffix: string;
  readonly matchHost: boolean;
  readonly port?: string;
}

export interface ProxyConfig {
  readonly http?: URL;
  readonly https?: URL;
  readonly all: boolean; // NO_PROXY=*
  /** NO_PROXY addresses and CIDRs that hold for any port. */
  readonly ips: BlockList;
  /** NO_PROXY `IP:port` entries, by port. */
  readonly ipsByPort: ReadonlyMap<string, BlockList>;
  readonly domains: readonly DomainMatcher[];
}

export class ProxyConfigError extends Error {}

function envAny(env: ProxyEnv, ...names: string[]): string {
  for (const n of names) {
    const v = env[n];
    if (v) return v;
  }
  return '';
}

function parseProxyUrl(value: string, name: string): URL | undefined {
  if (!value) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  // Go: a value that does not parse with a scheme and host is retried as http://VALUE
  if (!url || !url.host || !/^[a-z][a-z0-9+.-]*:$/.test(url.protocol) || !value.includes('://')) {
    try {
      url = new URL(`http://${value}`);
    } catch {
      throw new ProxyConfigError(`${name}: not a proxy URL`); // never echo the value: it may hold credentials
    }
  }
  if (!['http:', 'https:', 'socks5:'].includes(url.protocol)) throw new ProxyConfigError(`${name}: unsupported proxy scheme ${url.protocol.slice(0, -1)}`);
  return url;
}

const family = (ip: string): 'ipv4' | 'ipv6' => (isIP(ip) === 6 ? 'ipv6' : 'ipv4');

/**
 * 127.0.0.0/8 and ::1, as Go's IP.IsLoopback. A BlockList matches IPv4-mapped IPv6 addresses
 * (::ffff:127.0.0.1) against IPv4 rules and the other way round, as Go's net.IP does.
 */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

function splitHostPort(s: string): { host: string; port?: string } | undefined {
  const bracket = /^\[([^\]]+)\]:(\d*)$/.exec(s);
  if (bracket?.[1] !== undefined) return { host: bracket[1], ...(bracket[2] ? { port: bracket[2] } : {}) };
  const m = /^([^:]*):(\d*)$/.exec(s);
  if (m) return { host: m[1] ?? '', ...(m[2] ? { port: m[2] } : {}) };
  return undefined;
}

export function parseProxyEnv(env: ProxyEnv): ProxyConfig {
  const http = parseProxyUrl(envAny(env, 'HTTP_PROXY', 'http_proxy'), 'HTTP_PROXY');
  const https = parseProxyUrl(envAny(env, 'HTTPS_PROXY', 'https_proxy'), 'HTTPS_PROXY');
  const proxies = { ...(http ? { http } : {}), ...(https ? { https } : {}) };
  const ips = new BlockList();
  const ipsByPort = new Map<string, BlockList>();
  const domains: DomainMatcher[] = [];
  for (const raw of envAny(env, 'NO_PROXY', 'no_proxy').split(',')) {
    const p = raw.trim().toLowerCase();
    if (!p) continue;
    if (p === '*') return { ...proxies, all: true, ips: new BlockList(), ipsByPort: new Map(), domains: [] };
    const cidr = /^(.+)\/(\d{1,3})$/.exec(p);
    if (cidr?.[1] && isIP(cidr[1]) && Number(cidr[2]) <= (isIP(cidr[1]) === 4 ? 32 : 128)) {
      ips.addSubnet(cidr[1], Number(cidr[2]), family(cidr[1]));
      continue;
    }
    const hp = splitHostPort(p);
    let host = hp ? hp.host : p;
    const port = hp?.port;
    if (hp && !host) continue; // ":80": malformed, ignored as Go does
    host = host.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      let list = ips;
      if (port) ipsByPort.set(port, (list = ipsByPort.get(port) ?? new BlockList()));
      list.addAddress(host, family(host));
      continue;
    }
    if (host.startsWith('*.')) host = host.slice(1);
    const matchHost = !host.startsWith('.');
    domains.push({ suffix: matchHost ? `.${host}` : host, matchHost, ...(port ? { port } : {}) });
  }
  return { ...proxies, all: false, ips, ipsByPort, domains };
}

/** The proxy for `url`, or undefined to connect directly. */
export function proxyFor(cfg: ProxyConfig, url: URL): URL | undefined {
  const proxy = url.protocol === 'https:' ? cfg.https : url.protocol === 'http:' ? cfg.http : undefined;
  if (!proxy || cfg.all) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (host === 'localhost') return undefined;
  if (isIP(host)) {
    const f = family(host);
    if (LOOPBACK.check(host, f) || cfg.ips.check(host, f) || cfg.ipsByPort.get(port)?.check(host, f)) return undefined;
  }
  // Domain entries are tried on addresses too, as Go does (an entry "2.3" matches 10.1.2.3).
  const noProxy = cfg.domains.some((d) => (host.endsWith(d.suffix) || (d.matchHost && host === d.suffix.slice(1))) && (!d.port || d.port === port));
  return noProxy ? undefined : proxy;
}
