import t from 'tap';
import { userInfo } from 'node:os';
import { isAbsolute } from 'node:path';
import { homeDirectory } from '../../src/core/home-dir.js';

t.test('$HOME when set, else the password entry (an empty $HOME counts as unset)', async (t) => {
  t.equal(homeDirectory({ HOME: '/home/u' }), '/home/u');
  const passwd = userInfo().homedir;
  t.equal(homeDirectory({}), passwd, 'unset');
  t.equal(homeDirectory({ HOME: '' }), passwd, 'empty: not "", which would make every user path relative');
  t.ok(isAbsolute(homeDirectory({ HOME: '' })));
});
