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
 * is kept (`_mirror-policyd-edited/<host>/hosts.toml.edited-<time>`) before ours replaces it or
 * is removed, and the outcome says so. Not beside it: containerd picks a host directory by its
 * presence, hosts.toml in it or not, so a directory left holding only the copy would hide
 * `_default/` from that registry. `_mirror-policyd-edited` is never looked up (no registry host
 * begins with `_`).
 *
 * A file is classified from the bytes writeFileAtomic reads and classified again just before
 * the rename (its beforeReplace hook), and before an unlink: one written by someone else in
 * between is never replaced or removed unseen (the window left is a rename's or an unlink's).
 *
 * A hosts.toml that is a symbolic link is never ours (we write regular files): an operator put
 * it there (a file of their configuration, an alias `_default/hosts.toml -> ../docker.io/hosts.toml`),
 * and containerd reads through it. It is left as it is, whatever it points to (a file bearing
 * our header, nothing yet), and reported when the policy covers its host, as a hand-written one.
 */
import { lstatSync, promises as fs, readlinkSync, type Dirent } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { error, warning, type Diagnostic } from '../core/diagnostic.js';
import type { RegistriesConf } from '../registries-conf/model.js';
import { bodyDigest, DIGEST_MARK } from '../registries-conf/render.js';
import { readRegularFile, removeStaleTemps, writeFileAtomic } from '../output/atomic-write.js';
import { isStampedCopy, keepStampedCopy } from '../output/stamped-copies.js';
import { unlessMissing, unlessMissingSync } from '../output/if-exists.js';
import { containerdHostDirNames, endpointHosts, HOSTS_TOML_HEADER, renderHostsTomls, type HostsFile, type HostsRender } from './hosts-toml.js';
import { CERT_DIRS } from '../registry/certs.js';
import { tlsFilesFor, tlsListing } from './tls-files.js';
import { criConfigWarnings } from './cri-config-file.js';

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

/** Where the edited copies of our hosts.toml files are kept, one directory per host (see the top of this file). */
export const EDITED_DIR = '_mirror-policyd-edited';

/** The kept copies of an edited hosts.toml of ours: `hosts.toml.edited-<time>` (earlier versions kept them in the host directory). */
const KEPT_NAMING = { prefix: 'hosts.toml.edited-', suffix: '' };

/** How many kept copies of one host's hosts.toml stay (the newest). */
const KEPT_PER_HOST = 20;

/** How many times a file that changes under us between our read and our replace or unlink is read again before giving up. */
const RACE_TRIES = 3;

/** A directory name containerd looks up for a registry host: a host name or address and an optional port, nothing that walks. */
const HOST_DIR = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?$/;

/**
 * `path` and the directories above it that are missing, made 0755 whatever the umask (mkdir's
 * mode is masked by it): containerd runs as root, but `resolve --runtime containerd` and an
 * operator's look read them as anyone, and a hosts.toml is 0644 for that. Existing ones keep theirs.
 * Whether `path` was made now.
 */
async function mkdirReadable(path: string): Promise<boolean> {
  const made = await fs.mkdir(path, { recursive: true, mode: 0o755 });
  if (made === undefined) return false;
  const first = resolve(made);
  // From `path` up to the first one made (absolute paths: a relative one would stop at '.').
  for (let p = resolve(path); p.startsWith(first) && p !== dirname(p); p = dirname(p)) await fs.chmod(p, 0o755);
  return true;
}

/** What we write for a rendered file: the header, the digest of the rest (as registries.conf carries its own), the rest. */
export function stampedText(text: string): string {
  const body = text.slice(HOSTS_TOML_HEADER.length);
  return `${HOSTS_TOML_HEADER}${DIGEST_MARK}${bodyDigest(body)}\n${body}`;
}

type Standing = { kind: 'missing' } | { kind: 'foreign' } | { kind: 'link'; target: string } | { kind: 'ours' } | { kind: 'edited'; text: string };

/**
 * The target of a symbolic link at `file` (as readlink says), undefined when it is none.
 * Blocking: writeFileAtomic calls its beforeReplace hook synchronously (an lstat, microseconds).
 */
