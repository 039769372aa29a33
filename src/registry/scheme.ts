/**
 * `GET /v2/`: how the registry client picks an endpoint's scheme, which is also the health
 * probe's check (probe.ts). One decision over whichever transport sends the request: https
 * first, plain http only for an insecure endpoint (as containers/image does); 200 or 401
 * says "a registry".
 */
import type { TlsMaterial } from './certs.js';
import { RegistryError, classifyNetworkError, describeError, errorCodes } from './errors.js';
import { clientCertRefusal, isClientCertAlert } from './tls-diagnose.js';

/** Sends `GET url` and answers its status, the body read or dropped. */
export type StatusOf = (url: URL) => Promise<number>;

export interface SchemeCheck {
  readonly host: string;
  readonly insecure: boolean;
  readonly tls: TlsMaterial;
  readonly connectMs: number;
  /** Whether https://host/ is reached without a proxy (throws for a proxy setting that cannot be read). */
  readonly direct: () => boolean;
  /** ` through the proxy HOST:PORT` when a request to `url` goes through one, for the error (probe.ts's direct route has none). */
  readonly via?: (url: URL) => string;
}

/** The schemes tried, in order: plain http only for an insecure endpoint. */
export function schemesFor(insecure: boolean): Array<'https' | 'http'> {
  return insecure ? ['https', 'http'] : ['https'];
}

/** The scheme `GET /v2/` answers 200 or 401 on; a RegistryError saying why not. */
export async function pickScheme(e: SchemeCheck, statusOf: StatusOf): Promise<'https' | 'http'> {
  let last: unknown;
  let lastUrl: URL | undefined;
  for (const s of schemesFor(e.insecure)) {
    try {
      lastUrl = new URL(`${s}://${e.host}/v2/`);
      const status = await statusOf(lastUrl);
      if (status === 200 || status === 401) return s;
      last = new RegistryError(`pinging ${s}://${e.host}/v2/: HTTP ${status}`, 'unhealthy', status >= 500 ? 'server-error' : 'protocol', status);
    } catch (err) {
      last = err;
    }
  }
  if (last instanceof RegistryError) throw last;
  const cls = classifyNetworkError(last);
  // Only for a secure endpoint (an insecure one's last error is its plain-http attempt's)
  // on a direct route (the diagnosis connects without the proxy).
  if (!e.insecure && (cls === 'reset' || cls === 'tls') && e.direct()) {
    const alert = errorCodes(last).find(isClientCertAlert) ?? (await clientCertRefusal(e.host, e.tls, !e.insecure, e.connectMs));
    if (alert) {
      // our configuration's problem, not the endpoint's health
      const ours = e.tls.cert ? 'it refused ours' : 'none was found in --cert-dir or certs.d for this host';
      throw new RegistryError(`${e.host} requires a client certificate and ${ours} (${alert})`, 'forbidden');
    }
  }
  const via = lastUrl && e.via ? e.via(lastUrl) : '';
  throw new RegistryError(`pinging ${e.host}${via}: ${describeError(last)}`, 'unhealthy', cls);
}
