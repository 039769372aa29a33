/** The deadlines of every registry request (the client's and the probes'). */
export interface Timeouts {
  readonly connectMs: number;
  readonly headersMs: number;
  readonly bodyIdleMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { connectMs: 3000, headersMs: 10_000, bodyIdleMs: 30_000 };
