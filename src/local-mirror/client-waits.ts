/**
 * A blob's client as a pace of its own. While the client's buffer is full the source's body is
 * paused (backpressure): that time is the client's, so it does not count against the source's
 * deadline (a slow reader must not get a working mirror marked down), and a client that reads
 * nothing for `stallMs` is cut (it would hold its upstream slot, and the source's connection,
 * for as long as it keeps its own open).
 */
import type { ServerResponse } from 'node:http';

/** A client that reads nothing for this long while a blob waits for it is cut. */
export const DEFAULT_CLIENT_STALL_MS = 60_000;

export class ClientWaits {
  private since: number | undefined;
  private total = 0;
  /** set once the client was cut for stalling */
  stalled = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly stallMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `wait` (for the client to take what it was sent), timed, and bounded: past `stallMs` the client's connection is cut. */
  bound(wait: Promise<void> | undefined): Promise<void> | undefined {
    if (!wait) return undefined;
    this.since ??= this.now();
    const timer = setTimeout(() => {
      this.stalled = true;
      this.res.destroy();
    }, this.stallMs);
    const done = (): void => {
      clearTimeout(timer);
      if (this.since === undefined) return;
      this.total += this.now() - this.since;
      this.since = undefined;
    };
    wait.then(done, done);
    return wait;
  }

  /** The time spent waiting for the client so far, the wait under way included. */
  waited(): number {
    return this.total + (this.since === undefined ? 0 : this.now() - this.since);
  }
}
