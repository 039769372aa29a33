/**
 * Hostile input: every value, file name and document trick either is refused with an
 * error naming the file and a line, or reaches registries.conf escaped so that the
 * parsed output has no table or key the policy did not mean.
 */
import t from 'tap';
import { parse as parseToml } from 'smol-toml';
import { formatDiagnostic, type Diagnostic } from '../../src/core/diagnostic.js';
import { classifyText } from '../../src/output/managed-file.js';
import { buildRegistriesConf, type PipelineResult, type SourceText } from '../../src/pipeline/strict.js';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';
import { renderBody } from '../../src/registries-conf/render.js';
import { withCpuMs } from '../helpers/cpu.js';

type Test = Pick<typeof t, 'equal' | 'ok' | 'same' | 'match' | 'notMatch'>;

const TOP_KEYS = ['unqualified-search-registries', 'short-name-mode', 'credential-helpers', 'additional-layer-store-auth-helper', 'aliases', 'registry'];
const REGISTRY_KEYS = ['prefix', 'location', 'insecure', 'blocked', 'mirror-by-digest-only', 'mirror'];
const MIRROR_KEYS = ['location', 'insecure', 'pull-from-mirror'];

/** The classic payload: closes the string, opens a table, sets a key. */
const PAYLOAD = '"\n[[registry]]\nlocation = "evil.com';
/** The same payload written inside a TOML basic string / a YAML double-quoted string. */
const PAYLOAD_ESCAPED = '\\"\\n[[registry]]\\nlocation = \\"evil.com';

function run(fragments: SourceText[], base?: SourceText): PipelineResult {
  return buildRegistriesConf({ fragments, base });
}

const one = (file: string, text: string): PipelineResult => run([{ file, text }]);

const errorsOf = (r: PipelineResult): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'error');

/** Refused: no text, and an error naming `file` with a line ≥ 1 whose message matches `re`. */
function rejected(t: Test, r: PipelineResult, file: string, re: RegExp, line?: number): void {
  t.equal(r.text, undefined, 'nothing is rendered');
  const errs = errorsOf(r);
  const hit = errs.find((d) => re.test(d.message));
  t.ok(hit, `an error matches ${re}: ${JSON.stringify(errs.map((d) => d.message))}`);
  if (!hit) return;
  t.equal(hit.file, file, 'the error names the file');
  t.ok(typeof hit.line === 'number' && hit.line >= 1, `the error has a line (${formatDiagnostic(hit)})`);
  if (line !== undefined) t.equal(hit.line, line, `the error points at line ${line}`);
  for (const d of errs) t.ok(typeof d.line === 'number' && d.line >= 1, `every error has a line: ${JSON.stringify(d)}`);
}

interface ParsedOut {
  top: Record<string, unknown>;
  registries: Array<Record<string, unknown>>;
}

/** Accepted: the text parses, has only known keys, its tables are exactly `scopes`, and it reads back to the model. */
function accepted(t: Test, r: PipelineResult, scopes: string[]): ParsedOut {
  t.same(errorsOf(r), [], 'no error');
  const text = r.text ?? '';
  t.ok(r.text, 'a file is rendered');
  const top = parseToml(text) as Record<string, unknown>;
  t.same(
    Object.keys(top).filter((k) => !TOP_KEYS.includes(k)),
    [],
    'only known top-level keys',
  );
  const registries = (top.registry ?? []) as Array<Record<string, unknown>>;
  for (const reg of registries) {
    t.same(
      Object.keys(reg).filter((k) => !REGISTRY_KEYS.includes(k)),
      [],
      'only known [[registry]] keys',
    );
    for (const m of (reg.mirror ?? []) as Array<Record<string, unknown>>)
      t.same(
        Object.keys(m).filter((k) => !MIRROR_KEYS.includes(k)),
        [],
        'only known mirror keys',
      );
  }
  t.same(
    registries.map((reg) => (reg.prefix ?? reg.location) as string),
    scopes,
    'exactly the tables the policy means',
  );
  const back = parseRegistriesConf(text, 'out.conf');
  t.same(back.diagnostics, [], 'reads back without any diagnostic');
  t.equal(back.conf && renderBody(back.conf), r.conf && renderBody(r.conf), 'reads back to the merged model');
  t.equal(classifyText(text), 'ours');
  return { top, registries };
}

