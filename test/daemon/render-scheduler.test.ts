/**
 * RenderScheduler (src/daemon/render-scheduler.ts) on a fake clock: no real sleeps, every
 * timer fired by advancing the clock.
 */
import t from 'tap';
import { EMPTY_SETTLE_MS, RenderScheduler, SETTLE_MS, type Timers } from '../../src/daemon/render-scheduler.js';
import { MAX_BACKOFF_MS, MIN_BACKOFF_MS } from '../../src/daemon/retry.js';

const DEBOUNCE_MS = 100;

/** Timers that fire only when the test advances the clock. */
class FakeClock implements Timers {
  private at = 1_000_000;
  private nextId = 1;
  private readonly due = new Map<number, { at: number; fn: () => void; every?: number }>();

  now(): number {
    return this.at;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.due.set(id, { at: this.at + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }
  setInterval(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.due.set(id, { at: this.at + ms, fn, every: ms });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.due.delete(handle as number);
  }
  get pendingTimers(): number {
    return this.due.size;
  }

  /** Moves the clock `ms` on, firing each timer due on the way in order, and letting the promises it starts settle. */
  async advance(ms: number): Promise<void> {
    const target = this.at + ms;
    for (let fired = 0; fired < 10_000; fired++) {
      const next = [...this.due.entries()].filter(([, d]) => d.at <= target).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!next) break;
      const [id, d] = next;
      this.at = d.at;
      if (d.every !== undefined) d.at += d.every;
      else this.due.delete(id);
      d.fn();
      await settle();
    }
    this.at = target;
    await settle();
  }
}

/** Lets every promise already resolved run its callbacks (a macrotask turn; no time passes on the fake clock). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Harness {
  readonly clock: FakeClock;
  readonly scheduler: RenderScheduler;
  /** The fake clock's time at which each render started. */
  readonly starts: number[];
  readonly errors: string[];
  afterEach: number;
  /** While true, a render stays in flight until finish() is called. */
  hold: boolean;
  finish(): Promise<void>;
}

function harness(options: { fail?: boolean } = {}): Harness {
  const clock = new FakeClock();
  let release: (() => void) | undefined;
  const h: Harness = {
    clock,
    starts: [],
    errors: [],
    afterEach: 0,
    hold: false,
    async finish() {
      const r = release;
      release = undefined;
      r?.();
      await settle();
    },
    scheduler: new RenderScheduler(
      {
        render: async () => {
          h.starts.push(clock.now());
          if (h.hold) await new Promise<void>((resolve) => (release = resolve));
          if (options.fail) throw new Error('boom');
        },
        onError: (e) => h.errors.push(e.message),
        afterEach: () => h.afterEach++,
        debounceMs: () => DEBOUNCE_MS,
      },
      clock,
    ),
  };
  return h;
}

t.test('the first request renders at once; a burst right after it coalesces into one render at the end of the debounce window', async (t) => {
  const h = harness();
  const t0 = h.clock.now();
  h.scheduler.request();
  await settle();
  t.same(h.starts, [t0]);
  for (let i = 0; i < 20; i++) {
    h.scheduler.request();
    await h.clock.advance(2);
  }
  t.same(h.starts, [t0], 'nothing more inside the window');
  await h.clock.advance(DEBOUNCE_MS);
  t.same(h.starts, [t0, t0 + DEBOUNCE_MS], 'one render for the whole burst');
  await h.clock.advance(10 * DEBOUNCE_MS);
  t.equal(h.starts.length, 2, 'and no other');
  t.equal(h.afterEach, 2);
});

t.test('requests during a render: one render after it, not before it ends', async (t) => {
  const h = harness();
  h.hold = true;
  h.scheduler.request();
  await settle();
  t.equal(h.starts.length, 1);
  for (let i = 0; i < 5; i++) h.scheduler.request();
  await h.clock.advance(5 * DEBOUNCE_MS);
  t.equal(h.starts.length, 1, 'still the first render: one at a time');
  h.hold = false;
  await h.finish();
  t.equal(h.starts.length, 2, 'the debounce window has passed: the next render starts when the first ends');
  await h.clock.advance(10 * DEBOUNCE_MS);
  t.equal(h.starts.length, 2, 'the five requests were one render');
});