function linkAt(file: string): string | undefined {
  return lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() === true ? unlessMissingSync(() => readlinkSync(file)) : undefined;
}

/** Whose the hosts.toml at `file` is: a link is the operator's whatever it points to; otherwise its bytes say (standingOfBytes). */
function standingOf(file: string, bytes: Buffer | undefined): Standing {
  const target = linkAt(file);
  return target !== undefined ? { kind: 'link', target } : standingOfBytes(bytes);
}

/**
 * Whose a hosts.toml is, from its bytes: missing, someone else's (no header), ours as we wrote it,
 * or ours edited since (the digest no longer matches; a file of ours from before the digest line
 * counts as intact).
 */
function standingOfBytes(bytes: Buffer | undefined): Standing {
  const text = bytes?.toString('utf8');
  if (text === undefined) return { kind: 'missing' };
  if (!text.startsWith(HOSTS_TOML_HEADER)) return { kind: 'foreign' };
  const rest = text.slice(HOSTS_TOML_HEADER.length);
  if (!rest.startsWith(DIGEST_MARK)) return { kind: 'ours' };
  const eol = rest.indexOf('\n');
  const intact = eol > 0 && rest.slice(DIGEST_MARK.length, eol) === bodyDigest(rest.slice(eol + 1));
  return intact ? { kind: 'ours' } : { kind: 'edited', text };
}

/**
 * Keeps a hand-edited file of ours in EDITED_DIR before it is replaced or removed; returns where.
 * Only the newest KEPT_PER_HOST copies of a host stay (as the daemon's drift/ for registries.conf:
 * something rewriting our file in a loop must not fill /etc); the copy just made is never among
 * those removed, even when the clock was set back and its name sorts first.
 */
async function keepEdited(dir: string, host: string, text: string, now: Date): Promise<string> {
  const naming = { ...KEPT_NAMING, dir: join(dir, EDITED_DIR, host) };
  await mkdirReadable(naming.dir);
  return keepStampedCopy(naming, KEPT_PER_HOST, (path) => writeFileAtomic(path, text), now);
}

export async function writeHostsDir(dir: string, files: readonly HostsFile[], now = new Date()): Promise<HostsDirOutcome> {
  const out: HostsDirOutcome = { written: [], removed: [], conflicts: [], current: [], edited: [] };
  await mkdirReadable(dir);
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
    if (wanted.has(entry.name) || entry.name === EDITED_DIR) continue;
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
  const hostDir = join(dir, f.host);
  const made = await mkdirReadable(hostDir);
  // A first write that fails (a full disk) leaves no empty directory: containerd would take it and skip _default/.
  await replaceOurs(dir, f, now, out).catch(async (e: unknown) => {
    if (made) await fs.rmdir(hostDir).catch(() => undefined);
    throw e;
  });
}

/** writeOne's hosts.toml replaced (an edit of ours kept first), unless it is not ours; a change between our read and our replace is read again. */
async function replaceOurs(dir: string, f: HostsFile, now: Date, out: HostsDirOutcome): Promise<void> {
  const file = join(dir, f.host, 'hosts.toml');
  const text = stampedText(f.text);
  let keptText: string | undefined; // an edit of ours already kept: replacing it loses nothing
  for (let attempt = 0; attempt < RACE_TRIES; attempt++) {
    let found: Standing = { kind: 'missing' };
    // Asked on writeFileAtomic's first read and again just before its rename.
    const replaceable = (current: Buffer | undefined): boolean => {
      found = standingOf(file, current);
      return found.kind === 'missing' || found.kind === 'ours' || (found.kind === 'edited' && found.text === keptText);
    };
    const result = await writeFileAtomic(file, text, { beforeReplace: replaceable });
    if (result.aborted !== true) {
      if (result.changed) out.written.push(f.host);
      out.current.push(f.host);
      // A write of ours killed before its rename left its temp file: containerd ignores it, but nothing else would remove it.
      await removeStaleTemps(join(dir, f.host), { only: 'hosts.toml' });
      return;
    }
    const seen = found as Standing;
    if (seen.kind === 'link') {
      out.conflicts.push(
        error(
          { file },
          `a symbolic link to ${seen.target} (mirror-policyd writes regular files); left as it is, so containerd does not get the policy for ${f.host} (remove the link to let mirror-policyd manage it)`,
        ),
      );
      return;
    }
    if (seen.kind !== 'edited') {
      out.conflicts.push(
        error(
          { file },
          `written by someone else; left as it is, so containerd does not get the policy for ${f.host} (move it away to let mirror-policyd manage it)`,
        ),
      );
      return;
    }
    out.edited.push({ host: f.host, savedAs: await keepEdited(dir, f.host, seen.text, now) });
    keptText = seen.text;
  }
  out.conflicts.push(error({ file }, `changed by someone else at every one of ${RACE_TRIES} tries to replace it; left as it is`));
}

