/**
 * The certificates a hosts.toml must name (an edge: it lists directories). containerd uses the
 * Docker-pattern files of `certs.d/<host>/` (`*.crt`, `NAME.cert` with `NAME.key` or holding the
 * key itself) only while that directory has no hosts.toml; once we write one, only what it
 * names counts. Which directory it used for a host is the first that exists of `host_port_/`,
 * `<host>/` and `_default/` (containerdHostDirNames): a host without a directory of its own
 * (or with only our hosts.toml in it, which did not exist before us) used `_default/`'s files,
 * unless `_default/` has a hosts.toml. So, per host, we name what containerd used there before, then what
 * containers/image uses for the same host
 * (/etc/containers/certs.d/<host>/, else /etc/docker/certs.d/<host>/, src/registry/certs.ts):
 * a mirror reached through containerd is then trusted exactly as it is by podman and skopeo.
 */
import { X509Certificate } from 'node:crypto';
import { promises as fs, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { byteOrderCompare } from '../core/byte-order.js';
import { CERT_DIRS, certFileNames, certFilesAmong, type CertFileNames } from '../registry/certs.js';
import { containerdHostDirNames, type HostTlsFiles } from './hosts-toml.js';

function add(into: { ca: string[]; client: Array<[string, string]> }, dir: string, names: { ca: string[]; client: Array<[string, string]> }): void {
  for (const n of names.ca) if (!into.ca.includes(join(dir, n))) into.ca.push(join(dir, n));
  for (const [c, k] of names.client) if (!into.client.some(([x]) => x === join(dir, c))) into.client.push([join(dir, c), join(dir, k)]);
}

/**
 * The TLS files of one host: containerd's own directory, then containers/image's first directory
 * that exists. Named by absolute path: containerd reads a relative one from the host directory
 * it found (makeAbsPath), so `--containerd-hosts-dir certs.d` named files it could not open,
 * which fails every pull from the registry ("unable to read CA cert").
 */
async function filesOf(host: string, hostsDir: string, certDirs: readonly string[]): Promise<HostTlsFiles | undefined> {
  const found = { ca: [] as string[], client: [] as Array<[string, string]> };
  const own = containerdOwnFiles(hostsDir, host);
  if (own.files) add(found, resolve(own.dir), own.files);
  for (const base of certDirs) {
    const names = await certFileNames(join(base, host));
    if (!names) continue;
    add(found, resolve(base, host), names);
    break; // containers/image stops at the first of its directories that exists
  }
  const ca = (await Promise.all(found.ca.map(async (f) => ((await loadableCa(f)) ? [f] : [])))).flat();
  return ca.length + found.client.length > 0 ? { ca, client: found.client } : undefined;
}

/** A PEM certificate block as Go's pem.Decode finds one (AppendCertsFromPEM takes only these; its line may end in spaces or tabs). */
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[ \t]*\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Whether a CA file holds a certificate containerd can load. Named in a hosts.toml, a file it
 * cannot read or that holds none (empty, DER, a key: AppendCertsFromPEM false) fails every pull
 * from the registry, its mirrors with it ("unable to load CA cert"), where containers/image and
 * Node pass over it. So such a file is not named: the registry is asked without it, as podman
 * asks it.
 */
async function loadableCa(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await fs.readFile(path, 'latin1');
  } catch {
    return false;
  }
  for (const block of text.matchAll(PEM_CERTIFICATE)) {
    try {
      new X509Certificate(block[0]);
      return true;
    } catch {
      // Go skips a block it cannot parse, and so do we.
    }
  }
  return false;
}

/** The names in a directory; undefined when it is missing or unreadable. */
function namesIn(dir: string): string[] | undefined {
  try {
    return readdirSync(dir);
  } catch {
    return undefined;
  }
}

