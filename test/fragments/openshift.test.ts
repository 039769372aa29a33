import t from 'tap';
import { readFileSync } from 'node:fs';
import { parseOpenShiftFragment } from '../../src/fragments/openshift.js';
import { formatDiagnostic } from '../../src/core/diagnostic.js';
import { repoPath } from '../helpers/repo.js';

const errors = (text: string): string[] =>
  parseOpenShiftFragment(text, 'f.yaml')
    .diagnostics.filter((d) => d.severity === 'error')
    .map(formatDiagnostic);

t.test('the ICSP of the OpenShift documentation parses into digest-only sets', async (t) => {
  const text = readFileSync(repoPath('examples/policy.d/10-ubi8repo.yaml'), 'utf8');
  const { fragment, diagnostics } = parseOpenShiftFragment(text, '10-ubi8repo.yaml');
  t.same(diagnostics, []);
  t.same(
    fragment?.mirrorSets.map((s) => [s.kind, s.source, s.mirrors.join(','), s.mode, s.sourcePolicy]),
    [
      [
        'ImageContentSourcePolicy',
        'registry.access.redhat.com/ubi8/ubi-minimal',
        'example.io/example/ubi-minimal,example.com/example/ubi-minimal',
        'digest-only',
        undefined,
      ],
      ['ImageContentSourcePolicy', 'registry.redhat.io/openshift4', 'mirror.example.com/redhat', 'digest-only', undefined],
      ['ImageContentSourcePolicy', 'registry.redhat.io', 'mirror.example.com', 'digest-only', undefined],
      ['ImageContentSourcePolicy', 'registry.example.com/redhat/ubi8/ubi-minimal', 'mirror.example.net/image', 'digest-only', undefined],
      ['ImageContentSourcePolicy', 'registry.example.com/redhat', 'mirror.example.net', 'digest-only', undefined],
      ['ImageContentSourcePolicy', 'registry.example.com', 'mirror.example.net', 'digest-only', undefined],
    ],
  );
  t.equal(fragment?.mirrorSets[0]?.origin.line, 14, 'each set is located at its source line');
});

t.test('IDMS and ITMS with mirrorSourcePolicy, several documents, kind: List, metadata and status', async (t) => {
  const text = `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: config.openshift.io/v1
  kind: ImageDigestMirrorSet
  metadata: {name: a, generation: 3}
  spec:
    imageDigestMirrors:
    - source: quay.io/release
      mirrors: [m1.example/release]
      mirrorSourcePolicy: NeverContactSource
  status: {}
---
# an empty document between separators is fine
---
apiVersion: config.openshift.io/v1
kind: ImageTagMirrorSet
metadata:
  name: b
spec:
  imageTagMirrors:
  - source: registry.example.com/ns
    mirrors:
    - t1.example/ns
    mirrorSourcePolicy: AllowContactingSource
  - source: registry.example.com/empty
---
apiVersion: config.openshift.io/v1
kind: Image
metadata: {name: cluster}
spec:
  registrySources:
    insecureRegistries: ["insecure.example:5000", "*.lab.example"]
    blockedRegistries: [blocked.example]
    containerRuntimeSearchRegistries: [registry.example.com]
`;
  const { fragment, diagnostics } = parseOpenShiftFragment(text, 'f.yaml');
  t.same(diagnostics.map(formatDiagnostic), []);
  t.same(
    fragment?.mirrorSets.map((s) => [s.kind, s.source, s.mirrors.join(','), s.mode, s.sourcePolicy]),
    [
      ['ImageDigestMirrorSet', 'quay.io/release', 'm1.example/release', 'digest-only', 'never'],
      ['ImageTagMirrorSet', 'registry.example.com/ns', 't1.example/ns', 'tag-only', 'allow'],
      ['ImageTagMirrorSet', 'registry.example.com/empty', '', 'tag-only', undefined],
    ],
  );
  t.equal(fragment?.mirrorSets[0]?.origin.line, 11);
  t.same(
    fragment?.insecure.map((s) => s.value),
    ['insecure.example:5000', '*.lab.example'],
  );
  t.same(
    fragment?.blocked.map((s) => s.value),
    ['blocked.example'],
  );
  t.same(fragment?.conf.unqualifiedSearchRegistries, ['registry.example.com']);
});

