import t from 'tap';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { parse as parseToml } from 'smol-toml';
import { classifyText } from '../../src/output/managed-file.js';
import { buildRegistriesConf, type SourceText } from '../../src/pipeline/strict.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import {
  bodyDigest,
  DIGEST_MARK,
  HEADER_MARK,
  renderBody,
  renderedMirrorLength,
  renderedTableLength,
  renderHeader,
  renderRegistriesConf,
} from '../../src/registries-conf/render.js';
import { VERSION } from '../../src/core/version.js';

/** The pipeline's text, which must exist (the input has no error). */
function build(fragments: SourceText[], base?: SourceText): string {
  const r = buildRegistriesConf({ fragments, base, version: VERSION });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || r.text === undefined) throw new Error(`unexpected errors: ${JSON.stringify(errors)}`);
  return r.text;
}

/** Splits rendered text into header lines and body (renderRegistriesConf: header, blank line, body). */
function split(text: string): { header: string[]; body: string } {
  const i = text.indexOf('\n\n');
  if (i < 0) throw new Error('no blank line after the header');
  return { header: text.slice(0, i).split('\n'), body: text.slice(i + 2) };
}

const sha256 = (s: string): string => `sha256:${createHash('sha256').update(s, 'utf8').digest('hex')}`;

const IDMS = `apiVersion: config.openshift.io/v1
kind: ImageDigestMirrorSet
metadata:
  name: m
spec:
  imageDigestMirrors:
  - source: quay.io/ocp
    mirrors:
    - mirror.example:5000/ocp
`;

const NATIVE = `unqualified-search-registries = ["docker.io"]
short-name-mode = "enforcing"
credential-helpers = ["containers-auth.json"]
insecure-registries = ["lab.example:5000"]
blocked-registries = ["bad.example"]

[aliases]
zz = "docker.io/library/zz"
aa = "quay.io/aa/aa"

[[mirror-set]]
source = "docker.io"
mirrors = ["cache.example/hub"]
pull-from-mirror = "all"

[[registry]]
location = "lab.example:5000"
`;

const BASE = `unqualified-search-registries = ["registry.fedoraproject.org"]
[[registry]]
location = "base.example"
`;

t.test('header: the version is what the caller passes; without one the header names none', async (t) => {
  const without = buildRegistriesConf({ fragments: [{ file: '10-a.toml', text: NATIVE }] }).text ?? '';
  t.equal(without.split('\n')[0], `${HEADER_MARK}. Do not edit: this file is rewritten`);
  const other = buildRegistriesConf({ fragments: [{ file: '10-a.toml', text: NATIVE }], version: '9.9.9-test' }).text ?? '';
  t.equal(other.split('\n')[0], `${HEADER_MARK} 9.9.9-test. Do not edit: this file is rewritten`);
  t.equal(classifyText(without), 'ours', 'a header without a version is still ours');
});

