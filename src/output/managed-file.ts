/**
 * The output file and what we know of it: whether we wrote it (our header), whether it
 * was edited since (the digest in our header no longer matches), and keeping a file we
 * did not write before we replace it, so that nothing of the host's is ever lost.
 */
import { constants, promises as fs } from 'node:fs';
import { bodyDigest, DIGEST_MARK, HEADER_MARK } from '../registries-conf/render.js';
import { fsyncDir, fsyncFile, tempPathBeside } from './atomic-write.js';
import { basename, dirname } from 'node:path';

export type FileState = 'missing' | 'ours' | 'edited' | 'foreign';

/** Classifies the text of an output file. */
export function classifyText(text: string): Exclude<FileState, 'missing'> {
  if (!text.startsWith(HEADER_MARK)) return 'foreign';
  // The digest line starts a line; a fragment name in the header may contain the same words.
  const at = text.indexOf(`\n${DIGEST_MARK}`);
  const end = at < 0 ? -1 : text.indexOf('\n', at + 1);
  if (at < 0 || end < 0) return 'edited';
  const claimed = text.slice(at + 1 + DIGEST_MARK.length, end);
  const body = text.slice(end + 1).replace(/^\n/, '');
  return claimed === bodyDigest(body) ? 'ours' : 'edited';
}

export async function classifyFile(path: string): Promise<FileState> {
  try {
    return classifyText(await fs.readFile(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
}

/** Where the host's own file is kept when `render` first replaces it. */
export function originalCopyPath(output: string): string {
  return `${output}.before-mirror-policyd`;
}

/**
 * Copies `path` to a new name beside it, never overwriting an earlier copy
 * (`NAME.before-mirror-policyd`, then `.1`, `.2`, ...). Returns the copy's path.
 * The copy is made whole and synced under a temp name, then linked to its name (link(2)
 * never replaces a file): after a crash a kept copy is complete or absent, never a torn or
 * empty file that a later start would take for the host's settings.
 */
export async function keepCopy(path: string, copyBase: string = originalCopyPath(path)): Promise<string> {
  const tmp = tempPathBeside(path);
  await fs.copyFile(path, tmp, constants.COPYFILE_EXCL);
  try {
    await fsyncFile(tmp);
    const target = await linkToFreeName(tmp, copyBase);
    await fsyncDir(dirname(target));
    return target;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Links `from` to the name after the newest copy (`base`, then `base.1`, `base.2`, ...): never
 * into a gap an earlier copy left (one removed by hand), so the highest number is the newest.
 */
async function linkToFreeName(from: string, base: string): Promise<string> {
  const newest = await newestCopyIndex(base);
  for (let n = newest === undefined ? 0 : newest + 1; n < 1000; n++) {
    const target = copyName(base, n);
    try {
      await fs.link(from, target);
      return target;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new Error(`too many kept copies of ${base} (1000): remove the oldest`);
}

function copyName(base: string, n: number): string {
  return n === 0 ? base : `${base}.${n}`;
}

/** The highest number among the copies of `base` there are (0: `base` itself), whatever gaps lie below it. */
async function newestCopyIndex(base: string): Promise<number | undefined> {
  const name = basename(base);
  let names: string[];
  try {
    names = await fs.readdir(dirname(base));
  } catch {
    return undefined;
  }
  let newest: number | undefined;
  for (const n of names) {
    const suffix = n.startsWith(`${name}.`) ? n.slice(name.length + 1) : undefined;
    const index = n === name ? 0 : suffix !== undefined && /^[1-9][0-9]{0,2}$/.test(suffix) ? Number(suffix) : undefined;
    if (index !== undefined && (newest === undefined || index > newest)) newest = index;
  }
  return newest;
}

/**
 * The newest copy `keepCopy` made of the host's file at `output` (the highest of
 * `.before-mirror-policyd`, `.1`, `.2`, ...: each a file not ours that a render replaced, the last
 * the host's settings as they were last). Undefined when none was kept.
 */
export async function newestKeptCopy(output: string): Promise<string | undefined> {
  const base = originalCopyPath(output);
  const newest = await newestCopyIndex(base);
  return newest === undefined ? undefined : copyName(base, newest);
}

/**
 * The base `render` uses when none is given: the newest copy of the host's file we kept (a host
 * file that replaced our render since the first copy is the host's settings now), or the current
 * output itself when it is not ours. Stateless: the kept copies are the state.
 */
export async function defaultBase(output: string): Promise<string | undefined> {
  if ((await classifyFile(output)) === 'foreign') return output;
  return newestKeptCopy(output);
}
