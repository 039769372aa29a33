/**
 * SweepCache: a sweep forgets exactly what its pass did not use, whichever way it drops them
 * (one by one, or by copying the few kept).
 */
import t from 'tap';
import fc from 'fast-check';
import { SweepCache } from '../../src/core/sweep-cache.js';

type Op = { op: 'get' | 'set'; key: string; value: number } | { op: 'sweep' } | { op: 'clear' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('get' as const, 'set' as const), key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), value: fc.integer() }),
  fc.constant({ op: 'sweep' as const }),
  fc.constant({ op: 'clear' as const }),
);

t.test('after any sequence of uses and sweeps, the cache holds what a plain model says', async () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const cache = new SweepCache<number>();
      const model = new Map<string, number>();
      let used = new Set<string>();
      for (const o of ops) {
        if (o.op === 'get') {
          if (cache.get(o.key) !== model.get(o.key)) return false;
          if (model.has(o.key)) used.add(o.key);
        } else if (o.op === 'set') {
          cache.set(o.key, o.value);
          model.set(o.key, o.value);
          used.add(o.key);
        } else {
          for (const k of [...model.keys()]) if (o.op === 'clear' || !used.has(k)) model.delete(k);
          used = new Set();
          if (o.op === 'sweep') cache.sweep();
          else cache.clear();
        }
        if (cache.size !== model.size) return false;
      }
      return [...model].every(([k, v]) => cache.get(k) === v);
    }),
    { numRuns: 2000 },
  );
});

t.test('a sweep that keeps a few of many entries keeps exactly those', async (t) => {
  const cache = new SweepCache<number>();
  for (let i = 0; i < 1000; i++) cache.set(`k${i}`, i);
  cache.sweep();
  t.equal(cache.get('k7'), 7);
  t.equal(cache.get('k700'), 700);
  cache.get('k7'); // a second use in one pass counts once
  cache.sweep();
  t.equal(cache.size, 2);
  t.equal(cache.get('k7'), 7);
  t.equal(cache.get('k8'), undefined);
  cache.sweep(); // k700 not used in the last pass
  t.equal(cache.size, 1);
  cache.sweep();
  cache.sweep();
  t.equal(cache.size, 0, 'a pass that used nothing forgets everything');
});
