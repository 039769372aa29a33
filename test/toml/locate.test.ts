/**
 * TomlIndex finds values and keys through indexes (a scan per lookup was quadratic): the
 * same answers as a scan, bounded to the table the path names.
 */
import t from 'tap';
import { locateToml } from '../../src/toml/locate.js';

const text = [
  'short-name-mode = "enforcing"', // 1
  'insecure-registries = [', // 2
  '  "a.io", \'b.io\',', // 3
  '  "c.io", "x\\"y",', // 4
  ']', // 5
  '[aliases]', // 6
  '"quay.io/x" = "c.io"', // 7
  "'lit' = \"c.io\"", // 8
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
  t.strictSame(locateToml(text, ['aliases', 'location']), { line: 6, col: 1 }, 'a key of a later table is not this table\'s: the header');
});
