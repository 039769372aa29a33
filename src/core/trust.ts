/**
 * Whom a file we read as policy or state must belong to. A leaf module: the small state
 * files (`pull`'s health cache) check it without loading the fragment parsers (yaml...).
 */
import { dirname } from 'node:path';

/** Why a file or directory with this owner and mode is not trusted by uid `uid`, or undefined. */
export function trustProblem(st: { uid: number; mode: number }, uid: number): string | undefined {
  if (st.uid !== 0 && st.uid !== uid) return `owned by uid ${st.uid}, not by root or uid ${uid}`;
  const writers = [st.mode & 0o020 ? 'group' : '', st.mode & 0o002 ? 'others' : ''].filter(Boolean);
  if (writers.length > 0) return `writable by ${writers.join(' and ')} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
}

/** The command that ends what trustProblem found at `path` (root's ownership, no group or other writers). */
export function trustFix(path: string, st: { uid: number; mode: number }, uid: number): string {
  const fixes = [st.uid !== 0 && st.uid !== uid ? `chown root ${path}` : '', st.mode & 0o022 ? `chmod go-w ${path}` : ''].filter(Boolean);
  return fixes.join(' && ');
}

/**
 * Why a directory above a trusted one (its parent, and theirs up to /) lets someone else than
 * root or uid `uid` replace what is below it, or undefined. Whoever may write there may rename
 * the directory below and put another in its place (any of root's, an empty one: a policy
 * without its blocks). A sticky directory (/tmp) is fine when it is ours: others may not rename
 * an entry they do not own in it, and the entry below is checked in turn.
 */
export function ancestorProblem(st: { uid: number; mode: number }, uid: number): string | undefined {
  const problem = trustProblem(st, uid);
  if (problem === undefined || (st.mode & 0o1000 && trustProblem({ uid: st.uid, mode: 0 }, uid) === undefined)) return undefined;
  return problem;
}

/** A directory ancestorProblem refuses, with what its stat said. */
export interface UntrustedAncestor<S extends { uid: number; mode: number }> {
  readonly at: string;
  readonly problem: string;
  readonly st: S;
}

/**
 * The first directory from `from` upwards that ancestorProblem refuses: up to `/`, or, with
 * `within`, only those strictly inside it. `stat` is the caller's (links followed: the directory
 * holding a link must be trusted as much as one holding a directory). Bounded by the depth.
 */
export async function untrustedAncestor<S extends { uid: number; mode: number }>(
  from: string,
  uid: number,
  stat: (path: string) => S | Promise<S>,
  within?: string,
): Promise<UntrustedAncestor<S> | undefined> {
  for (let at = from, below = ''; at !== below; below = at, at = dirname(at)) {
    if (within !== undefined && !at.startsWith(`${within}/`)) return undefined;
    const st = await stat(at);
    const problem = ancestorProblem(st, uid);
    if (problem !== undefined) return { at, problem, st };
  }
  return undefined;
}
