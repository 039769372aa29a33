/**
 * TLS material per registry host, as containers/image finds it: with --cert-dir one
 * directory for every host; otherwise /etc/containers/certs.d/HOST[:PORT]/ then
 * /etc/docker/certs.d/HOST[:PORT]/. `*.crt` are CAs (added to the system's), a
 * `NAME.cert` with its `NAME.key` is a client certificate.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { byteOrderCompare } from '../core/byte-order.js';

export interface TlsMaterial {
  readonly ca?: string[];
  readonly cert?: string;
  readonly key?: string;
}

export const CERT_DIRS = ['/etc/containers/certs.d', '/etc/docker/certs.d'];

async function readDir(dir: string): Promise<TlsMaterial | undefined> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort(byteOrderCompare); // os.ReadDir's order (bytes)
  } catch {
    return undefined;
  }
  const extra: string[] = [];
  let cert: string | undefined;
  let key: string | undefined;
  for (const n of names) {
    if (n.endsWith('.crt')) extra.push(await fs.readFile(join(dir, n), 'utf8'));
    else if (n.endsWith('.cert') && !cert && names.includes(`${n.slice(0, -5)}.key`)) {
      cert = await fs.readFile(join(dir, n), 'utf8');
      key = await fs.readFile(join(dir, `${n.slice(0, -5)}.key`), 'utf8');
    }
  }
  if (extra.length === 0 && !cert) return undefined;
  return { ...(extra.length > 0 ? { ca: [...rootCertificates, ...extra] } : {}), ...(cert && key ? { cert, key } : {}) };
}

export async function tlsFor(host: string, certDir?: string): Promise<TlsMaterial> {
  if (certDir) return (await readDir(certDir)) ?? {};
  for (const base of CERT_DIRS) {
    const m = await readDir(join(base, host));
    if (m) return m;
  }
  return {};
}
