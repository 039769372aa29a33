/**
 * TLS material per registry host, as containers/image finds it: with --cert-dir one
 * directory for every host; otherwise the first of $HOME/.config/containers/certs.d/HOST[:PORT]/
 * (where rootless podman users keep theirs), /etc/containers/certs.d/HOST[:PORT]/ and
 * /etc/docker/certs.d/HOST[:PORT]/ that exists. `*.crt` are CAs (added to the system's:
 * system-roots.ts), a
 * `NAME.cert` with its `NAME.key` is a client certificate; either without the other is an error,
 * as there (a CA named `*.cert` is the usual mistake).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { byteOrderCompare } from '../core/byte-order.js';
import { homeDirectory } from '../core/home-dir.js';
import type { SecureContext } from 'node:tls';
import { RegistryError } from './errors.js';
import { secureContextFor } from './secure-context.js';
import { nodeExtraCaCertificates, systemRootCertificates } from './system-roots.js';

export interface TlsMaterial {
  readonly ca?: string[];
  readonly cert?: string;
  readonly key?: string;
  /**
   * The context made of these once (secure-context.ts), which tls.connect then uses instead of
   * parsing `ca` again: ~150 certificates take 50 ms of CPU, at every connection otherwise.
   */
  readonly secureContext?: SecureContext;
  /** A digest of `ca`, `cert` and `key`, with `secureContext`: equal material, equal digest (the local mirror compares by it). */
  readonly digest?: string;
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
  return { ...(extra.length > 0 ? { ca: extra } : {}), ...client };
}

/**
 * The material as connections use it: the CAs are the system's (system-roots.ts, as
 * containers/image trusts the system pool) with the certs.d ones added, and the whole is made
 * into a context once. Nothing when there is nothing of ours and no system store is found:
 * Node's own list then. node:tls is loaded only then: the daemon holds this module
 * (containerd's certificate checks), and tls with what it loads is ~0.5 MB of an idle daemon's
 * RSS (docs/performance.md). A client certificate or key that TLS cannot load is our side's
 * problem, named (containers/image refuses the pull too: LoadX509KeyPair); a CA file that holds
 * no certificate adds none, as there.
 */
async function forConnections(m: TlsMaterial, dir: string | undefined, insecure: boolean): Promise<TlsMaterial> {
  if (insecure && m.cert === undefined) return m;
  const system = insecure ? undefined : systemRootCertificates();
  if (system === undefined && m.ca === undefined && m.cert === undefined) return m; // Node's own list, $NODE_EXTRA_CA_CERTS included
  // Once each: $NODE_EXTRA_CA_CERTS often names the system's bundle itself.
  const roots = [...new Set([...(system ?? (await import('node:tls')).rootCertificates), ...nodeExtraCaCertificates()])];
  const withRoots = { ...m, ca: [...roots, ...(m.ca ?? [])] };
  try {
    const { context, digest } = await secureContextFor(withRoots);
    return { ...withRoots, secureContext: context, digest };
  } catch (e) {
    throw new RegistryError(`${dir ?? 'certs.d'}: the client certificate and key cannot be loaded: ${(e as Error).message}`, 'forbidden');
  }
}

/**
 * The TLS material for `host` (HOST[:PORT] as the reference names it), as connections use it.
 * Docker Hub's is looked up under `docker.io`, not the API host its requests go to:
 * containers/image's newDockerClient reads certs.d with the user-visible name. `certDirs`: the
 * search path (tests pass their own). `insecure`: certificates are not verified, so no CA is
 * needed (the system's store is neither read nor made into a context: ~2 MB and 10-20 ms).
 */
export async function tlsFor(host: string, opts: { certDir?: string; certDirs?: readonly string[]; insecure?: boolean } = {}): Promise<TlsMaterial> {
  const found = await certsDFor(host, opts.certDir, opts.certDirs);
  return forConnections(found?.material ?? {}, found?.dir, opts.insecure === true);
}

/** The certs.d material for `host` alone, and the directory it is from; undefined when no directory is there. */
export async function certsDFor(
  host: string,
  certDir: string | undefined,
  certDirs: readonly string[] = certDirsFor(),
): Promise<{ material: TlsMaterial; dir: string } | undefined> {
  // The first directory that exists, as containers/image's dockerCertDir picks it, even when it holds nothing.
  for (const dir of certDir ? [certDir] : certDirs.map((base) => join(base, host))) {
    const material = await readDir(dir);
    if (material) return { material, dir };
  }
  return undefined;
}
