import t from 'tap';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';
import { formatDiagnostic } from '../../src/core/diagnostic.js';

function parse(text: string): ReturnType<typeof parseRegistriesConf> & { errors: string[]; warnings: string[] } {
  const p = parseRegistriesConf(text, 'base.conf');
  const of = (s: string): string[] => p.diagnostics.filter((d) => d.severity === s).map(formatDiagnostic);
  return { ...p, errors: of('error'), warnings: of('warning') };
}

// containers/image decodes with BurntSushi/toml, whose struct decoding matches a key to a field
// case-insensitively (strings.EqualFold): `Insecure = true` is insecure there.
t.test('keys spelled in another case are the keys containers/image reads', async (t) => {
  const p = parse(
    [
      'Unqualified-Search-Registries = ["quay.io"]',
      // U+017F (long s) and U+212A (Kelvin sign) fold to "s" and "k" in Go's EqualFold (quoted: TOML 1.0 bare keys are ASCII).
      '"\u017Fhort-name-mode" = "enforcing"',
      '[[Registry]]',
      'Prefix = "example.com/ns"',
      'LOCATION = "internal.example/ns"',
      'Insecure = true',
      'Mirror-By-Digest-Only = true',
      '[[Registry.Mirror]]',
      'Location = "mirror.example/ns"',
      '[[Registry]]',
      'location = "blocked.example"',
      '"bloc\u212Aed" = true',
      '',
    ].join('\n'),
  );
  t.same(p.errors, []);
  t.same(p.conf?.unqualifiedSearchRegistries, ['quay.io']);
  t.equal(p.conf?.shortNameMode, 'enforcing');
  t.same(
    p.conf?.registries.map((r) => ({
      prefix: r.prefix,
      location: r.location,
      insecure: r.insecure,
      blocked: r.blocked,
      d: r.mirrorByDigestOnly,
      m: r.mirrors.map((m) => m.location),
    })),
    [
      { prefix: 'example.com/ns', location: 'internal.example/ns', insecure: true, blocked: undefined, d: true, m: ['mirror.example/ns'] },
      { prefix: undefined, location: 'blocked.example', insecure: undefined, blocked: true, d: undefined, m: [] },
    ],
  );
  t.match(p.warnings.join('\n'), /base\.conf:5:1: .*"LOCATION" is read as "location"/, 'each is named, where it is written');
  t.notMatch(p.warnings.join('\n'), /unknown key/, 'none of them is unknown');
});

t.test('a key in another case inside a [[registry]] is no top-level key (TOML puts it in the table)', async (t) => {
  const p = parse('[[registry]]\nlocation = "a.example"\nShort-Name-Mode = "enforcing"\n');
  t.equal(p.conf?.shortNameMode, undefined);
  t.match(p.warnings.join('\n'), /unknown key "Short-Name-Mode" in \[\[registry\]\]/);
});

t.test('a v1 file in another case is v1 for containers/image', async (t) => {
  const p = parse('[Registries.Block]\nRegistries = ["blocked.example"]\n');
  t.equal(p.format, 'v1');
  t.same(
    p.conf?.registries.map((r) => [r.location, r.blocked]),
    [['blocked.example', true]],
  );
});

t.test('the same key twice in two cases: containers/image takes either at random', async (t) => {
  const p = parse('[[registry]]\nlocation = "a.example"\nLocation = "b.example"\n');
  t.same(p.errors, []);
  t.equal(p.conf?.registries[0]?.location, 'a.example', 'the exact spelling, one of the two it may take');
  t.match(p.warnings.join('\n'), /base\.conf:3:1: .*"Location" and "location" are the same key for containers\/image/);
  const same = parse('[[registry]]\nlocation = "a.example"\nLocation = "a.example"\n');
  t.notMatch(same.warnings.join('\n'), /same key/, 'no warning when both say the same');
});

t.test('a wrongly typed key in another case is the type error containers/image refuses, located at it', async (t) => {
  const p = parse('[[registry]]\nlocation = "a.example"\n\nInsecure = "yes"\n');
  t.match(p.errors.join('\n'), /base\.conf:4:1: .*"insecure" must be a boolean/);
});

