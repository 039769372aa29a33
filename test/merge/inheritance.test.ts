// Nested tables inherit their mirrored scope's mirrors (MCO PR #2819): what they carry with
// them, what they cannot carry, and whose tables count. Each case was reproduced as a bug first.
import t from 'tap';
import { formatDiagnostic, type Diagnostic } from '../../src/core/diagnostic.js';
import { buildRegistriesConf, type SourceText } from '../../src/pipeline/strict.js';
import { buildForgiving } from '../../src/pipeline/forgiving.js';
import { registryScope, type RegistriesConf, type RegistryTable } from '../../src/registries-conf/model.js';

const OUT = { file: 'registries.conf' };

function idms(name: string, source: string, mirrors: readonly string[], policy?: string): string {
  return [
    'apiVersion: config.openshift.io/v1',
    'kind: ImageDigestMirrorSet',
    `metadata: {name: ${name}}`,
    'spec:',
    '  imageDigestMirrors:',
    `  - source: "${source}"`,
    '    mirrors:',
    ...mirrors.map((m) => `    - ${m}`),
    ...(policy ? [`    mirrorSourcePolicy: ${policy}`] : []),
    '',
  ].join('\n');
}

function insecureImage(scopes: readonly string[]): string {
  return [
    'apiVersion: config.openshift.io/v1',
    'kind: Image',
    'metadata: {name: cluster}',
    'spec:',
    '  registrySources:',
    '    insecureRegistries:',
    ...scopes.map((s) => `    - ${s}`),
    '',
  ].join('\n');
}

const tableOf = (conf: RegistriesConf | undefined, scope: string): RegistryTable | undefined => conf?.registries.find((x) => registryScope(x) === scope);
const mirrorsOf = (conf: RegistriesConf | undefined, scope: string): string[] | undefined => tableOf(conf, scope)?.mirrors.map((m) => m.location);
const errorsOf = (ds: readonly Diagnostic[]): string[] => ds.filter((d) => d.severity === 'error').map(formatDiagnostic);

t.test('a wildcard mirror with a path is not carried into a nested scope with a port: a warning at the nested entry, no error', async (t) => {
  const fragments: SourceText[] = [
    { file: '10-idms.yaml', text: idms('wild', '*.example.com', ['mirror.local/ex', 'bare.mirror']) },
    { file: '20-image.yaml', text: insecureImage(['foo.example.com:5000']) },
  ];
  const r = buildRegistriesConf({ fragments }, OUT);
  t.strictSame(errorsOf(r.diagnostics), [], 'renders: "mirror.local/ex:5000" is never written');
  t.strictSame(mirrorsOf(r.conf, 'foo.example.com:5000'), ['bare.mirror:5000'], 'the bare host carries the port; the mirror with a path is left out');
  const w = r.diagnostics.find((d) => d.severity === 'warning' && d.file === '20-image.yaml');
  t.match(w?.message, /names under "foo\.example\.com:5000" are not sent to mirror "mirror\.local\/ex" of "\*\.example\.com"/, 'says which mirror, and why');
  t.equal(w?.related?.[0]?.file, '10-idms.yaml', 'and where that mirror was written');

  // The daemon: before, the error was located in the IDMS alone, which was then left out whole.
  const f = buildForgiving({ fragments: fragments.map((x, i) => ({ ...x, changedAt: i + 1 })), unreadable: [], lastGood: {} }, OUT);
  t.strictSame(
    f.statuses.map((s) => [s.file, s.state]),
    [
      ['10-idms.yaml', 'valid'],
      ['20-image.yaml', 'valid'],
    ],
    'both fragments stay in effect',
  );
  t.strictSame(mirrorsOf(f.conf, '*.example.com'), ['mirror.local/ex', 'bare.mirror'], "the wildcard's mirrors stay");
});

t.test('NeverContactSource holds for a nested table that inherits the mirrors (the source is not reachable through it)', async (t) => {
  const r = buildRegistriesConf(
    {
      fragments: [
        { file: '10-idms.yaml', text: idms('never', 'quay.io/org', ['mirror.local/org'], 'NeverContactSource') },
        { file: '20-image.yaml', text: insecureImage(['quay.io/org/team', 'quay.io/other']) },
      ],
    },
    OUT,
  );
  t.strictSame(errorsOf(r.diagnostics), []);
  const team = tableOf(r.conf, 'quay.io/org/team');
  t.strictSame(
    team?.mirrors.map((m) => m.location),
    ['mirror.local/org/team'],
    'inherits',
  );
  t.equal(team?.blocked, true, 'and is blocked like its scope');
  t.equal(team?.insecure, true);
  t.notOk(tableOf(r.conf, 'quay.io/other')?.blocked, 'a table outside the scope is not blocked');
});

