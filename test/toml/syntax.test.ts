import t from 'tap';
import fc from 'fast-check';
import { parse as parseToml } from 'smol-toml';
import { tomlAssignments, tomlKey, tomlString, tomlStringArray, tomlValue } from '../../src/toml/syntax.js';

/** Every character TOML 1.0 forbids unescaped in a basic string: U+0000–U+001F and U+007F. */
const CONTROL_CHARS: string[] = [...Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)), '\u007f'];
const SHORT_ESCAPES: Readonly<Record<string, string>> = { '\b': '\\b', '\t': '\\t', '\n': '\\n', '\f': '\\f', '\r': '\\r' };

/** Parses `v = <literal>` with smol-toml and returns v. */
function parseValue(literal: string): unknown {
  return (parseToml(`v = ${literal}\n`) as { v: unknown }).v;
}

const hasRawControl = (s: string): boolean => /[\u0000-\u001f\u007f]/.test(s);

/** Arbitrary well-formed strings, weighted towards the characters that matter to TOML. */
const anyWellFormed = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({
    unit: fc.constantFrom(
      '"',
      '\\',
      "'",
      '\n',
      '\r',
      '\t',
      '\u0000',
      '\u001f',
      '\u007f',
      '\u0085',
      '\u2028',
      '\ufeff',
      '"""',
      "'''",
      '[[registry]]',
      ']',
      '[',
      '=',
      '#',
      'a',
      ' ',
      '\\u0041',
      '\u{1f600}',
    ),
    maxLength: 30,
  }),
);

t.test('tomlString escapes every control character U+0000–U+001F and U+007F', async (t) => {
  t.equal(CONTROL_CHARS.length, 33);
  for (const ch of CONTROL_CHARS) {
    const code = ch.charCodeAt(0);
    const lit = tomlString(ch);
    const name = `U+${code.toString(16).padStart(4, '0').toUpperCase()}`;
    t.notOk(hasRawControl(lit), `${name} does not appear raw in ${JSON.stringify(lit)}`);
    const expected = SHORT_ESCAPES[ch] ?? `\\u${code.toString(16).padStart(4, '0').toUpperCase()}`;
    t.equal(lit, `"${expected}"`, `${name} is written as ${expected}`);
    t.equal(parseValue(lit), ch, `${name} round-trips through smol-toml`);
  }
});

t.test('tomlString escapes every control character of a string, not just the first (iarna-toml#59)', async (t) => {
  const all = CONTROL_CHARS.join('');
  const twice = `${all}x${all}`;
  const lit = tomlString(twice);
  t.notOk(hasRawControl(lit), 'no raw control character anywhere');
  t.equal(parseValue(lit), twice);
});

t.test('tomlString escapes the quote and the backslash and nothing needs more', async (t) => {
  t.equal(tomlString('"'), '"\\""');
  t.equal(tomlString('\\'), '"\\\\"');
  t.equal(tomlString('a"""b'), '"a\\"\\"\\"b"', 'a triple quote cannot end the string or start a multi-line one');
  t.equal(tomlString("'''"), `"'''"`, 'single quotes need no escape in a basic string');
  t.equal(tomlString('\\u0041'), '"\\\\u0041"', 'an escape sequence in the input stays literal text');
  t.equal(parseValue(tomlString('\\u0041')), '\\u0041');
  t.equal(tomlString(''), '""');
  t.equal(tomlString('é\u{1f600}\u0085\u2028\ufeff'), '"é\u{1f600}\u0085\u2028\ufeff"', 'non-control non-ASCII characters are written as they are');
});

t.test('tomlString output is always one line holding exactly one basic string', async () => {
  fc.assert(
    fc.property(anyWellFormed, (s) => {
      const lit = tomlString(s);
      if (lit.includes('\n') || lit.includes('\r')) throw new Error(`line break in ${JSON.stringify(lit)}`);
      if (hasRawControl(lit)) throw new Error(`raw control character in ${JSON.stringify(lit)}`);
      if (!lit.startsWith('"') || !lit.endsWith('"') || lit.startsWith('"""')) throw new Error(`not a single basic string: ${lit}`);
    }),
    { numRuns: 1000 },
  );
});

