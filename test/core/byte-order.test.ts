import t from 'tap';
import fc from 'fast-check';
import { byteOrderCompare, sortByByteOrder, sortByteOrder } from '../../src/core/byte-order.js';

const sign = (n: number): number => Math.sign(n);

t.test('byteOrderCompare is the order of the UTF-8 bytes (Go sort.Strings)', async (t) => {
  // U+FF21 (fullwidth A) is one BMP unit above the surrogates; U+1F600 is a surrogate pair: JavaScript's
  // `<` puts the emoji first, UTF-8 (F0 9F… vs EF BC…) puts it last.
  t.ok(byteOrderCompare('\u{1F600}', '\uFF21') > 0, 'astral after U+E000–FFFF');
  t.ok(byteOrderCompare('\uFF21', '\u{1F600}') < 0);
  t.ok(byteOrderCompare('Z', 'a') < 0 && byteOrderCompare('a', 'ab') < 0 && byteOrderCompare('é', 'é') === 0);
  const unit = fc.oneof(
    fc.constantFrom('a', 'Z', '/', 'é', '\uE000', '\uFF21', '\uFFFF', '\u{10000}', '\u{1F600}', '\u{10FFFF}'),
    fc
      .integer({ min: 0, max: 0x10ffff })
      .filter((c) => c < 0xd800 || c > 0xdfff)
      .map((c) => String.fromCodePoint(c)),
  );
  const str = fc.array(unit, { maxLength: 6 }).map((a) => a.join(''));
  fc.assert(
    fc.property(str, str, (a, b) => sign(byteOrderCompare(a, b)) === sign(Buffer.compare(Buffer.from(a), Buffer.from(b)))),
    { numRuns: 5000 },
  );
});

t.test('sortByteOrder and sortByByteOrder sort as byteOrderCompare does, with and without surrogates', async (t) => {
  const unit = fc.constantFrom('a', 'b', 'Z', '/', '.', 'é', '\uE000', '\uFF21', '\u{1F600}', '\u{10000}');
  const str = fc.array(unit, { maxLength: 5 }).map((a) => a.join(''));
  fc.assert(
    fc.property(fc.array(str, { maxLength: 30 }), (strings) => {
      const expected = [...strings].sort(byteOrderCompare).join('|');
      const keyed = sortByByteOrder(
        strings.map((s) => ({ s })),
        (o) => o.s,
      );
      return sortByteOrder([...strings]).join('|') === expected && keyed.map((o) => o.s).join('|') === expected;
    }),
    { numRuns: 3000 },
  );
  t.strictSame(sortByteOrder(['\u{1F600}', '\uFF21', 'b', 'a']), ['a', 'b', '\uFF21', '\u{1F600}'], 'astral after U+E000–FFFF, as in UTF-8');
  const items = [
    { k: 'b', n: 1 },
    { k: 'a', n: 2 },
    { k: 'b', n: 3 },
  ];
  t.strictSame(
    sortByByteOrder(items, (i) => i.k).map((i) => i.n),
    [2, 1, 3],
    'stable: equal keys keep their order',
  );
});
