import t from 'tap';
import { counted } from '../../src/core/count.js';

t.test('counted: singular for one only', async (t) => {
  t.equal(counted(1, 'table'), '1 table');
  t.equal(counted(0, 'mirror'), '0 mirrors');
  t.equal(counted(3, 'failed probe'), '3 failed probes');
});