t.test('renderNow and renderAfterCurrent resolve when their render is done', async (t) => {
  const h = harness();
  await h.scheduler.renderNow();
  t.equal(h.starts.length, 1);
  h.hold = true;
  h.scheduler.request();
  await h.clock.advance(DEBOUNCE_MS);
  t.equal(h.starts.length, 2, 'a render in flight');
  let done = false;
  const after = h.scheduler.renderAfterCurrent().then(() => (done = true));
  await settle();
  t.equal(done, false);
  h.hold = false;
  await h.finish();
  await after;
  t.equal(h.starts.length, 3, 'one more render, after the one in flight');
  await h.scheduler.idle();
});

t.test("the settle look asks the rescan's question first: nothing changed, no render", async (t) => {
  const h = harness();
  let changed = false;
  let asked = 0;
  h.scheduler.rescanEvery(3600_000, () => {
    asked++;
    return Promise.resolve(changed);
  });
  const t0 = h.clock.now();
  h.scheduler.requestAndSettle();
  await settle();
  await h.clock.advance(SETTLE_MS);
  t.same(h.starts, [t0], 'the event rendered; the settle look found nothing changed');
  t.equal(asked, 1);
  t.equal(h.scheduler.rescansSkipped, 1);
  changed = true;
  h.scheduler.requestAndSettle();
  const t1 = h.clock.now();
  await settle();
  await h.clock.advance(SETTLE_MS);
  t.same(h.starts, [t0, t1, t1 + SETTLE_MS], 'something changed (an event lost): the settle look renders');
  h.scheduler.stop();
});

t.test('a watcher event renders now and once more SETTLE_MS after the last event', async (t) => {
  const h = harness();
  const t0 = h.clock.now();
  h.scheduler.requestAndSettle();
  await settle();
  t.same(h.starts, [t0]);
  await h.clock.advance(SETTLE_MS / 2);
  h.scheduler.requestAndSettle(); // a second event: the settle look moves after it
  const t1 = h.clock.now();
  await settle();
  t.same(h.starts, [t0, t1], 'the second event renders at once: the debounce window is over');
  await h.clock.advance(SETTLE_MS - 1);
  t.equal(h.starts.length, 2);
  await h.clock.advance(1);
  t.same(h.starts, [t0, t1, t1 + SETTLE_MS], 'one settle look, after the last event');
  await h.clock.advance(10 * SETTLE_MS);
  t.equal(h.starts.length, 3);
});

t.test('recheckSoon looks again EMPTY_SETTLE_MS later, once however often it is asked', async (t) => {
  const h = harness();
  await h.scheduler.renderNow();
  const t0 = h.clock.now();
  h.scheduler.recheckSoon();
  h.scheduler.recheckSoon();
  await h.clock.advance(EMPTY_SETTLE_MS - 1);
  t.equal(h.starts.length, 1);
  await h.clock.advance(1);
  t.same(h.starts.slice(1), [t0 + EMPTY_SETTLE_MS]);
  await h.clock.advance(10 * EMPTY_SETTLE_MS);
  t.equal(h.starts.length, 2);
});

t.test('failed writes back off 1 s doubling to a minute, and a success resets it', async (t) => {
  const h = harness();
  await h.scheduler.renderNow();
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    const wait = h.scheduler.writeFailed();
    waits.push(wait);
    const before = h.starts.length;
    await h.clock.advance(wait - 1);
    t.equal(h.starts.length, before, `no retry before ${wait} ms`);
    await h.clock.advance(1);
    t.equal(h.starts.length, before + 1, `the retry after ${wait} ms`);
  }
  t.same(waits, [MIN_BACKOFF_MS, 2000, 4000, 8000, 16_000, 32_000, MAX_BACKOFF_MS, MAX_BACKOFF_MS]);
  h.scheduler.writeSucceeded();
  t.equal(h.scheduler.writeFailed(), MIN_BACKOFF_MS, 'back to the shortest wait');
  t.equal(h.scheduler.writeFailed(), 2000);
});

