import t from 'tap';
import { describeError } from '../../src/registry/errors.js';

t.test("undici's timeout errors in words, as the probes say them; other messages as they are", async (t) => {
  const undici = (message: string, code: string): Error => Object.assign(new Error(message), { code });
  t.equal(describeError(undici('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT')), 'no response headers in time (headers deadline)');
  t.equal(describeError(undici('Body Timeout Error', 'UND_ERR_BODY_TIMEOUT')), 'the body stalled (body idle deadline)');
  t.equal(
    describeError(undici('127.0.0.1:5: no response headers within 1500 ms', 'UND_ERR_HEADERS_TIMEOUT')),
    '127.0.0.1:5: no response headers within 1500 ms',
  );
  t.equal(
    describeError(new Error('fetch failed', { cause: undici('Headers Timeout Error', 'UND_ERR_HEADERS_TIMEOUT') })),
    'fetch failed: no response headers in time (headers deadline)',
  );
});