t.test('bad input is refused with file, line and column', async (t) => {
  const head = (kind: string, api: string): string => `apiVersion: ${api}\nkind: ${kind}\nmetadata: {name: x}\n`;
  const cases: Array<[string, string, RegExp]> = [
    ['malformed YAML', 'apiVersion: v1\nkind: [\n', /^f\.yaml:\d+:\d+: invalid YAML/],
    ['duplicate key', 'kind: A\nkind: B\n', /^f\.yaml:2:1: invalid YAML: Map keys must be unique/],
    ['unknown kind', head('Deployment', 'apps/v1'), /^f\.yaml:2:7: unsupported kind "Deployment"/],
    [
      'wrong apiVersion',
      head('ImageDigestMirrorSet', 'operator.openshift.io/v1alpha1'),
      /^f\.yaml:1:13: ImageDigestMirrorSet must have apiVersion "config\.openshift\.io\/v1"/,
    ],
    ['no kind', 'apiVersion: v1\n', /^f\.yaml:1:1: not an OpenShift object: no "kind"/],
    ['a sequence at the top', '- a\n- b\n', /^f\.yaml:1:1: expected an OpenShift object/],
    [
      'mirrors not a list',
      `${head('ImageContentSourcePolicy', 'operator.openshift.io/v1alpha1')}spec:\n  repositoryDigestMirrors:\n  - source: quay.io/x\n    mirrors: m.example/x\n`,
      /^f\.yaml:7:14: "mirrors" must be an array of strings, not a string/,
    ],
    [
      'a mirror that is a number',
      `${head('ImageContentSourcePolicy', 'operator.openshift.io/v1alpha1')}spec:\n  repositoryDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x, 42]\n`,
      /^f\.yaml:7:28: "mirrors" must hold only strings; item 2 is a number/,
    ],
    [
      'bad mirrorSourcePolicy',
      `${head('ImageDigestMirrorSet', 'config.openshift.io/v1')}spec:\n  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x]\n    mirrorSourcePolicy: Never\n`,
      /^f\.yaml:8:25: mirrorSourcePolicy must be NeverContactSource or AllowContactingSource, not "Never"/,
    ],
    [
      'invalid source',
      `${head('ImageDigestMirrorSet', 'config.openshift.io/v1')}spec:\n  imageDigestMirrors:\n  - source: "quay.io/x "\n    mirrors: [m.example/x]\n`,
      /^f\.yaml:6:13: invalid format for source "quay\.io\/x "/,
    ],
    [
      'invalid mirror',
      `${head('ImageDigestMirrorSet', 'config.openshift.io/v1')}spec:\n  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors:\n    - ok.example/x\n    - "*.bad.example"\n`,
      /^f\.yaml:9:7: invalid format for mirror "\*\.bad\.example"/,
    ],
    [
      'invalid blocked scope',
      `${head('Image', 'config.openshift.io/v1')}spec:\n  registrySources:\n    blockedRegistries: ["example.*.com"]\n`,
      /^f\.yaml:6:25: invalid entry in blockedRegistries "example\.\*\.com": the API server takes hostname\[:port\]\[\/path\] or \*\.hostname/,
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

t.test('an alias bomb is refused, not expanded', async (t) => {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 0; i < 9; i++)
    lines.push(
      `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
    );
  lines.push('kind: ImageContentSourcePolicy', 'apiVersion: operator.openshift.io/v1alpha1');
  const es = errors(lines.join('\n'));
  t.ok(
    es.some((e) => /^f\.yaml:1:1: invalid YAML: .*alias/i.test(e)),
    es.join(' | '),
  );
});

t.test('an object with no entries mirrors nothing and is valid, with a warning that it contributes nothing', async (t) => {
  const { fragment, diagnostics } = parseOpenShiftFragment(
    'apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: x}\nspec: {}\n',
    'f.yaml',
  );
  t.same(diagnostics.map(formatDiagnostic), [
    'f.yaml:1:1: warning: this fragment contributes nothing to registries.conf (no mirror entries, insecure, blocked or search registries, no registries.conf keys)',
  ]);
  t.same(fragment?.mirrorSets, []);
});

t.test('names of Object.prototype are not kinds or policies', async (t) => {
  const es = errors(
    'apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: x}\nspec:\n  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x]\n    mirrorSourcePolicy: constructor\n',
  );
  t.ok(
    es.some((e) => /mirrorSourcePolicy must be NeverContactSource or AllowContactingSource, not "constructor"/.test(e)),
    es.join(' | '),
  );
  t.ok(errors('apiVersion: v1\nkind: toString\n').some((e) => /unsupported kind "toString"/.test(e)));
});

const all = (text: string): string[] => parseOpenShiftFragment(text, 'f.yaml').diagnostics.map(formatDiagnostic);
const IDMS_HEAD = 'apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: x}\nspec:\n';
const ICSP_HEAD = 'apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata: {name: x}\nspec:\n';
const IMAGE_HEAD = 'apiVersion: config.openshift.io/v1\nkind: Image\nmetadata: {name: cluster}\nspec:\n';

t.test('an unknown field inside spec or a mirror entry is an error at its line, with the right name for the kind', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    [
      '"mirror:" for "mirrors:"',
      `${IDMS_HEAD}  imageDigestMirrors:\n  - source: quay.io/x\n    mirror:\n    - m.example/x\n`,
      /^f\.yaml:7:5: unknown field "mirror" in an entry of imageDigestMirrors; did you mean "mirrors"\?; known fields: source, mirrors, mirrorSourcePolicy$/,
    ],
    [
      'a lowercase s in mirrorSourcePolicy loses NeverContactSource',
      `${IDMS_HEAD}  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x]\n    mirrorsourcePolicy: NeverContactSource\n`,
      /^f\.yaml:8:5: unknown field "mirrorsourcePolicy" in an entry of imageDigestMirrors; did you mean "mirrorSourcePolicy"\?/,
    ],
    [
      "an IDMS written with ICSP's repositoryDigestMirrors",
      `${IDMS_HEAD}  repositoryDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x]\n`,
      /^f\.yaml:5:3: unknown field "repositoryDigestMirrors" in ImageDigestMirrorSet spec; "repositoryDigestMirrors" belongs to ImageContentSourcePolicy; ImageDigestMirrorSet lists its entries in "imageDigestMirrors"/,
    ],
    [
      'an ITMS written with imageDigestMirrors',
      `apiVersion: config.openshift.io/v1\nkind: ImageTagMirrorSet\nmetadata: {name: x}\nspec:\n  imageDigestMirrors: []\n`,
      /^f\.yaml:5:3: unknown field "imageDigestMirrors" in ImageTagMirrorSet spec; "imageDigestMirrors" belongs to ImageDigestMirrorSet; ImageTagMirrorSet lists its entries in "imageTagMirrors"/,
    ],
    [
      'spec.repositoryDigestMirror (singular)',
      `${ICSP_HEAD}  repositoryDigestMirror:\n  - source: quay.io/x\n    mirrors: [m.example/x]\n`,
      /^f\.yaml:5:3: unknown field "repositoryDigestMirror" in ImageContentSourcePolicy spec; did you mean "repositoryDigestMirrors"\?/,
    ],
    [
      'mirrorSourcePolicy in an ICSP',
      `${ICSP_HEAD}  repositoryDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x]\n    mirrorSourcePolicy: NeverContactSource\n`,
      /^f\.yaml:8:5: unknown field "mirrorSourcePolicy" in an entry of repositoryDigestMirrors; ImageContentSourcePolicy has no mirrorSourcePolicy .*use an ImageDigestMirrorSet/,
    ],
    [
      'Image: a misspelled registrySources',
      `${IMAGE_HEAD}  registrySource:\n    blockedRegistries: [b.example]\n`,
      /^f\.yaml:5:3: unknown field "registrySource" in Image spec; did you mean "registrySources"\?/,
    ],
    [
      'Image: a misspelled list in registrySources',
      `${IMAGE_HEAD}  registrySources:\n    insecureRegistry: [i.example]\n`,
      /^f\.yaml:6:5: unknown field "insecureRegistry" in Image spec\.registrySources; did you mean "insecureRegistries"\?/,
    ],
    [
      'Image: mirror entries belong to the mirror sets',
      `${IMAGE_HEAD}  imageDigestMirrors: []\n`,
      /^f\.yaml:5:3: unknown field "imageDigestMirrors" in Image spec; "imageDigestMirrors" belongs to ImageDigestMirrorSet; Image has no mirror entries/,
    ],
    [
      'a set kind with registrySources',
      `${IDMS_HEAD}  registrySources: {}\n`,
      /^f\.yaml:5:3: unknown field "registrySources" in ImageDigestMirrorSet spec; "registrySources" belongs to the cluster Image config/,
    ],
    [
      'inside kind: List',
      `apiVersion: v1\nkind: List\nitems:\n- apiVersion: config.openshift.io/v1\n  kind: ImageDigestMirrorSet\n  spec:\n    imageDigestMirrors:\n    - source: quay.io/x\n      mirror: [m.example/x]\n`,
      /^f\.yaml:9:7: unknown field "mirror" in an entry of imageDigestMirrors; did you mean "mirrors"\?/,
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

t.test('unknown fields beside spec are warnings; metadata, status, apiVersion and kind are known', async (t) => {
  t.same(all(`${IDMS_HEAD}  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x]\nstatus: {}\nspecs: {}\nextra: 1\n`), [
    'f.yaml:9:1: warning: unknown field "specs" in ImageDigestMirrorSet (ignored); did you mean "spec"?',
    'f.yaml:10:1: warning: unknown field "extra" in ImageDigestMirrorSet (ignored)',
  ]);
  t.same(
    all('apiVersion: v1\nkind: List\nmetadata: {}\nitem: []\n'),
    [
      'f.yaml:4:1: warning: unknown field "item" in a List (ignored); did you mean "items"?',
      'f.yaml:1:1: warning: this fragment contributes nothing to registries.conf (no mirror entries, insecure, blocked or search registries, no registries.conf keys)',
    ],
    'a List with its items misspelled contributes nothing, and both are said',
  );
});

t.test('the Image kind: its known spec fields pass, an Image that only sets import policy contributes nothing', async (t) => {
  const known = `${IMAGE_HEAD}  allowedRegistriesForImport:\n  - domainName: quay.io\n    insecure: false\n  externalRegistryHostnames: [registry.apps.example]\n  additionalTrustedCA: {name: ca}\n  imageStreamImportMode: Legacy\n`;
  t.same(all(known), [
    'f.yaml:1:1: warning: this fragment contributes nothing to registries.conf (no mirror entries, insecure, blocked or search registries, no registries.conf keys)',
  ]);
  t.same(
    all(
      `${IMAGE_HEAD}  registrySources:\n    insecureRegistries: [i.example]\n    blockedRegistries: [b.example]\n    containerRuntimeSearchRegistries: [s.example]\n`,
    ),
    [],
  );
});

t.test('a fragment of comments only contributes nothing: a warning, not an error', async (t) => {
  t.same(all('# nothing here yet\n---\n'), [
    'f.yaml:1:1: warning: this fragment contributes nothing to registries.conf (no mirror entries, insecure, blocked or search registries, no registries.conf keys)',
  ]);
});

t.test('an unquoted * wildcard is a YAML alias: the error points at it and says to quote it', async (t) => {
  const QUOTE = /is read as a YAML alias \(an unquoted "\*" starts one\); quote the wildcard: "\*\.example\.com"$/;
  const cases: Array<[string, string, string]> = [
    ['a source', `${IDMS_HEAD}  imageDigestMirrors:\n  - source: *.example.com\n    mirrors: [m.example/x]\n`, 'f.yaml:6:13: *.example.com'],
    ['a block list item', `${IMAGE_HEAD}  registrySources:\n    blockedRegistries:\n    - b.example\n    - *.example.com\n`, 'f.yaml:8:7: *.example.com'],
    ['a flow list item', `${IMAGE_HEAD}  registrySources:\n    insecureRegistries: [a.example, *.example.com]\n`, 'f.yaml:6:37: *.example.com'],
  ];
  for (const [name, text, where] of cases) {
    const ds = all(text);
    t.equal(ds.length, 1, `${name}: one diagnostic: ${ds.join(' | ')}`);
    t.ok(ds[0]?.startsWith(where) && QUOTE.test(ds[0]), `${name}: ${ds[0]}`);
  }
  const quoted = all(`${IDMS_HEAD}  imageDigestMirrors:\n  - source: "*.example.com"\n    mirrors: [m.example/x]\n`);
  t.same(quoted, [], 'quoted, it is a wildcard source');
  t.match(
    errors('apiVersion: v1\nkind: List\nitems: *nowhere\n'),
    [/^f\.yaml:3:8: invalid YAML: \*nowhere is an alias with no anchor &nowhere before it/],
    'another unresolved alias, at its place',
  );
  t.same(all(`${IDMS_HEAD}  imageDigestMirrors:\n  - &s {source: quay.io/x, mirrors: [m.example/x]}\n  - *s\n`), [], 'an alias with its anchor is fine');
});

t.test('the yaml package is loaded by the first YAML fragment, not before: TOML fragments alone never load it', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const script = `
    import { createRequire } from 'node:module';
    import { buildRegistriesConf } from ${JSON.stringify(new URL('../../src/pipeline/strict.js', import.meta.url).href)};
    const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/yaml/'));
    const seen = [loaded()];
    const toml = buildRegistriesConf({ fragments: [{ file: '10-a.toml', text: '[[mirror-set]]\\nsource = "quay.io/a"\\nmirrors = ["m.example.net/a"]\\n' }] });
    seen.push(toml.text !== undefined, loaded());
    const yaml = buildRegistriesConf({ fragments: [{ file: '20-b.yaml', text: 'apiVersion: config.openshift.io/v1\\nkind: ImageDigestMirrorSet\\nspec:\\n  imageDigestMirrors:\\n  - source: quay.io/b\\n    mirrors: [m.example.net/b]\\n' }] });
    seen.push(yaml.text !== undefined, loaded());
    console.log(JSON.stringify(seen));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  t.equal(child.status, 0, child.stderr);
  t.same(JSON.parse(child.stdout.trim().split('\n').pop() ?? 'null'), [false, true, false, true, true], 'not at import, not for TOML; then for YAML');
});

