/**
 * `promise`'s value, or `fallback` once `ms` have passed, whichever comes first; the timer is
 * cleared either way. A bare `Promise.race([p, sleep(ms)])` leaves its timer pending, and a
 * pending timer holds the test's process open its whole length after the test has ended (3 to
 * 20 s a file, in every file that stops a registry or a daemon).
 */
export async function orAfter<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
