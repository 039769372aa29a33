/**
 * Backoff for a write that keeps failing (the output, the state directory): 1 s, doubling up
 * to a minute, back to nothing after a success. One per kind of write, so that one succeeding
 * does not reset the other's.
 */
export const MIN_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 60_000;

export class Backoff {
  private ms = 0;

  /** A failure: how long to wait before the next try. */
  failed(): number {
    this.ms = Math.min(MAX_BACKOFF_MS, Math.max(MIN_BACKOFF_MS, this.ms * 2));
    return this.ms;
  }

  succeeded(): void {
    this.ms = 0;
  }
}