const idms = (source: string, mirrors: string): string => `apiVersion: config.openshift.io/v1
kind: ImageDigestMirrorSet
metadata:
  name: x
spec:
  imageDigestMirrors:
  - source: ${source}
    mirrors: ${mirrors}
`;

const imageConfig = (sources: string): string => `apiVersion: config.openshift.io/v1
kind: Image
metadata:
  name: cluster
spec:
  registrySources:
${sources}`;

// ---------------------------------------------------------------- native TOML values

// Helper names are run as programs (docker-credential-NAME, or the layer store helper as given), so
// a payload in one is refused at its line rather than escaped (escaping itself: toml-syntax.test.ts).
t.test('a credential helper holding a string-breaking payload is refused at its line', async (t) => {
  rejected(t, one('a.toml', `\ncredential-helpers = ["y", "x${PAYLOAD_ESCAPED}"]\n`), 'a.toml', /invalid credential helper "x\\"\\n\[\[registry/, 2);
});

t.test('additional-layer-store-auth-helper holding table and alias headers is refused at its line', async (t) => {
  const r = one(
    'a.toml',
    '\n\nadditional-layer-store-auth-helper = "h\\n[aliases]\\nx = \\"docker.io/library/x\\"\\n[[registry]]\\nlocation = \\"evil.com\\""\n',
  );
  rejected(t, r, 'a.toml', /invalid additional-layer-store-auth-helper "h\\n\[aliases\]/, 3);
});

t.test('TOML multi-line basic strings with headers inside: refused helpers, located at their keys', async (t) => {
  const r = one(
    'a.toml',
    'credential-helpers = ["""\n[[registry]]\nlocation = "evil.com"\n[aliases]\n"""]\nadditional-layer-store-auth-helper = """a \\\n   [[registry]]"""\n',
  );
  rejected(t, r, 'a.toml', /invalid credential helper "\[\[registry\]\]\\nlocation/, 1);
  rejected(t, r, 'a.toml', /invalid additional-layer-store-auth-helper "a \[\[registry\]\]"/); // its line: the toml-locate weakness below
});

t.test("TOML multi-line literal strings (''') with quotes and headers: refused", async (t) => {
  rejected(t, one('a.toml', "credential-helpers = ['''\n\"\"\"\n[[registry]]\nlocation = \"evil.com\"\\n''']\n"), 'a.toml', /invalid credential helper/, 1);
});

t.test('escaped control characters in a helper name (NUL, ESC, DEL, CR) are refused, and shown escaped', async (t) => {
  const r = one('a.toml', 'credential-helpers = ["a\\u0000b\\u001b[31mc\\u007fd\\re\\u0085f\\u2028g\\b\\f\\t"]\n');
  rejected(t, r, 'a.toml', /invalid credential helper "a\\u0000b\\u001b\[31mc/, 1);
  t.notMatch(formatDiagnostic(errorsOf(r)[0] as Diagnostic), /[\u0000-\u001f\u007f]/, 'the message holds no raw control character');
});

t.test('a raw control character in a TOML string is a syntax error at its line and column', async (t) => {
  rejected(t, one('a.toml', '\ncredential-helpers = ["a\u0001b"]\n'), 'a.toml', /invalid TOML: control characters/, 2);
  rejected(t, one('b.toml', 'credential-helpers = ["a\nb"]\n'), 'b.toml', /invalid TOML/, 1);
});

t.test('a hostile short-name-mode is refused at its line', async (t) => {
  rejected(t, one('a.toml', `\n\nshort-name-mode = "enforcing${PAYLOAD_ESCAPED}"\n`), 'a.toml', /invalid short-name mode/, 3);
});

t.test('hostile alias names and values are refused with file and line', async (t) => {
  rejected(t, one('a.toml', `[aliases]\n"x${PAYLOAD_ESCAPED}" = "docker.io/library/x"\n`), 'a.toml', /validating short-name aliases: invalid short name/);
  rejected(t, one('b.toml', `[aliases]\nx = "docker.io/library/x${PAYLOAD_ESCAPED}"\n`), 'b.toml', /validating short-name aliases: invalid alias/, 2);
  rejected(t, one('c.toml', '[aliases]\n"[[registry]]" = "docker.io/library/x"\n'), 'c.toml', /invalid short name/);
});

t.test('an alias named __proto__ is refused like any other invalid short name, not silently dropped', async (t) => {
  rejected(t, one('a.toml', '[aliases]\n"__proto__" = "not a reference"\n'), 'a.toml', /invalid short name "__proto__"/, 2);
});

t.test('hostile unqualified-search-registries entries are refused at their line', async (t) => {
  rejected(
    t,
    one('a.toml', `unqualified-search-registries = ["docker.io",\n  "quay.io${PAYLOAD_ESCAPED}"]\n`),
    'a.toml',
    /Invalid unqualified-search-registries entry/,
    2,
  );
});

t.test('hostile mirror-set sources, mirrors and modes are refused at their line', async (t) => {
  rejected(t, one('a.toml', `[[mirror-set]]\nsource = "quay.io${PAYLOAD_ESCAPED}"\nmirrors = ["m.io"]\n`), 'a.toml', /invalid format for source/, 2);
  rejected(t, one('b.toml', `[[mirror-set]]\nsource = "quay.io"\nmirrors = ["m.io",\n "m.io${PAYLOAD_ESCAPED}"]\n`), 'b.toml', /invalid format for mirror/);
  rejected(
    t,
    one('c.toml', `[[mirror-set]]\nsource = "quay.io"\nmirrors = ["m.io"]\npull-from-mirror = "all${PAYLOAD_ESCAPED}"\n`),
    'c.toml',
    /"pull-from-mirror" must be one of/,
    4,
  );
  rejected(
    t,
    one('d.toml', `[[mirror-set]]\nsource = "quay.io"\nmirrors = ["m.io"]\nsource-policy = "never${PAYLOAD_ESCAPED}"\n`),
    'd.toml',
    /"source-policy" must be/,
    4,
  );
});

t.test('hostile [[registry]] locations and mirror settings are refused with a line', async (t) => {
  // Rewrite checks run on the merged model and point at the [[registry]] header of the table.
  rejected(t, one('a.toml', `[[registry]]\nlocation = "a.io${PAYLOAD_ESCAPED}"\n`), 'a.toml', /not a registry or repository namespace/, 1);
  rejected(t, one('b.toml', `[[registry]]\nlocation = "a.io"\n\n[[registry.mirror]]\nlocation = "m.io${PAYLOAD_ESCAPED}"\n`), 'b.toml', /cannot serve images/);
  rejected(
    t,
    one('c.toml', '[[registry]]\nlocation = "a.io"\n\n[[registry.mirror]]\nlocation = "m.io"\npull-from-mirror = "x\\ny"\n'),
    'c.toml',
    /unsupported pull-from-mirror value/,
    6,
  );
  rejected(t, one('d.toml', '[[registry]]\nlocation = "http://a.io"\n'), 'd.toml', /URI schemes are not supported/, 2);
});

t.test('a bad mirror location of a native [[registry]] table is reported at the mirror, not at the table header', async (t) => {
  rejected(
    t,
    one('a.toml', '[[registry]]\nlocation = "a.io"\n\n[[registry.mirror]]\nlocation = "m.io"\n\n[[registry.mirror]]\nlocation = "m.io/UPPER"\n'),
    'a.toml',
    /cannot serve images/,
    8,
  );
});

t.test('a wildcard prefix holding a payload is accepted (only /@: are checked upstream) but stays one escaped string', async (t) => {
  const prefix = `*.x${PAYLOAD}"`;
  const r = one('a.toml', `[[registry]]\nprefix = "*.x${PAYLOAD_ESCAPED}\\""\nlocation = ""\n`);
  const { registries } = accepted(t, r, [prefix]);
  t.equal(registries[0]?.prefix, prefix);
});

t.test('TOML structure tricks: dotted keys, keys after a mirror header, disguised key names', async (t) => {
  rejected(t, one('a.toml', 'registry.location = "evil.com"\n'), 'a.toml', /"registry" must be an array of tables/, 1);
  // podman#14306: a top-level key after [[registry.mirror]] belongs to the mirror.
  rejected(
    t,
    one('b.toml', '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\nlocation = "m.io"\nunqualified-search-registries = ["evil.com"]\n'),
    'b.toml',
    /unknown key "unqualified-search-registries" in \[\[registry\.mirror\]\]/,
    5,
  );
  rejected(t, one('c.toml', '"insecure-registries " = ["evil.com"]\n'), 'c.toml', /unknown key "insecure-registries "/, 1);
  rejected(t, one('d.toml', 'credential-helpers = "x"\n'), 'd.toml', /"credential-helpers" must be an array of strings/, 1);
  rejected(t, one('e.toml', '[[registry]]\nlocation = "a.io"\ninsecure = "true"\n'), 'e.toml', /"insecure" must be a boolean/, 3);
});

t.test('an error after a multi-line string that contains a header-like line points at the real line', async (t) => {
  rejected(
    t,
    one('a.toml', 'credential-helpers = ["""\n[[mirror-set]]\n"""]\n[[mirror-set]]\nsource = "bad source"\nmirrors = ["m.io"]\n'),
    'a.toml',
    /invalid format for source/,
    5,
  );
});

// ---------------------------------------------------------------- OpenShift YAML values

t.test('YAML: a source or mirror with \\n escapes is refused at its line', async (t) => {
  rejected(t, one('a.yaml', idms(`"quay.io${PAYLOAD_ESCAPED}"`, '[m.io]')), 'a.yaml', /invalid format for source/, 7);
  rejected(t, one('b.yaml', idms('quay.io', `["m.io${PAYLOAD_ESCAPED}"]`)), 'b.yaml', /invalid format for mirror/, 8);
});

t.test('YAML: a block scalar source spanning lines is refused at its line', async (t) => {
  const text = idms('|\n      quay.io\n      [[registry]]\n      location = "evil.com"', '[m.io]');
  rejected(t, one('a.yaml', text), 'a.yaml', /invalid format for source/, 7);
});

t.test('YAML: a non-wildcard insecure scope with a newline is refused at its line', async (t) => {
  rejected(
    t,
    one('a.yaml', imageConfig(`    insecureRegistries:\n    - ok.io\n    - "evil.com${PAYLOAD_ESCAPED}"\n`)),
    'a.yaml',
    /invalid entry in insecureRegistries/,
    9,
  );
});

t.test(
  'a wildcard blocked scope with a payload and control characters: kept as one escaped prefix from TOML, refused in an Image as the API server refuses it',
  async (t) => {
    const r = one('a.toml', `blocked-registries = ["*.x${PAYLOAD_ESCAPED}\\u0000\\u001b\\u007f"]\n`);
    const { registries } = accepted(t, r, [`*.x${PAYLOAD}\u0000\u001b\u007f`]);
    t.equal(registries[0]?.blocked, true);
    t.equal(registries[0]?.location, '');
    rejected(
      t,
      one('a.yaml', imageConfig(`    blockedRegistries:\n    - "*.x${PAYLOAD_ESCAPED}\\u0000\\x1b\\u007f"\n`)),
      'a.yaml',
      /invalid entry in blockedRegistries/,
      8,
    );
  },
);

t.test('YAML: a hostile containerRuntimeSearchRegistries entry is refused with a line', async (t) => {
  rejected(
    t,
    one('a.yaml', imageConfig(`    containerRuntimeSearchRegistries:\n    - "docker.io${PAYLOAD_ESCAPED}"\n`)),
    'a.yaml',
    /Invalid unqualified-search-registries entry/,
    8,
  );
  rejected(t, one('b.yaml', imageConfig('    containerRuntimeSearchRegistries:\n    - http://docker.io\n')), 'b.yaml', /URI schemes are not supported/, 8);
});

t.test('YAML: a lone surrogate escape in a wildcard scope is refused with an error, not an exception', async (t) => {
  let r: PipelineResult | undefined;
  t.doesNotThrow(() => {
    r = one('a.yaml', imageConfig('    insecureRegistries:\n    - "*.x\\uD800"\n'));
  });
  if (r) rejected(t, r, 'a.yaml', /./, 8);
});

t.test('YAML: a billion-laughs alias bomb is refused quickly with an error naming the file and a line', async (t) => {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  const bomb = `apiVersion: config.openshift.io/v1\nkind: Image\nmetadata:\n  annotations:\n${lines.map((l) => `    ${l}`).join('\n')}\nspec: {}\n`;
  const { result: r, ms } = withCpuMs(() => one('lol.yaml', bomb));
  t.ok(ms < 2000, `took ${Math.round(ms)} ms of CPU`);
  rejected(t, r, 'lol.yaml', /invalid YAML: .*alias/i);
  // The same bomb as the whole document, with no OpenShift object around it.
  rejected(t, one('lol2.yaml', `${lines.join('\n')}\n`), 'lol2.yaml', /alias/i);
});

t.test('deeply nested TOML and YAML is refused with a located error, never a stack overflow', async (t) => {
  const n = 20000;
  rejected(t, one('a.toml', `credential-helpers = ${'['.repeat(n)}${']'.repeat(n)}\n`), 'a.toml', /invalid TOML: .*nested/, 1);
  rejected(t, one('b.toml', `x = ${'{a='.repeat(n)}1${'}'.repeat(n)}\n`), 'b.toml', /invalid TOML: .*nested/, 1);
  rejected(t, one('c.yaml', `apiVersion: config.openshift.io/v1\nkind: Image\nmetadata: ${'['.repeat(n)}${']'.repeat(n)}\n`), 'c.yaml', /invalid YAML/, 3);
});

t.test('YAML: a few ordinary anchors and aliases still work', async (t) => {
  const r = one(
    'a.yaml',
    `apiVersion: config.openshift.io/v1
kind: ImageDigestMirrorSet
spec:
  imageDigestMirrors:
  - source: a.io
    mirrors: &m [m.io/a]
  - source: b.io
    mirrors: *m
`,
  );
  accepted(t, r, ['a.io', 'b.io']);
});

t.test('YAML: duplicate keys, tabs, bad tags and a stray document are refused at their line', async (t) => {
  rejected(t, one('a.yaml', 'apiVersion: config.openshift.io/v1\nkind: Image\nkind: Image\n'), 'a.yaml', /Map keys must be unique/, 3);
  rejected(t, one('b.yaml', 'apiVersion: config.openshift.io/v1\nkind: Image\nspec:\n\tregistrySources: {}\n'), 'b.yaml', /Tabs are not allowed/, 4);
  rejected(t, one('c.yaml', idms('!!binary aGVsbG8=', '[m.io]')), 'c.yaml', /a !!binary value is not read here; write the text it encodes instead: "hello"/, 7);
  rejected(t, one('d.yaml', `${idms('a.io', '[m.io]')}---\nkind: Nope\n`), 'd.yaml', /unsupported kind "Nope"/, 10);
  rejected(t, one('e.yaml', '"just a scalar"\n'), 'e.yaml', /expected an OpenShift object/, 1);
});

t.test('error messages quote hostile values without raw line breaks (a printed diagnostic stays one line)', async (t) => {
  const r = one('a.yaml', idms('"quay.io\\na.yaml:1:1: all good"', '[m.io]'));
  for (const d of r.diagnostics) t.notMatch(formatDiagnostic(d), /\n/, formatDiagnostic(d));
});

// ---------------------------------------------------------------- file names

t.test('a fragment file name with newlines and a table header cannot add a table', async (t) => {
  const name = 'a\n[[registry]]\nlocation="x".toml';
  const r = one(name, 'blocked-registries = ["b.io"]\n');
  accepted(t, r, ['b.io']);
  const header = (r.text ?? '').split('\n\n')[0]?.split('\n') ?? [];
  t.equal(header.length, 4, 'the header keeps its four lines');
  t.ok(
    header.every((l) => l.startsWith('#')),
    'every header line is a comment',
  );
  t.equal(header[2], '# fragments: "a\\n[[registry]]\\nlocation=\\"x\\".toml"');
});

t.test('file names with CR, NEL, LS, control characters, quotes and # stay inside the header comment', async (t) => {
  const names = ['b\r[[registry]].toml', 'c\u0085\u2028\u2029x.yaml', 'd\u0000\u001b\u007f.toml', 'e"#]=.toml', 'f\'\'\'""".toml', 'g\\.toml', 'h\ufeff.toml'];
  const r = run(
    names.map((file) => ({ file, text: '' })),
    { file: '/etc/base\n[[registry]]\nlocation = "evil.com"', text: '' },
  );
  accepted(t, r, []);
  const header = (r.text ?? '').split('\n\n')[0]?.split('\n') ?? [];
  t.equal(header.length, 5, 'generated-by, note, fragments, base, digest');
  t.ok(
    header.every((l) => l.startsWith('#')),
    'every header line is a comment',
  );
  t.notMatch(r.text ?? '', /[\u0000-\u0009\u000b-\u001f\u007f]/, 'no raw control characters (TOML forbids them in comments)');
  t.equal(header[3], '# base: "base\\n[[registry]]\\nlocation = \\"evil.com\\""');
  t.equal(r.fragments.length, names.length);
});

t.test('a fragment file name with a lone surrogate is reported, not thrown', async (t) => {
  t.doesNotThrow(() => one('a\ud800.toml', ''));
});

t.test('diagnostics name a hostile file exactly as given', async (t) => {
  const name = 'x\n[[registry]].toml';
  rejected(t, one(name, 'short-name-mode = "nope"\n'), name, /invalid short-name mode/, 1);
});

// ---------------------------------------------------------------- BOMs

t.test('a UTF-8 BOM at the start of a TOML fragment, a YAML fragment or the base is ignored', async (t) => {
  const toml = '[[mirror-set]]\nsource = "a.io"\nmirrors = ["m.io"]\n';
  const yaml = idms('b.io', '[m.io/b]');
  const base = 'unqualified-search-registries = ["docker.io"]\n';
  const plain = run(
    [
      { file: 'a.toml', text: toml },
      { file: 'b.yaml', text: yaml },
    ],
    { file: 'base.conf', text: base },
  );
  const bom = run(
    [
      { file: 'a.toml', text: `\ufeff${toml}` },
      { file: 'b.yaml', text: `\ufeff${yaml}` },
    ],
    { file: 'base.conf', text: `\ufeff${base}` },
  );
  accepted(t, bom, ['a.io', 'b.io']);
  t.equal(bom.text, plain.text, 'same bytes as without BOMs');
  t.notMatch(bom.text ?? '', /\ufeff/, 'no BOM in the output');
});

t.test('a BOM after the first line of a TOML file is a syntax error at its line', async (t) => {
  rejected(t, one('a.toml', 'blocked-registries = ["x.io"]\n\ufeff\n'), 'a.toml', /invalid TOML/, 2);
});

t.test('a BOM inside a string value is kept as a character, not taken for a BOM', async (t) => {
  rejected(t, one('a.toml', '[aliases]\n"\ufeffx" = "a.io/x"\n'), 'a.toml', /invalid short name "\ufeffx"/, 2);
  rejected(t, one('a.toml', '\ncredential-helpers = ["\ufeffhelper"]\n'), 'a.toml', /invalid credential helper "\ufeffhelper"/, 2);
});

// ---------------------------------------------------------------- the base file

t.test("unknown keys of the host's base file never reach the output", async (t) => {
  const base =
    '[[registry]]\nlocation = "a.io"\n[[registry.mirror]]\nlocation = "m.io"\nunqualified-search-registries = ["evil.com"]\nevil = "x"\n[evil-table]\nx = 1\n';
  const r = run([], { file: 'base.conf', text: base });
  const { top } = accepted(t, r, ['a.io']);
  t.equal(top['unqualified-search-registries'], undefined, 'a key after [[registry.mirror]] stays a (dropped) mirror key');
  t.ok(
    r.diagnostics.some((d) => d.severity === 'warning' && /unknown key "evil"/.test(d.message) && d.line === 6),
    'the unknown key is warned about at its line',
  );
});