t.test('a nested table with mirror sets of its own keeps its own source policy', async (t) => {
  const r = buildRegistriesConf(
    {
      fragments: [
        { file: '10-idms.yaml', text: idms('never', 'quay.io/org', ['mirror.local/org'], 'NeverContactSource') },
        { file: '20-idms.yaml', text: idms('team', 'quay.io/org/team', ['mirror.local/team']) },
      ],
    },
    OUT,
  );
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(mirrorsOf(r.conf, 'quay.io/org/team'), ['mirror.local/team']);
  t.notOk(tableOf(r.conf, 'quay.io/org/team')?.blocked, 'the most specific source wins');
});

t.test("a [[registry]] table's mirrors are inherited like a mirror set's", async (t) => {
  const native = '[[registry]]\nlocation = "quay.io/org"\n\n  [[registry.mirror]]\n  location = "mirror.local/org"\n';
  for (const [label, base, fragment] of [
    ["the host's table", { file: 'base.conf', text: native }, undefined],
    ["a fragment's table", undefined, { file: '10-native.toml', text: native }],
  ] as const) {
    const fragments: SourceText[] = [...(fragment ? [fragment] : []), { file: '20-image.yaml', text: insecureImage(['quay.io/org/team']) }];
    const r = buildRegistriesConf({ ...(base ? { base } : {}), fragments }, OUT);
    t.strictSame(errorsOf(r.diagnostics), [], label);
    t.strictSame(mirrorsOf(r.conf, 'quay.io/org/team'), ['mirror.local/org/team'], `${label}: the insecure namespace does not hide its mirrors`);
  }
});

t.test("the host's own mirror-less table under the host's own mirrored table stays as the host wrote it", async (t) => {
  const base = {
    file: 'base.conf',
    text: '[[registry]]\nlocation = "quay.io/org"\n\n  [[registry.mirror]]\n  location = "mirror.local/org"\n\n[[registry]]\nlocation = "quay.io/org/team"\n',
  };
  const r = buildRegistriesConf({ base, fragments: [{ file: '20-image.yaml', text: insecureImage(['quay.io/org/team']) }] }, OUT);
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(mirrorsOf(r.conf, 'quay.io/org/team'), [], 'not mirrored, as in the base');
  t.equal(tableOf(r.conf, 'quay.io/org/team')?.insecure, true, 'the fragment still makes it insecure');
});

t.test(
  "a blocked table does not take a [[registry]] table's mirrors (blocked there means never pulled from); a mirror set's it does, as runtime-utils",
  async (t) => {
    const hub = '[[registry]]\nlocation = "docker.io"\n\n  [[registry.mirror]]\n  location = "mirror.gcr.io"\n';
    const r = buildRegistriesConf(
      {
        fragments: [
          { file: '10-hub.toml', text: hub },
          { file: '20-block.toml', text: '[[registry]]\nlocation = "docker.io/evil"\nblocked = true\n' },
          { file: '30-block.toml', text: 'blocked-registries = ["docker.io/bad"]\n' },
        ],
      },
      OUT,
    );
    t.strictSame(errorsOf(r.diagnostics), []);
    t.strictSame(mirrorsOf(r.conf, 'docker.io/evil'), [], 'a blocked [[registry]] stays unpullable');
    t.strictSame(mirrorsOf(r.conf, 'docker.io/bad'), [], 'so does a blocked-registries entry under it');
    const sets = buildRegistriesConf(
      {
        fragments: [
          { file: '10-idms.yaml', text: idms('hub', 'docker.io', ['mirror.gcr.io']) },
          { file: '30-block.toml', text: 'blocked-registries = ["docker.io/bad"]\n' },
        ],
      },
      OUT,
    );
    t.strictSame(
      mirrorsOf(sets.conf, 'docker.io/bad'),
      ['mirror.gcr.io/bad'],
      "under a mirror set's source the blocked scope is still served by the mirrors (V15)",
    );
  },
);

t.test('a [[registry]] table that rewrites its names elsewhere (location other than prefix) passes no mirrors down', async (t) => {
  const rewrite = '[[registry]]\nprefix = "example.com/foo"\nlocation = "internal.example.com/bar"\n\n  [[registry.mirror]]\n  location = "mirror.local/foo"\n';
  const r = buildRegistriesConf(
    {
      fragments: [
        { file: '10-rewrite.toml', text: rewrite },
        { file: '20-image.yaml', text: insecureImage(['example.com/foo/team']) },
      ],
    },
    OUT,
  );
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(mirrorsOf(r.conf, 'example.com/foo/team'), [], 'not half of it (the mirrors without the rewrite)');
});

