import t from 'tap';
import { pino } from 'pino';
import { LastGoodSaver } from '../../src/daemon/last-good-saver.js';
import type { StateDir } from '../../src/daemon/state-dir.js';

/** A state dir whose saves fail with `failure` (an errno error, as fs throws) while it is set. */
function stateDir(): { dir: StateDir; failure: { message?: string; code?: string } } {
  const failure: { message?: string; code?: string } = {};
  const dir = {
    path: (...parts: string[]) => ['/state', ...parts].join('/'),
    writeLastGood: () => (failure.message ? Promise.reject(Object.assign(new Error(failure.message), { code: failure.code })) : Promise.resolve()),
  } as unknown as StateDir;
  return { dir, failure };
}

t.test('a save that keeps failing the same way is logged once at error, its retries at debug; a new cause and the recovery are logged', async (t) => {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  const { dir, failure } = stateDir();
  const saver = new LastGoodSaver(dir, log, {});
  failure.code = 'ENOSPC';
  // each try's temp file has a new name, and so the message: the cause is the errno
  for (let i = 0; i < 4; i++) {
    failure.message = `ENOSPC: no space left on device, open '/state/last-good/.10-a.toml.${i}.tmp'`;
    t.type(await saver.save({ '10-a.toml': 'x' }), 'number', 'a retry is asked for');
  }
  failure.code = 'EROFS';
  failure.message = "EROFS: read-only file system, open '/state/last-good/.10-a.toml.9.tmp'";
  await saver.save({ '10-a.toml': 'x' });
  failure.message = undefined;
  t.equal(await saver.save({ '10-a.toml': 'x' }), undefined);
  const at = (level: number): string[] => lines.filter((l) => l.level === level).map((l) => l.msg);
  t.match(at(50), [/no space left on device, open .*; retrying in 1 s.*repeats are logged at debug/, /read-only file system, open .*; retrying in 16 s/]);
  t.equal(at(50).length, 2, 'one error line per cause');
  t.equal(at(40).length, 0, 'no warning line per retry');
  t.equal(at(20).filter((m) => /still cannot save .*no space left on device, open .*; retrying in/.test(m)).length, 3, 'the retries at debug');
  t.same(at(30), ['last-good copies saved in /state/last-good again']);
});
