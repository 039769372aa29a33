import t from 'tap';
import { parseTomlFragment } from '../../src/fragments/toml.js';
import { formatDiagnostic } from '../../src/core/diagnostic.js';

const errors = (text: string): string[] =>
  parseTomlFragment(text, 'f.toml')
    .diagnostics.filter((d) => d.severity === 'error')
    .map(formatDiagnostic);

t.test('a full native fragment parses into mirror sets, scopes and registries.conf keys', async (t) => {
  const text = `insecure-registries = ["registry.lab:5000", "*.test.example"]
blocked-registries = ["docker.io"]
unqualified-search-registries = ["registry.lab:5000"]
short-name-mode = "enforcing"
credential-helpers = ["containers-auth.json", "secretservice"]

[aliases]
"app" = "registry.lab:5000/team/app"

[[mirror-set]]
source = "quay.io/ns"
mirrors = ["m1.example/ns", "m2.example/ns"]
pull-from-mirror = "tag-only"
source-policy = "never"

[[mirror-set]]
source = "*.example.org"
mirrors = ["m3.example"]

[[registry]]
prefix = "example.com/foo"
location = "internal.example.com/bar"
insecure = true

  [[registry.mirror]]
  location = "example-mirror-0.local/mirror-for-foo"
  pull-from-mirror = "digest-only"
`;
  const { fragment, diagnostics } = parseTomlFragment(text, 'f.toml');
  t.same(diagnostics, []);
  t.ok(fragment);
  if (!fragment) return;
  t.same(
    fragment.mirrorSets.map((s) => [s.source, s.mirrors, s.mode, s.sourcePolicy]),
    [
      ['quay.io/ns', ['m1.example/ns', 'm2.example/ns'], 'tag-only', 'never'],
      ['*.example.org', ['m3.example'], 'digest-only', undefined],
    ],
  );
  t.equal(fragment.mirrorSets[0]?.origin.line, 11, 'a set is located at its source line');
  t.same(
    fragment.insecure.map((s) => s.value),
    ['registry.lab:5000', '*.test.example'],
  );
  t.same(
    fragment.blocked.map((s) => s.value),
    ['docker.io'],
  );
  t.same(fragment.conf.unqualifiedSearchRegistries, ['registry.lab:5000']);
  t.equal(fragment.conf.shortNameMode, 'enforcing');
  t.same(fragment.conf.credentialHelpers, ['containers-auth.json', 'secretservice']);
  t.same(fragment.conf.aliases, { app: 'registry.lab:5000/team/app' });
  t.equal(fragment.conf.registries.length, 1);
  t.match(fragment.conf.registries[0], {
    prefix: 'example.com/foo',
    location: 'internal.example.com/bar',
    insecure: true,
    mirrors: [{ location: 'example-mirror-0.local/mirror-for-foo', pullFromMirror: 'digest-only' }],
  });
});

t.test('errors name the file, line and column, and say what is wrong', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['syntax error', 'a = [1,\n', /^f\.toml:2:\d+: invalid TOML/],
    [
      'unknown top-level key (a typo)',
      'mirror-sets = []\n',
      /^f\.toml:1:1: unknown key "mirror-sets" in a policy fragment; did you mean "mirror-set"\?; known keys: /,
    ],
    ['unknown key in a mirror set', '[[mirror-set]]\nsource = "quay.io"\nmirror = ["m.example"]\n', /^f\.toml:3:1: unknown key "mirror" in \[\[mirror-set\]\]/],
    ['wrong type', '[[mirror-set]]\nsource = "quay.io"\nmirrors = "m.example"\n', /^f\.toml:3:1: "mirrors" must be an array of strings, not a string/],
    ['boolean as a string', '[[registry]]\nlocation = "quay.io"\ninsecure = "true"\n', /^f\.toml:3:1: "insecure" must be a boolean/],
    ['missing source', '[[mirror-set]]\nmirrors = ["m.example"]\n', /^f\.toml:1:1: \[\[mirror-set\]\] needs a "source"/],
    [
      'bad mode',
      '[[mirror-set]]\nsource = "quay.io"\nmirrors = ["m.example"]\npull-from-mirror = "digests"\n',
      /^f\.toml:4:20: "pull-from-mirror" must be one of digest-only, tag-only, all/,
    ],
    [
      'bad policy',
      '[[mirror-set]]\nsource = "quay.io"\nmirrors = ["m.example"]\nsource-policy = "NeverContactSource"\n',
      /^f\.toml:4:17: "source-policy" must be "allow" or "never"/,
    ],
    ['invalid source', '[[mirror-set]]\nsource = "quay.io/NS"\nmirrors = ["m.example"]\n', /^f\.toml:2:10: invalid format for source "quay\.io\/NS"/],
    [
      'invalid mirror',
      '[[mirror-set]]\nsource = "quay.io"\nmirrors = ["ok.example", "*.m.example"]\n',
      /^f\.toml:3:26: invalid format for mirror "\*\.m\.example"/,
    ],
    [
      'never with the source as a mirror',
      '[[mirror-set]]\nsource = "quay.io/x"\nmirrors = ["m.example/x", "quay.io/x"]\nsource-policy = "never"\n',
      /NeverContactSource if the source "quay\.io\/x" is one of the mirrors/,
    ],
    ['invalid blocked scope', 'blocked-registries = ["**.example.com"]\n', /^f\.toml:1:23: invalid entry for blocked registries "\*\*\.example\.com"/],
    [
      'invalid search registry',
      'unqualified-search-registries = ["docker.io/library"]\n',
      /^f\.toml:1:34: Invalid unqualified-search-registries entry "docker\.io\/library"/,
    ],
    [
      'scheme in a location',
      '[[registry]]\nlocation = "https://quay.io"\n',
      /^f\.toml:2:12: invalid location 'https:\/\/quay\.io': URI schemes are not supported/,
    ],
    ['bad short-name mode', 'short-name-mode = "strict"\n', /^f\.toml:1:19: invalid short-name mode: "strict"/],
    [
      'pull-from-mirror on a registry',
      '[[registry]]\nlocation = "quay.io"\npull-from-mirror = "all"\n',
      /pull-from-mirror must not be set for a non-mirror registry "quay\.io"/,
    ],
    [
      'mirror-by-digest-only with pull-from-mirror',
      '[[registry]]\nlocation = "quay.io"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "m.example"\npull-from-mirror = "tag-only"\n',
      /^f\.toml:6:20: cannot set mirror usage mirror-by-digest-only/,
    ],
    [
      'duplicate prefix in one fragment',
      '[[registry]]\nlocation = "quay.io"\n[[registry]]\nlocation = "quay.io"\n',
      /^f\.toml:3:1: prefix "quay\.io" is defined more than once/,
    ],
    ['v1 format', '[registries.search]\nregistries = ["docker.io"]\n', /v1 format/],
    [
      'alias with a registry on the left',
      '[aliases]\n"quay.io/app" = "quay.io/ns/app"\n',
      /^f\.toml:2:1: validating short-name aliases: invalid short name "quay\.io\/app": must not contain registry/,
    ],
  ];
  for (const [name, text, re] of cases) {
    const es = errors(text);
    t.ok(
      es.some((e) => re.test(e)),
      `${name}: ${es.join(' | ') || 'no error'}`,
    );
  }
});

