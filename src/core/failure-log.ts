/**
 * A lasting failure (a file that cannot be written, retried at each render, probe round or
 * client request) logged once per cause, not at every retry. Pure: it only remembers the cause
 * last said, and the caller logs.
 */

/**
 * What a failure is told apart by: its errno code (ENOSPC, EACCES…), else its message. Not the
 * message first: an atomic write's names its own temp file, new at every attempt.
 */
export function failureCause(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

export class FailureLog {
  private cause: string | undefined;

  /** Whether `e` is news (the first failure, or another cause than the last): log it then, a repeat at most at debug. */
  news(e: unknown): boolean {
    const cause = failureCause(e);
    const isNew = cause !== this.cause;
    this.cause = cause;
    return isNew;
  }

  /** It worked again: whether a failure had been said (then "… again" is worth a line). */
  cleared(): boolean {
    const had = this.cause !== undefined;
    this.cause = undefined;
    return had;
  }
}
