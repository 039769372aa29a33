/**
 * Whom a file we read as policy or state must belong to. A leaf module: the small state
 * files (`pull`'s health cache) check it without loading the fragment parsers (yaml...).
 */

/** Why a file or directory with this owner and mode is not trusted by uid `uid`, or undefined. */
export function trustProblem(st: { uid: number; mode: number }, uid: number): string | undefined {
  if (st.uid !== 0 && st.uid !== uid) return `owned by uid ${st.uid}, not by root or uid ${uid}`;
  const writers = [st.mode & 0o020 ? 'group' : '', st.mode & 0o002 ? 'others' : ''].filter(Boolean);
  if (writers.length > 0) return `writable by ${writers.join(' and ')} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  return undefined;
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