t.test('a valid fragment has no diagnostics at all', async (t) => {
  t.same(errors('[[mirror-set]]\nsource = "quay.io/ns"\nmirrors = ["m.example/ns"]\n'), []);
  t.same(errors(''), [], 'an empty fragment is valid (a warning says it contributes nothing)');
});

t.test('a BOM at the start is accepted', async (t) => {
  t.same(errors('\uFEFF[[mirror-set]]\nsource = "quay.io/ns"\nmirrors = ["m.example/ns"]\n'), []);
});

t.test('a fragment that contributes nothing is a warning; a misspelled key gets a did-you-mean', async (t) => {
  const diags = (text: string): string[] => parseTomlFragment(text, 'f.toml').diagnostics.map(formatDiagnostic);
  const NOTHING =
    'f.toml:1:1: warning: this fragment contributes nothing to registries.conf (no mirror entries, insecure, blocked or search registries, no registries.conf keys)';
  t.same(diags(''), [NOTHING], 'an empty file');
  t.same(diags('# switched off\n'), [NOTHING], 'comments only');
  t.same(diags('credential-helpers = []\n'), [], 'an explicit key is a contribution, even an empty list');
  t.match(diags('[[mirror-set]]\nsource = "quay.io/x"\nmirrors = ["m.example/x"]\npull-from-mirrors = "all"\n'), [
    /^f\.toml:4:1: unknown key "pull-from-mirrors" in \[\[mirror-set\]\]; did you mean "pull-from-mirror"\?/,
  ]);
});

t.test('a top-level key after the first table: the error says TOML put it in that table', async (t) => {
  const MOVE =
    /"(insecure-registries|unqualified-search-registries|short-name-mode|credential-helpers)" is a top-level key, but TOML reads every key after a \[table\] header as part of that table: move it above the first table/;
  const cases: Array<[string, string, RegExp]> = [
    [
      'after [[mirror-set]]',
      '[[mirror-set]]\nsource = "quay.io/x"\nmirrors = ["m.example/x"]\ninsecure-registries = ["i.example"]\n',
      /^f\.toml:4:1: unknown key "insecure-registries" in \[\[mirror-set\]\]; /,
    ],
    [
      'after [[registry]]',
      '[[registry]]\nlocation = "a.example"\nunqualified-search-registries = ["docker.io"]\n',
      /^f\.toml:3:1: unknown key "unqualified-search-registries" in \[\[registry\]\]; /,
    ],
    [
      'after [[registry.mirror]]',
      '[[registry]]\nlocation = "a.example"\n[[registry.mirror]]\nlocation = "m.example"\nshort-name-mode = "enforcing"\n',
      /^f\.toml:5:1: unknown key "short-name-mode" in \[\[registry\.mirror\]\]; /,
    ],
    [
      'after [aliases]',
      '[aliases]\n"x" = "quay.io/x"\ncredential-helpers = ["pass"]\n',
      /^f\.toml:3:1: alias "credential-helpers" must be a string, not object; /,
    ],
  ];
  for (const [name, text, re] of cases) {
    const es = errors(text);
    t.ok(
      es.some((e) => re.test(e) && MOVE.test(e)),
      `${name}: ${es.join(' | ') || 'no error'}`,
    );
  }
  t.same(
    errors('[aliases]\n"registry" = "docker.io/library/registry"\n'),
    [],
    'a short name that happens to be a key name is a real alias (shortnames.conf has "registry")',
  );
  t.same(
    errors('insecure-registries = ["i.example"]\n[[mirror-set]]\nsource = "quay.io/x"\nmirrors = ["m.example/x"]\n'),
    [],
    'above the first table it is fine',
  );
});

t.test('[mirror-set] with one pair of brackets: the error says to write [[mirror-set]]', async (t) => {
  t.same(errors('[mirror-set]\nsource = "quay.io/a"\nmirrors = ["m.example/a"]\n'), [
    'f.toml:1:1: "mirror-set" must be an array of tables, not a table: write each mirror set under [[mirror-set]] (two brackets)',
  ]);
});
