import t from 'tap';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { unlessMissing } from '../../src/output/if-exists.js';

t.test('unlessMissing: a missing path is undefined, other errors still throw', async (t) => {
  const dir = t.testdir({ 'a.txt': 'hello' });
  t.equal(await unlessMissing(fs.readFile(join(dir, 'a.txt'), 'utf8')), 'hello');
  t.equal(await unlessMissing(fs.readFile(join(dir, 'none'), 'utf8')), undefined);
  await t.rejects(unlessMissing(fs.readFile(dir, 'utf8')), { code: 'EISDIR' });
  await t.rejects(unlessMissing(fs.readFile(join(dir, 'a.txt', 'x'), 'utf8')), { code: 'ENOTDIR' });
});
