/**
 * The daemon's memory for health-aware order (src/health-order.ts has the rules): the
 * hysteresis state of every mirror endpoint of the render, which demoted set the file on
 * disk reflects, and when the file was last rewritten for health. No I/O and no clock:
 * the daemon passes the time in and does the rendering.
 */
import {
  demotedKeys,
  mayRewrite,
  observeProbe,
  pruneRewriteTimes,
  retainEndpoints,
  type EndpointOrderState,
  type HysteresisPolicy,
  type OrderChange,
  type OrderState,
} from '../health-order.js';

export interface ProbeOutcome {
  readonly key: string;
  readonly ok: boolean;
  readonly failureClass?: string;
}

export interface RoundVerdict {
  /** Flags that changed in this round, each with its reason ("demoted https://m1: 3 refused"). */
  readonly changes: OrderChange[];
  /** 'now': render with `demoted()`; 'deferred': the rate limit says later (asked again next round); 'none': the file is current. */
  readonly rewrite: 'now' | 'deferred' | 'none';
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

export class HealthKeeper {
  private state: OrderState = {};
  private rewriteTimes: number[] = [];
  /** The demoted set the last successful render used. */
  private applied: ReadonlySet<string> = new Set();
  /** Reasons of the changes not yet written to the file. */
  private pending: string[] = [];
  private demotions = 0;

  constructor(private policy: HysteresisPolicy) {}

  /** New settings (SIGHUP): streaks and flags are kept, the thresholds change from now on. */
  setPolicy(policy: HysteresisPolicy): void {
    this.policy = policy;
  }

  /** Feeds one probe round; `endpoints` are those of the current render (others are forgotten). */
  observeRound(outcomes: readonly ProbeOutcome[], endpoints: Iterable<string>, now: number): RoundVerdict {
    const keys = new Set(endpoints);
    let state = retainEndpoints(this.state, keys);
    const changes: OrderChange[] = [];
    for (const o of outcomes) {
      if (!keys.has(o.key)) continue;
      const r = observeProbe(state, o.key, o.ok, o.failureClass, now, this.policy);
      state = r.state;
      if (r.change) {
        changes.push(r.change);
        this.pending.push(r.change.reason);
        if (r.change.demoted) this.demotions++;
      }
    }
    this.state = state;
    if (sameSet(demotedKeys(state), this.applied)) {
      this.pending = [];
      return { changes, rewrite: 'none' };
    }
    this.rewriteTimes = pruneRewriteTimes(this.rewriteTimes, now);
    if (!mayRewrite(this.rewriteTimes, now, this.policy)) return { changes, rewrite: 'deferred' };
    this.rewriteTimes.push(now);
    return { changes, rewrite: 'now' };
  }

  /** The endpoints to list after the healthy mirrors of their tables, now. */
  demoted(): ReadonlySet<string> {
    return demotedKeys(this.state);
  }

  /** A render using `set` was written (or found the file already so): the file reflects it. Returns the reasons it carried. */
  markApplied(set: ReadonlySet<string>): string[] {
    this.applied = set;
    const reasons = this.pending;
    this.pending = [];
    return reasons;
  }

  entry(key: string): EndpointOrderState | undefined {
    return Object.hasOwn(this.state, key) ? this.state[key] : undefined;
  }

  get demotionsTotal(): number {
    return this.demotions;
  }

  /** Health-caused rewrites in the last 60 s (for status and the rate limit's log line). */
  recentRewrites(now: number): number {
    return pruneRewriteTimes(this.rewriteTimes, now).length;
  }
}
