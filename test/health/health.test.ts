import t from 'tap';
import {
  DEFAULT_HEALTH_POLICY,
  HEALTH_RECORD_MAX_AGE_MS,
  healthState,
  mergeHealth,
  orderByHealth,
  recordFailure,
  recordSuccess,
  withoutStale,
} from '../../src/health/health.js';

const E = 'https://m1.example:5000';

t.test('a failure marks an endpoint down for a time that doubles up to a cap; a success clears it', async (t) => {
  const policy = { threshold: 1, baseTtlMs: 1000, maxTtlMs: 5000 };
  let h = recordFailure(undefined, E, 'connect-timeout', 'timed out', 0, policy);
  t.equal(h.failures, 1);
  t.equal(h.downUntil, 1000);
  t.equal(healthState(h, 500), 'down');
  t.equal(healthState(h, 1000), 'probe', 'after the TTL one request may probe it');
  h = recordFailure(h, E, 'connect-timeout', 'timed out', 1000, policy);
  t.equal(h.downUntil, 3000, 'second failure: 2 s');
  h = recordFailure(h, E, 'refused', 'refused', 3000, policy);
  t.equal(h.downUntil, 7000, 'third: 4 s');
  h = recordFailure(h, E, 'refused', 'refused', 7000, policy);
  t.equal(h.downUntil, 12000, 'capped at 5 s');
  t.match(h.lastFailure, { class: 'refused', at: 7000 });
  const up = recordSuccess(h, E, 12500, 12);
  t.equal(healthState(up, 12500), 'up');
  t.equal(up.failures, 0);
  t.equal(up.latencyMs, 12);
  t.equal(up.downUntil, undefined);
});

t.test('failures while already down (requests in flight together) do not lengthen its time; the first after it does', async (t) => {
  const policy = { threshold: 1, baseTtlMs: 30_000, maxTtlMs: 15 * 60_000 };
  let h = recordFailure(undefined, E, 'refused', 'refused', 0, policy);
  for (let i = 1; i <= 5; i++) h = recordFailure(h, E, 'reset', `layer ${i}`, i, policy); // a pull's other layers, failing with it
  t.equal(h.downUntil, 30_000, 'six failures of one moment: down 30 s, not 15 min');
  t.equal(h.failures, 1);
  t.match(h.lastFailure, { class: 'reset', message: 'layer 5', at: 5 }, 'the last failure is still told');
  h = recordFailure(h, E, 'refused', 'refused', 30_000, policy);
  t.equal(h.downUntil, 90_000, 'the next try, once its time is up, fails: 60 s');
  t.equal(h.failures, 2);
});

t.test('a failure while down after the clock was stepped back ends its time at most one down time from now', async (t) => {
  const policy = { threshold: 1, baseTtlMs: 30_000, maxTtlMs: 15 * 60_000 };
  const hourAhead = recordFailure(undefined, E, 'refused', 'refused', 3_600_000, policy); // the clock an hour ahead
  const h = recordFailure(hourAhead, E, 'refused', 'refused', 0, policy); // stepped back: down until 3 630 000 by the old end
  t.equal(h.downUntil, 30_000, "this outage's 30 s from now, not the end set an hour ahead");
  t.equal(healthState(h, 30_000), 'probe');
  t.equal(h.failures, 1);
});

t.test('a threshold above 1 needs consecutive failures', async (t) => {
  const policy = { ...DEFAULT_HEALTH_POLICY, threshold: 3 };
  let h = recordFailure(undefined, E, 'tls', 'x', 0, policy);
  h = recordFailure(h, E, 'tls', 'x', 1, policy);
  t.equal(healthState(h, 2), 'up');
  h = recordFailure(h, E, 'tls', 'x', 2, policy);
  t.equal(healthState(h, 3), 'down');
  t.equal(healthState(undefined, 0), 'unknown');
});

t.test('down endpoints are tried last, after every other candidate', async (t) => {
  const down = recordFailure(undefined, 'a', 'refused', 'x', 0);
  const sources = ['a', 'b', 'c'];
  t.same(
    orderByHealth(sources, (s) => s, { a: down }, 1),
    { ordered: ['b', 'c', 'a'], down: ['a'] },
    'a down source is tried last, as a last resort',
  );
  const all = { a: down, b: recordFailure(undefined, 'b', 'refused', 'x', 0), c: recordFailure(undefined, 'c', 'refused', 'x', 0) };
  t.same(
    orderByHealth(sources, (s) => s, all, 1),
    { ordered: ['a', 'b', 'c'], down: ['a', 'b', 'c'] },
    'all down: all tried in order anyway',
  );
  t.same(
    orderByHealth(sources, (s) => s, { a: down }, 10 ** 9),
    { ordered: ['a', 'b', 'c'], down: [] },
    'after the TTL it is probed again',
  );
});

t.test('merging two views keeps the newer record per endpoint and every endpoint of both', async (t) => {
  const a = { x: recordFailure(undefined, 'x', 'refused', 'old', 10), y: recordSuccess(undefined, 'y', 5) };
  const b = { x: recordSuccess(undefined, 'x', 20), z: recordSuccess(undefined, 'z', 1) };
  const m = mergeHealth(a, b);
  t.same(Object.keys(m).sort(), ['x', 'y', 'z']);
  t.equal(m.x?.updatedAt, 20);
  t.equal(healthState(m.x, 21), 'up');
  t.equal(mergeHealth(b, a).x?.updatedAt, 20, 'order of the views does not matter');
});

t.test('records a week older than the newest are dropped; the rest are kept as they are', async (t) => {
  const day = 24 * 3600_000;
  const now = 100 * day;
  const map = {
    fresh: recordSuccess(undefined, 'fresh', now),
    sixDays: recordFailure(undefined, 'sixDays', 'refused', 'connection refused', now - 6 * day),
    eightDays: recordSuccess(undefined, 'eightDays', now - 8 * day),
  };
  t.equal(HEALTH_RECORD_MAX_AGE_MS, 7 * day);
  t.same(withoutStale(map), { fresh: map.fresh, sixDays: map.sixDays });
  t.same(withoutStale({ eightDays: map.eightDays }), { eightDays: map.eightDays }, 'the newest record is never stale, however old');
  t.same(withoutStale({}), {}, 'an empty cache');
  t.same(Object.keys(withoutStale(map, 7 * day + 2 * day)).sort(), ['eightDays', 'fresh', 'sixDays'], 'the age is a parameter');
});
