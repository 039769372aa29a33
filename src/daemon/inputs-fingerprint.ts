/**
 * What a render reads, by identity (an edge: lstat only, no file opened): the policy
 * directory itself and each entry in it, the base, and the registries.conf.d beside the
 * output; the output's own identity is `fileIdentity`. The periodic rescan compares this with the identity taken when the last
 * clean render began: equal, nothing it reads has changed, and it need not render (issue #15:
 * an idle daemon with 100 fragments re-rendered everything every 30 s).
 *
 * An identity is the inode, size, mode, owner and the modification and change times in
 * nanoseconds: a write moves mtime, a chmod or chown (which can make a fragment untrusted)
 * moves ctime, a rename-over gives a new inode. File times come from the kernel's coarse clock,
 * so a same-size write within one tick of the look can keep them: the watcher reports such a
 * change; the rescan is the net behind it, not the first line.
 */
import { createHash } from 'node:crypto';
import { promises as fs, type BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';
import { mapBounded } from '../core/map-bounded.js';

/** lstat calls in flight at once (the policy dir's reads use the same bound). */
const CONCURRENCY = 24;

export interface FingerprintTargets {
  /** Absent: left out (the daemon has it from its read of the directory: PolicyDirContents.identity). */
  readonly policyDir?: string;
  /** The output's identity is taken apart (fileIdentity): after our own write it is the one we left. */
  readonly output: string;
  readonly base?: string;
}

function identity(st: BigIntStats | undefined): string {
  if (!st) return '-';
  return `${st.ino}:${st.size}:${st.mode}:${st.uid}:${st.gid}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** A file's identity, or '-' when it cannot be had (missing, unreadable). */
export async function fileIdentity(path: string): Promise<string> {
  return identity(await lstatOrUndefined(path));
}

async function lstatOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await fs.lstat(path, { bigint: true });
  } catch {
    return undefined; // missing or unreadable: the render says why; here it is one more state
  }
}

/** The directory and each entry's identity, one line each, in byte order of the names. */
async function directoryLines(dir: string): Promise<string[]> {
  const self = await lstatOrUndefined(dir);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).sort();
  } catch (e) {
    return [`${dir} ${identity(self)} ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`];
  }
  const entries = await mapBounded(names, CONCURRENCY, async (name) => `${name} ${identity(await lstatOrUndefined(join(dir, name)))}`);
  return [`${dir} ${identity(self)}`, ...entries];
}

/** A digest of everything a render reads but the output; equal digests mean none of it has changed. */
export async function inputsFingerprint(t: FingerprintTargets): Promise<string> {
  const files = t.base !== undefined ? [t.base] : [];
  const [policy, dropIns, fileLines] = await Promise.all([
    t.policyDir !== undefined ? directoryLines(t.policyDir) : [],
    directoryLines(join(dirname(t.output), 'registries.conf.d')),
    // Both the name and what it points to: the base may be a link we follow.
    Promise.all(files.map(async (f) => `${f} ${identity(await lstatOrUndefined(f))} ${identity(await fs.stat(f, { bigint: true }).catch(() => undefined))}`)),
  ]);
  const hash = createHash('sha256');
  for (const line of [...policy, '', ...dropIns, '', ...fileLines]) hash.update(`${line}\n`);
  return hash.digest('hex');
}
