/**
 * Reading a policy directory (an edge: file system). Every fragment is opened once,
 * checked on the open descriptor (no race between check and read), and refused when an
 * unprivileged user could have written it: a fragment is policy for every pull on the host.
 */
import { mapBounded } from '../core/map-bounded.js';
import type { SweepCache } from '../core/sweep-cache.js';
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { blockingIo, slicedIo, type FragmentIo, type OpenFile } from './fragment-io.js';
import { dirname, join, relative, isAbsolute, resolve } from 'node:path';
import { error, warning, type Diagnostic } from '../core/diagnostic.js';
import { FRAGMENT_NAMES, NOT_A_FRAGMENT, classifyName, decodeFragment, decodeProblemAt } from './index.js';
import type { SourceText } from '../pipeline/strict.js';
import { sortByByteOrder, sortByteOrder } from '../core/byte-order.js';
import { DEFAULT_MAX_FRAGMENT_BYTES } from '../core/defaults.js';
import { trustFix, trustProblem, untrustedAncestor } from '../core/trust.js';

export { trustProblem };

export { DEFAULT_MAX_FRAGMENT_BYTES };

/** Why a fragment over the cap is refused, naming the cap and the setting that raises it. */
export function oversizeMessage(size: number, cap: number): string {
  return `${size} bytes, more than the ${cap} allowed by max-fragment-bytes`;
}

/**
 * How many fragments are read at once. Each takes five thread-pool round trips (lstat, open,
 * fstat, read, close); one after another, 10 000 fragments waited 2 s on them. Enough in flight
 * keeps the pool's four threads busy; a bound keeps descriptors and memory small.
 */
export const READ_CONCURRENCY = 24;

/**
 * How many fragments one directory may hold (five times the 10 000 of the render bench).
 * Those past the cap, in byte order of their names, are refused one by one; the others are read.
 */
export const MAX_FRAGMENTS = 50_000;

export interface ReadOptions {
  /** Skip ownership, permission and hard-link checks (demos and tests on files a user owns). */
  readonly allowUnsafe?: boolean;
  /** The uid allowed besides root; defaults to the process's own. */
  readonly uid?: number;
  /** The cap on the number of fragments (default MAX_FRAGMENTS). */
  readonly maxFragments?: number;
  /** The cap on a fragment's size in bytes (default DEFAULT_MAX_FRAGMENT_BYTES). */
  readonly maxFragmentBytes?: number;
  /** What earlier reads found (the daemon keeps one): a fragment whose file is unchanged is not opened again. */
  readonly cache?: FragmentReadCache;
  /**
   * Read with blocking system calls, start to end: for one-shot commands (check, render), where
   * nothing else waits on the event loop. Otherwise (the daemon) the same calls in slices between
   * which the event loop turns (slicedIo). The same calls, checks and refusals.
   */
  readonly blocking?: boolean;
}

/** A fragment's text as last read, with the identity of the file it was read from and when. */
export interface CachedRead {
  readonly identity: string;
  readonly text: string;
  readonly readAt: number;
  /** The read was marked settling (SourceText.settling): the same text read again while the file is that fresh is too. */
  readonly settling?: true;
}

/** Fragments read, by name; swept after each read of the directory. */
export type FragmentReadCache = SweepCache<CachedRead>;

/**
 * A file read this close after its last change may have been changed again in the same tick of
 * the kernel's coarse clock, with the same times and size ("racily clean", as git calls it): its
 * cached text is not trusted, the file is read again. Later reads of it are trusted.
 */
export const RACY_MS = 1000;

/**
 * A fragment rewritten in place (`cp` over it, `cat > x.toml`, vim with backupcopy=yes, a
 * download) is truncated, then written in as many writes as its writer makes, with pauses as
 * long as the writer's (a network, a pipe): read between two of them, its first part can be
 * valid on its own, with entries missing. A read that finds the same file as the last one, with
 * other text, written this recently, is marked as settling (SourceText.settling).
 */
export const IN_PLACE_SETTLE_MS = 300;

