import t from 'tap';
import { structKeys, type StructSchema } from '../../src/toml/struct-keys.js';

const SCHEMA: StructSchema = { list: { name: null, sub: { key: null } }, map: null };

t.test("keys read as BurntSushi/toml's EqualFold matches them, paths written back", async (t) => {
  const data = { LIST: [{ Name: 'a', SUB: { kEy: 1 } }], map: { Kept: 1 }, other: 2 };
  const k = structKeys(data, SCHEMA);
  t.same(k.data, { list: [{ name: 'a', sub: { key: 1 } }], map: { Kept: 1 }, other: 2 }, 'a map keeps its keys, unknown keys stay');
  t.same(k.writtenPath(['list', 0, 'sub', 'key']), ['LIST', 0, 'SUB', 'kEy']);
  t.same(k.writtenPath(['other']), ['other']);
  t.same(
    k.respelled.map((r) => [r.path, r.field]),
    [
      [['LIST', 0, 'Name'], 'name'],
      [['LIST', 0, 'SUB', 'kEy'], 'key'],
      [['LIST', 0, 'SUB'], 'sub'],
      [['LIST'], 'list'],
    ],
    'children first (a value is read before its key is noted)',
  );
  t.same(data.LIST[0]?.Name, 'a', 'the data given is left as it was');
});

t.test('two keys of one field: the exact one is kept, whichever comes first', async (t) => {
  for (const data of [
    { Name: 'b', name: 'a' },
    { name: 'a', Name: 'b' },
  ]) {
    const k = structKeys({ list: [data] }, SCHEMA);
    t.same(k.data, { list: [{ name: 'a' }] });
    t.same(
      k.sameField.map((s) => [s.kept, s.other, s.differ]),
      [['name', 'Name', true]],
    );
  }
});

t.test('a key named __proto__ stays an own key, not the prototype', async (t) => {
  const data = JSON.parse('{"__proto__": {"x": 1}}') as Record<string, unknown>;
  const k = structKeys(data, SCHEMA);
  t.ok(Object.hasOwn(k.data, '__proto__'));
  t.equal(Object.getPrototypeOf(k.data), Object.prototype);
});
