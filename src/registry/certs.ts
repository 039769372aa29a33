/**
 * TLS material per registry host, as containers/image finds it: with --cert-dir one
 * directory for every host; otherwise the first of $HOME/.config/containers/certs.d/HOST[:PORT]/
 * (where rootless podman users keep theirs), /etc/containers/certs.d/HOST[:PORT]/ and
 * /etc/docker/certs.d/HOST[:PORT]/ that exists. `*.crt` are CAs (added to the system's), a
 * `NAME.cert` with its `NAME.key` is a client certificate; either without the other is an error,
 * as there (a CA named `*.cert` is the usual mistake).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { byteOrderCompare } from '../core/byte-order.js';
import { homeDirectory } from '../core/home-dir.js';
import { RegistryError } from './errors.js';

export interface TlsMaterial {
  readonly ca?: string[];
  readonly cert?: string;
  readonly key?: string;
}

/** The system's certs.d directories (containerd's hosts.toml names files from these). */
export const CERT_DIRS = ['/etc/containers/certs.d', '/etc/docker/certs.d'];

/** containers/image's search path: the user's own directory, then the system's. */
export function certDirsFor(env: NodeJS.ProcessEnv = process.env): string[] {
  return [join(homeDirectory(env), '.config', 'containers', 'certs.d'), ...CERT_DIRS];
}

/** The TLS files of one certs.d directory, by name: `*.crt` CAs, and `NAME.cert` with its `NAME.key`. */
export interface CertFileNames {
  readonly ca: string[];
  /** [certificate, key] pairs, in the directory's byte order. */
  readonly client: Array<[string, string]>;
}

/** Which of a directory's `names` are TLS material, in byte order (os.ReadDir's). */
export function certFilesAmong(names: readonly string[]): CertFileNames {
  const sorted = [...names].sort(byteOrderCompare);
  const keys = new Set(sorted.filter((n) => n.endsWith('.key')));
  return {
    ca: sorted.filter((n) => n.endsWith('.crt')),
    client: sorted.filter((n) => n.endsWith('.cert') && keys.has(`${n.slice(0, -5)}.key`)).map((n) => [n, `${n.slice(0, -5)}.key`]),
  };
}

/**
 * Which files of `dir` are TLS material; undefined when the directory cannot be listed.
 * Shared with containerd's hosts.toml (src/containerd/tls-files.ts).
 */
export async function certFileNames(dir: string): Promise<CertFileNames | undefined> {
  try {
    return certFilesAmong(await fs.readdir(dir));
  } catch {
    return undefined;
  }
}

/**
 * A client certificate or key without its other half, as containers/image's SetupCertificates
 * refuses it (the pull fails there too): better said than a TLS failure with no word of why.
 */
function loneClientFile(names: readonly string[]): string | undefined {
  const has = new Set(names);
  for (const n of [...names].sort(byteOrderCompare)) {
    if (n.endsWith('.cert') && !has.has(`${n.slice(0, -5)}.key`))
      return `missing key ${n.slice(0, -5)}.key for client certificate ${n} (a CA certificate is named *.crt)`;
    if (n.endsWith('.key') && !has.has(`${n.slice(0, -4)}.cert`)) return `missing client certificate ${n.slice(0, -4)}.cert for key ${n}`;
  }
  return undefined;
}

/** A certificate or key file; one that cannot be read (EACCES, EISDIR) is our side's problem, not the registry's health. */
async function readOurs(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new RegistryError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, 'forbidden');
  }
}

async function readDir(dir: string): Promise<TlsMaterial | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return undefined;
  }
  const lone = loneClientFile(names);
  // our side's problem: says nothing about the registry's health
  if (lone) throw new RegistryError(`${dir}: ${lone}`, 'forbidden');
  const files = certFilesAmong(names);
  const extra = await Promise.all(files.ca.map((n) => readOurs(join(dir, n))));
  const pair = files.client[0];
  const client = pair ? { cert: await readOurs(join(dir, pair[0])), key: await readOurs(join(dir, pair[1])) } : {};
  // node:tls is loaded only to add CAs: the daemon holds this module (containerd's certificate
  // checks), and tls with what it loads is ~0.5 MB of an idle daemon's RSS (docs/performance.md)
  return { ...(extra.length > 0 ? { ca: [...(await import('node:tls')).rootCertificates, ...extra] } : {}), ...client };
}

/**
 * The TLS material for `host` (HOST[:PORT] as the reference names it). Docker Hub's is looked up
 * under `docker.io`, not the API host its requests go to: containers/image's newDockerClient
 * reads certs.d with the user-visible name. `certDirs`: the search path (tests pass their own).
 */
export async function tlsFor(host: string, certDir?: string, certDirs: readonly string[] = certDirsFor()): Promise<TlsMaterial> {
  if (certDir) return (await readDir(certDir)) ?? {};
  // The first directory that exists, as containers/image's dockerCertDir picks it, even when it holds nothing.
  for (const base of certDirs) {
    const m = await readDir(join(base, host));
    if (m) return m;
  }
  return {};
}
