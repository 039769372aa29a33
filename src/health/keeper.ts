/**
 * The daemon's memory for health-aware order (src/health/order.ts has the rules): the
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
} from './order.js';

/**
 * The reasons carried to the next render that reaches the file, at most: while the output
 * cannot be written (for days, say) a flapping mirror would add one at every allowed rewrite.
 */
export const MAX_CARRIED_REASONS = 20;

export interface ProbeOutcome {
  readonly key: string;
  readonly ok: boolean;
  readonly failureClass?: string;
}

export interface RoundVerdict {
  /** Flags that changed in this round, each with its reason ("demoted https://m1: 3 refused"). */
  readonly changes: OrderChange[];
  /** 'now': render (with the new `demoted()`); 'deferred': the rate limit says later (asked again next round); 'none': nothing to change. */
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
  /**
   * The demoted set every render uses. It follows the hysteresis only when the rate limit
   * allows a rewrite: renders for other reasons (a fragment changed, the daemon's own write
   * seen by the watcher, the rescan) must not carry a change the limit is holding back.
   */
  private target: ReadonlySet<string> = new Set();
  /** Reasons of the flag changes not yet in `target`, then not yet written. */
  private pending: string[] = [];
  private carried: string[] = [];
  /** reasons left out of `carried` (older than its last MAX_CARRIED_REASONS) */
  private uncarried = 0;
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
      }
    }
    this.state = state;
    const live = demotedKeys(state);
    if (sameSet(live, this.target)) {
      this.pending = []; // changed and changed back before it was written: nothing to write
      return { changes, rewrite: 'none' };
    }
    this.rewriteTimes = pruneRewriteTimes(this.rewriteTimes, now);
    if (!mayRewrite(this.rewriteTimes, now, this.policy)) return { changes, rewrite: 'deferred' };
    this.rewriteTimes.push(now);
    for (const k of live) if (!this.target.has(k)) this.demotions++;
    this.target = live;
    this.carried.push(...this.pending);
    this.pending = [];
    if (this.carried.length > MAX_CARRIED_REASONS) {
      this.uncarried += this.carried.length - MAX_CARRIED_REASONS;
      this.carried = this.carried.slice(-MAX_CARRIED_REASONS);
    }
    return { changes, rewrite: 'now' };
  }

  /** The endpoints renders list after the healthy mirrors of their tables. */
  demoted(): ReadonlySet<string> {
    return this.target;
  }

  /** A render with the current `demoted()` succeeded: returns the reasons it carried (once). */
  markApplied(): string[] {
    const reasons = this.uncarried > 0 ? [`(${this.uncarried} earlier changes not listed)`, ...this.carried] : this.carried;
    this.carried = [];
    this.uncarried = 0;
    return reasons;
  }

  /** The hysteresis state of an endpoint (streaks, why its flag last changed). */
  entry(key: string): EndpointOrderState | undefined {
    return Object.hasOwn(this.state, key) ? this.state[key] : undefined;
  }

  /** Demotions that reached the file's order. */
  get demotionsTotal(): number {
    return this.demotions;
  }

  /** Health-caused rewrites in the last 60 s. */
  recentRewrites(now: number): number {
    return pruneRewriteTimes(this.rewriteTimes, now).length;
  }
}
