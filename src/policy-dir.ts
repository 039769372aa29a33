/**
 * Reading a policy directory (an edge: file system). Every fragment is opened once,
 * checked on the open descriptor (no race between check and read), and refused when an
 * unprivileged user could have written it: a fragment is policy for every pull on the host.
 */
import { constants, promises as fs } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { error, type Diagnostic } from './diagnostic.js';
import { classifyName } from './fragment/index.js';
import type { SourceText } from './pipeline.js';
import { byteOrderCompare } from './topo.js';

/** Fragments are small; a larger file is a mistake or an attack, not policy. */
export const MAX_FRAGMENT_BYTES = 1024 * 1024;

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
}

export interface IgnoredFile {
  readonly name: string;
  readonly why: string;
}

export interface PolicyDirContents {
  readonly fragments: SourceText[];
  readonly ignored: IgnoredFile[];
  readonly diagnostics: Diagnostic[];
  /** False when the directory does not exist (not an error for the daemon, which waits for it). */
  readonly exists: boolean;
}

export function trustProblem(st: { uid: number; mode: number }, uid: number): string | undefined {
  if (st.uid !== 0 && st.uid !== uid) return `owned by uid ${st.uid}, not by root or uid ${uid}`;
  const writers = [st.mode & 0o020 ? 'group' : '', st.mode & 0o002 ? 'others' : ''].filter(Boolean);
  if (writers.length > 0) return `writable by ${writers.join(' and ')} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}

export async function readPolicyDir(dir: string, opts: ReadOptions = {}): Promise<PolicyDirContents> {
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  const fragments: SourceText[] = [];
  const ignored: IgnoredFile[] = [];
  const diagnostics: Diagnostic[] = [];
  let names: string[];
  let realDir: string;
  try {
    realDir = await fs.realpath(dir);
    names = await fs.readdir(realDir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return { fragments, ignored, diagnostics, exists: false };
    return { fragments, ignored, diagnostics: [error({ file: dir }, `cannot read policy directory: ${err.message}`)], exists: true };
  }
  if (!opts.allowUnsafe) {
    const st = await fs.stat(realDir);
    const problem = trustProblem(st, uid);
    // A sticky, world-writable directory still lets others add files; refuse all of it, fragment
    // by fragment (none is read), so that each is named and the daemon keeps each one's last
    // valid content in effect instead of rendering as if the policy were empty.
    if (problem) {
      diagnostics.push(error({ file: dir }, `refusing policy directory: ${problem}; fragments there could come from an unprivileged user`));
      for (const name of names.sort(byteOrderCompare)) {
        const cls = classifyName(name);
        if ('ignored' in cls) ignored.push({ name, why: cls.ignored });
        else diagnostics.push(error({ file: name }, `refusing fragment: the policy directory is ${problem}`));
      }
      return { fragments, ignored, diagnostics, exists: true };
    }
  }
  const maxFragments = opts.maxFragments ?? MAX_FRAGMENTS;
  let seen = 0;
  for (const name of names.sort(byteOrderCompare)) {
    const cls = classifyName(name);
    if ('ignored' in cls) {
      ignored.push({ name, why: cls.ignored });
      continue;
    }
    if (++seen > maxFragments) {
      diagnostics.push(error({ file: name }, `refusing fragment: the policy directory holds more than ${maxFragments} fragments; this is number ${seen} in byte order of names`));
      continue;
    }
    const path = join(realDir, name);
    const result = await readFragment(path, name, realDir, uid, opts.allowUnsafe === true);
    if ('ignored' in result) ignored.push({ name, why: result.ignored });
    else if ('diagnostic' in result) diagnostics.push(result.diagnostic);
    else fragments.push({ file: name, text: result.text });
  }
  return { fragments, ignored, diagnostics, exists: true };
}

type FragmentRead = { text: string } | { diagnostic: Diagnostic } | { ignored: string };

/** A file replaced between its checks and its opening is looked at again, this many times at most. */
const REOPEN_TRIES = 3;

async function readFragment(path: string, name: string, realDir: string, uid: number, allowUnsafe: boolean): Promise<FragmentRead> {
  for (let n = 1; ; n++) {
    const r = await readFragmentOnce(path, name, realDir, uid, allowUnsafe);
    if (!('replaced' in r)) return r;
    if (n >= REOPEN_TRIES) return { diagnostic: error({ file: name }, `refusing fragment: replaced while being opened, ${REOPEN_TRIES} times in a row`) };
  }
}

/**
 * The whole file, read in chunks (the first one sized by fstat); undefined past
 * MAX_FRAGMENT_BYTES: a file growing while it is read cannot make us read more.
 */
async function readCapped(fh: fs.FileHandle, sizeHint: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  let want = Math.min(sizeHint, MAX_FRAGMENT_BYTES) + 1;
  for (let n = 0; n <= MAX_FRAGMENT_BYTES / GROWTH_CHUNK_BYTES + 2; n++) {
    const chunk = Buffer.allocUnsafe(want);
    const { bytesRead } = await fh.read(chunk, 0, want, total);
    if (bytesRead === 0) return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
    chunks.push(chunk.subarray(0, bytesRead));
    total += bytesRead;
    if (total > MAX_FRAGMENT_BYTES) return undefined;
    if (bytesRead < want) return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total); // a short read of a regular file is its end
    want = GROWTH_CHUNK_BYTES;
  }
  return undefined;
}

const GROWTH_CHUNK_BYTES = 64 * 1024;

async function readFragmentOnce(path: string, name: string, realDir: string, uid: number, allowUnsafe: boolean): Promise<FragmentRead | { replaced: true }> {
  const at = { file: name };
  try {
    const l = await fs.lstat(path);
    let linkTarget: string | undefined;
    if (l.isSymbolicLink()) {
      linkTarget = await fs.realpath(path);
      const rel = relative(realDir, linkTarget);
      if (!allowUnsafe && (rel.startsWith('..') || isAbsolute(rel))) {
        return { diagnostic: error(at, `refusing fragment: symlink to ${linkTarget}, outside the policy directory`) };
      }
    } else if (l.isDirectory()) {
      return { ignored: 'subdirectory' };
    }
    const fh = await fs.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (st.isDirectory()) return { ignored: 'subdirectory' };
      if (!st.isFile()) return { diagnostic: error(at, 'refusing fragment: not a regular file') };
      if (!allowUnsafe) {
        // What was opened must be what was checked: a link or file swapped in between is refused, not read.
        const checked = linkTarget === undefined ? l : await fs.stat(linkTarget);
        if (checked.ino !== st.ino || checked.dev !== st.dev) return { replaced: true };
        const problem = trustProblem(st, uid);
        if (problem) return { diagnostic: error(at, `refusing fragment: ${problem} (use --allow-unsafe-fragments only for demos and tests)`) };
        // Another name for the same file may sit where other rules (or other users) reach it.
        if (st.nlink > 1) return { diagnostic: error(at, `refusing fragment: it has ${st.nlink} hard links; a fragment must be a file of its own (use --allow-unsafe-fragments only for demos and tests)`) };
      }
      if (st.size > MAX_FRAGMENT_BYTES) return { diagnostic: error(at, `refusing fragment: ${st.size} bytes, more than the ${MAX_FRAGMENT_BYTES} allowed`) };
      const buf = await readCapped(fh, st.size);
      if (buf === undefined) return { diagnostic: error(at, `refusing fragment: more than ${MAX_FRAGMENT_BYTES} bytes`) };
      const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(buf);
      return { text };
    } finally {
      await fh.close();
    }
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return { ignored: 'vanished while reading' }; // deleted between listing and opening
    if (e instanceof TypeError) return { diagnostic: error(at, 'not valid UTF-8 text') };
    return { diagnostic: error(at, `cannot read fragment: ${err.message}`) };
  }
}
