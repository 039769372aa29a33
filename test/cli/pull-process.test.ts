/**
 * tunePullProcess (src/cli/pull-process.ts): the hook a pull calls as blob bytes arrive runs
 * a young-generation collection every COLLECT_EVERY_BYTES (the loop below allocates almost
 * nothing: the collections seen are the hook's).
 */
import t from 'tap';
import { COLLECT_EVERY_BYTES, tunePullProcess } from '../../src/cli/pull-process.js';
import { minorCollectionsDuring } from '../helpers/gc.js';

t.test('a young collection per COLLECT_EVERY_BYTES of a blob, again for the next blob', async (t) => {
  const onBytes = tunePullProcess();
  const step = 64 * 1024;
  const blob = (size: number) => () => {
    for (let n = step; n <= size; n += step) onBytes(n);
  };
  t.ok((await minorCollectionsDuring(blob(COLLECT_EVERY_BYTES * 3))) >= 3, 'three intervals of the first blob');
  t.ok((await minorCollectionsDuring(blob(COLLECT_EVERY_BYTES * 2))) >= 2, 'the count restarts with the next blob');
});
