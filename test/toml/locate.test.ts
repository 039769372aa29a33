/**
 * TomlIndex finds keys and values in toml-eslint-parser's syntax tree: exact positions for
 * whatever the path names, bounded to the table it names, and parsed only when a location is read.
 */
import t from 'tap';
import { locateToml, locatorParses } from '../../src/toml/locate.js';
import { parseTomlFragment } from '../../src/fragments/toml.js';
import { formatDiagnostic } from '../../src/core/diagnostic.js';

const text = [
  'short-name-mode = "enforcing"', // 1
  'insecure-registries = [', // 2
  '  "a.io", \'b.io\',', // 3
  '  "c.io", "x\\"y",', // 4
  ']', // 5
  '[aliases]', // 6
  '"quay.io/x" = "c.io"', // 7
  '\'lit\' = "c.io"', // 8
  'plain="a.io"', // 9
  '[[registry]]', // 10
  'location = "a.io"', // 11
  '[[registry]]', // 12
  'location = "c.io"', // 13
].join('\n');

t.test('values: the first line at or after the key, inside the table, column of the quote', async (t) => {
  t.strictSame(locateToml(text, ['insecure-registries', 0], 'a.io'), { line: 3, col: 3 });
  t.strictSame(locateToml(text, ['insecure-registries', 1], 'b.io'), { line: 3, col: 11 }, 'a literal string');
  t.strictSame(locateToml(text, ['insecure-registries', 2], 'c.io'), { line: 4, col: 3 });
  t.strictSame(locateToml(text, ['insecure-registries', 3], 'x"y'), { line: 4, col: 11 }, 'an escaped quote, as JSON writes it');
  t.strictSame(locateToml(text, ['registry', 1, 'location'], 'c.io'), { line: 13, col: 12 }, 'not the c.io of an earlier table');
  t.strictSame(locateToml(text, ['registry', 0, 'location'], 'c.io'), { line: 11, col: 1 }, 'not one of a later table: the key line');
});

t.test('keys: bare, "basic" and \'literal\', only inside their table', async (t) => {
  t.strictSame(locateToml(text, ['aliases', 'quay.io/x']), { line: 7, col: 1 });
  t.strictSame(locateToml(text, ['aliases', 'lit']), { line: 8, col: 1 });
  t.strictSame(locateToml(text, ['aliases', 'plain']), { line: 9, col: 1 }, 'no blank before "="');
  t.strictSame(locateToml(text, ['short-name-mode']), { line: 1, col: 1 });
  t.strictSame(locateToml(text, ['registry', 1, 'location']), { line: 13, col: 1 });
  t.strictSame(locateToml(text, ['aliases', 'location']), { line: 6, col: 1 }, "a key of a later table is not this table's: the header");
});

// The cases below are the ones the line-scanning heuristic got wrong (it fell back to the table, or shifted lines).

t.test('dotted keys: each part of the path, on the line that writes it', async (t) => {
  const dotted = ['x = 1', 'a.b.c = 1', '[t]', 'u.v = "q.io"', '"quoted.key".w = 2'].join('\n');
  t.strictSame(locateToml(dotted, ['a', 'b', 'c']), { line: 2, col: 1 });
  t.strictSame(locateToml(dotted, ['a', 'b']), { line: 2, col: 1 }, 'an implicit table is where its first key is written');
  t.strictSame(locateToml(dotted, ['t', 'u', 'v'], 'q.io'), { line: 4, col: 7 }, 'the value, inside a table');
  t.strictSame(locateToml(dotted, ['t', 'quoted.key', 'w']), { line: 5, col: 1 }, 'a quoted part holding a dot is one key');
});

t.test('inline tables and arrays of inline tables', async (t) => {
  const inline = [
    '[[registry]]', // 1
    'location = "a.io"', // 2
    'mirror = [ { location = "m1.io" },', // 3
    '           { location = "m2.io", insecure = true } ]', // 4
    '[aliases]', // 5
    'x = { y = "z" }', // 6
  ].join('\n');
  t.strictSame(locateToml(inline, ['registry', 0, 'mirror', 1, 'location'], 'm2.io'), { line: 4, col: 25 });
  t.strictSame(locateToml(inline, ['registry', 0, 'mirror', 1, 'insecure']), { line: 4, col: 34 }, 'the key inside the inline table');
  t.strictSame(locateToml(inline, ['registry', 0, 'mirror', 0]), { line: 3, col: 12 }, 'the element itself');
  t.strictSame(locateToml(inline, ['registry', 0, 'mirror', 1, 'pull-from-mirror']), { line: 4, col: 12 }, 'a missing key: the inline table it belongs in');
  t.strictSame(locateToml(inline, ['aliases', 'x', 'y']), { line: 6, col: 7 });
});

