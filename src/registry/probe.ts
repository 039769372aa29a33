/**
 * The daemon's health probe of one endpoint: `GET /v2/` as the registry client would send it
 * (scheme.ts decides). An endpoint reached directly (no proxy for it) is probed over
 * node:http (direct-get.ts): the registry client's undici, its WebAssembly parser and their
 * compiled code would otherwise stay in the daemon's memory for its lifetime, ~1.3 MB of its
 * idle RSS (issue #15). Through a proxy the probe goes through the registry client, whose
 * routes (proxy.ts, socks5.ts) stay the one implementation of proxying.
 */
import type { TlsMaterial } from './certs.js';
import { directStatus } from './direct-get.js';
import { parseProxyEnv, proxyFor, type ProxyEnv } from './proxy.js';
import { pickScheme, schemesFor } from './scheme.js';
import type { Timeouts } from './timeouts.js';
import { apiHost } from './api-host.js';

/** Whether every URL a ping of `host` may ask for goes without a proxy (false when the setting cannot be read: the client reports that). */
function reachedDirectly(host: string, insecure: boolean, env: ProxyEnv): boolean {
  try {
    const proxies = parseProxyEnv(env);
    return schemesFor(insecure).every((s) => proxyFor(proxies, new URL(`${s}://${host}/`)) === undefined);
  } catch {
    return false;
  }
}

/** A health probe of one endpoint: resolves when it answers `GET /v2/` as a registry, else a RegistryError or a network error. */
export async function pingEndpoint(host: string, insecure: boolean, opts: { tls: TlsMaterial; timeouts: Timeouts; env?: ProxyEnv }): Promise<void> {
  const env = opts.env ?? process.env;
  const at = apiHost(host);
  if (reachedDirectly(at, insecure, env)) {
    const check = { host: at, insecure, tls: opts.tls, connectMs: opts.timeouts.connectMs, direct: () => true };
    await pickScheme(check, (url) => directStatus(url, { tls: opts.tls, rejectUnauthorized: !insecure, timeouts: opts.timeouts }));
    return;
  }
  const { EndpointClient } = await import('./client.js');
  const client = new EndpointClient(host, insecure, { tls: opts.tls, env, credentials: () => Promise.resolve(undefined), timeouts: opts.timeouts });
  try {
    await client.ping();
  } finally {
    await client.close().catch(() => undefined);
  }
}
