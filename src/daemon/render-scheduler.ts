/**
 * When the daemon renders. One render at a time; requests coalesce: a burst of them is one
 * render, and requests made during a render are one more render after it. Renders start at
 * least `debounceMs` apart. Besides requests, it renders again after a watcher event has
 * settled, shortly after a fragment became empty, after a failed write (with backoff) and
 * every rescan interval. The clock and timers are injected, so that all of this is testable
 * with a fake clock.
 */
import { Backoff } from './retry.js';

/**
 * A watcher can drop a change that closely follows another (chokidar's per-file throttle did,
 * up to ~100 ms apart; inotify's queue can overflow; a directory re-watched after a swap has a
 * moment unwatched). A lost event is always close to one delivered, so one more look this long
 * after the last event catches it; a render of unchanged inputs writes nothing.
 */
export const SETTLE_MS = 1000;
/** How long a fragment that just became empty (or vanished) is given before it is looked at again. */
export const EMPTY_SETTLE_MS = 300;
/**
 * How long a fragment read empty, or half written by a writer still writing, keeps its previous
 * content at most (looked at again every EMPTY_SETTLE_MS meanwhile). A writer may truncate long
 * before it writes: `oc get idms x -o yaml > x.yaml` truncates, then waits for the API server
 * (a second or two), and read empty at EMPTY_SETTLE_MS its fragment would be rendered without its
 * mirrors meanwhile. A fragment emptied on purpose takes effect this much later.
 */
export const WRITE_HOLD_MS = 3000;

/** The clock and timers the scheduler uses; handles are opaque to it. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Node's timers, unref'd: a render to come never keeps the process alive (the watcher and the control socket do). */
export const nodeTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export interface SchedulerOptions {
  /** One render. */
  readonly render: () => Promise<void>;
  /** A render that threw (the scheduler goes on). */
  readonly onError: (e: Error) => void;
  /** After each render, failed or not. */
  readonly afterEach: () => void;
  /** Read at each scheduling: a reload may change it. */
  readonly debounceMs: () => number;
}

type OneShot = 'debounce' | 'retry' | 'settle' | 'recheck';

export class RenderScheduler {
  private rendering?: Promise<void>;
  private pending = false;
  private lastStart?: number;
  private stopped = false;
  private readonly timeouts = new Map<OneShot, unknown>();
  private rescan?: unknown;
  /** Whether anything may have changed since the last clean render (the rescan's and the settle look's question). */
  private changed?: () => Promise<boolean>;
  /** Rescans and settle looks that found nothing changed and rendered nothing. */
  rescansSkipped = 0;
  /** For the output's writes; the state dir's has its own (LastGoodSaver), so that one succeeding does not reset the other. */
  private readonly writeBackoff = new Backoff();

  constructor(
    private readonly options: SchedulerOptions,
    private readonly timers: Timers = nodeTimers,
  ) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  /** A change happened (or might have): render now, or after the debounce window if one just ran. */
  request(): void {
    this.pending = true;
    this.schedule();
  }

  /**
   * A watcher event: a render now, and one more look SETTLE_MS after the last event. The look
   * asks the rescan's `changed` first, when there is one: at 10 000 fragments a render for
   * nothing cost as much as a change's, and a change that came during it waited for it.
   */
  requestAndSettle(): void {
    this.request();
    this.setOneShot('settle', SETTLE_MS, () => this.requestIfChanged());
  }

  /** A render request if `changed` says something may have changed (or cannot tell: it threw); without one, always. */
  private requestIfChanged(): void {
    const changed = this.changed;
    if (!changed) return this.request();
    changed().then(
      (yes) => {
        if (yes) this.request();
        else this.rescansSkipped++;
      },
      () => this.request(),
    );
  }

  /** A look again in EMPTY_SETTLE_MS (a fragment just became empty: is it being rewritten in place?). */
  recheckSoon(): void {
    this.arm('recheck', EMPTY_SETTLE_MS);
  }

  /** A render again in `ms` (one timer: the latest failure sets it). */
  retryIn(ms: number): void {
    this.arm('retry', ms);
  }

  /** The output could not be written: a render again after a backoff (1 s doubling to a minute); returns it. */
  writeFailed(): number {
    const ms = this.writeBackoff.failed();
    this.retryIn(ms);
    return ms;
  }

  /** The output was written: the next failure waits the shortest backoff again. */
  writeSucceeded(): void {
    this.writeBackoff.succeeded();
  }

  /**
   * A render request every `ms` (the rescan behind the watcher); replaces the previous interval.
   * With `changed`, a rescan asks it first and renders only when it says something may have
   * changed (or cannot tell: it threw).
   */
  rescanEvery(ms: number, changed?: () => Promise<boolean>): void {
    this.stopRescan();
    if (this.stopped) return;
    this.changed = changed;
    this.rescan = this.timers.setInterval(() => this.requestIfChanged(), ms);
  }

  stopRescan(): void {
    if (this.rescan !== undefined) this.timers.clearInterval(this.rescan);
    this.rescan = undefined;
  }

  /** A render now (at start); resolves when it is done. */
  renderNow(): Promise<void> {
    this.pending = true;
    return this.run();
  }

  /** A render after the one in flight (at reload: it must see the new settings); resolves when it is done. */
  async renderAfterCurrent(): Promise<void> {
    await this.rendering;
    this.pending = true;
    await this.run();
  }

  /** Resolves when no render is in flight. */
  idle(): Promise<void> {
    return this.rendering ?? Promise.resolve();
  }

  /** No render starts from now on (one in flight finishes: await idle()). */
  stop(): void {
    this.stopped = true;
    for (const h of this.timeouts.values()) this.timers.clearTimeout(h);
    this.timeouts.clear();
    this.stopRescan();
  }

  private schedule(): void {
    if (this.stopped || this.rendering || this.timeouts.has('debounce')) return;
    const wait = this.lastStart === undefined ? 0 : Math.max(0, this.lastStart + this.options.debounceMs() - this.timers.now());
    if (wait === 0) void this.run();
    else this.setOneShot('debounce', wait, () => void this.run());
  }

  private run(): Promise<void> {
    if (!this.pending || this.rendering) return this.rendering ?? Promise.resolve();
    this.pending = false;
    this.lastStart = this.timers.now();
    this.rendering = this.options
      .render()
      .catch((e: Error) => this.options.onError(e))
      .finally(() => {
        this.rendering = undefined;
        this.options.afterEach();
        if (this.pending) this.schedule();
      });
    return this.rendering;
  }

  /** A render request after `ms`, replacing the earlier one of the same kind. */
  private arm(kind: Exclude<OneShot, 'debounce'>, ms: number): void {
    this.setOneShot(kind, ms, () => this.request());
  }

  private setOneShot(kind: OneShot, ms: number, fire: () => void): void {
    const earlier = this.timeouts.get(kind);
    if (earlier !== undefined) this.timers.clearTimeout(earlier);
    this.timeouts.delete(kind);
    if (this.stopped) return;
    const handle = this.timers.setTimeout(() => {
      this.timeouts.delete(kind);
      fire();
    }, ms);
    this.timeouts.set(kind, handle);
  }
}