t.test('an Image not named "cluster" is applied, with a warning at its name (OpenShift reads only "cluster")', async (t) => {
  const image = (meta: string): string =>
    `apiVersion: config.openshift.io/v1\nkind: Image\n${meta}spec:\n  registrySources:\n    blockedRegistries: [blocked.example.com]\n`;
  const other = parseOpenShiftFragment(image('metadata:\n  name: mine\n'), 'image.yaml');
  t.strictSame(
    other.fragment?.blocked.map((b) => b.value),
    ['blocked.example.com'],
    'applied',
  );
  t.match(other.diagnostics.map(formatDiagnostic), [/^image\.yaml:4:9: warning: OpenShift reads only the Image named "cluster", not "mine"/]);
  t.strictSame(parseOpenShiftFragment(image('metadata:\n  name: cluster\n'), 'image.yaml').diagnostics.map(formatDiagnostic), [], 'nothing to say');
  for (const [meta, at] of [
    ['', '2:7'],
    ['metadata: 7\n', '3:11'],
    ['metadata:\n  name: [x]\n', '4:3'],
    ['metadata:\n  name: ""\n', '4:3'],
  ] as const) {
    const parsed = parseOpenShiftFragment(image(meta), 'image.yaml');
    t.strictSame(
      parsed.fragment?.blocked.map((b) => b.value),
      ['blocked.example.com'],
      `applied: ${JSON.stringify(meta)}`,
    );
    t.match(
      parsed.diagnostics.map(formatDiagnostic),
      [new RegExp(`^image\\.yaml:${at}: warning: Image has no metadata\\.name \\(the API server requires one\\); applied on this host all the same$`)],
      `no name: ${JSON.stringify(meta)}`,
    );
  }
});