/** Everything a write, a chmod, a chown, a new link or a replacement of the file changes. */
function statIdentity(st: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number; mode: number; uid: number; nlink: number }): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.mode}:${st.uid}:${st.nlink}`;
}

/** An lstat's identity for PolicyDirContents.identity; '-' when there is none. */
function entryIdentity(st: Parameters<typeof statIdentity>[0] | undefined): string {
  return st ? statIdentity(st) : '-';
}

/**
 * The digest of what a read saw: the directory's own line, then one per entry looked at, in byte
 * order of names. The lines are hashed as one string (the same bytes, the same digest): one
 * update per entry was a tenth of a blocking read of 10 000 fragments (issue #15).
 */
function contentsIdentity(dirLine: string, names: readonly string[], lineOf: (name: string) => string | undefined): string {
  const lines = [`${dirLine}\n`];
  for (const name of names) {
    const line = lineOf(name);
    if (line !== undefined) lines.push(`${name}\0${line}\n`);
  }
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/** The names of `entries`, for contentsIdentity. */
function namesOf(entries: readonly DirEntry[]): string[] {
  return entries.map((e) => e.name);
}

export interface IgnoredFile {
  readonly name: string;
  readonly why: string;
}

export interface PolicyDirContents {
  readonly fragments: SourceText[];
  readonly ignored: IgnoredFile[];
  /** Errors (fragments refused or unreadable) and warnings (files that are not fragments). */
  readonly diagnostics: Diagnostic[];
  /** False when the directory does not exist (not an error for the daemon, which waits for it). */
  readonly exists: boolean;
  /**
   * Set when the directory as a whole was refused or could not be read (it is also in
   * `diagnostics`): what it holds is unknown, so a daemon keeps every fragment it knew.
   */
  readonly dirProblem?: Diagnostic;
  /**
   * What this read saw, by identity: the directory and each entry it looked at (a fragment's
   * lstat, and its target's for a link, taken before it was opened). Equal identities, equal
   * contents: the daemon's rescan compares them instead of taking every lstat a second time.
   */
  readonly identity: string;
  /** What this read found entry by entry, when it read the whole directory cleanly: readPolicyDirNames starts from it. */
  readonly state?: DirState;
  /**
   * The entries of the directory that its fragments' symbolic links pass through (`..data` and
   * `..2026_12_06_05_00_00.123456789` of a Kubernetes volume's `x.yaml -> ..data/x.yaml`): a
   * change of one of them changes those fragments with no event for their own names, so the
   * daemon's watcher reports them although their names are ignored.
   */
  readonly viaLinks?: ReadonlySet<string>;
}

/** One entry as a read left it. */
interface EntryRecord {
  readonly outcome: EntryOutcome;
  /** Its line in PolicyDirContents.identity; absent for a name ignored by its name alone (never looked at). */
  readonly line?: string;
  /** A fragment's name: counts toward maxFragments. */
  readonly fragment: boolean;
}

/** What a read of the whole directory (and the reads of names after it) found; opaque outside this file. */
export interface DirState {
  readonly realDir: string;
  /** The directory's dev:ino when read. */
  readonly dirKey: string;
  /** The cap it was read under (another cap: a whole read). */
  readonly maxFragments: number;
  /** Every entry's name, in byte order. */
  readonly names: readonly string[];
  readonly entries: ReadonlyMap<string, EntryRecord>;
  /** Fragments that are symbolic links: their target can change with no event for their name, so every read looks at them. */
  readonly links: ReadonlySet<string>;
}

/** The directory's identity (undefined: not there), to see whether it was moved or swapped while we read it. */
async function dirIdentity(io: FragmentIo, dir: string): Promise<string | undefined> {
  try {
    const st = await io.stat(dir);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** A directory swapped while read (`mv policy.d policy.d.old; mv new policy.d`) is read again, this many times at most. */
const REREAD_TRIES = 3;

/** The calls a read makes: blocking start to end, or the same in slices (ReadOptions.blocking). */
function ioFor(opts: ReadOptions): FragmentIo {
  return opts.blocking === true ? blockingIo : slicedIo();
}

/**
 * Reads every fragment of `dir`. A read that a move or swap of the directory overlapped is
 * done again: half of one directory and half of another, or fragments that "vanished"
 * because their directory moved away, must never look like a policy.
 */
export async function readPolicyDir(dir: string, opts: ReadOptions = {}): Promise<PolicyDirContents> {
  const io = ioFor(opts);
  for (let n = 1; ; n++) {
    const before = await dirIdentity(io, dir);
    const got = await readPolicyDirOnce(io, dir, opts);
    if ((await dirIdentity(io, dir)) === before) return got;
    if (n >= REREAD_TRIES) {
      const problem = error({ file: dir }, `the policy directory was moved or replaced while being read, ${REREAD_TRIES} times in a row`);
      return { fragments: [], ignored: [], diagnostics: [problem], exists: true, dirProblem: problem, identity: 'moved while read' };
    }
  }
}

/**
 * UTF-8 that refuses invalid bytes (decode throws a TypeError) and drops a leading BOM. One for
 * every decode: a decode that is not streamed keeps no state from one call to the next.
 */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** A file name as shown to people: bytes that are not valid UTF-8 (or not ASCII, then) escaped as \xNN. */
export function displayName(raw: Buffer): { name: string; validUtf8: boolean } {
  try {
    return { name: STRICT_UTF8.decode(raw), validUtf8: true };
  } catch {
    return {
      name: [...raw].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join(''),
      validUtf8: false,
    };
  }
}

interface DirEntry {
  readonly raw: Buffer;
  readonly name: string;
  readonly validUtf8: boolean;
}

type NameVerdict = { fragment: true } | { ignored: string } | { diagnostic: Diagnostic };

/**
 * Leftovers and subdirectories are ignored quietly; any other file that is not a fragment is a
 * warning (a misnamed fragment is a likely mistake). Only lstat is used: nothing is opened.
 */
async function judgeName(io: FragmentIo, realDir: string, { name, raw, validUtf8 }: DirEntry, seen: Map<string, string>): Promise<NameVerdict> {
  const cls = classifyName(name);
  if ('ignored' in cls && cls.ignored !== NOT_A_FRAGMENT) return { ignored: cls.ignored };
  if ('ignored' in cls) {
    const st = await lookAt(io, Buffer.concat([Buffer.from(`${realDir}/`), raw]));
    seen.set(name, entryIdentity(st));
    if (st === undefined) return { ignored: VANISHED };
    if (st.isDirectory()) return { ignored: 'subdirectory' };
    return { diagnostic: warning({ file: name }, `not a policy fragment, ignored: fragments are named ${FRAGMENT_NAMES}`) };
  }
  if (!validUtf8) return { diagnostic: error({ file: name }, 'refusing fragment: its name is not valid UTF-8 (shown with the bytes escaped); rename it') };
  return { fragment: true };
}

/** Why an entry listed is not there when looked at: deleted between the listing and the look. */
const VANISHED = 'vanished while reading';

/** What became of one directory entry; collected in the entries' order so the result does not depend on timing. */
type EntryOutcome = { ignored: string } | { diagnostic: Diagnostic } | { text: string; settling?: true };

function collect(
  entries: readonly DirEntry[],
  outcomes: readonly EntryOutcome[],
  into: Pick<PolicyDirContents, 'fragments' | 'ignored' | 'diagnostics'>,
): void {
  outcomes.forEach((outcome, i) => collectOne((entries[i] as DirEntry).name, outcome, into));
}

function collectOne(name: string, outcome: EntryOutcome, into: Pick<PolicyDirContents, 'fragments' | 'ignored' | 'diagnostics'>): void {
  if ('ignored' in outcome) into.ignored.push({ name, why: outcome.ignored });
  else if ('diagnostic' in outcome) into.diagnostics.push(outcome.diagnostic);
  else into.fragments.push(outcome.settling ? { file: name, text: outcome.text, settling: true } : { file: name, text: outcome.text });
}

/** An lstat, undefined when it fails (the file vanished, or cannot be looked at). */
async function lookAt(io: FragmentIo, path: string | Buffer): Promise<Stats | undefined> {
  try {
    return await io.lstat(path);
  } catch {
    return undefined;
  }
}

/** A stat (links followed), undefined when it fails. */
async function statOf(io: FragmentIo, path: string): Promise<Stats | undefined> {
  try {
    return await io.stat(path);
  } catch {
    return undefined;
  }
}

interface ReadLimits {
  readonly io: FragmentIo;
  readonly uid: number;
  readonly allowUnsafe: boolean;
  readonly maxFragmentBytes: number;
  readonly cache: FragmentReadCache | undefined;
  /** Each entry's identity as looked at (PolicyDirContents.identity), by name. */
  readonly seen: Map<string, string>;
  /** The fragments found to be symbolic links. */
  readonly links: Set<string>;
  /** The entries those links pass through (PolicyDirContents.viaLinks). */
  readonly via: Set<string>;
}

function readLimits(io: FragmentIo, opts: ReadOptions): ReadLimits {
  return {
    io,
    uid: opts.uid ?? process.getuid?.() ?? 0,
    allowUnsafe: opts.allowUnsafe === true,
    maxFragmentBytes: opts.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES,
    cache: opts.cache,
    seen: new Map(),
    links: new Set(),
    via: new Set(),
  };
}

/** The directory's own line in PolicyDirContents.identity; taken before the listing: an entry added or removed while we read moves the directory's times. */
async function dirLineOf(io: FragmentIo, dir: string): Promise<string> {
  return `${entryIdentity(await lookAt(io, dir))} ${entryIdentity(await statOf(io, dir))}`;
}

/** What refuses the policy directory, and the command that ends it. */
interface DirProblem {
  readonly problem: string;
  readonly fix: string;
}

/**
 * Why a directory above `path` (up to /) is not trusted by `uid`, as words that follow "the
 * policy directory is", with its fix; undefined when none is. Each is stat'ed (links followed):
 * the directory holding a link must be trusted as much as the one holding a directory. Bounded
 * by the depth.
 */
async function ancestorsProblem(io: FragmentIo, path: string, uid: number): Promise<DirProblem | undefined> {
  const found = await untrustedAncestor(dirname(path), uid, (p) => io.stat(p));
  return (
    found && {
      problem: `in ${found.at}, which is ${found.problem}, so that others could put another directory in its place`,
      fix: trustFix(found.at, found.st, uid),
    }
  );
}

/**
 * Why the policy directory is not trusted: itself, a directory above its real path, or one above
 * the path it was named by (where a link to it may sit: replacing the link swaps the directory).
 */
async function policyDirProblem(io: FragmentIo, dir: string, realDir: string, st: Stats, uid: number): Promise<DirProblem | undefined> {
  const own = trustProblem(st, uid);
  if (own !== undefined) return { problem: own, fix: trustFix(realDir, st, uid) };
  const named = resolve(dir); // the same path, as usual, is walked once: this runs at every change
  return (await ancestorsProblem(io, realDir, uid)) ?? (named === realDir ? undefined : await ancestorsProblem(io, named, uid));
}

async function readPolicyDirOnce(io: FragmentIo, dir: string, opts: ReadOptions): Promise<PolicyDirContents> {
  const limits = readLimits(io, opts);
  const fragments: SourceText[] = [];
  const ignored: IgnoredFile[] = [];
  const diagnostics: Diagnostic[] = [];
  let entries: DirEntry[];
  let realDir: string;
  const dirLine = await dirLineOf(io, dir);
  try {
    realDir = await io.realpath(dir);
    entries = (await io.readdir(realDir)).map((raw) => ({ raw, ...displayName(raw) }));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const identity = contentsIdentity(`${dirLine} ${err.code ?? 'unreadable'}`, [], () => undefined);
    if (err.code === 'ENOENT') return { fragments, ignored, diagnostics, exists: false, identity, viaLinks: limits.via };
    const problem = error({ file: dir }, `cannot read policy directory: ${err.message}`);
    return { fragments, ignored, diagnostics: [problem], exists: true, dirProblem: problem, identity, viaLinks: limits.via };
  }
  sortByByteOrder(entries, (e) => e.name);
  const verdicts = await mapBounded(entries, READ_CONCURRENCY, (entry) => judgeName(io, realDir, entry, limits.seen));
  if (!limits.allowUnsafe) {
    const st = await io.stat(realDir);
    const found = await policyDirProblem(io, dir, realDir, st, limits.uid);
    // A sticky, world-writable directory still lets others add files; refuse all of it, fragment
    // by fragment (none is read), so that each is named and the daemon keeps each one's last
    // valid content in effect instead of rendering as if the policy were empty.
    if (found) {
      const problem = found.problem;
      const dirProblem = error(
        { file: dir },
        `refusing policy directory: ${problem}; fragments there could come from an unprivileged user; check them, then: ${found.fix}`,
      );
      diagnostics.push(dirProblem);
      const refused = verdicts.map((v, i): EntryOutcome =>
        'fragment' in v ? { diagnostic: error({ file: (entries[i] as DirEntry).name }, `refusing fragment: the policy directory is ${problem}`) } : v,
      );
      collect(entries, refused, { fragments, ignored, diagnostics });
      const identity = contentsIdentity(dirLine, namesOf(entries), (n) => limits.seen.get(n));
      return { fragments, ignored, diagnostics, exists: true, dirProblem, identity, viaLinks: limits.via };
    }
  }
  // The cap counts fragments in byte order of names; judging a fragment's name reads nothing, so
  // this order is the same whichever lstat of the other names finished first.
  const maxFragments = opts.maxFragments ?? MAX_FRAGMENTS;
  let seen = 0;
  const admitted = verdicts.map((v, i): EntryOutcome | DirEntry => {
    if (!('fragment' in v)) return v;
    if (++seen <= maxFragments) return entries[i] as DirEntry;
    return {
      diagnostic: error(
        { file: (entries[i] as DirEntry).name },
        `refusing fragment: the policy directory holds more than ${maxFragments} fragments; this is number ${seen} in byte order of names`,
      ),
    };
  });
  const outcomes = await mapBounded(admitted, READ_CONCURRENCY, async (a) => ('raw' in a ? readFragment(join(realDir, a.name), a.name, realDir, limits) : a));
  limits.cache?.sweep();
  collect(entries, outcomes, { fragments, ignored, diagnostics });
  const names = namesOf(entries);
  const identity = contentsIdentity(dirLine, names, (n) => limits.seen.get(n));
  if (seen > maxFragments) return { fragments, ignored, diagnostics, exists: true, identity, viaLinks: limits.via }; // past the cap: the next read is whole too
  const records = new Map<string, EntryRecord>();
  outcomes.forEach((outcome, i) => {
    const name = names[i] as string;
    const line = limits.seen.get(name);
    if (!gone(outcome, line)) records.set(name, { outcome, fragment: 'fragment' in (verdicts[i] as NameVerdict), ...(line !== undefined ? { line } : {}) });
  });
  const dirSt = await statOf(io, realDir);
  const state: DirState = {
    realDir,
    dirKey: dirSt ? `${dirSt.dev}:${dirSt.ino}` : '-',
    maxFragments,
    names: records.size === names.length ? names : names.filter((n) => records.has(n)),
    entries: records,
    links: limits.links,
  };
  return { fragments, ignored, diagnostics, exists: true, identity, state, viaLinks: limits.via };
}

/** A name fs.watch reported that can stand for a directory entry as is (not one it had to mangle or a path). */
function plainName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') && !name.includes('\uFFFD');
}

/**
 * The directory as `since` found it, with only `names` (those the watcher reported) and the
 * fragments that are links looked at again, with the same checks and refusals as a whole read:
 * at 10 000 fragments, one changed, the whole read's 10 000 lstat calls were a third of a
 * change's time (issue #15). Falls back to a whole read when `since` did not read the whole
 * directory cleanly, when a name is not one fs.watch can report as is, when the directory was
 * moved, swapped or made untrusted, or when the fragments now pass the cap. What the watcher
 * did not report is not seen: the daemon reads the whole directory on its rescan, and on any
 * event that names no entry. The read cache is not swept (unchanged fragments stay in it).
 */
export async function readPolicyDirNames(dir: string, names: Iterable<string>, since: PolicyDirContents, opts: ReadOptions = {}): Promise<PolicyDirContents> {
  const state = since.state;
  const wanted = sortByteOrder([...new Set([...names, ...(state?.links ?? [])])]);
  const whole = { ...opts, blocking: false }; // a whole read lets the loop turn between slices (10 000 fragments)
  if (state === undefined || state.maxFragments !== (opts.maxFragments ?? MAX_FRAGMENTS) || !wanted.every(plainName)) return readPolicyDir(dir, whole);
  const io = ioFor(opts);
  const before = await dirIdentity(io, dir);
  const got = await readNamesOnce(io, dir, wanted, state, opts);
  if (got === undefined || (await dirIdentity(io, dir)) !== before) return readPolicyDir(dir, whole);
  return got;
}

/** readPolicyDirNames's read; undefined when only a whole read will do. */
async function readNamesOnce(
  io: FragmentIo,
  dir: string,
  reported: readonly string[],
  state: DirState,
  opts: ReadOptions,
): Promise<PolicyDirContents | undefined> {
  const limits = readLimits(io, opts);
  let wanted = reported;
  const dirLine = await dirLineOf(io, dir);
  let realDir: string;
  try {
    realDir = await io.realpath(dir);
  } catch {
    return undefined;
  }
  const dirSt = await statOf(io, realDir);
  if (realDir !== state.realDir || dirSt === undefined || `${dirSt.dev}:${dirSt.ino}` !== state.dirKey) return undefined;
  if (!limits.allowUnsafe && (await policyDirProblem(io, dir, realDir, dirSt, limits.uid)) !== undefined) return undefined;
  const first = await mapBounded(wanted, READ_CONCURRENCY, (name) => lookAgain(io, realDir, name, limits));
  // Other names of the files looked at (hard links, refused while they last): a link made or
  // removed, a write or a chmod through one name moves the file under every name, and inotify
  // reports only the name used.
  const inodes = new Set<string>();
  wanted.forEach((name, i) => [state.entries.get(name)?.line, first[i]?.line].forEach((line) => inodes.add(inodeOf(line))));
  inodes.delete('');
  const others = inodes.size === 0 ? [] : state.names.filter((n) => !wanted.includes(n) && inodes.has(inodeOf(state.entries.get(n)?.line)));
  const more = await mapBounded(others, READ_CONCURRENCY, (name) => lookAgain(io, realDir, name, limits));
  const looked = [...first, ...more];
  wanted = [...wanted, ...others];
  const records = new Map(state.entries);
  const links = new Set([...state.links].filter((n) => !wanted.includes(n)));
  let added = false;
  looked.forEach((record, i) => {
    const name = wanted[i] as string;
    if (record === undefined) records.delete(name);
    else {
      added ||= !records.has(name);
      records.set(name, record);
    }
    if (limits.links.has(name)) links.add(name);
  });
  let fragmentCount = 0;
  for (const r of records.values()) if (r.fragment) fragmentCount++;
  if (fragmentCount > state.maxFragments) return undefined; // the whole read refuses those past the cap, in byte order
  const names = added || records.size !== state.names.length ? sortByteOrder([...records.keys()]) : state.names;
  const into: Pick<PolicyDirContents, 'fragments' | 'ignored' | 'diagnostics'> = { fragments: [], ignored: [], diagnostics: [] };
  for (const name of names) collectOne(name, (records.get(name) as EntryRecord).outcome, into);
  const identity = contentsIdentity(dirLine, names, (n) => records.get(n)?.line);
  return { ...into, exists: true, identity, state: { ...state, names, entries: records, links }, viaLinks: limits.via };
}

/** Whether an entry is not in the directory (any more): its own lstat failed (a link whose target vanished is still there). */
function gone(outcome: EntryOutcome, line: string | undefined): boolean {
  return 'ignored' in outcome && outcome.ignored === VANISHED && (line === undefined || line === '-');
}

/** The dev:ino an identity line begins with ('' for none). */
function inodeOf(line: string | undefined): string {
  if (line === undefined || line === '-') return '';
  const second = line.indexOf(':', line.indexOf(':') + 1);
  return second < 0 ? '' : line.slice(0, second);
}

/** One reported name looked at again as a whole read would; undefined: it is not in the directory (now). */
async function lookAgain(io: FragmentIo, realDir: string, name: string, limits: ReadLimits): Promise<EntryRecord | undefined> {
  const entry: DirEntry = { raw: Buffer.from(name), name, validUtf8: true };
  const cls = classifyName(name);
  if ('ignored' in cls && cls.ignored !== NOT_A_FRAGMENT)
    return (await lookAt(io, join(realDir, name))) ? { outcome: { ignored: cls.ignored }, fragment: false } : undefined;
  const verdict = await judgeName(io, realDir, entry, limits.seen);
  const outcome: EntryOutcome = 'fragment' in verdict ? await readFragment(join(realDir, name), name, realDir, limits) : verdict;
  const line = limits.seen.get(name);
  if (gone(outcome, line)) return undefined;
  return { outcome, fragment: 'fragment' in verdict, ...(line !== undefined ? { line } : {}) };
}

type FragmentRead = { text: string; settling?: true } | { diagnostic: Diagnostic } | { ignored: string };

/** A file replaced between its checks and its opening is looked at again, this many times at most. */
const REOPEN_TRIES = 3;

async function readFragment(path: string, name: string, realDir: string, limits: ReadLimits): Promise<FragmentRead> {
  for (let n = 1; ; n++) {
    const r = await readFragmentOnce(path, name, realDir, limits);
    if (!('replaced' in r)) return r;
    if (n >= REOPEN_TRIES) return { diagnostic: error({ file: name }, `refusing fragment: replaced while being opened, ${REOPEN_TRIES} times in a row`) };
  }
}

/**
 * The whole file, read in chunks (the first one sized by fstat); undefined past `cap` bytes:
 * a file growing while it is read cannot make us read more.
 */
async function readCapped(fh: OpenFile, sizeHint: number, cap: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  let want = Math.min(sizeHint, cap) + 1;
  for (let n = 0; n <= cap / GROWTH_CHUNK_BYTES + 2; n++) {
    const chunk = Buffer.allocUnsafe(want);
    const bytesRead = await fh.read(chunk, want, total);
    if (bytesRead === 0) return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > cap) return undefined;
    if (bytesRead < want) return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total); // a short read of a regular file is its end
    want = GROWTH_CHUNK_BYTES;
  }
  return undefined;
}

const GROWTH_CHUNK_BYTES = 64 * 1024;

/**
 * Whether `text` read from `st` may be an in-place rewrite caught half-way (IN_PLACE_SETTLE_MS):
 * the same file as the last read, written since, or that read was such a one (the same first
 * part can be read twice: two events, a truncation and a first write), and written that recently.
 */
function rewrittenInPlace(cached: CachedRead | undefined, st: Stats, text: string, readAt: number): boolean {
  if (cached === undefined || inodeOf(cached.identity) !== `${st.dev}:${st.ino}` || readAt - st.mtimeMs >= IN_PLACE_SETTLE_MS) return false;
  return cached.text !== text || cached.settling === true;
}

/** What a non-regular file is, for the refusal. */
function fileKind(st: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Why a regular file may not be a fragment: its owner, its mode, a second name, its size.
 * Asked of the lstat before opening (nothing is opened that would be refused) and again of the
 * open descriptor (what is read is what was judged).
 */
function fileProblem(path: string, st: { uid: number; mode: number; nlink: number; size: number }, limits: ReadLimits): string | undefined {
  if (!limits.allowUnsafe) {
    const problem = trustProblem(st, limits.uid);
    if (problem) return `${problem}; check it, then: ${trustFix(path, st, limits.uid)} (use --allow-unsafe-fragments only for demos and tests)`;
    // Another name for the same file may sit where other rules (or other users) reach it.
    if (st.nlink > 1) return `it has ${st.nlink} hard links; a fragment must be a file of its own (use --allow-unsafe-fragments only for demos and tests)`;
  }
  if (st.size > limits.maxFragmentBytes) return oversizeMessage(st.size, limits.maxFragmentBytes);
  return undefined;
}

/**
 * Whether `path` (a real path) is `dir` or below it. By path components: a name that merely
 * begins with `..` (a Kubernetes volume's `..data` and `..2026_12_06_05_00_00.123456789`) is inside.
 */
function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '..' && !rel.startsWith('../') && !isAbsolute(rel);
}

/** How many links in a row noteLinkHops follows (the kernel's own limit is 40). */
const MAX_LINK_HOPS = 8;

/**
 * Adds to `limits.via` the entries of the directory that the link `name` passes through: the
 * first component of its target, and of that entry's target while it is a link too (`x.yaml ->
 * ..data/x.yaml`, `..data -> ..2026_…`: both). Read before the link is resolved, so that a
 * dangling link's (a key linked before its data is in place) still count. Lexical: it only
 * chooses which events matter; the read itself resolves the link as the kernel does.
 */
async function noteLinkHops(limits: ReadLimits, realDir: string, name: string): Promise<void> {
  let link = join(realDir, name);
  for (let n = 0; n < MAX_LINK_HOPS; n++) {
    let target: string;
    try {
      target = resolve(dirname(link), await limits.io.readlink(link));
    } catch {
      return;
    }
    if (!isInside(realDir, target)) return;
    const first = relative(realDir, target).split('/')[0] as string;
    if (first === '' || first === name || limits.via.has(first)) return;
    limits.via.add(first);
    link = join(realDir, first);
    const st = await lookAt(limits.io, link);
    if (st === undefined || !st.isSymbolicLink()) return;
  }
}

/**
 * Why a directory between the policy directory and a link's target (a subdirectory: never a
 * fragment, so never checked as one) lets someone else remove or swap the target, as words
 * after "symlink to TARGET, "; undefined when none does. Bounded by the target's depth.
 */
async function subdirProblem(io: FragmentIo, realDir: string, target: string, uid: number): Promise<string | undefined> {
  const found = await untrustedAncestor(dirname(target), uid, (p) => io.stat(p), realDir);
  return found && `in ${found.at}, which is ${found.problem}, so that others could remove or replace it`;
}

async function readFragmentOnce(path: string, name: string, realDir: string, limits: ReadLimits): Promise<FragmentRead | { replaced: true }> {
  const at = { file: name };
  limits.seen.set(name, '-'); // until an lstat says more: a file that vanished, or could not be looked at
  try {
    const l = await limits.io.lstat(path);
    const own = statIdentity(l);
    limits.seen.set(name, own);
    let linkTarget: string | undefined;
    let checked = l;
    if (l.isSymbolicLink()) {
      limits.links.add(name);
      await noteLinkHops(limits, realDir, name);
      linkTarget = await limits.io.realpath(path);
      if (!limits.allowUnsafe && !isInside(realDir, linkTarget)) {
        return { diagnostic: error(at, `refusing fragment: symlink to ${linkTarget}, outside the policy directory`) };
      }
      const between = limits.allowUnsafe ? undefined : await subdirProblem(limits.io, realDir, linkTarget, limits.uid);
      if (between !== undefined) return { diagnostic: error(at, `refusing fragment: symlink to ${linkTarget}, ${between}`) };
      checked = await limits.io.lstat(linkTarget);
      limits.seen.set(name, `${own} ${linkTarget} ${statIdentity(checked)}`);
    }
    if (checked.isDirectory()) return { ignored: 'subdirectory' };
    // Nothing but a regular file is opened: opening a device can act (a watchdog, a tape), a FIFO can block.
    if (!checked.isFile()) return { diagnostic: error(at, `refusing fragment: ${fileKind(checked)}, not a regular file`) };
    // Nor one whose owner, mode, links or size refuse it already.
    const before = fileProblem(linkTarget ?? path, checked, limits);
    if (before) return { diagnostic: error(at, `refusing fragment: ${before}`) };
    // Unchanged since a read well after its last change: that read's text, nothing opened (not through a link: its target may move).
    const cached = linkTarget === undefined ? limits.cache?.get(name) : undefined;
    if (cached !== undefined && cached.identity === own && checked.ctimeMs + RACY_MS <= cached.readAt) return { text: cached.text };
    // O_NOFOLLOW: what is opened is the file checked (realpath resolved every link), not a link swapped in since.
    let fh: OpenFile;
    try {
      fh = await limits.io.open(linkTarget ?? path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') return { replaced: true };
      throw e;
    }
    try {
      const st = await fh.stat();
      // What was opened must be what was checked: a file swapped in between is looked at again, not read.
      if (checked.ino !== st.ino || checked.dev !== st.dev || !st.isFile()) return { replaced: true };
      const problem = fileProblem(linkTarget ?? path, st, limits);
      if (problem) return { diagnostic: error(at, `refusing fragment: ${problem}`) };
      const buf = await readCapped(fh, st.size, limits.maxFragmentBytes);
      if (buf === undefined)
        return { diagnostic: error(at, `refusing fragment: more than the ${limits.maxFragmentBytes} bytes allowed by max-fragment-bytes`) };
      const decoded = decodeFragment(buf, name.endsWith('.toml') ? 'toml' : 'yaml'); // a fragment's name, classified already
      if ('problem' in decoded) return { diagnostic: error(decodeProblemAt(at, decoded), decoded.problem) };
      const text = decoded.text;
      const readAt = Date.now();
      const settling = rewrittenInPlace(cached, st, text, readAt);
      if (linkTarget === undefined) limits.cache?.set(name, { identity: statIdentity(st), text, readAt, ...(settling ? { settling } : {}) });
      return settling ? { text, settling } : { text };
    } finally {
      await fh.close();
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return { ignored: VANISHED }; // deleted between listing and opening
    return { diagnostic: error(at, `cannot read fragment: ${err.message}`) };
  }
}
