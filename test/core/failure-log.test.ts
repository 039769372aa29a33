import t from 'tap';
import { FailureLog, failureCause } from '../../src/core/failure-log.js';

const errno = (code: string, message: string): NodeJS.ErrnoException => Object.assign(new Error(message), { code });

t.test('a failure is news once per cause (errno before message); a success clears it', async (t) => {
  t.equal(failureCause(errno('ENOSPC', "ENOSPC: no space left, write '/x/.a.1.tmp'")), 'ENOSPC');
  t.equal(failureCause(new Error('not JSON')), 'not JSON');
  const f = new FailureLog();
  t.notOk(f.cleared(), 'nothing said yet');
  t.ok(f.news(errno('EACCES', "EACCES: permission denied, open '/x/.a.1.tmp'")), 'the first');
  t.notOk(f.news(errno('EACCES', "EACCES: permission denied, open '/x/.a.2.tmp'")), 'the same cause, another temp file');
  t.ok(f.news(errno('ENOSPC', 'ENOSPC: no space left')), 'another cause');
  t.ok(f.cleared(), 'it had been said');
  t.notOk(f.cleared(), 'once');
  t.ok(f.news(errno('ENOSPC', 'ENOSPC: no space left')), 'after a success the same cause is news again');
});