t.test("the Image's registrySources are refused where the API server refuses them", async (t) => {
  const sources = (body: string): string => `${IMAGE_HEAD}  registrySources:\n${body}`;
  t.match(
    errors(sources('    blockedRegistries: [b.example]\n    allowedRegistries: [a.example]\n')),
    [/^f\.yaml:7:5: only one of blockedRegistries or allowedRegistries may be set \(the API server refuses both\)/],
    'blocked and allowed together: a CEL rule of RegistrySources',
  );
  t.match(
    errors(sources('    containerRuntimeSearchRegistries: []\n')),
    [/^f\.yaml:6:39: containerRuntimeSearchRegistries must list at least one registry/],
    "an empty search list (MinItems=1) would erase the host's search registries",
  );
  t.match(
    errors(sources('    containerRuntimeSearchRegistries: [s.example, t.example, s.example]\n')),
    [/^f\.yaml:6:62: containerRuntimeSearchRegistries lists "s\.example" twice/],
    'a repeated search registry (listType=set)',
  );
  t.same(errors(sources('    allowedRegistries: [a.example]\n    insecureRegistries: [i.example]\n')), [], 'allowed alone is no error');
});

t.test('a mirror listed twice in an IDMS or ITMS entry is an error (the API server keeps mirrors as a set); an ICSP may repeat one', async (t) => {
  const entry = '  - source: quay.io/x\n    mirrors:\n    - m.example/a\n    - m.example/b\n    - m.example/a\n';
  t.match(errors(`${IDMS_HEAD}  imageDigestMirrors:\n${entry}`), [
    /^f\.yaml:10:7: mirror "m\.example\/a" is listed twice for source "quay\.io\/x" \(the API server refuses a repeated mirror in an ImageDigestMirrorSet\)/,
  ]);
  t.match(errors(`${IDMS_HEAD.replace('ImageDigestMirrorSet', 'ImageTagMirrorSet')}  imageTagMirrors:\n${entry}`), [
    /^f\.yaml:10:7: mirror "m\.example\/a" is listed twice/,
  ]);
  t.same(errors(`${ICSP_HEAD}  repositoryDigestMirrors:\n${entry}`), [], 'ICSP mirrors are a plain list');
});

