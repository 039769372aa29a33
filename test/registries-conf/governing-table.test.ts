// The candidate look-up against the definition it stands for: containers/image's FindRegistry
// as a pass over every table (refMatchingPrefix; longest prefix text, ties to the prefix that sorts first).
import t from 'tap';
import fc from 'fast-check';
import { tableFinder } from '../../src/registries-conf/governing-table.js';
import { registryScope, type RegistriesConf, type RegistryTable } from '../../src/registries-conf/model.js';
import { refMatchingPrefix } from '../../src/reference/scope.js';

function byPassOverAll(conf: RegistriesConf, name: string): string | undefined {
  let best: string | undefined;
  for (const table of conf.registries) {
    const prefix = registryScope(table);
    if (prefix === '' || refMatchingPrefix(name, prefix) === -1) continue;
    if (best === undefined || prefix.length > best.length || (prefix.length === best.length && Buffer.compare(Buffer.from(prefix), Buffer.from(best)) < 0))
      best = prefix;
  }
  return best;
}

t.test('tableFinder finds what a pass over every table finds, for every name', async (t) => {
  const prefix = fc.constantFrom(
    'a.com',
    'x.a.com',
    '*.a.com',
    '*.com',
    'a.com:5000',
    'a.com/ns',
    'a.com/ns/app',
    'x.a.com:5000/ns',
    'b.org',
    '*.x.a.com',
    'a.co',
  );
  const name = fc.constantFrom(
    'a.com/ns/app',
    'a.com:5000/x',
    'x.a.com/foo',
    'y.x.a.com/foo',
    'x.a.com:5000/ns/app',
    'a.com/nsx',
    'b.org/z',
    'c.net/q',
    'a.com',
    'a.co/x',
  );
  fc.assert(
    fc.property(fc.uniqueArray(prefix, { maxLength: 8 }), fc.array(name, { minLength: 1, maxLength: 5 }), (prefixes, names) => {
      const conf: RegistriesConf = {
        registries: prefixes.map((p): RegistryTable => (p.startsWith('*.') ? { prefix: p, location: '', mirrors: [] } : { location: p, mirrors: [] })),
      };
      const find = tableFinder(conf);
      return names.every((n) => find(n)?.prefix === byPassOverAll(conf, n));
    }),
    { numRuns: 3000 },
  );
  t.pass('checked');
});
