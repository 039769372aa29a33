/**
 * normaliseTables sorts prefixes as Go's sort.Strings does (UTF-8 bytes), whichever comparison
 * it uses inside: plain `<` for the usual names, encoded bytes when a surrogate pair is there.
 */
import t from 'tap';
import { layerTopLevelKeys, mergeRegistriesConfs, normaliseTables } from '../../src/registries-conf/layer.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';

const scopes = (locations: readonly string[]) => normaliseTables(locations.map((location) => ({ location, mirrors: [] }))).map((x) => x.location);

t.test('byte order of prefixes, with and without characters beyond the BMP', async (t) => {
  t.strictSame(
    scopes(['quay.io', 'Quay.io', 'docker.io', 'quay.io/ns', 'quay.io']),
    ['Quay.io', 'docker.io', 'quay.io', 'quay.io/ns'],
    'uppercase first; the first of a prefix kept',
  );
  // UTF-16 puts the surrogate pair of U+1F600 (D83D DE00) before U+FF61; UTF-8 (F0 9F 98 80 vs EF BD A1) after it.
  t.strictSame(scopes(['a\u{1F600}', 'a\uFF61', 'a']), ['a', 'a\uFF61', 'a\u{1F600}']);
});

t.test('drop-ins replace tables whole and the result is sorted once', async (t) => {
  const main = {
    registries: [
      { location: 'b.io', mirrors: [{ location: 'm1.io' }] },
      { location: 'a.io', mirrors: [] },
    ],
  };
  const dropIn = {
    registries: [
      { location: 'b.io', mirrors: [{ location: 'm2.io' }] },
      { location: 'c.io', mirrors: [] },
    ],
  };
  const merged = mergeRegistriesConfs(main, [dropIn]);
  t.strictSame(
    merged.registries.map((x) => [x.location, x.mirrors.map((m) => m.location)]),
    [
      ['a.io', []],
      ['b.io', ['m2.io']],
      ['c.io', []],
    ],
  );
  t.not(merged.registries[1], dropIn.registries[0], 'a copy, the input unchanged');
});

t.test('layerTopLevelKeys: the one copy of the drop-in rules names each key it sets and whether it was already so', async (t) => {
  const target: RegistriesConf = { registries: [], credentialHelpers: ['a'], shortNameMode: 'enforcing', aliases: { keep: 'x.io/keep', drop: 'x.io/drop' } };
  const notes: [string, boolean][] = [];
  layerTopLevelKeys(
    target,
    {
      registries: [],
      credentialHelpers: ['a'],
      shortNameMode: 'disabled',
      unqualifiedSearchRegistries: [],
      aliases: { drop: '', keep: 'x.io/keep', add: 'y.io/add' },
    },
    (key, same) => notes.push([key, same]),
  );
  t.same(notes, [
    ['unqualified-search-registries', false],
    ['credential-helpers', true],
    ['short-name-mode', false],
    ['aliases.drop', false],
    ['aliases.keep', true],
    ['aliases.add', false],
  ]);
  t.same(target.unqualifiedSearchRegistries, [], 'a present empty list clears');
  t.equal(target.shortNameMode, 'disabled');
  t.same({ ...target.aliases }, { keep: 'x.io/keep', add: 'y.io/add' }, '"" erases an alias');
});