t.test('a blocked table under a [[registry]] table still takes the mirrors of a mirror set further out (V15), as without the table between', async (t) => {
  const fragments: SourceText[] = [
    { file: '10-idms.yaml', text: idms('hub', 'docker.io', ['mirror.gcr.io']) },
    { file: '20-library.toml', text: '[[registry]]\nlocation = "docker.io/library"\n\n  [[registry.mirror]]\n  location = "hub.local/library"\n' },
    { file: '30-block.toml', text: 'blocked-registries = ["docker.io/library/bad"]\n' },
  ];
  const r = buildRegistriesConf({ fragments }, OUT);
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(mirrorsOf(r.conf, 'docker.io/library/bad'), ['mirror.gcr.io/library/bad'], "the set's mirrors, not none (every pull of it failed)");
  t.equal(tableOf(r.conf, 'docker.io/library/bad')?.blocked, true, 'still blocked: the source is never asked');
  const without = buildRegistriesConf({ fragments: fragments.filter((f) => f.file !== '20-library.toml') }, OUT);
  t.strictSame(mirrorsOf(without.conf, 'docker.io/library/bad'), mirrorsOf(r.conf, 'docker.io/library/bad'), 'the same as without the table between');
});

t.test("the host's mirror-less table under the host's mirrored table takes a fragment's mirror set further out", async (t) => {
  const base = {
    file: 'base.conf',
    text: '[[registry]]\nlocation = "quay.io/org"\n\n  [[registry.mirror]]\n  location = "mirror.local/org"\n\n[[registry]]\nlocation = "quay.io/org/team"\n',
  };
  const r = buildRegistriesConf({ base, fragments: [{ file: '10-idms.yaml', text: idms('quay', 'quay.io', ['quay-mirror.local']) }] }, OUT);
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(mirrorsOf(r.conf, 'quay.io/org/team'), ['quay-mirror.local/org/team'], "the set's mirrors go down, as runtime-utils gives them");
});

t.test('a wildcard [[registry]] without a location rewrites nothing: its mirrors go down', async (t) => {
  const base = { file: 'base.conf', text: '[[registry]]\nprefix = "*.corp.example"\nlocation = ""\n\n  [[registry.mirror]]\n  location = "cache.local"\n' };
  const r = buildRegistriesConf({ base, fragments: [{ file: '20-image.yaml', text: insecureImage(['reg.corp.example']) }] }, OUT);
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(mirrorsOf(r.conf, 'reg.corp.example'), ['cache.local'], 'the insecure host does not hide the mirror (it wins the match by its longer prefix)');
});

t.test('no mirrors pass a table that rewrites the names elsewhere, with mirrors or without', async (t) => {
  const fragments: SourceText[] = [
    { file: '10-idms.yaml', text: idms('quay', 'quay.io', ['quay-mirror.local']) },
    { file: '20-rewrite.toml', text: '[[registry]]\nprefix = "quay.io/a"\nlocation = "internal.example/a"\n' },
    { file: '30-block.toml', text: 'blocked-registries = ["quay.io/a/bad"]\n' },
  ];
  const r = buildRegistriesConf({ fragments }, OUT);
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(mirrorsOf(r.conf, 'quay.io/a/bad'), [], "the set's mirrors were never meant for names rewritten to internal.example");
  t.strictSame(mirrorsOf(r.conf, 'quay.io/a'), [], 'nor does the rewriting table take them: it routes its names on purpose');
  const between = buildRegistriesConf(
    {
      fragments: [
        ...fragments.filter((f) => f.file !== '30-block.toml'),
        { file: '25-x.toml', text: '[[registry]]\nlocation = "quay.io/a/x"\n\n  [[registry.mirror]]\n  location = "x-mirror.local"\n' },
        { file: '30-block.toml', text: 'blocked-registries = ["quay.io/a/x/bad"]\n' },
      ],
    },
    OUT,
  );
  t.strictSame(errorsOf(between.diagnostics), []);
  t.strictSame(
    mirrorsOf(between.conf, 'quay.io/a/x/bad'),
    [],
    "a blocked table under a mirrored table under the rewrite: not the set's mirrors either (the walk stops at the rewrite)",
  );
});

t.test('the walk stops at a rewriting wildcard as FindRegistry orders scopes of one length (the wildcard sorts first)', async (t) => {
  const base = { file: 'base.conf', text: '[[registry]]\nprefix = "*.example.com"\nlocation = "nexus.local"\n' };
  const fragments: SourceText[] = [
    // A mirror set for a.example.com: containers/image never uses it (the wildcard wins the tie), and a nested table must not either.
    { file: '10-a.yaml', text: idms('a', 'a.example.com', ['a-mirror.local']) },
    { file: '20-block.toml', text: 'blocked-registries = ["a.example.com/bad"]\n' },
  ];
  const r = buildRegistriesConf({ base, fragments }, OUT);
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(mirrorsOf(r.conf, 'a.example.com/bad'), [], 'the set is past the rewrite in that order: none of its mirrors');
});