t.test('tomlString round-trips arbitrary well-formed strings through smol-toml (value, key, array item)', async () => {
  fc.assert(
    fc.property(anyWellFormed, (s) => {
      const lit = tomlString(s);
      if (parseValue(lit) !== s) throw new Error(`value ${JSON.stringify(s)} came back different`);
      const asKey = parseToml(`${tomlKey(s)} = 1\n`) as Record<string, unknown>;
      if (Object.keys(asKey).length !== 1 || asKey[s] !== 1) throw new Error(`key ${JSON.stringify(s)} came back as ${JSON.stringify(Object.keys(asKey))}`);
      const arr = parseValue(tomlStringArray([s, 'x', s]));
      if (JSON.stringify(arr) !== JSON.stringify([s, 'x', s])) throw new Error(`array of ${JSON.stringify(s)} came back as ${JSON.stringify(arr)}`);
    }),
    { numRuns: 1000 },
  );
});

t.test('tomlString round-trips every code point class of fast-check fullUnicode strings', async () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), (s) => parseValue(tomlString(s)) === s),
    { numRuns: 500 },
  );
});

/** A lone surrogate: a high one not followed by a low one, or a low one not preceded by a high one. */
const loneSurrogate = fc.oneof(
  fc.integer({ min: 0xd800, max: 0xdbff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xdc00, max: 0xdfff }).map((c) => String.fromCharCode(c)),
);

t.test('tomlString throws on a string holding a lone surrogate (TOML text must be valid Unicode)', async (t) => {
  t.throws(() => tomlString('\ud800'), /lone UTF-16 surrogate/);
  t.throws(() => tomlString('\udfff'), /lone UTF-16 surrogate/);
  t.throws(() => tomlString('a\udc00\ud800b'), /lone UTF-16 surrogate/, 'low then high is not a pair');
  t.equal(tomlString('\ud83d\ude00'), '"\u{1f600}"', 'a proper pair is a code point, not a lone surrogate');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 20 }), loneSurrogate, fc.string({ unit: 'binary', maxLength: 20 }), (a, lone, b) => {
      // a ends with a complete code point and b starts with one, so `lone` pairs with neither.
      let threw = false;
      try {
        tomlString(a + lone + b);
      } catch (e) {
        threw = /lone UTF-16 surrogate/.test((e as Error).message);
      }
      return threw;
    }),
    { numRuns: 500 },
  );
});

t.test('tomlKey keeps bare keys bare and quotes everything else', async (t) => {
  for (const k of ['registry', 'pull-from-mirror', 'a_b', 'A9', '0']) t.equal(tomlKey(k), k, `${k} is bare`);
  for (const k of ['', 'a.b', 'a b', 'é', '[x]', 'a=b', '#', '"', 'x\ny']) t.equal(tomlKey(k), tomlString(k), `${JSON.stringify(k)} is quoted`);
  t.same(parseToml(`${tomlKey('a.b')} = 1`), { 'a.b': 1 }, 'a quoted dotted key stays one key');
});

t.test('tomlValue writes booleans unquoted, strings quoted and arrays of strings', async (t) => {
  t.equal(tomlValue(true), 'true');
  t.equal(tomlValue(false), 'false');
  t.equal(tomlValue('true'), '"true"', 'a string "true" is never a boolean');
  t.equal(tomlValue([]), '[]');
  t.equal(tomlValue(['a', 'b"']), '["a", "b\\""]');
});

t.test('tomlAssignments writes defined entries in the given order and drops undefined ones', async (t) => {
  t.same(
    tomlAssignments([
      ['location', 'x'],
      ['prefix', undefined],
      ['insecure', true],
      ['blocked', false],
      ['odd key', ['a']],
    ]),
    ['location = "x"', 'insecure = true', 'blocked = false', '"odd key" = ["a"]'],
  );
  t.same(tomlAssignments([]), []);
});

t.test('tomlString: every ASCII character, alone and between others, reads back as itself; only " \\ and controls are escaped', async (t) => {
  for (let c = 0; c < 0x80; c++) {
    const ch = String.fromCharCode(c);
    for (const s of [ch, `a${ch}b`, `quay.io/${ch}${ch}`]) {
      const lit = tomlString(s);
      t.equal(parseValue(lit), s, `U+${c.toString(16).padStart(4, '0')} in ${JSON.stringify(s)}`);
      const plain = c >= 0x20 && c !== 0x7f && ch !== '"' && ch !== '\\';
      if (plain) t.equal(lit, `"${s}"`, `U+${c.toString(16)} written as it is`);
      else t.not(lit, `"${s}"`, `U+${c.toString(16)} escaped`);
    }
  }
});
