/**
 * Writing the local mirror's answers: distribution error JSON, counted; a body written with
 * backpressure that gives up when the client goes away (never waits for a 'drain' that cannot come).
 */
import type { ServerResponse } from 'node:http';
import { countResponse, type LocalMirrorStats } from './counters.js';
import { errorBody } from './request.js';

export const API_VERSION_HEADER = { 'docker-distribution-api-version': 'registry/2.0' } as const;

/** The client went away while its answer was being written: nobody's health is concerned. */
export class ClientGone extends Error {}

export function sendError(
  res: ServerResponse,
  head: boolean,
  stats: LocalMirrorStats,
  status: number,
  code: string,
  message: string,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(code, message);
  countResponse(stats, status);
  res.writeHead(status, { ...API_VERSION_HEADER, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...extra });
  res.end(head ? undefined : body);
}

/**
 * Writes `pieces`; a promise to wait for only when the client's buffer is full (a blob is
 * thousands of chunks: a promise for each costs throughput). Pieces written in one call go out
 * in one system call without corking here: node:http corks the socket for the rest of the tick
 * at a response's first write. (An explicit cork() would be worse than redundant: on Node 24 a
 * response written while corked returns false but never emits 'drain', which would stall the
 * transfer; test/local-mirror/batched-body.test.ts has the case.)
 */
export function writeBody(res: ServerResponse, pieces: readonly Buffer[], stats: LocalMirrorStats): Promise<void> | undefined {
  if (res.destroyed) throw new ClientGone('the client closed the connection');
  let room = true;
  for (const piece of pieces) {
    stats.bytesSent += piece.length;
    room = res.write(piece);
  }
  if (room) return undefined;
  return new Promise<void>((resolve, reject) => {
    const done = (): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
    };
    const onDrain = (): void => {
      done();
      resolve();
    };
    const onClose = (): void => {
      done();
      reject(new ClientGone('the client closed the connection'));
    };
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/** What waits for an upstream slot tells its clock (Upstream.slot): our own bound, not a source's slowness. */
export interface QueueClock {
  queued(): void;
  dequeued(): void;
  /** Aborted when the client left before its answer was done: a wait for a slot ends then, and no source is asked for it. */
  readonly left?: AbortSignal;
}

/**
 * The time a request may take before its answer starts: when it passes with nothing sent,
 * `onExpire` answers with an error at once (containers/image moves on to the next mirror) and
 * `late` tells the work still under way to drop what it gets. A blob's deadline does not run
 * while the request waits for an upstream slot (`queueTimeCounts` false): containers/image
 * takes a blob from the registry that served its manifest and no other, so an error there
 * fails the pull where waiting for the transfers ahead of it would have served it.
 */
export class AnswerDeadline implements QueueClock {
  late = false;
  private readonly leaving = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private remainingMs: number;
  private armedAt = 0;
  private stopped = false;

  constructor(
    ms: number,
    private readonly onExpire: () => void,
    private readonly queueTimeCounts = true,
  ) {
    this.remainingMs = ms;
    this.arm();
  }

  private arm(): void {
    this.armedAt = performance.now();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.late = true;
      this.onExpire();
    }, this.remainingMs);
  }

  queued(): void {
    if (this.queueTimeCounts || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.remainingMs = Math.max(0, this.remainingMs - (performance.now() - this.armedAt));
  }

  dequeued(): void {
    if (this.queueTimeCounts || this.late || this.stopped || this.timer !== undefined) return;
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  get left(): AbortSignal {
    return this.leaving.signal;
  }

  /** The client closed the connection before its answer was done: there is no one left to answer. */
  clientLeft(): void {
    this.stop();
    this.leaving.abort();
  }
}