t.test('alias names keep their case (a map, not a struct)', async (t) => {
  const p = parse('[Aliases]\n"Foo" = "quay.io/foo/foo"\n"foo" = "quay.io/foo/bar"\n');
  t.same(Object.keys(p.conf?.aliases ?? {}).sort(), ['Foo', 'foo']);
});

// containers/image 5.23 (V2RegistriesConf.Nonempty) counts a v2 key beside v1 tables only when it holds something.
t.test('v2 keys without a value beside v1 tables are no mix: the file is v1', async (t) => {
  const p = parse(
    'short-name-mode = ""\nunqualified-search-registries = []\ncredential-helpers = []\nregistry = []\n[aliases]\n[registries.block]\nregistries = ["blocked.example"]\n',
  );
  t.same(p.errors, []);
  t.equal(p.format, 'v1');
  t.same(
    p.conf?.registries.map((r) => [r.location, r.blocked]),
    [['blocked.example', true]],
  );
  for (const v2 of ['short-name-mode = "enforcing"', 'unqualified-search-registries = ["quay.io"]', '[aliases]\n"a" = "quay.io/a/a"']) {
    t.match(parse(`${v2}\n[registries.block]\nregistries = ["blocked.example"]\n`).errors.join('\n'), /mixing sysregistry v1\/v2 is not supported/, v2);
  }
});

// containers/image 5.23–5.34 trimmed a copy of each mirror (for _, mir := range reg.Mirrors): the
// slash stays, and every pull through the table fails ("rewriting reference: invalid reference format").
t.test('a host mirror location ending in "/" is named: containers/image before 5.35 fails every pull through its table', async (t) => {
  const p = parse('[[registry]]\nlocation = "example.com/ns/"\n[[registry.mirror]]\nlocation = "mirror.example/m/"\n');
  t.same(p.errors, []);
  t.equal(p.conf?.registries[0]?.mirrors[0]?.location, 'mirror.example/m', 'read without it, as 5.35+ reads it and as we render it');
  t.match(p.warnings.join('\n'), /base\.conf:4:\d+: .*"mirror\.example\/m\/".*before 5\.35/);
  t.notMatch(p.warnings.join('\n'), /example\.com\/ns\//, "a table's own location is trimmed by every version");
});

// skopeo 1.9.3 (BurntSushi/toml 1.2.0): `invalid escape in string '\e'`, `trailing comma not allowed in inline table`, ...
t.test('TOML 1.1 syntax, which containers/image refuses with the whole file, is an error at its place', async (t) => {
  const table = '[[registry]]\nlocation = "example.com/ns"\n';
  for (const [what, line, at] of [
    ['an \\e escape', 'mirror = [{ location = "m.example/a\\e" }]', 3],
    ['an \\x escape', '[aliases]\n"x" = "example.com/ns/\\x61"', 4],
    ['a trailing comma in an inline table', 'mirror = [{ location = "m.example/a", }]', 3],
    ['a newline in an inline table', 'mirror = [{\nlocation = "m.example/a" }]', 4],
  ] as const) {
    const p = parse(`${table}${line}\n`);
    t.match(p.errors.join('\n'), new RegExp(`^base\\.conf:${at}:\\d+: .*TOML 1\\.1`), what);
    t.equal(p.conf, undefined, `${what}: nothing is read`);
  }
  t.match(parse(`${table}caf\u00e9 = true\n`).errors.join('\n'), /^base\.conf:3:\d+: invalid TOML/, 'a non-ASCII bare key');
  for (const [what, line] of [
    ['an inline table of TOML 1.0', 'mirror = [{ location = "m.example/a", insecure = true }]'],
    ['non-ASCII text in a comment and a string', '# caf\u00e9\nblocked = false # "\u212a"'],
    ['a \\u escape', 'mirror = [{ location = "m.example/\\u0061" }]'],
  ] as const) {
    t.same(parse(`${table}${line}\n`).errors, [], what);
  }
});
