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