t.test('an optional field left empty (null) is absent, as the API server prunes it; an empty mirrorSourcePolicy is no policy value', async (t) => {
  const idms = parseOpenShiftFragment(
    `${IDMS_HEAD}  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x]\n    mirrorSourcePolicy:\n`,
    'f.yaml',
  );
  t.same(idms.diagnostics.map(formatDiagnostic), [], 'mirrorSourcePolicy: (empty)');
  t.equal(idms.fragment?.mirrorSets[0]?.sourcePolicy, undefined, 'unset: allow');
  const image = parseOpenShiftFragment(
    `${IMAGE_HEAD}  registrySources:\n    insecureRegistries:\n    allowedRegistries: ~\n    blockedRegistries: [b.example]\n    containerRuntimeSearchRegistries: null\n`,
    'f.yaml',
  );
  t.same(image.diagnostics.map(formatDiagnostic), [], 'empty registrySources lists');
  t.strictSame(
    image.fragment?.blocked.map((b) => b.value),
    ['b.example'],
  );
  t.equal(image.fragment?.conf.unqualifiedSearchRegistries, undefined, "the host's search registries are kept");
  t.same(errors(`${IMAGE_HEAD}  registrySources:\n`), [], 'registrySources: (empty)');
  t.match(
    errors(`${IDMS_HEAD}  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x]\n    mirrorSourcePolicy: ""\n`),
    [/^f\.yaml:8:25: mirrorSourcePolicy must be NeverContactSource or AllowContactingSource, not ""/],
    'the enum has no empty value',
  );
});

t.test('a YAML merge key (<<) merges its mapping, as kubectl and oc read it', async (t) => {
  const { fragment, diagnostics } = parseOpenShiftFragment(
    `${IDMS_HEAD}  imageDigestMirrors:\n  - &first\n    source: a.example.com\n    mirrors: [m.example.com/a]\n    mirrorSourcePolicy: NeverContactSource\n  - <<: *first\n    source: b.example.com\n`,
    'f.yaml',
  );
  t.same(diagnostics.map(formatDiagnostic), []);
  t.same(
    fragment?.mirrorSets.map((s) => [s.source, s.mirrors.join(','), s.sourcePolicy]),
    [
      ['a.example.com', 'm.example.com/a', 'never'],
      ['b.example.com', 'm.example.com/a', 'never'],
    ],
  );
});

t.test(
  'an object without spec is an error (the API server requires one); a spec field written beside spec is an error that says where it belongs',
  async (t) => {
    const noSpec =
      'apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: x}\nimageDigestMirrors:\n- source: quay.io/x\n  mirrors: [m.example/x]\n';
    t.match(errors(noSpec), [
      /^f\.yaml:4:1: "imageDigestMirrors" belongs under spec: \(indent it below a "spec:" line\); as it is, its entries are not read/,
      /^f\.yaml:1:1: ImageDigestMirrorSet needs a "spec" \(the API server refuses an object without one\)/,
    ]);
    t.match(
      errors('apiVersion: config.openshift.io/v1\nkind: Image\nmetadata: {name: cluster}\nregistrySources:\n  blockedRegistries: [b.example]\nspec: {}\n'),
      [/^f\.yaml:4:1: "registrySources" belongs under spec:/],
    );
    t.match(
      errors('apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata: {name: x}\nspec:\n'),
      [/^f\.yaml:1:1: ImageContentSourcePolicy needs a "spec"/],
      'spec: (empty) is no spec',
    );
    t.same(
      errors('apiVersion: operator.openshift.io/v1alpha1\nkind: ImageContentSourcePolicy\nmetadata: {name: x}\nspec: {}\n'),
      [],
      'an empty spec is a spec',
    );
  },
);

