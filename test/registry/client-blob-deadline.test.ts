/**
 * blobDeadlineMs (src/registry/client.ts): the overall deadline for the bytes of a blob still
 * to come. A count worked out wrong (a resume past an unknown size gave one below zero) must
 * never give a deadline under the idle timeout: it fired at once and cut a working mirror.
 */
import t from 'tap';
import { blobDeadlineMs, MAX_TIMER_MS, MIN_BLOB_BYTES_PER_S } from '../../src/registry/client.js';

const timeouts = { connectMs: 1000, headersMs: 1000, bodyIdleMs: 30_000 };

t.test('the idle timeout plus the bytes at the minimum rate', async (t) => {
  t.equal(blobDeadlineMs(timeouts, 10 * MIN_BLOB_BYTES_PER_S), 30_000 + 10_000);
  t.equal(blobDeadlineMs(timeouts, 1e15), MAX_TIMER_MS, 'at most the longest timer');
});

t.test('no size, or one below zero or not a number: the idle timeout, never less', async (t) => {
  for (const size of [undefined, 0, -1, -150_000, Number.NaN, -Infinity]) t.equal(blobDeadlineMs(timeouts, size), 30_000, `size ${size}`);
});
