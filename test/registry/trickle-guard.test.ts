/**
 * trickleGuard (src/registry/client.ts): a body of unknown size is held, chunk by chunk, to the
 * bound an overall deadline sets for a known size (blobDeadlineMs): idle timeout + size at the
 * minimum rate.
 */
import t from 'tap';
import { blobDeadlineMs, MIN_BLOB_BYTES_PER_S, trickleGuard } from '../../src/registry/client.js';

const timeouts = { connectMs: 1000, headersMs: 1000, bodyIdleMs: 1000 };

t.test('keeps pace: no throw while the time so far is within the bound of the bytes so far', async (t) => {
  let now = 0;
  const check = trickleGuard(timeouts, 'blob sha256:x', () => now);
  t.doesNotThrow(() => {
    for (let i = 0; i < 100; i++) {
      now += 900; // slow: one minimum-rate second of bytes every 0.9 s
      check(MIN_BLOB_BYTES_PER_S);
    }
  }, 'a slow body that keeps the minimum rate, long past the idle timeout in all');
  now += blobDeadlineMs(timeouts, 100 * MIN_BLOB_BYTES_PER_S);
  t.throws(() => check(1), { code: 'UND_ERR_BODY_TIMEOUT' }, 'then a long stall with a byte at its end: cut');
});

t.test('falls behind: throws a body timeout naming what and how long', async (t) => {
  let now = 0;
  const check = trickleGuard(timeouts, 'blob sha256:x', () => now);
  now = blobDeadlineMs(timeouts, 10);
  check(10);
  now += 1;
  t.throws(() => check(0), { code: 'UND_ERR_BODY_TIMEOUT', message: /^blob sha256:x not complete after 1 s in all \(a trickling source\)$/ });
});
