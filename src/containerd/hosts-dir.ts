/**
 * Writing containerd's hosts directory (an edge; `containerd-hosts-dir`, issue #16). Only host
 * directories we manage are written or cleaned: a hosts.toml is ours when it begins with our
 * header (HOSTS_TOML_HEADER). Each file is replaced atomically and only when its bytes change;
 * a hand-written hosts.toml for a host the policy covers is left exactly as it is and reported
 * as a conflict (never overwritten unseen); ours for a host the policy no longer covers is
 * removed, with its directory when nothing else (a CA, a client certificate) is left in it.
 * containerd reads hosts.toml at every pull: no reload is needed.
 *
 * Drift, as for registries.conf: each file we write carries the digest of what follows its
 * header line. One of ours whose text no longer matches it was edited by hand; the edited copy
 * is kept beside it (`hosts.toml.edited-<time>`, a name containerd never reads) before ours
 * replaces it or is removed, and the outcome says so.
 */
import { promises as fs, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { error, type Diagnostic } from '../core/diagnostic.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import { bodyDigest, DIGEST_MARK } from '../registries-conf/render.js';
import { readRegularFile, writeFileAtomic } from '../output/atomic-write.js';
import { unlessMissing } from '../output/if-exists.js';
import { containerdHostDirNames, endpointHosts, HOSTS_TOML_HEADER, renderHostsTomls, type HostsFile, type HostsRender } from './hosts-toml.js';
import { CERT_DIRS } from '../registry/certs.js';
import { tlsFilesFor, tlsListing } from './tls-files.js';

export interface HostsDirOutcome {
  /** Hosts whose hosts.toml changed. */
  readonly written: string[];
  /** Hosts whose hosts.toml of ours was removed. */
  readonly removed: string[];
  /** Hosts left alone: their hosts.toml is not ours. */
  readonly conflicts: Diagnostic[];
  /** Hosts whose hosts.toml is ours and holds what the policy says (written now or before), in the order given. */
  readonly current: string[];
  /** Our files found edited by hand: where the edited copy was kept before ours replaced it (or was removed). */
  readonly edited: Array<{ readonly host: string; readonly savedAs: string }>;
}

/** A directory name containerd looks up for a registry host: a host name or address and an optional port, nothing that walks. */
const HOST_DIR = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/;

/** What we write for a rendered file: the header, the digest of the rest (as registries.conf carries its own), the rest. */
export function stampedText(text: string): string {
  const body = text.slice(HOSTS_TOML_HEADER.length);
  return `${HOSTS_TOML_HEADER}${DIGEST_MARK}${bodyDigest(body)}\n${body}`;
}

type Standing = { kind: 'missing' } | { kind: 'foreign' } | { kind: 'ours' } | { kind: 'edited'; text: string };

/**
 * Whose a hosts.toml is: missing, someone else's (no header), ours as we wrote it, or ours edited
 * since (the digest no longer matches; a file of ours from before the digest line counts as intact).
 */
async function standingOf(file: string): Promise<Standing> {
  // Not read unless a regular file: a FIFO would hold the read (and the render) until a writer came.
  const text = (await readRegularFile(file))?.toString('utf8');
  if (text === undefined) return { kind: 'missing' };
  if (!text.startsWith(HOSTS_TOML_HEADER)) return { kind: 'foreign' };
  const rest = text.slice(HOSTS_TOML_HEADER.length);
  if (!rest.startsWith(DIGEST_MARK)) return { kind: 'ours' };
  const eol = rest.indexOf('\n');
  const intact = eol > 0 && rest.slice(DIGEST_MARK.length, eol) === bodyDigest(rest.slice(eol + 1));
  return intact ? { kind: 'ours' } : { kind: 'edited', text };
}

/** Keeps a hand-edited file of ours beside it before it is replaced; returns where. */
async function keepEdited(file: string, text: string, now: Date): Promise<string> {
  const savedAs = `${file}.edited-${now.toISOString().replace(/[:.]/g, '-')}`;
  await writeFileAtomic(savedAs, text);
  return savedAs;
}

export async function writeHostsDir(dir: string, files: readonly HostsFile[], now = new Date()): Promise<HostsDirOutcome> {
  const out: HostsDirOutcome = { written: [], removed: [], conflicts: [], current: [], edited: [] };
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const wanted = new Set<string>();
  for (const f of files) {
    if (!HOST_DIR.test(f.host) || f.host.includes('..')) {
      out.conflicts.push(error({ file: join(dir, f.host) }, `not a registry host name containerd looks up; not written`));
      continue;
    }
    wanted.add(f.host);
    // One host's trouble (a file or a dangling link in its directory's place) is its own: the others are still written.
    await writeOne(dir, f, now, out).catch((e: Error) => out.conflicts.push(error({ file: join(dir, f.host, 'hosts.toml') }, `cannot write: ${e.message}`)));
  }
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const aliased = await aliasTargets(dir, entries, wanted);
  for (const entry of entries) {
    if (wanted.has(entry.name)) continue;
    await removeIfOurs(dir, entry, aliased, now, out).catch((e: Error) =>
      out.conflicts.push(error({ file: join(dir, entry.name, 'hosts.toml') }, `cannot remove: ${e.message}`)),
    );
  }
  return out;
}

/** One host's hosts.toml written, unless someone else's is there or containerd would read another directory. */
async function writeOne(dir: string, f: HostsFile, now: Date, out: HostsDirOutcome): Promise<void> {
  const file = join(dir, f.host, 'hosts.toml');
  const shadow = await shadowingDir(dir, f.host);
  if (shadow !== undefined) {
    out.conflicts.push(
      error(
        { file: shadow },
        `containerd looks up ${f.host} here first and reads no other directory while it exists, so it would never read ${file}; not written (move its files into ${f.host}/ to let mirror-policyd manage it)`,
      ),
    );
    return;
  }
  const standing = await standingOf(file);
  if (standing.kind === 'foreign') {
    out.conflicts.push(
      error(
        { file },
        `written by someone else; left as it is, so containerd does not get the policy for ${f.host} (move it away to let mirror-policyd manage it)`,
      ),
    );
    return;
  }
  await fs.mkdir(join(dir, f.host), { recursive: true, mode: 0o755 });
  if (standing.kind === 'edited') out.edited.push({ host: f.host, savedAs: await keepEdited(file, standing.text, now) });
  if ((await writeFileAtomic(file, stampedText(f.text))).changed) out.written.push(f.host);
  out.current.push(f.host);
}

/** A host directory the policy no longer covers: our hosts.toml in it removed (an edited one kept first); anything else left. */
async function removeIfOurs(dir: string, entry: Dirent, aliased: ReadonlySet<string>, now: Date, out: HostsDirOutcome): Promise<void> {
  if (!(await isDirectoryOrLinkToOne(dir, entry))) return;
  if (entry.isSymbolicLink() && aliased.has(await fs.realpath(join(dir, entry.name)))) return;
  const file = join(dir, entry.name, 'hosts.toml');
  // One that cannot be read (a directory by that name) is not known to be ours: not ours to report either.
  const standing = await standingOf(file).catch(() => undefined);
  if (standing?.kind !== 'ours' && standing?.kind !== 'edited') return;
  if (standing.kind === 'edited') out.edited.push({ host: entry.name, savedAs: await keepEdited(file, standing.text, now) });
  await fs.unlink(file);
  out.removed.push(entry.name);
  await fs.rmdir(join(dir, entry.name)).catch(() => undefined); // other files (certificates) stay, and so does the directory
}

/**
 * The real paths of the host directories we write and of every plain directory in `dir`. A
 * link to one of them (`_default -> docker.io`, set up so that containerd reads one file under
 * two names) is an alias: its hosts.toml is that directory's, kept or removed under its own
 * name, never through the link (which removed the file just written at every render).
 */
async function aliasTargets(dir: string, entries: readonly Dirent[], wanted: ReadonlySet<string>): Promise<Set<string>> {
  const names = [...wanted, ...entries.filter((e) => e.isDirectory()).map((e) => e.name)];
  const real = await Promise.all(names.map((n) => fs.realpath(join(dir, n)).catch(() => undefined)));
  return new Set(real.filter((r): r is string => r !== undefined));
}

/**
 * containerd's other name for a `host:port` directory, `host_port_` (hostDirectory in
 * remotes/docker/config: 1.6 to 2.x look it up before `host:port` and take the first path that
 * exists, hosts.toml or not), when it exists and is not the same directory; undefined otherwise.
 */
async function shadowingDir(dir: string, host: string): Promise<string | undefined> {
  const [first] = containerdHostDirNames(host);
  if (first === undefined || first === host) return undefined;
  const other = join(dir, first);
  const real = await unlessMissing(fs.realpath(other));
  if (real === undefined) return undefined;
  return real === (await unlessMissing(fs.realpath(join(dir, host)))) ? undefined : other;
}

/** A host directory, or a symlink to one (ours were written through it: mkdir follows the link). */
async function isDirectoryOrLinkToOne(dir: string, entry: Dirent): Promise<boolean> {
  if (entry.isDirectory()) return true;
  return entry.isSymbolicLink() && (await fs.stat(join(dir, entry.name)).catch(() => undefined))?.isDirectory() === true;
}

/** The hosts whose certificates a render looked up, and their TLS files by name (tlsListing) as they were before it read them. */
export interface TlsLook {
  readonly hosts: readonly string[];
  readonly listing: string;
}

/**
 * `dir` rendered from `conf` and written: the certificate files its hosts use looked up first
 * (tls-files.ts), then the files rendered and written. What containerd cannot express is in
 * `warnings`; what could not be written, in `conflicts`; `tlsLook` is what a later look
 * (tlsListing) compares with to see a certificate added or removed since.
 */
export async function updateHostsDir(
  dir: string,
  conf: RegistriesConf,
  options: { readonly localMirror?: string; readonly certDirs?: readonly string[] } = {},
): Promise<HostsRender & HostsDirOutcome & { readonly tlsLook: TlsLook }> {
  const hosts = endpointHosts(conf);
  const certDirs = options.certDirs ?? CERT_DIRS;
  // Taken before the files are read: a certificate put or removed while they are read differs from it.
  const tlsLook = { hosts, listing: tlsListing(hosts, dir, certDirs) };
  const tls = await tlsFilesFor(hosts, dir, certDirs);
  const rendered = renderHostsTomls(conf, { tls, ...(options.localMirror !== undefined ? { localMirror: options.localMirror } : {}) });
  return { ...rendered, ...(await writeHostsDir(dir, rendered.files)), tlsLook };
}