t.test("a typed list (ImageDigestMirrorSetList, as the API and client-go write it) is read: items without kind and apiVersion take the list's", async (t) => {
  const json = JSON.stringify(
    {
      apiVersion: 'config.openshift.io/v1',
      kind: 'ImageDigestMirrorSetList',
      metadata: { resourceVersion: '1' },
      items: [
        {
          metadata: { name: 'a' },
          spec: { imageDigestMirrors: [{ source: 'quay.io/a', mirrors: ['m.example/a'], mirrorSourcePolicy: 'NeverContactSource' }] },
        },
        {
          apiVersion: 'config.openshift.io/v1',
          kind: 'ImageDigestMirrorSet',
          metadata: { name: 'b' },
          spec: { imageDigestMirrors: [{ source: 'quay.io/b', mirrors: ['m.example/b'] }] },
        },
      ],
    },
    null,
    4,
  );
  const { fragment, diagnostics } = parseOpenShiftFragment(json, 'f.yaml');
  t.same(diagnostics.map(formatDiagnostic), []);
  t.same(
    fragment?.mirrorSets.map((s) => [s.kind, s.source, s.mode, s.sourcePolicy]),
    [
      ['ImageDigestMirrorSet', 'quay.io/a', 'digest-only', 'never'],
      ['ImageDigestMirrorSet', 'quay.io/b', 'digest-only', undefined],
    ],
  );
  t.match(errors('apiVersion: operator.openshift.io/v1alpha1\nkind: ImageDigestMirrorSetList\nitems: []\n'), [
    /^f\.yaml:1:13: ImageDigestMirrorSetList must have apiVersion "config\.openshift\.io\/v1", not "operator\.openshift\.io\/v1alpha1"/,
  ]);
  t.match(
    errors(
      'apiVersion: config.openshift.io/v1\nkind: ImageTagMirrorSetList\nitems:\n- kind: ImageContentSourcePolicy\n  apiVersion: config.openshift.io/v1\n  spec: {}\n',
    ),
    [/ImageContentSourcePolicy must have apiVersion "operator\.openshift\.io\/v1alpha1"/],
    'an item that says its own kind is read as that kind',
  );
});

t.test('a !!omap spec is a sequence, as go-yaml reads it, not a mapping whose entries are silently lost', async (t) => {
  const omap = `apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: x}\nspec: !!omap\n  - imageDigestMirrors:\n    - source: quay.io/x\n      mirrors: [m.example/x]\n`;
  t.match(errors(omap), [/^f\.yaml:5:3: "spec" must be a table, not an array/]);
});