/**
 * A host directory the policy no longer covers: our hosts.toml in it removed (an edited one kept
 * first), and the kept copies an earlier version left beside it moved to EDITED_DIR; the
 * directory goes when nothing else (a certificate) is left, so that containerd falls back to
 * `_default/` as if we had never written the host. Anything else is left.
 */
async function removeIfOurs(dir: string, entry: Dirent, aliased: ReadonlySet<string>, now: Date, out: HostsDirOutcome): Promise<void> {
  if (!(await isDirectoryOrLinkToOne(dir, entry))) return;
  if (entry.isSymbolicLink() && aliased.has(await fs.realpath(join(dir, entry.name)))) return;
  const hostDir = join(dir, entry.name);
  // Ours that cannot be removed (EROFS, EPERM) throws: its mirrors would stay in use, and writeHostsDir reports it.
  const removed = await removeOurHostsToml(dir, entry.name, now, out);
  if (removed === 'not ours') return;
  if (removed === 'removed') out.removed.push(entry.name);
  const moved = await moveKeptCopies(dir, entry.name);
  // A write of ours killed before its rename left its temp file: with it, the directory would stay and hide _default.
  const temps = await removeStaleTemps(hostDir, { only: 'hosts.toml' });
  if (removed === 'removed' || moved || temps.length > 0) await fs.rmdir(hostDir).catch(() => undefined); // other files (certificates) stay, and so does the directory
}

/**
 * Our hosts.toml of `host` unlinked (an edited one kept first), classified again from a fresh
 * read just before the unlink: one someone wrote in between stays. 'none': there is no
 * hosts.toml (the directory may still hold kept copies); 'not ours': someone else's (a link
 * among them: unlinking it would remove an operator's alias, not our file), or a change at
 * every try.
 */
async function removeOurHostsToml(dir: string, host: string, now: Date, out: HostsDirOutcome): Promise<'removed' | 'none' | 'not ours'> {
  const file = join(dir, host, 'hosts.toml');
  let kept: string | undefined;
  for (let attempt = 0; attempt < RACE_TRIES; attempt++) {
    const bytes = await readUnlessUnreadable(file);
    if (bytes === UNREADABLE) return 'not ours';
    const standing = standingOf(file, bytes);
    if (standing.kind === 'missing') return 'none';
    if (standing.kind === 'foreign' || standing.kind === 'link') return 'not ours';
    if (standing.kind === 'edited' && standing.text !== kept) {
      out.edited.push({ host, savedAs: await keepEdited(dir, host, standing.text, now) });
      kept = standing.text;
    }
    const again = await readUnlessUnreadable(file);
    if (again === UNREADABLE || linkAt(file) !== undefined) return 'not ours';
    if (again === undefined) return 'none';
    if (bytes !== undefined && again.equals(bytes)) {
      await fs.unlink(file);
      return 'removed';
    }
  }
  return 'not ours';
}

const UNREADABLE = Symbol('unreadable');

/** One that cannot be read (a directory by that name) is not known to be ours: not ours to remove or report. */
function readUnlessUnreadable(file: string): Promise<Buffer | undefined | typeof UNREADABLE> {
  return readRegularFile(file).catch(() => UNREADABLE);
}

