/**
 * collectYoungEvery (src/registry/young-collections.ts): the hook the local mirror and the pull
 * call with each chunk's size runs a young-generation collection every COLLECT_EVERY_BYTES of
 * them, whatever transfer they belong to (the loop below allocates almost nothing: the
 * collections seen are the hook's).
 */
import t from 'tap';
import { COLLECT_EVERY_BYTES, collectYoungEvery } from '../../src/registry/young-collections.js';
import { minorCollectionsDuring } from '../helpers/gc.js';

const CHUNK = 64 * 1024;

t.test('chunks of two transfers at once count together: a collection per COLLECT_EVERY_BYTES of both', async (t) => {
  const told = collectYoungEvery();
  const chunks = (COLLECT_EVERY_BYTES * 4) / CHUNK;
  const seen = await minorCollectionsDuring(() => {
    for (let i = 0; i < chunks; i += 2) {
      told(CHUNK); // transfer A
      told(CHUNK); // transfer B
    }
  });
  t.ok(seen >= 4, `${seen} young collections for 4 intervals`);
});

t.test('under the interval in all: not a collection per chunk', async (t) => {
  const told = collectYoungEvery(1024 * 1024 * 1024);
  const seen = await minorCollectionsDuring(() => {
    for (let i = 0; i < 64; i++) told(CHUNK);
  });
  t.ok(seen < 8, `${seen} young collections for 64 chunks under the interval (V8's own, if any)`);
});