t.test('arrays of tables, nested: the header of the right element', async (t) => {
  const nested = [
    '[[registry]]', // 1
    'location = "a.io"', // 2
    '[[registry.mirror]]', // 3
    'location = "m.io"', // 4
    '[[registry]]', // 5
    'location = "b.io"', // 6
    '  [[registry.mirror]]', // 7
    '  location = "m.io"', // 8
  ].join('\n');
  t.strictSame(locateToml(nested, ['registry', 1, 'mirror', 0, 'location'], 'm.io'), { line: 8, col: 14 }, 'not the m.io of the first registry');
  t.strictSame(locateToml(nested, ['registry', 1, 'mirror', 0]), { line: 7, col: 3 });
  t.strictSame(locateToml(nested, ['registry', 1, 'prefix']), { line: 5, col: 1 }, 'a missing key: its table header');
  t.strictSame(locateToml(nested, ['registry']), { line: 1, col: 1 }, 'the array: its first table');
});

t.test('a multi-line string holding a header does not move anything', async (t) => {
  const multi = [
    'short-name-mode = """', // 1
    '[[registry]]', // 2
    'location = "fake.io"', // 3
    '"""', // 4
    '[[registry]]', // 5
    'location = "real.io"', // 6
    "notes = '''", // 7
    '[aliases]', // 8
    "'''", // 9
    'prefix = "real.io"', // 10
  ].join('\n');
  t.strictSame(locateToml(multi, ['registry', 0, 'location'], 'real.io'), { line: 6, col: 12 });
  t.strictSame(locateToml(multi, ['registry', 0]), { line: 5, col: 1 });
  t.strictSame(locateToml(multi, ['short-name-mode']), { line: 1, col: 1 });
  t.strictSame(locateToml(multi, ['registry', 0, 'prefix']), { line: 10, col: 1 }, 'still a key of [[registry]], not of [aliases]');
});

t.test('CRLF line ends and a BOM: the same lines and columns as LF', async (t) => {
  const lf = ['\uFEFFshort-name-mode = "x"', '[[registry]]', 'location = "a.io"', 'mirror = [{ location = "m.io" }]'].join('\n');
  const crlf = lf.replace(/\n/g, '\r\n');
  for (const [path, needle] of [
    [['registry', 0, 'location'], 'a.io'],
    [['registry', 0, 'mirror', 0, 'location'], 'm.io'],
    [['short-name-mode'], undefined],
  ] as const) {
    t.strictSame(locateToml(crlf, path, needle), locateToml(lf, path, needle), JSON.stringify(path));
  }
  t.strictSame(locateToml(crlf, ['registry', 0, 'mirror', 0, 'location'], 'm.io'), { line: 4, col: 24 });
});

t.test('a valid fragment is never parsed for positions; a diagnostic parses it once', async (t) => {
  const valid = '[[mirror-set]]\nsource = "quay.io/ns"\nmirrors = ["m1.example/ns", "m2.example/ns"]\n[aliases]\n"a" = "b.io/a"\n';
  const before = locatorParses();
  const parsed = parseTomlFragment(valid, 'f.toml');
  t.strictSame(parsed.diagnostics, []);
  t.equal(locatorParses(), before, 'the origins are located only when read');
  t.equal(parsed.fragment?.mirrorSets[0]?.mirrorOrigins?.[1]?.line, 3, 'and right when read');
  t.equal(parsed.fragment?.mirrorSets[0]?.mirrorOrigins?.[1]?.col, 29);
  t.equal(parsed.fragment?.confOrigins['aliases.a']?.line, 5);
  t.equal(locatorParses(), before + 1, 'once for every location of the text');

  const bad = 'a.b = 1\n[[mirror-set]]\nsource = "quay.io/ns"\nmirrors = [{ x = 1 }]\n';
  t.match(parseTomlFragment(bad, 'f.toml').diagnostics.map(formatDiagnostic), [/^f\.toml:1:1: /, /^f\.toml:4:/]);
});