/**
 * The directory containerd took for `host` before our hosts.toml and its certificate files
 * (none when it is `_default/` with a hosts.toml, or when no directory exists). `<host>/`
 * holding nothing but a hosts.toml (and our temp files) is taken as ours, not as there before.
 */
function containerdOwnFiles(hostsDir: string, host: string): { dir: string; files?: CertFileNames } {
  for (const name of containerdHostDirNames(host)) {
    const dir = join(hostsDir, name);
    const names = namesIn(dir);
    if (names === undefined) continue;
    if (name === host && names.every((n) => n === 'hosts.toml' || n.startsWith('.'))) continue;
    if (name === '_default' && names.includes('hosts.toml')) return { dir };
    return { dir, files: ownCertFiles(names) };
  }
  return { dir: '' };
}

/**
 * The files containerd itself used in its directory (loadCertFiles), by name: as containers/image
 * reads them, and also a `.cert` without its `.key`, which containerd reads as holding the key
 * too. Named as the pair [cert, cert]: the key is looked for in the same file, as containerd does.
 */
function ownCertFiles(names: readonly string[]): CertFileNames {
  const files = certFilesAmong(names);
  const paired = new Set(files.client.map(([cert]) => cert));
  const alone = names.filter((n) => n.endsWith('.cert') && !paired.has(n)).map((n): [string, string] => [n, n]);
  return { ca: files.ca, client: [...files.client, ...alone].sort((a, b) => byteOrderCompare(a[0], b[0])) };
}

/** host → its TLS files, for the hosts that have any; `certDirs` is containers/image's search path (tests pass their own). */
export async function tlsFilesFor(hosts: Iterable<string>, hostsDir: string, certDirs: readonly string[] = CERT_DIRS): Promise<Map<string, HostTlsFiles>> {
  const found = new Map<string, HostTlsFiles>();
  for (const host of new Set(hosts)) {
    const files = await filesOf(host, hostsDir, certDirs);
    if (files) found.set(host, files);
  }
  return found;
}

/**
 * What tlsFilesFor would find for `hosts`, by name, as one string; taken before a render, so a
 * certificate put or removed while it reads differs from it. The daemon's rescan compares it: a
 * certificate added or removed changes a hosts.toml but no input the watcher sees. Names, not
 * directory timestamps: our own hosts.toml write (even the first, which makes the host's
 * directory) leaves it equal, and two changes within one tick of the file system's clock still
 * differ. Synchronous, like the rescan's other looks.
 */
export function tlsListing(hosts: Iterable<string>, hostsDir: string, certDirs: readonly string[] = CERT_DIRS): string {
  const lines: string[] = [];
  for (const host of new Set(hosts)) {
    // containerd's directory counts for the files in it: our first hosts.toml write makes `<host>/` and changes nothing.
    const own = containerdOwnFiles(hostsDir, host);
    const files = own.files !== undefined && own.files.ca.length + own.files.client.length > 0 ? stamped(own.dir, own.files) : null;
    lines.push(`${host} ${own.dir} ${JSON.stringify(files)}`);
    // containers/image's: that one exists decides the search (an empty one stops it).
    for (const base of certDirs) lines.push(`${join(base, host)} ${JSON.stringify(namesOrUndefined(join(base, host)) ?? null)}`);
  }
  return lines.join('\n');
}

function namesOrUndefined(dir: string): CertFileNames | undefined {
  const names = namesIn(dir);
  return names === undefined ? undefined : stamped(dir, certFilesAmong(names)); // missing (the usual case) or unreadable: tlsFilesFor skips it too
}

/** The files' names, each CA with its size and time: one rewritten in place can become loadable, or stop being so (loadableCa). */
function stamped(dir: string, files: CertFileNames): CertFileNames {
  const stamp = (name: string): string => {
    try {
      const st = statSync(join(dir, name));
      return `${name} ${st.size} ${st.mtimeMs}`;
    } catch {
      return name;
    }
  };
  return { ca: files.ca.map(stamp), client: files.client };
}
