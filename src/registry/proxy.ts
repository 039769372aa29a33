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
 */
import { isIP } from 'node:net';

export interface ProxyEnv {
  readonly [name: string]: string | undefined;
}

interface Matcher {
  readonly kind: 'ip' | 'cidr' | 'domain';
  readonly value: string; // ip, network address, or ".domain"
  readonly bits?: number;
  readonly port?: string;
  readonly matchHost?: boolean;
}

export interface ProxyConfig {
  readonly http?: URL;
  readonly https?: URL;
  readonly all: boolean; // NO_PROXY=*
  readonly matchers: readonly Matcher[];
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

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function ipv6ToBigInt(ip: string): bigint {
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4?.[1]) {
    const n = ipv4ToInt(v4[1]);
    s = `${s.slice(0, -v4[1].length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const groups = tail !== undefined ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return groups.reduce((a, g) => (a << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}

/** The same address family and value (IPv4-mapped IPv6 counts as IPv4, as in Go). */
function normIp(ip: string): { v: 4 | 6; n: bigint } {
  if (isIP(ip) === 4) return { v: 4, n: BigInt(ipv4ToInt(ip)) };
  const n = ipv6ToBigInt(ip);
  if (n >> 32n === 0xffffn) return { v: 4, n: n & 0xffffffffn };
  return { v: 6, n };
}

function isLoopback(ip: string): boolean {
  const { v, n } = normIp(ip);
  return v === 4 ? n >> 24n === 127n : n === 1n;
}

function inCidr(ip: string, net: string, bits: number): boolean {
  const a = normIp(ip);
  const b = normIp(net);
  if (a.v !== b.v) return false;
  const width = a.v === 4 ? 32 : 128;
  const shift = BigInt(width - bits);
  return a.n >> shift === b.n >> shift;
}

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
  const matchers: Matcher[] = [];
  for (const raw of envAny(env, 'NO_PROXY', 'no_proxy').split(',')) {
    const p = raw.trim().toLowerCase();
    if (!p) continue;
    if (p === '*') return { ...(http ? { http } : {}), ...(https ? { https } : {}), all: true, matchers: [] };
    const cidr = /^(.+)\/(\d{1,3})$/.exec(p);
    if (cidr?.[1] && isIP(cidr[1]) && Number(cidr[2]) <= (isIP(cidr[1]) === 4 ? 32 : 128)) {
      matchers.push({ kind: 'cidr', value: cidr[1], bits: Number(cidr[2]) });
      continue;
    }
    const hp = splitHostPort(p);
    let host = hp ? hp.host : p;
    const port = hp?.port;
    if (hp && !host) continue; // ":80": malformed, ignored as Go does
    host = host.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      matchers.push({ kind: 'ip', value: host, ...(port ? { port } : {}) });
      continue;
    }
    if (host.startsWith('*.')) host = host.slice(1);
    const matchHost = !host.startsWith('.');
    matchers.push({ kind: 'domain', value: matchHost ? `.${host}` : host, matchHost, ...(port ? { port } : {}) });
  }
  return { ...(http ? { http } : {}), ...(https ? { https } : {}), all: false, matchers };
}

/** The proxy for `url`, or undefined to connect directly. */
export function proxyFor(cfg: ProxyConfig, url: URL): URL | undefined {
  const proxy = url.protocol === 'https:' ? cfg.https : url.protocol === 'http:' ? cfg.http : undefined;
  if (!proxy || cfg.all) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (host === 'localhost') return undefined;
  const ip = isIP(host) ? host : undefined;
  if (ip && isLoopback(ip)) return undefined;
  for (const m of cfg.matchers) {
    if (m.kind === 'cidr' && ip && inCidr(ip, m.value, m.bits ?? 0)) return undefined;
    if (m.kind === 'ip' && ip && normIp(ip).n === normIp(m.value).n && normIp(ip).v === normIp(m.value).v && (!m.port || m.port === port)) return undefined;
    if (m.kind === 'domain' && (host.endsWith(m.value) || (m.matchHost && host === m.value.slice(1))) && (!m.port || m.port === port)) return undefined;
  }
  return proxy;
}