t.test('retryIn: the latest failure sets the one retry timer', async (t) => {
  const h = harness();
  await h.scheduler.renderNow();
  const t0 = h.clock.now();
  h.scheduler.retryIn(5000);
  h.scheduler.retryIn(2000); // e.g. the state dir's backoff after the output's
  await h.clock.advance(10_000);
  t.same(h.starts.slice(1), [t0 + 2000], 'one retry, at the latest time set');
});

t.test('the rescan requests a render every interval, and a new interval replaces the old', async (t) => {
  const h = harness();
  const t0 = h.clock.now();
  h.scheduler.rescanEvery(1000);
  await h.clock.advance(3000);
  t.same(h.starts, [t0 + 1000, t0 + 2000, t0 + 3000]);
  h.scheduler.rescanEvery(5000);
  await h.clock.advance(5000);
  t.same(h.starts.slice(3), [t0 + 8000]);
  h.scheduler.stopRescan();
  await h.clock.advance(20_000);
  t.equal(h.starts.length, 4);
  t.equal(h.clock.pendingTimers, 0);
});

t.test('a rescan that is told nothing changed renders nothing; one that cannot tell renders', async (t) => {
  const h = harness();
  const t0 = h.clock.now();
  const answers: Array<boolean | Error> = [false, false, true, new Error('EACCES'), false];
  h.scheduler.rescanEvery(1000, async () => {
    const a = answers.shift() ?? false;
    if (a instanceof Error) throw a;
    return a;
  });
  await h.clock.advance(5000);
  t.same(h.starts, [t0 + 3000, t0 + 4000], 'rendered when something changed and when the check failed');
  t.equal(h.scheduler.rescansSkipped, 3);
});

t.test('a render that throws is reported, and the scheduler goes on', async (t) => {
  const h = harness({ fail: true });
  await h.scheduler.renderNow();
  t.same(h.errors, ['boom']);
  t.equal(h.afterEach, 1, 'afterEach runs after a failed render too');
  h.scheduler.request();
  await h.clock.advance(DEBOUNCE_MS);
  t.equal(h.starts.length, 2);
  t.same(h.errors, ['boom', 'boom']);
});

t.test('stop cancels every timer, and nothing renders or arms afterwards', async (t) => {
  const h = harness();
  await h.scheduler.renderNow();
  h.scheduler.request(); // a debounce timer
  h.scheduler.requestAndSettle(); // a settle timer
  h.scheduler.recheckSoon();
  h.scheduler.writeFailed();
  h.scheduler.rescanEvery(500);
  t.ok(h.clock.pendingTimers >= 5, 'all armed');
  h.scheduler.stop();
  t.equal(h.scheduler.isStopped, true);
  t.equal(h.clock.pendingTimers, 0, 'all cleared');
  h.scheduler.request();
  h.scheduler.retryIn(10);
  h.scheduler.recheckSoon();
  h.scheduler.rescanEvery(10);
  t.equal(h.clock.pendingTimers, 0, 'nothing armed once stopped');
  await h.clock.advance(2 * MAX_BACKOFF_MS);
  t.equal(h.starts.length, 1, 'only the render before the stop');
});

t.test('stop lets the render in flight finish: idle() waits for it', async (t) => {
  const h = harness();
  h.hold = true;
  h.scheduler.request();
  await settle();
  h.scheduler.request();
  h.scheduler.stop();
  let idle = false;
  const done = h.scheduler.idle().then(() => (idle = true));
  await settle();
  t.equal(idle, false, 'still in flight');
  h.hold = false;
  await h.finish();
  await done;
  t.equal(idle, true);
  await h.clock.advance(10 * DEBOUNCE_MS);
  t.equal(h.starts.length, 1, 'the request made before the stop does not render after it');
});