/** The kept copies an earlier version left in a host directory that has no hosts.toml, moved to EDITED_DIR; whether any was. */
async function moveKeptCopies(dir: string, host: string): Promise<boolean> {
  const names = (await fs.readdir(join(dir, host)).catch(() => [] as string[])).filter((n) => isStampedCopy(KEPT_NAMING, n));
  if (names.length === 0) return false;
  const keptDir = join(dir, EDITED_DIR, host);
  await mkdirReadable(keptDir);
  for (const n of names) await fs.rename(join(dir, host, n), join(keptDir, n));
  return true;
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
 * Our hosts.toml files in `dir` removed (an edited one kept first, as when ours replaces it);
 * others' stay. Undefined when `dir` is not a directory (containerd not installed, or the
 * directory gone): nothing of ours is there, and nothing is made.
 */
export async function removeOurHosts(dir: string): Promise<HostsDirOutcome | undefined> {
  const st = await fs.stat(dir).catch(() => undefined);
  return st?.isDirectory() ? writeHostsDir(dir, []) : undefined;
}

/** The hosts whose hosts.toml in `dir` is ours (as written or edited): what a removal left. */
export async function ourHostsIn(dir: string): Promise<string[]> {
  const left: string[] = [];
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (name === EDITED_DIR) continue;
    const file = join(dir, name, 'hosts.toml');
    const kind = standingOf(file, await readRegularFile(file).catch(() => undefined)).kind;
    if (kind === 'ours' || kind === 'edited') left.push(name);
  }
  return left;
}

/**
 * `dir` rendered from `conf` and written: the certificate files its hosts use looked up first
 * (tls-files.ts), then the files rendered and written. What containerd cannot express is in
 * `warnings`, and so is a containerd config (`containerdConfig`, default
 * /etc/containerd/config.toml) whose CRI plugin does not read `dir`; what could not be written, in `conflicts`; `tlsLook` is what a later look
 * (tlsListing) compares with to see a certificate added or removed since.
 */
export async function updateHostsDir(
  dir: string,
  conf: RegistriesConf,
  options: { readonly localMirror?: string; readonly certDirs?: readonly string[]; readonly containerdConfig?: string } = {},
): Promise<HostsRender & HostsDirOutcome & { readonly tlsLook: TlsLook }> {
  const hosts = endpointHosts(conf);
  const certDirs = options.certDirs ?? CERT_DIRS;
  // Taken before the files are read: a certificate put or removed while they are read differs from it.
  const tlsLook = { hosts, listing: tlsListing(hosts, dir, certDirs) };
  const tls = await tlsFilesFor(hosts, dir, certDirs);
  const rendered = renderHostsTomls(conf, { tls, ...(options.localMirror !== undefined ? { localMirror: options.localMirror } : {}) });
  const outcome = await writeHostsDir(dir, rendered.files);
  const criReads = outcome.current.length > 0 ? await criConfigWarnings(dir, outcome.current, options.containerdConfig) : [];
  const warnings = [...rendered.warnings, ...(await defaultTakenOver(dir, outcome.current)), ...criReads];
  return { ...rendered, warnings, ...outcome, tlsLook };
}

/**
 * An operator's `_default/hosts.toml` (a global mirror, say) applies to every registry without a
 * directory of its own: the hosts we write a hosts.toml for leave it, and an operator must hear so.
 * None when it is ours (`_default` linked to a host directory we write) or there is none.
 */
async function defaultTakenOver(dir: string, hosts: readonly string[]): Promise<Diagnostic[]> {
  if (hosts.length === 0) return [];
  const file = join(dir, '_default', 'hosts.toml');
  const standing = standingOfBytes(await readRegularFile(file).catch(() => undefined));
  if (standing.kind !== 'foreign') return [];
  return [
    warning(
      { file },
      `containerd no longer reads it for ${hosts.join(', ')}: it takes a registry's own directory first, where mirror-policyd writes its hosts.toml (its settings do not apply to them)`,
    ),
  ];
}