t.test('header: generated-by line with version, do-not-edit note, fragment names, base name, digest line', async (t) => {
  const text = build(
    [
      { file: '20-b.toml', text: NATIVE },
      { file: '10-a.yaml', text: IDMS },
    ],
    { file: '/etc/containers/registries.conf', text: BASE },
  );
  const { header, body } = split(text);
  t.equal(header[0], `${HEADER_MARK} ${VERSION}. Do not edit: this file is rewritten`);
  t.match(header[1], /^# from policy fragments; change those, then run `mirror-policyd check`\.$/);
  t.equal(header[2], '# fragments: 10-a.yaml, 20-b.toml', 'fragment names in merge (byte) order');
  t.equal(header[3], '# base: registries.conf', 'the base is named by its base name, not its path');
  t.equal(header[4], `${DIGEST_MARK}${sha256(body)}`, 'the digest is the sha256 of the body');
  t.equal(header.length, 5, 'nothing else in the header');
  t.ok(
    header.every((l) => l.startsWith('#')),
    'every header line is a comment',
  );
});

t.test('header: "(none)" without fragments, no base line without a base', async (t) => {
  const text = build([]);
  const { header } = split(text);
  t.equal(header[2], '# fragments: (none)');
  t.notOk(
    header.some((l) => l.startsWith('# base:')),
    'no base line',
  );
  t.equal(text, `${renderHeader({ fragments: [], version: VERSION }, '')}\n`, 'an empty policy renders the header and nothing else');
  t.equal(classifyText(text), 'ours');
});

t.test('header: names that are not plain are written as escaped TOML strings', async (t) => {
  const { header } = split(
    build([
      { file: 'my policy.toml', text: '' },
      { file: 'plain_name-1.2@x+y,z=w.yaml', text: IDMS },
    ]),
  );
  t.equal(header[2], '# fragments: "my policy.toml", plain_name-1.2@x+y,z=w.yaml');
  const { header: h2 } = split(build([{ file: 'a\n[[registry]]\nlocation = "evil".toml', text: '' }], { file: '/x/base\r\nconf', text: '' }));
  t.equal(h2[2], '# fragments: "a\\n[[registry]]\\nlocation = \\"evil\\".toml"');
  t.equal(h2[3], '# base: "base\\r\\nconf"');
});

t.test('header: containerd hosts directory named when it is rendered too, a path escaped when it is not plain', async (t) => {
  t.notMatch(renderHeader({ fragments: [] }, ''), 'containerd', 'not named when off');
  t.match(
    renderHeader({ fragments: [], containerdHostsDir: '/etc/containerd/certs.d' }, ''),
    '\n# containerd: the same policy under /etc/containerd/certs.d (',
  );
  const hostile = renderHeader({ fragments: [], containerdHostsDir: '/x\n[[registry]]' }, '');
  t.match(hostile, '# containerd: the same policy under "/x\\n[[registry]]" (');
  t.notMatch(hostile, /^\[\[registry\]\]/m, 'no line of it leaves the comment');
});

t.test('header: fragments that are ignored by name or fail to parse are not listed', async (t) => {
  const r = buildRegistriesConf({
    fragments: [
      { file: 'a.toml', text: '' },
      { file: 'README.md', text: 'x' },
      { file: '.hidden.toml', text: 'x' },
      { file: 'b.toml~', text: 'x' },
    ],
  });
  t.equal(r.text && split(r.text).header[2], '# fragments: a.toml');
});

t.test('digest line matches the body, and bodyDigest is sha256 of the UTF-8 body', async (t) => {
  // Helper names are ASCII words now (validate.ts), so the UTF-8 part is checked on a body of our own.
  const text = build([{ file: 'b.toml', text: 'credential-helpers = ["pass"]\n' }]);
  const { header, body } = split(text);
  t.equal(header.at(-1), `${DIGEST_MARK}${bodyDigest(body)}`);
  t.equal(bodyDigest(body), sha256(body));
  t.equal(bodyDigest('x = "é\u{1f600}"\n'), sha256('x = "é\u{1f600}"\n'));
  t.equal(bodyDigest(''), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  t.equal(text, `${renderHeader({ fragments: ['b.toml'], version: VERSION }, body)}\n${body}`, 'text is header, blank line, body');
});

t.test('top-level keys come before any table, aliases before [[registry]]', async (t) => {
  const text = build(
    [
      { file: 'b.toml', text: NATIVE },
      { file: 'a.yaml', text: IDMS },
    ],
    { file: 'base.conf', text: BASE },
  );
  const { body } = split(text);
  const lines = body.split('\n');
  const firstHeader = lines.findIndex((l) => /^\s*\[/.test(l));
  t.ok(firstHeader > 0);
  const topKeys = lines
    .slice(0, firstHeader)
    .filter((l) => l.includes('='))
    .map((l) => l.split(' = ')[0]);
  t.same(topKeys, ['unqualified-search-registries', 'short-name-mode', 'credential-helpers'], 'top-level keys in fixed order before the first table');
  t.equal(lines[firstHeader], '[aliases]');
  const firstRegistry = lines.indexOf('[[registry]]');
  t.ok(firstRegistry > firstHeader, 'aliases come before the registries');
  t.same(lines.slice(firstHeader + 1, firstRegistry - 1), ['"aa" = "quay.io/aa/aa"', '"zz" = "docker.io/library/zz"'], 'aliases sorted by name');
  const parsed = parseToml(text) as Record<string, unknown>;
  t.same(Object.keys(parsed).sort(), ['aliases', 'credential-helpers', 'registry', 'short-name-mode', 'unqualified-search-registries']);
  t.same(parsed['unqualified-search-registries'], ['docker.io'], 'the fragment replaced the base search list');
});

t.test('every top-level key is rendered before tables even when the model has them all', async (t) => {
  const conf: RegistriesConf = {
    aliases: { b: 'x.io/b', a: 'x.io/a' },
    registries: [{ location: 'a.io', mirrors: [{ location: 'm.io', pullFromMirror: 'all' }] }],
    additionalLayerStoreAuthHelper: 'helper',
    credentialHelpers: [],
    shortNameMode: 'disabled',
    unqualifiedSearchRegistries: [],
  };
  const body = renderBody(conf);
  t.equal(
    body,
    [
      'unqualified-search-registries = []',
      'short-name-mode = "disabled"',
      'credential-helpers = []',
      'additional-layer-store-auth-helper = "helper"',
      '',
      '[aliases]',
      '"a" = "x.io/a"',
      '"b" = "x.io/b"',
      '',
      '[[registry]]',
      'location = "a.io"',
      '',
      '  [[registry.mirror]]',
      '  location = "m.io"',
      '  pull-from-mirror = "all"',
      '',
    ].join('\n'),
    'exact layout: top-level keys, aliases, registries with indented mirrors, one trailing newline',
  );
  t.equal(renderBody({ registries: [] }), '', 'an empty model renders an empty body');
  t.equal(renderBody({ registries: [], shortNameMode: '', additionalLayerStoreAuthHelper: '' }), '', 'empty strings mean unset and are not written');
});

t.test('one [[registry]] table per prefix, however many fragments and kinds touch it', async (t) => {
  const frag = (src: string, mirrors: string[]): string => `[[mirror-set]]\nsource = "${src}"\nmirrors = ${JSON.stringify(mirrors)}\n`;
  const text = build([
    { file: 'a.toml', text: `insecure-registries = ["quay.io/ocp", "quay.io"]\n${frag('quay.io/ocp', ['m1.example/ocp'])}` },
    {
      file: 'b.toml',
      text: `blocked-registries = ["quay.io/ocp"]\n${frag('quay.io/ocp', ['m2.example/ocp', 'm1.example/ocp'])}[[mirror-set]]\nsource = "quay.io/ocp"\nmirrors = ["m3.example/ocp"]\npull-from-mirror = "tag-only"\n`,
    },
    { file: 'c.yaml', text: IDMS.replace('mirror.example:5000/ocp', 'm1.example/ocp') },
    { file: 'd.yaml', text: IDMS.replace('ImageDigestMirrorSet', 'ImageTagMirrorSet').replace('imageDigestMirrors', 'imageTagMirrors') },
  ]);
  const parsed = parseToml(text) as {
    registry: Array<{
      prefix?: string;
      location: string;
      insecure?: boolean;
      blocked?: boolean;
      mirror?: Array<{ location: string; 'pull-from-mirror'?: string }>;
    }>;
  };
  const scopes = parsed.registry.map((r) => r.prefix ?? r.location);
  t.same(scopes, [...new Set(scopes)], 'no prefix appears twice');
  t.same(scopes.sort(), ['quay.io', 'quay.io/ocp']);
  const ocp = parsed.registry.find((r) => r.location === 'quay.io/ocp');
  t.same(
    ocp?.mirror?.map((m) => `${m.location} ${m['pull-from-mirror']}`),
    ['m2.example/ocp digest-only', 'm1.example/ocp digest-only', 'm3.example/ocp tag-only', 'mirror.example:5000/ocp tag-only'],
    'digest-only mirrors first (topologically merged), then tag-only',
  );
  t.equal(ocp?.insecure, true);
  t.equal(ocp?.blocked, true);
});

t.test('booleans are written only when true; unset and empty-string fields are omitted', async (t) => {
  const text = build([
    {
      file: 'a.toml',
      text: `[[registry]]
prefix = "a.example"
location = "a.example"
insecure = false
blocked = false
mirror-by-digest-only = false

  [[registry.mirror]]
  location = "m.example"
  insecure = false
  pull-from-mirror = ""

[[registry]]
prefix = "b.example/ns"
location = "real.example/ns"
insecure = true
blocked = true
mirror-by-digest-only = true

  [[registry.mirror]]
  location = "m.example/ns"
  insecure = true
`,
    },
  ]);
  const { body } = split(text);
  t.notMatch(body, /= false/, 'no false anywhere');
  t.equal(
    body,
    `[[registry]]
location = "a.example"

  [[registry.mirror]]
  location = "m.example"

[[registry]]
prefix = "b.example/ns"
location = "real.example/ns"
insecure = true
blocked = true
mirror-by-digest-only = true

  [[registry.mirror]]
  location = "m.example/ns"
  insecure = true
`,
    'prefix only when it differs from location; true flags in fixed order',
  );
});

t.test('wildcard scopes are written as prefix with an empty location', async (t) => {
  const { body } = split(build([{ file: 'a.toml', text: 'blocked-registries = ["*.bad.example"]\n' }]));
  t.equal(body, '[[registry]]\nprefix = "*.bad.example"\nlocation = ""\nblocked = true\n');
});

t.test('deterministic bytes: same input, same output, whatever the order fragments are given in', async (t) => {
  const fragments = [
    { file: 'b.toml', text: NATIVE },
    { file: 'a.yaml', text: IDMS },
    { file: 'c.toml', text: 'credential-helpers = ["x"]\n' },
  ];
  const base = { file: 'base.conf', text: BASE };
  const first = build(fragments, base);
  t.equal(build(fragments, base), first, 'twice the same');
  t.equal(build([...fragments].reverse(), base), first, 'reversed input array');
  t.equal(build([fragments[2]!, fragments[0]!, fragments[1]!], base), first, 'rotated input array');
  const r = buildRegistriesConf({ fragments, base });
  t.ok(r.conf);
  t.equal(
    renderRegistriesConf(r.conf!, { fragments: ['a.yaml', 'b.toml', 'c.toml'], base: 'base.conf', version: VERSION }),
    first,
    'the model and facts alone determine the bytes',
  );
});

t.test('deterministic bytes for random models: renderBody is a pure function and round-trips through smol-toml', async () => {
  const str = fc.string({ unit: 'binary', maxLength: 12 });
  const endpoint = fc.record(
    { location: str, insecure: fc.option(fc.boolean(), { nil: undefined }), pullFromMirror: fc.option(str, { nil: undefined }) },
    { requiredKeys: ['location'] },
  );
  const table = fc.record(
    {
      prefix: fc.option(str, { nil: undefined }),
      location: str,
      insecure: fc.boolean(),
      blocked: fc.boolean(),
      mirrorByDigestOnly: fc.boolean(),
      mirrors: fc.array(endpoint, { maxLength: 3 }),
    },
    { requiredKeys: ['location', 'mirrors'] },
  );
  const conf = fc.record(
    {
      unqualifiedSearchRegistries: fc.array(str, { maxLength: 3 }),
      shortNameMode: str,
      credentialHelpers: fc.array(str, { maxLength: 3 }),
      additionalLayerStoreAuthHelper: str,
      aliases: fc.dictionary(str, str, { maxKeys: 3 }),
      registries: fc.array(table, { maxLength: 4 }),
    },
    { requiredKeys: ['registries'] },
  );
  fc.assert(
    fc.property(conf, (c) => {
      // dictionary() may use "__proto__" as a key; a model is plain data, so rebuild it as such.
      const model = structuredClone<RegistriesConf>(c);
      const body = renderBody(model);
      if (renderBody(structuredClone(model)) !== body) throw new Error('renderBody is not deterministic');
      const parsed = parseToml(body) as Record<string, unknown>;
      const want: Record<string, unknown> = {};
      if (model.unqualifiedSearchRegistries) want['unqualified-search-registries'] = model.unqualifiedSearchRegistries;
      if (model.shortNameMode) want['short-name-mode'] = model.shortNameMode;
      if (model.credentialHelpers) want['credential-helpers'] = model.credentialHelpers;
      if (model.additionalLayerStoreAuthHelper) want['additional-layer-store-auth-helper'] = model.additionalLayerStoreAuthHelper;
      if (model.aliases && Object.keys(model.aliases).length > 0) want.aliases = model.aliases;
      if (model.registries.length > 0) {
        want.registry = model.registries.map((r) => ({
          ...(r.prefix && r.prefix !== r.location ? { prefix: r.prefix } : {}),
          location: r.location,
          ...(r.insecure ? { insecure: true } : {}),
          ...(r.blocked ? { blocked: true } : {}),
          ...(r.mirrorByDigestOnly ? { 'mirror-by-digest-only': true } : {}),
          ...(r.mirrors.length > 0
            ? {
                mirror: r.mirrors.map((m) => ({
                  location: m.location,
                  ...(m.insecure ? { insecure: true } : {}),
                  ...(m.pullFromMirror ? { 'pull-from-mirror': m.pullFromMirror } : {}),
                })),
              }
            : {}),
        }));
      }
      const a = JSON.stringify(parsed, Object.keys(flattenKeys(parsed)).sort());
      const b = JSON.stringify(want, Object.keys(flattenKeys(want)).sort());
      if (a !== b) throw new Error(`parsed body differs from the model:\n${a}\n${b}`);
    }),
    { numRuns: 300 },
  );
});

/** All keys used anywhere in a JSON-like value (for a key-sorted JSON.stringify). */
function flattenKeys(v: unknown, into: Record<string, true> = {}): Record<string, true> {
  if (Array.isArray(v)) {
    for (const x of v) flattenKeys(x, into);
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      into[k] = true;
      flattenKeys(x, into);
    }
  }
  return into;
}

t.test('managed file: our fresh output is "ours"', async (t) => {
  t.equal(
    classifyText(
      build(
        [
          { file: 'b.toml', text: NATIVE },
          { file: 'a.yaml', text: IDMS },
        ],
        { file: 'base.conf', text: BASE },
      ),
    ),
    'ours',
  );
  t.equal(classifyText(build([{ file: 'c.toml', text: 'credential-helpers = ["secretservice", "containers-auth.json"]\n' }])), 'ours');
});

t.test('managed file: any change to the body makes it "edited"', async (t) => {
  const text = build([{ file: 'b.toml', text: NATIVE }]);
  t.equal(classifyText(`${text}# a comment\n`), 'edited', 'appended comment');
  t.equal(classifyText(`${text}\n`), 'edited', 'one more newline at the end');
  t.equal(classifyText(text.slice(0, -1)), 'edited', 'final newline removed');
  t.equal(classifyText(text.replace('enforcing', 'permissive')), 'edited', 'a value changed');
  t.equal(classifyText(text.replace(/\n/g, '\r\n')), 'edited', 'converted to CRLF');
  t.equal(classifyText(text.replace(/^# mirror-policyd-digest: .*\n/m, '')), 'edited', 'digest line removed');
  t.equal(classifyText(text.replace(/sha256:[0-9a-f]{64}/, `sha256:${'0'.repeat(64)}`)), 'edited', 'digest altered');
});

t.test('managed file: the body blank-line separator is tolerated but the header comments are not covered by the digest', async (t) => {
  const text = build([{ file: 'b.toml', text: NATIVE }]);
  t.equal(classifyText(text.replace('\n\n', '\n')), 'ours', 'the blank line after the digest line is optional');
  t.equal(
    classifyText(text.replace('# fragments: b.toml', '# fragments: other.toml')),
    'ours',
    'header comment lines other than the digest are not checked (by design)',
  );
});

t.test('managed file: anything not starting with our header is "foreign"', async (t) => {
  const text = build([{ file: 'b.toml', text: NATIVE }]);
  t.equal(classifyText(''), 'foreign', 'empty file');
  t.equal(classifyText(BASE), 'foreign', "the host's own file");
  t.equal(classifyText(`\n${text}`), 'foreign', 'header not on the first line');
  t.equal(classifyText(`\ufeff${text}`), 'foreign', 'a BOM before the header');
  t.equal(classifyText(text.replace(HEADER_MARK, '# generated by mirror-policyd')), 'foreign', 'mark is case-sensitive');
  t.equal(classifyText(`${HEADER_MARK} 0.1.0\n`), 'edited', 'our header mark but no digest line is "edited", never "ours"');
});

t.test('managed file: a fragment name containing the digest mark does not make our own output "edited"', async (t) => {
  const text = build([{ file: '# mirror-policyd-digest: x.toml', text: '' }]);
  t.equal(classifyText(text), 'ours');
  const text2 = build([], { file: '/etc/# mirror-policyd-digest: sha256:0', text: '' });
  t.equal(classifyText(text2), 'ours');
});

t.test('renderedTableLength and renderedMirrorLength count what renderBody writes for the tables', async (t) => {
  const conf: RegistriesConf = {
    registries: [
      { prefix: '*.example.com', location: '', mirrors: [{ location: 'm.example.net', insecure: true }] },
      { prefix: 'quay.io/ns', location: 'other.io/ns', insecure: true, blocked: true, mirrorByDigestOnly: true, mirrors: [] },
      {
        location: 'quay.io',
        mirrors: [
          { location: 'a.example.net/q', pullFromMirror: 'digest-only' },
          { location: 'b.example.net:5000/q', insecure: true, pullFromMirror: 'tag-only' },
        ],
      },
    ],
  };
  const counted = conf.registries.reduce((n, x) => n + renderedTableLength(x) + x.mirrors.reduce((k, m) => k + renderedMirrorLength(m), 0), 0);
  // Each table is counted with the blank line after it; the file ends with one newline.
  t.equal(counted, renderBody(conf).length + 1);
});
