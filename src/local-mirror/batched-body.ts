/**
 * A blob's bytes for the client, written in batches: what arrives from the source in one turn of
 * the event loop (libuv reads a busy socket several times a turn) goes out in one system call
 * (writev), and at most SEND_BATCH_BYTES wait. One write to the client per 64 KiB socket read
 * cost 5–10 % more of the endpoint's CPU a blob (issue #14); batching by turn, not by size
 * alone, adds no delay: a slow source's bytes go out in the turn they came.
 */
import type { ServerResponse } from 'node:http';
import type { LocalMirrorStats } from './counters.js';
import { writeBody } from './reply.js';

export const SEND_BATCH_BYTES = 256 * 1024;

export class BatchedBody {
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private scheduled: NodeJS.Immediate | undefined;
  /** the client's buffer is full: pending until it drains (or rejected when the client goes) */
  private draining: Promise<void> | undefined;
  /** a failure of a write made at the end of a turn, thrown at the next push */
  private failed: Error | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly stats: LocalMirrorStats,
  ) {}

  /** Queues `piece`; a promise when the caller is to wait for the client. Throws ClientGone. */
  push(piece: Buffer): Promise<void> | undefined {
    if (this.failed !== undefined) throw this.failed;
    this.queued.push(piece);
    this.queuedBytes += piece.length;
    if (this.queuedBytes >= SEND_BATCH_BYTES) return this.flush();
    this.scheduled ??= setImmediate(() => this.flushAtTurnEnd());
    return this.draining;
  }

  /** Writes what is queued now; a promise when the client's buffer is full. Throws ClientGone. */
  flush(): Promise<void> | undefined {
    if (this.failed !== undefined) throw this.failed;
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.queued.length === 0) return this.draining;
    const batch = this.queued;
    this.queued = [];
    this.queuedBytes = 0;
    const wait = writeBody(this.res, batch, this.stats);
    if (!wait) return this.draining;
    this.draining = wait;
    const settle = (): void => {
      if (this.draining === wait) this.draining = undefined;
    };
    wait.then(settle, settle); // a rejection is the caller's to see (returned below, or at the next push)
    return wait;
  }

  /** Forgets what is queued (the transfer is abandoned: the connection is being cut). */
  drop(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.queued = [];
    this.queuedBytes = 0;
  }

  private flushAtTurnEnd(): void {
    this.scheduled = undefined;
    try {
      void this.flush(); // a full buffer is seen by the next push (`draining`)
    } catch (e) {
      this.failed = e instanceof Error ? e : new Error(String(e));
    }
  }
}
