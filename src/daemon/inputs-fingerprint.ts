/**
 * What a render reads, by identity (an edge: lstat only, no file opened): the policy
 * directory itself and each entry in it, the base, the registries.conf.d beside the output
 * (and its registries.d with the local mirror on); the output's own identity is `fileIdentity`. The periodic rescan compares this with the identity taken when the last
 * clean render began: equal, nothing it reads has changed, and it need not render (issue #15:
 * an idle daemon with 100 fragments re-rendered everything every 30 s).
 *
 * An identity is the inode, size, mode, owner and the modification and change times in
 * nanoseconds: a write moves mtime, a chmod or chown (which can make a fragment untrusted)
 * moves ctime, a rename-over gives a new inode. File times come from the kernel's coarse clock,
 * so a same-size write within one tick of the look can keep them: the watcher reports such a
 * change; the rescan is the net behind it, not the first line.
 *
 * The calls are blocking: an lstat of a handful of files (the drop-ins, the base, the output)
 * takes microseconds, where each through the thread pool cost a wake of the main thread at the
 * start of every render (issue #15).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, statSync, type BigIntStats } from 'node:fs';
import { dirname, join } from 'node:path';

export interface FingerprintTargets {
  /** Absent: left out (the daemon has it from its read of the directory: PolicyDirContents.identity). */
  readonly policyDir?: string;
  /** The output's identity is taken apart (fileIdentity): after our own write it is the one we left. */
  readonly output: string;
  readonly base?: string;
  /**
   * With the local mirror on: the registries.d files beside the output, which the render reads
   * for its drop-in there (local-mirror/registries-d.ts), all but that drop-in, ours, and
   * without the directory's own times, which our write of it moves.
   */
  readonly registriesD?: { readonly ours: string };
}

function identity(st: BigIntStats | undefined): string {
  if (!st) return '-';
  return `${st.ino}:${st.size}:${st.mode}:${st.uid}:${st.gid}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** A file's identity, or '-' when it cannot be had (missing, unreadable). */
export function fileIdentity(path: string): string {
  return identity(lstatOrUndefined(path));
}

function lstatOrUndefined(path: string): BigIntStats | undefined {
  // throwIfNoEntry: false spares building an error for the usual missing drop-in directory.
  try {
    return lstatSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined; // unreadable: the render says why; here it is one more state
  }
}

function statOrUndefined(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

/** The directory and each entry's identity, one line each, in byte order of the names. */
function directoryLines(dir: string): string[] {
  const self = lstatOrUndefined(dir);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (e) {
    return [`${dir} ${identity(self)} ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`];
  }
  return [`${dir} ${identity(self)}`, ...names.map((name) => `${name} ${identity(lstatOrUndefined(join(dir, name)))}`)];
}

/** A digest of everything a render reads but the output; equal digests mean none of it has changed. */
export function inputsFingerprint(t: FingerprintTargets): string {
  const policy = t.policyDir !== undefined ? directoryLines(t.policyDir) : [];
  const dropIns = directoryLines(join(dirname(t.output), 'registries.conf.d'));
  // Both the name and what it points to: the base may be a link we follow.
  const fileLines = t.base !== undefined ? [`${t.base} ${identity(lstatOrUndefined(t.base))} ${identity(statOrUndefined(t.base))}`] : [];
  // Marked: looked at and empty is not the same as not looked at.
  const registriesD = t.registriesD
    ? [
        'registries.d',
        ...directoryLines(join(dirname(t.output), 'registries.d'))
          .slice(1)
          .filter((l) => !l.startsWith(`${t.registriesD?.ours} `)),
      ]
    : [];
  const hash = createHash('sha256');
  for (const line of [...policy, '', ...dropIns, '', ...fileLines, '', ...registriesD]) hash.update(`${line}\n`);
  return hash.digest('hex');
}
