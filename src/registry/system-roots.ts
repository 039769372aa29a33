/**
 * The system's trusted CA certificates, found where containers/image finds them: Go's
 * SystemCertPool (crypto/x509, root_linux.go and root_unix.go) reads `$SSL_CERT_FILE`, else the
 * first of the distributions' bundle files that exists, then every file of `$SSL_CERT_DIR`
 * (colon-separated), else of /etc/ssl/certs and /etc/pki/tls/certs. A CA an operator installed
 * with update-ca-certificates (an internal mirror's) is trusted by podman and skopeo; Node trusts
 * its own bundled copy of Mozilla's list instead (unless started with --use-openssl-ca), so a
 * mirror podman pulls from failed our TLS check and was marked down for every runtime.
 *
 * Read again when a file's or directory's identity changes (a daemon outlives an
 * update-ca-certificates run); otherwise the texts read before. Hand-written: Node 20 has no API
 * for the system store (tls.getCACertificates('system') came in 22.15), and this is Go's list.
 */
import { readdirSync, readFileSync, readlinkSync, statSync, type Dirent, type Stats } from 'node:fs';
import { join } from 'node:path';

/** Go's certFiles for Linux, in its order: the first that exists is read. */
export const SYSTEM_CERT_FILES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Gentoo
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL 6
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7
  '/etc/ssl/cert.pem', // Alpine
];
/** Go's certDirectories for Linux: every file in them is read. */
export const SYSTEM_CERT_DIRS = ['/etc/ssl/certs', '/etc/pki/tls/certs'];

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;

interface Where {
  readonly files: readonly string[];
  readonly dirs: readonly string[];
}

let kept: { readonly stamp: string; readonly roots: readonly string[] | undefined } | undefined;

/** Where Go looks, the environment's settings first. */
function whereFor(env: NodeJS.ProcessEnv): Where {
  return {
    files: env.SSL_CERT_FILE ? [env.SSL_CERT_FILE] : SYSTEM_CERT_FILES,
    dirs: env.SSL_CERT_DIR ? env.SSL_CERT_DIR.split(':').filter((d) => d !== '') : SYSTEM_CERT_DIRS,
  };
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** What the read depends on, by identity: each place's inode, size and times (a directory's move when a file is added). */
function stampOf(where: Where): string {
  return [...where.files, ...where.dirs]
    .map((p) => {
      const st = statOrUndefined(p);
      return st ? `${p}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : `${p}:-`;
    })
    .join('|');
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'latin1'); // PEM is ASCII; anything else in the file is not looked at
  } catch {
    return undefined;
  }
}

/**
 * A directory's files, as Go's readUniqueDirectoryEntries gives them: a link whose target has no
 * slash (another entry of the same directory: OpenSSL's hash links, `0a1b2c3d.0`) is left out,
 * its target being read anyway.
 */
function uniqueEntries(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => !(e.isSymbolicLink() && !readlinkOr(join(dir, e.name)).includes('/'))).map((e) => join(dir, e.name));
}

function readlinkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '/'; // unreadable: read as an entry (the read fails quietly if it is nothing)
  }
}

/** Each certificate once, in the order found. */
function certificatesIn(texts: ReadonlyArray<string | undefined>): string[] {
  const seen = new Set<string>();
  for (const text of texts) for (const m of text?.matchAll(PEM_CERTIFICATE) ?? []) seen.add(m[0].replace(/\r\n/g, '\n'));
  return [...seen];
}

function readRoots(where: Where): string[] | undefined {
  const file = where.files.map(readOrUndefined).find((t) => t !== undefined);
  const fromDirs = where.dirs.flatMap(uniqueEntries).map(readOrUndefined);
  const roots = certificatesIn([file, ...fromDirs]);
  return roots.length > 0 ? roots : undefined;
}

/**
 * The system's CA certificates as PEM texts; undefined when none is found (a minimal container
 * image, another system's layout): Node's own list then stays in use.
 */
export function systemRootCertificates(env: NodeJS.ProcessEnv = process.env): readonly string[] | undefined {
  const where = whereFor(env);
  const stamp = stampOf(where);
  if (kept?.stamp !== stamp) kept = { stamp, roots: readRoots(where) };
  return kept.roots;
}

let keptExtra: { readonly stamp: string; readonly certs: readonly string[] } | undefined;

/**
 * The certificates of `$NODE_EXTRA_CA_CERTS`: Node adds them to its own list, but a context given
 * its CAs (ours always is, once the system's are read) leaves them out; an operator who set it
 * for this service expects them trusted still. Read again when the file changes.
 */
export function nodeExtraCaCertificates(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  const stamp = stampOf({ files: [file], dirs: [] });
  if (keptExtra?.stamp !== stamp) keptExtra = { stamp, certs: certificatesIn([readOrUndefined(file)]) };
  return keptExtra.certs;
}