t.test("the Image's registry lists take what the API server takes: its pattern, 1 to 256 characters, at most 1024 entries", async (t) => {
  const list = (field: string, values: readonly string[]): string => `${IMAGE_HEAD}  registrySources:\n    ${field}: ${JSON.stringify(values)}\n`;
  // openshift/api config/v1 tests (images.config.openshift.io/AAA_ungated.yaml): what it admits.
  const valid = ['registry.io', 'registry.io/myrepo', '*.example.com', 'localhost:5000/repo', 'Registry.IO:5000/a__b/c.d-e'];
  for (const field of ['insecureRegistries', 'blockedRegistries', 'allowedRegistries']) {
    t.same(errors(list(field, valid)), [], `${field}: the valid forms`);
    const refused: Array<[string, RegExp]> = [
      ['registry.io/myrepo:latest', /without a tag or digest; drop ":latest"/],
      ['registry.io/myrepo@sha256:abc123', /without a tag or digest; drop "@sha256:abc123"/],
      ['', /an empty entry/],
      ['*.', /hostname\[:port\]\[\/path\] or \*\.hostname/],
      ['*.example.com:5000', /a wildcard names hosts only, with no port or path/],
      ['*.example.com/ns', /a wildcard names hosts only, with no port or path/],
      ['example.*.com', /hostname\[:port\]\[\/path\] or \*\.hostname/],
      ['host name', /hostname\[:port\]\[\/path\] or \*\.hostname/],
      ['-bad.io', /hostname\[:port\]\[\/path\] or \*\.hostname/],
      ['reg.io/Upper', /path components are lowercase/],
      ['reg.io/ns/', /drop the trailing "\/"/],
      [`r.io/${'a'.repeat(252)}`, /is 257 characters long; the API server takes at most 256/],
    ];
    for (const [value, why] of refused) {
      const es = errors(list(field, ['ok.io', value]));
      t.equal(es.length, 1, `${field} ${JSON.stringify(value)}: ${es.join(' | ')}`);
      t.match(es[0], new RegExp(`^f\\.yaml:6:\\d+: invalid entry in ${field} ${JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      t.match(es[0], why, `${field} ${JSON.stringify(value)}`);
    }
    const many = Array.from({ length: 1025 }, (_, i) => `r${i}.example`);
    t.match(errors(list(field, many)), [new RegExp(`^f\\.yaml:6:\\d+: ${field} lists 1025 registries; the API server takes at most 1024`)]);
    t.same(errors(list(field, many.slice(1))), [], `${field}: 1024 entries`);
  }
});

t.test('plain scalars are read as kubectl and oc read them (go-yaml, YAML 1.1): an unquoted yes, on or 0b101 is no string', async (t) => {
  const mirrors = (item: string): string => `${IDMS_HEAD}  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors: [m.example/x, ${item}]\n`;
  const typeErrors = (text: string): string[] => errors(text).filter((e) => e.includes('must hold only strings'));
  // What kubectl 1.32 (sigs.k8s.io/yaml, go-yaml v2) makes of each, to JSON.
  for (const word of ['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']) {
    t.match(typeErrors(mirrors(word)), [/^f\.yaml:7:\d+: "mirrors" must hold only strings; item 2 is a boolean.*quote it/], `${word}: a boolean`);
  }
  for (const n of ['0b101', '0B101', '0X1F', '0O17', '1_000', '0_x1', '+0b101', '-0b101', '1_0e1_0', '.5_5', '99999999999999999999']) {
    t.match(typeErrors(mirrors(n)), [/item 2 is a number/], `${n}: a number`);
  }
  for (const s of [
    'yES',
    'nO',
    'oN',
    'tRUE',
    'nULL',
    '1.2.3',
    '10.0.0.1',
    '0x',
    '0o',
    '0b',
    '._5',
    '1e',
    '1e400',
    '0x1FFFFFFFFFFFFFFFFF',
    'yes.io',
    '"yes"',
    "'on'",
  ]) {
    t.same(typeErrors(mirrors(s)), [], `${s}: a string`);
  }
  const quoted = parseOpenShiftFragment(mirrors('"yes"'), 'f.yaml');
  t.same(quoted.fragment?.mirrorSets[0]?.mirrors, ['m.example/x', 'yes'], 'quoted, it is the name');
  const source = (value: string): string => `${IDMS_HEAD}  imageDigestMirrors:\n  - source: ${value}\n    mirrors: [m.example/x]\n`;
  t.match(errors(source('!!bool yes')), [/^f\.yaml:6:\d+: "source" must be a string, not a boolean/]);
  t.match(errors(source('!!float 1')), [/^f\.yaml:6:\d+: "source" must be a string, not a number/]);
  for (const [tag, value] of [
    ['int', 'quay'],
    ['float', 'x'],
    ['bool', 'x'],
    ['null', 'x'],
  ]) {
    t.match(errors(source(`!!${tag} ${value}`)), [new RegExp(`^f\\.yaml:6:13: invalid YAML: cannot read "${value}" as !!${tag}`)], `!!${tag} ${value}`);
  }
  t.same(
    errors(source('!!str 12')).filter((e) => e.includes('must be a string')),
    [],
    '!!str 12 is a string',
  );
});

t.test('a %YAML directive: 1.1 is read as every document is; another version is refused, as go-yaml refuses it', async (t) => {
  const doc = `${IDMS_HEAD}  imageDigestMirrors:\n  - source: quay.io/x\n    mirrors: [yes]\n`;
  t.match(errors(`%YAML 1.1\n---\n${doc}`), [/^f\.yaml:9:15: "mirrors" must hold only strings; item 1 is a boolean/]);
  t.same(errors(`%YAML 1.1\n---\n${doc.replace('[yes]', '[m.example/x]')}`), []);
  for (const version of ['1.2', '2.0']) {
    t.match(
      errors(`%YAML ${version}\n---\n${doc}`),
      [
        new RegExp(
          `^f\\.yaml:1:1: %YAML ${version.replace('.', '\\.')}: kubectl and oc read YAML 1\\.1 only \\(go-yaml refuses this document\\); remove the directive`,
        ),
      ],
      version,
    );
  }
  t.match(
    errors(`${doc}...\n%YAML 1.2\n---\n${doc}`),
    [/^f\.yaml:7:15: "mirrors"/, /^f\.yaml:9:1: %YAML 1\.2: /],
    'the directive of a later document, at its line',
  );
});

t.test('a !!binary value is refused with the text it encodes (kubectl decodes it, but it hides a name from review)', async (t) => {
  const text = `${IDMS_HEAD}  imageDigestMirrors:\n  - source: !!binary cXVheS5pby94\n    mirrors: [m.example/x]\n`;
  t.match(errors(text), [/^f\.yaml:6:13: invalid YAML: a !!binary value is not read here; write the text it encodes instead: "quay\.io\/x"/]);
});

t.test("oc-mirror's cluster resources as it writes them: several objects a file, each after ---, creationTimestamp: null, status: {}", async (t) => {
  const idms = (name: string, entries: ReadonlyArray<readonly [string, string]>): string =>
    [
      '---',
      'apiVersion: config.openshift.io/v1',
      'kind: ImageDigestMirrorSet',
      'metadata:',
      '  creationTimestamp: null',
      `  name: ${name}`,
      'spec:',
      '  imageDigestMirrors:',
      ...entries.flatMap(([source, mirror]) => ['  - mirrors:', `    - ${mirror}`, `    source: ${source}`]),
      'status: {}',
      '',
    ].join('\n');
  const text =
    idms('idms-release-0', [
      ['quay.io/openshift-release-dev/ocp-v4.0-art-dev', 'mirror.example:5000/openshift/release'],
      ['quay.io/openshift-release-dev/ocp-release', 'mirror.example:5000/openshift/release-images'],
    ]) + idms('idms-operator-0', [['registry.redhat.io/rhacs', 'mirror.example:5000/rhacs']]);
  const { fragment, diagnostics } = parseOpenShiftFragment(text, 'idms-oc-mirror.yaml');
  t.same(diagnostics.map(formatDiagnostic), []);
  t.same(
    fragment?.mirrorSets.map((s) => [s.source, s.mirrors[0], s.origin.line]),
    [
      ['quay.io/openshift-release-dev/ocp-v4.0-art-dev', 'mirror.example:5000/openshift/release', 11],
      ['quay.io/openshift-release-dev/ocp-release', 'mirror.example:5000/openshift/release-images', 14],
      ['registry.redhat.io/rhacs', 'mirror.example:5000/rhacs', 26],
    ],
  );
  t.same(
    fragment?.objects?.map((o) => o.value),
    ['ImageDigestMirrorSet "idms-release-0"', 'ImageDigestMirrorSet "idms-operator-0"'],
  );
});

t.test('a byte order mark at the start of a later document (files joined with ---) is skipped, as kubectl skips it', async (t) => {
  const doc = (name: string): string =>
    `apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: ${name}}\nspec: {imageDigestMirrors: [{source: q.io/${name}, mirrors: [m.io/${name}]}]}\n`;
  for (const separator of ['---\n', '--- # b.yaml\r\n']) {
    const { fragment, diagnostics } = parseOpenShiftFragment(`\ufeff${doc('a')}${separator}\ufeff${doc('b')}`, 'f.yaml');
    t.same(diagnostics.map(formatDiagnostic), [], JSON.stringify(separator));
    t.same(
      fragment?.mirrorSets.map((s) => [s.source, s.origin.line]),
      [
        ['q.io/a', 4],
        ['q.io/b', 9],
      ],
    );
  }
});

t.test(
  'a document after "..." with no "---" line is refused: kubectl reads only the first document between --- lines, so it would never reach a cluster',
  async (t) => {
    const doc = (name: string): string =>
      `apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata: {name: ${name}}\nspec: {imageDigestMirrors: [{source: q.io/${name}, mirrors: [m.io/${name}]}]}\n`;
    t.match(errors(`${doc('a')}...\n${doc('b')}`), [
      /^f\.yaml:6:1: a document after "\.\.\." with no "---" line before it: kubectl and oc would not read it; put a "---" line before it/,
    ]);
    t.match(errors(`${doc('a')}...\n# b\n${doc('b')}`), [/^f\.yaml:7:1: a document after "\.\.\."/]);
    for (const between of ['...\n---\n', '---\n', '...\n# only a comment\n']) {
      t.same(errors(`${doc('a')}${between}${between === '...\n# only a comment\n' ? '' : doc('b')}`), [], JSON.stringify(between));
    }
  },
);

t.test('JSON objects one after another (">>" appending oc get -o json): refused with one clear error, not a cascade of YAML ones', async (t) => {
  const object = (name: string): string =>
    JSON.stringify(
      {
        apiVersion: 'config.openshift.io/v1',
        kind: 'ImageDigestMirrorSet',
        metadata: { name },
        spec: { imageDigestMirrors: [{ source: `q.io/${name}`, mirrors: [`m.io/${name}`] }] },
      },
      null,
      2,
    );
  for (const [between, line] of [
    ['\n', 18],
    ['', 17],
  ] as const) {
    t.match(
      errors(`${object('a')}${between}${object('b')}\n`),
      [
        new RegExp(
          `^f\\.yaml:${line}:\\d+: another JSON value after the first: kubectl reads several in a row, this reader one a file; put the objects in the "items" of one List`,
        ),
      ],
      JSON.stringify(between),
    );
  }
  t.same(errors(`${object('a')}\n`), [], 'one object');
});

t.test(
  "oc-mirror's companions in cluster-resources/ (CatalogSource, ClusterCatalog, UpdateService, the signature ConfigMap) are ignored with a warning",
  async (t) => {
    // As oc-mirror v2 writes them (v2/internal/pkg/clusterresources): copied whole into the policy dir with its IDMS.
    const companions: Array<[string, string]> = [
      [
        'CatalogSource',
        'apiVersion: operators.coreos.com/v1alpha1\nkind: CatalogSource\nmetadata:\n  name: cs-redhat-operator-index-v4-15\n  namespace: openshift-marketplace\nspec:\n  image: mirror.example.com/redhat/redhat-operator-index:v4.15\n  sourceType: grpc\n',
      ],
      [
        'ClusterCatalog',
        'apiVersion: olm.operatorframework.io/v1\nkind: ClusterCatalog\nmetadata:\n  name: cc-redhat-operator-index-v4-18\nspec:\n  source:\n    type: Image\n    image:\n      ref: mirror.example.com/redhat/redhat-operator-index:v4.18\n',
      ],
      [
        'UpdateService',
        'apiVersion: updateservice.operator.openshift.io/v1\nkind: UpdateService\nmetadata:\n  name: update-service-oc-mirror\n  namespace: openshift-update-service\nspec:\n  graphDataImage: mirror.example.com/openshift/graph-image:latest\n  releases: mirror.example.com/openshift/release-images\n  replicas: 2\n',
      ],
      [
        'ConfigMap',
        '{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"mirrored-release-signatures","namespace":"openshift-config-managed","labels":{"release.openshift.io/verification-signatures":""}},"binaryData":{"sha256-abc-1":"AAAA"}}\n',
      ],
    ];
    const idms =
      'apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: idms-release-0\nspec:\n  imageDigestMirrors:\n  - mirrors:\n    - mirror.example.com/openshift/release\n    source: quay.io/openshift-release-dev/ocp-v4.0-art-dev\n';
    for (const [kind, text] of companions) {
      const alone = parseOpenShiftFragment(text, 'c.yaml');
      t.same(
        alone.diagnostics.filter((d) => d.severity === 'error'),
        [],
        `${kind}: no error`,
      );
      const said = alone.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
      t.equal(said.length, 1, `${kind}: one warning`);
      t.match(
        said[0],
        new RegExp(
          `^c\\.yaml:\\d+:\\d+: warning: ${kind} is not a mirror policy \\(oc-mirror writes it beside its ImageDigestMirrorSet for the cluster\\): ignored`,
        ),
        kind,
      );
      t.same(alone.fragment?.mirrorSets ?? [], [], `${kind}: no mirror set from it`);
      // In one file with the IDMS (a List or documents): the IDMS still applies.
      const both = parseOpenShiftFragment(`${idms}---\n${text}`, 'both.yaml');
      t.same(
        both.fragment?.mirrorSets.map((s) => s.source),
        ['quay.io/openshift-release-dev/ocp-v4.0-art-dev'],
        `${kind}: the IDMS beside it applies`,
      );
    }
    // Another kind is still an error (a typo must not pass as ignored).
    t.match(
      errors('apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSets\nmetadata: {name: x}\nspec: {}\n')[0],
      /unsupported kind "ImageDigestMirrorSets"/,
    );
  },
);
