// MCO's validation of mirror policies (docs/registries-semantics.md §3.5) through the whole pure
// pipeline: every problem must stop the render and be reported at FILE:LINE:COL of the fragment
// that causes it (and, for conflicts, name the other side too).
import t, { type Test } from 'tap';
import { findSourcePolicyConflicts } from '../../src/merge/conflicts.js';
import { formatLocation, type Diagnostic } from '../../src/core/diagnostic.js';
import { buildRegistriesConf, type PipelineResult, type SourceText } from '../../src/pipeline/strict.js';
import type { MirrorSet } from '../../src/fragments/policy.js';

const BASE: SourceText = {
  file: '/etc/containers/registries.conf.template',
  text: "unqualified-search-registries = ['registry.access.redhat.com', 'docker.io']\n",
};

function build(...fragments: SourceText[]): PipelineResult {
  return buildRegistriesConf({ base: BASE, fragments });
}

type Entry = { source: string; mirrors?: string[]; policy?: string };

/** YAML quoting for fixture values: leading `*` (an alias), spaces and empty strings must be quoted. */
const q = (s: string): string => (/^[a-z0-9]/i.test(s) && !/\s$/.test(s) ? s : JSON.stringify(s));

function object(kind: 'ImageContentSourcePolicy' | 'ImageDigestMirrorSet' | 'ImageTagMirrorSet', name: string, entries: Entry[]): string {
  const api = kind === 'ImageContentSourcePolicy' ? 'operator.openshift.io/v1alpha1' : 'config.openshift.io/v1';
  const key = { ImageContentSourcePolicy: 'repositoryDigestMirrors', ImageDigestMirrorSet: 'imageDigestMirrors', ImageTagMirrorSet: 'imageTagMirrors' }[kind];
  const lines = [`apiVersion: ${api}`, `kind: ${kind}`, 'metadata:', `  name: ${name}`, 'spec:', `  ${key}:`];
  for (const e of entries) {
    lines.push(`  - source: ${q(e.source)}`);
    if (e.mirrors) {
      lines.push('    mirrors:');
      for (const m of e.mirrors) lines.push(`    - ${q(m)}`);
    }
    if (e.policy) lines.push(`    mirrorSourcePolicy: ${e.policy}`);
  }
  return `${lines.join('\n')}\n`;
}
const icsp = (name: string, ...entries: Entry[]): string => object('ImageContentSourcePolicy', name, entries);
const idms = (name: string, ...entries: Entry[]): string => object('ImageDigestMirrorSet', name, entries);
const itms = (name: string, ...entries: Entry[]): string => object('ImageTagMirrorSet', name, entries);

/** `file:line:col` of the n-th (0-based) occurrence of `needle` in `text`: where the parsers point. */
function at(file: string, text: string, needle: string, nth = 0): string {
  let i = -1;
  for (let k = 0; k <= nth; k++) {
    i = text.indexOf(needle, i + 1);
    if (i < 0) throw new Error(`${file} lacks occurrence ${nth} of ${JSON.stringify(needle)}`);
  }
  const before = text.slice(0, i);
  return `${file}:${before.split('\n').length}:${i - before.lastIndexOf('\n')}`;
}

const errors = (r: PipelineResult): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'error');

/** The errors as [file:line:col, message] pairs. */
const located = (r: PipelineResult): Array<[string, string]> => errors(r).map((d) => [formatLocation(d), d.message]);

function assertRefused(t: Test, r: PipelineResult): void {
  t.ok(errors(r).length > 0, 'refused with errors');
  t.equal(r.text, undefined, 'nothing rendered');
}

// ------------------------------------------------------------------ mirrorSourcePolicy conflicts ----

t.test('conflicting mirrorSourcePolicy for the same source', async (t) => {
  t.test('IDMS NeverContactSource vs IDMS without policy in another file: error at the Never entry, naming the other file:line:col', async (t) => {
    const a = {
      file: '10-release.yaml',
      text: idms('release', { source: 'quay.io/ocp/release', mirrors: ['mirror.example.com/ocp/release'], policy: 'NeverContactSource' }),
    };
    const b = { file: '20-oc-mirror.yaml', text: idms('oc-mirror', { source: 'quay.io/ocp/release', mirrors: ['other-mirror.example.com/ocp/release'] }) };
    const r = build(a, b);
    assertRefused(t, r);
    const never = at(a.file, a.text, 'quay.io/ocp/release');
    const allow = at(b.file, b.text, 'quay.io/ocp/release');
    t.equal(errors(r).length, 1, 'one error');
    const e = errors(r)[0] as Diagnostic;
    t.equal(formatLocation(e), never, 'located at the NeverContactSource entry');
    t.match(
      e.message,
      /^conflicting mirrorSourcePolicy for source "quay\.io\/ocp\/release": NeverContactSource here \(ImageDigestMirrorSet\), AllowContactingSource \(unset\) in /,
    );
    t.ok(e.message.includes(allow), `message names ${allow}`);
    t.strictSame(e.related?.map(formatLocation), [allow], 'related = the allowing entry');
  });

  t.test('the conflict is reported whichever file sorts first (Never in the later file)', async (t) => {
    const a = { file: '10-allow.yaml', text: idms('allow', { source: 'quay.io/ocp/release', mirrors: ['m1.example.com/r'] }) };
    const b = { file: '20-never.yaml', text: idms('never', { source: 'quay.io/ocp/release', mirrors: ['m2.example.com/r'], policy: 'NeverContactSource' }) };
    const r = build(b, a);
    assertRefused(t, r);
    t.strictSame(
      errors(r).map((d) => [formatLocation(d), d.related?.map(formatLocation)]),
      [[at(b.file, b.text, 'quay.io/ocp/release'), [at(a.file, a.text, 'quay.io/ocp/release')]]],
    );
  });

  t.test('explicit AllowContactingSource vs NeverContactSource (ITMS vs IDMS): message does not say "unset"', async (t) => {
    const a = { file: 'a.yaml', text: idms('a', { source: 'registry.example.com', mirrors: ['m.example.com'], policy: 'AllowContactingSource' }) };
    const b = { file: 'b.yaml', text: itms('b', { source: 'registry.example.com', mirrors: ['t.example.com'], policy: 'NeverContactSource' }) };
    const r = build(a, b);
    assertRefused(t, r);
    t.strictSame(located(r), [
      [
        at(b.file, b.text, 'registry.example.com'),
        `conflicting mirrorSourcePolicy for source "registry.example.com": NeverContactSource here (ImageTagMirrorSet), AllowContactingSource in ${at(a.file, a.text, 'registry.example.com')} (ImageDigestMirrorSet)`,
      ],
    ]);
  });

  t.test('an ICSP entry (always AllowContactingSource) forbids NeverContactSource on its source anywhere', async (t) => {
    const a = { file: '10-icsp.yaml', text: icsp('legacy', { source: 'registry.example.com/team', mirrors: ['m.example.com/team'] }) };
    const b = {
      file: '20-idms.yaml',
      text: idms('new', { source: 'registry.example.com/team', mirrors: ['m.example.com/team'], policy: 'NeverContactSource' }),
    };
    const r = build(a, b);
    assertRefused(t, r);
    t.strictSame(
      located(r).map(([loc]) => loc),
      [at(b.file, b.text, 'registry.example.com/team')],
    );
    t.match(errors(r)[0]?.message, /AllowContactingSource \(unset\) in 10-icsp\.yaml:\d+:\d+ \(ImageContentSourcePolicy\)/);
  });

  t.test('V13: IDMS registry-b without policy, ITMS registry-b NeverContactSource (digest and tag sets are checked together)', async (t) => {
    const a = {
      file: '10-idms.yaml',
      text: idms(
        'digest',
        { source: 'registry-a.com', mirrors: ['mirror-digest-1.registry-a.com'], policy: 'NeverContactSource' },
        { source: 'registry-b.com', mirrors: ['mirror-digest-1.registry-b.com'] },
      ),
    };
    const b = { file: '20-itms.yaml', text: itms('tag', { source: 'registry-b.com', mirrors: ['mirror-tag-1.registry-b.com'], policy: 'NeverContactSource' }) };
    const r = build(a, b);
    assertRefused(t, r);
    t.strictSame(
      errors(r).map((d) => [formatLocation(d), d.related?.map(formatLocation)]),
      [[at(b.file, b.text, 'registry-b.com'), [at(a.file, a.text, 'registry-b.com')]]],
      'only registry-b conflicts; registry-a is Never everywhere',
    );
  });

  t.test('a mirror-less set counts too: an empty NeverContactSource set conflicts with an allowing set', async (t) => {
    const a = { file: '10-a.yaml', text: idms('a', { source: 'registry.example.com', mirrors: [], policy: 'NeverContactSource' }) };
    const b = { file: '20-b.yaml', text: icsp('b', { source: 'registry.example.com', mirrors: ['m.example.com'] }) };
    const r = build(a, b);
    assertRefused(t, r);
    t.strictSame(
      located(r).map(([loc]) => loc),
      [at(a.file, a.text, 'registry.example.com')],
    );
  });

  t.test('a mirror-less set without policy conflicts with a NeverContactSource set', async (t) => {
    const a = { file: '10-a.yaml', text: idms('a', { source: 'registry.example.com' }) };
    const b = { file: '20-b.yaml', text: idms('b', { source: 'registry.example.com', mirrors: ['m.example.com'], policy: 'NeverContactSource' }) };
    const r = build(a, b);
    assertRefused(t, r);
    t.strictSame(
      errors(r).map((d) => [formatLocation(d), d.related?.map(formatLocation)]),
      [[at(b.file, b.text, 'registry.example.com'), [at(a.file, a.text, 'registry.example.com')]]],
    );
  });

  t.test('two entries of one file: error at the Never entry, related at the other entry of the same file', async (t) => {
    const a = {
      file: 'mirrors.yaml',
      text: idms(
        'both',
        { source: 'quay.io/ns', mirrors: ['m1.example.com/ns'] },
        { source: 'quay.io/ns', mirrors: ['m2.example.com/ns'], policy: 'NeverContactSource' },
      ),
    };
    const r = build(a);
    assertRefused(t, r);
    t.strictSame(
      errors(r).map((d) => [formatLocation(d), d.related?.map(formatLocation)]),
      [[at(a.file, a.text, 'quay.io/ns', 1), [at(a.file, a.text, 'quay.io/ns', 0)]]],
    );
  });

  t.test('native TOML [[mirror-set]] source-policy = "never" vs an OpenShift IDMS: TOML line and column', async (t) => {
    const a = {
      file: '10-local.toml',
      text: [
        '# local policy',
        '[[mirror-set]]',
        'source = "quay.io/x"',
        'mirrors = ["a.example.com/x"]',
        '',
        '[[mirror-set]]',
        'source = "quay.io/x"',
        'source-policy = "never"',
        'mirrors = ["b.example.com/x"]',
        '',
      ].join('\n'),
    };
    const b = { file: '20-idms.yaml', text: idms('x', { source: 'quay.io/x', mirrors: ['c.example.com/x'] }) };
    const r = build(a, b);
    assertRefused(t, r);
    t.strictSame(
      errors(r).map((d) => [formatLocation(d), d.related?.map(formatLocation)]),
      [['10-local.toml:7:10', ['10-local.toml:3:10']]],
      'the second [[mirror-set]] conflicts with the first one (the first allowing set found)',
    );
  });

  t.test('one error per conflicting source', async (t) => {
    const a = {
      file: 'a.yaml',
      text: idms(
        'a',
        { source: 'one.example.com', mirrors: ['m.example.com/1'], policy: 'NeverContactSource' },
        { source: 'two.example.com', mirrors: ['m.example.com/2'], policy: 'NeverContactSource' },
      ),
    };
    const b = {
      file: 'b.yaml',
      text: idms(
        'b',
        { source: 'one.example.com', mirrors: ['n.example.com/1'] },
        { source: 'two.example.com', mirrors: ['n.example.com/2'] },
        { source: 'two.example.com', mirrors: ['o.example.com/2'] },
      ),
    };
    const r = build(a, b);
    assertRefused(t, r);
    t.strictSame(
      located(r).map(([loc]) => loc),
      [at(a.file, a.text, 'one.example.com'), at(a.file, a.text, 'two.example.com')],
    );
  });

  t.test('no conflict: NeverContactSource on every set of the source (across IDMS, ITMS and TOML)', async (t) => {
    const a = { file: 'a.yaml', text: idms('a', { source: 'quay.io/x', mirrors: ['d.example.com/x'], policy: 'NeverContactSource' }) };
    const b = { file: 'b.yaml', text: itms('b', { source: 'quay.io/x', mirrors: ['t.example.com/x'], policy: 'NeverContactSource' }) };
    const c = {
      file: 'c.toml',
      text: '[[mirror-set]]\nsource = "quay.io/x"\nsource-policy = "never"\npull-from-mirror = "all"\nmirrors = ["all.example.com/x"]\n',
    };
    const r = build(a, b, c);
    t.strictSame(errors(r), []);
    t.match(r.text, /location = "quay\.io\/x"\nblocked = true\n/);
  });

  t.test('no conflict: Never and Allow on different sources, even nested ones (MCO compares equal source strings)', async (t) => {
    const a = {
      file: 'a.yaml',
      text: idms('a', { source: 'quay.io', mirrors: ['m.example.com'], policy: 'NeverContactSource' }, { source: 'quay.io/ns', mirrors: ['n.example.com/ns'] }),
    };
    const r = build(a);
    t.strictSame(errors(r), []);
    t.type(r.text, 'string');
  });

  t.test('findSourcePolicyConflicts alone: unset and allow count the same, ICSP has no policy', async (t) => {
    const set = (source: string, kind: MirrorSet['kind'], policy?: 'allow' | 'never', line = 1): MirrorSet => ({
      source,
      mirrors: ['m.example.com'],
      mode: 'digest-only',
      kind,
      origin: { file: `${kind}.yaml`, line },
      sourcePolicy: policy,
    });
    t.strictSame(findSourcePolicyConflicts([set('s', 'ImageDigestMirrorSet', 'never'), set('s', 'ImageDigestMirrorSet', 'never', 2)]), [], 'never + never');
    t.strictSame(findSourcePolicyConflicts([set('s', 'ImageDigestMirrorSet', 'allow'), set('s', 'ImageContentSourcePolicy')]), [], 'allow + ICSP');
    t.equal(findSourcePolicyConflicts([set('s', 'ImageContentSourcePolicy'), set('s', 'ImageTagMirrorSet', 'never')]).length, 1, 'ICSP + never');
  });
});

// ------------------------------------------------------------------ NeverContactSource with the source among mirrors ----

t.test('NeverContactSource with the source among its own mirrors is refused', async (t) => {
  const message = 'cannot set mirrorSourcePolicy: NeverContactSource if the source "quay.io/ns" is one of the mirrors';
  t.test('IDMS', async (t) => {
    const a = { file: 'a.yaml', text: idms('a', { source: 'quay.io/ns', mirrors: ['m.example.com/ns', 'quay.io/ns'], policy: 'NeverContactSource' }) };
    const r = build(a);
    assertRefused(t, r);
    t.strictSame(located(r), [[at(a.file, a.text, 'quay.io/ns'), message]]);
  });
  t.test('ITMS, the source only (a set with no real mirror is still checked)', async (t) => {
    const a = { file: 'a.yaml', text: itms('a', { source: 'quay.io/ns', mirrors: ['quay.io/ns'], policy: 'NeverContactSource' }) };
    const r = build(a);
    assertRefused(t, r);
    t.strictSame(located(r), [[at(a.file, a.text, 'quay.io/ns'), message]]);
  });
  t.test('native TOML source-policy = "never"', async (t) => {
    const a = { file: 'a.toml', text: '[[mirror-set]]\nsource = "quay.io/ns"\nsource-policy = "never"\nmirrors = ["quay.io/ns", "m.example.com/ns"]\n' };
    const r = build(a);
    assertRefused(t, r);
    t.strictSame(located(r), [['a.toml:2:10', message]]);
  });
  t.test('allowed with AllowContactingSource or no policy (V4)', async (t) => {
    const a = { file: 'a.yaml', text: idms('a', { source: 'quay.io/ns', mirrors: ['m.example.com/ns', 'quay.io/ns'], policy: 'AllowContactingSource' }) };
    const r = build(a);
    t.strictSame(errors(r), []);
    t.type(r.text, 'string');
  });
});

// ------------------------------------------------------------------ source and mirror formats ----

t.test('invalid source formats (MCO sourceRegex), each at its own line', async (t) => {
  const rows: ReadonlyArray<[string, string]> = [
    ['empty source', ''],
    ['wildcard with a path', '*.insecure.com/ns-i1'],
    ['trailing space', 'quay.io/ns '],
    ['leading space', ' quay.io/ns'],
    ['uppercase path component', 'quay.io/NS'],
    ['a tag', 'quay.io/ns/repo:latest'],
    ['a digest', `quay.io/ns/repo@sha256:${'a'.repeat(64)}`],
    ['a trailing slash', 'quay.io/ns/'],
    ['a URI scheme', 'https://quay.io/ns'],
    ['a wildcard with a port', '*.example.com:5000'],
  ];
  for (const [what, source] of rows) {
    t.test(`${what}: ${JSON.stringify(source)} in an IDMS and in a TOML fragment`, async (t) => {
      const y = { file: 'a.yaml', text: idms('a', { source, mirrors: ['m.example.com/ns'] }) };
      const ry = build(y);
      assertRefused(t, ry);
      t.strictSame(located(ry), [
        [at(y.file, y.text, q(source), 0), `invalid format for source ${JSON.stringify(source)}: expected host[:port][/namespace...] or *.domain`],
      ]);

      const tm = { file: 'b.toml', text: `[[mirror-set]]\nsource = ${JSON.stringify(source)}\nmirrors = ["m.example.com/ns"]\n` };
      const rt = build(tm);
      assertRefused(t, rt);
      t.strictSame(
        located(rt).map(([loc]) => loc),
        ['b.toml:2:10'],
      );
    });
  }
});

t.test('invalid mirror formats (MCO mirrorRegex), each at its own line', async (t) => {
  const rows: ReadonlyArray<[string, string]> = [
    ['empty mirror', ''],
    ['wildcard with a path', '*.other.com/ns-o1'],
    ['plain wildcard (only sources may be wildcards)', '*.other.com'],
    ['trailing space', 'other.com/ns-o1 '],
    ['uppercase path component', 'other.com/NS'],
    ['a tag', 'other.com/ns:latest'],
  ];
  for (const [what, mirror] of rows) {
    t.test(`${what}: ${JSON.stringify(mirror)} in an ICSP and in a TOML fragment`, async (t) => {
      const y = { file: 'a.yaml', text: icsp('a', { source: 'registry.example.com/ns', mirrors: ['good.example.com/ns', mirror] }) };
      const ry = build(y);
      assertRefused(t, ry);
      const needle = `- ${q(mirror)}`;
      const loc = at(y.file, y.text, needle).replace(/:(\d+)$/, (_, c: string) => `:${Number(c) + 2}`);
      t.strictSame(located(ry), [
        [loc, `invalid format for mirror ${JSON.stringify(mirror)} of source "registry.example.com/ns": expected host[:port][/namespace...]`],
      ]);

      const tm = {
        file: 'b.toml',
        text: `[[mirror-set]]\nsource = "registry.example.com/ns"\nmirrors = [\n  "good.example.com/ns",\n  ${JSON.stringify(mirror)},\n]\n`,
      };
      const rt = build(tm);
      assertRefused(t, rt);
      t.strictSame(
        located(rt).map(([loc]) => loc),
        ['b.toml:5:3'],
      );
    });
  }
});

t.test('valid formats pass: host:port, uppercase host, nested path, wildcard source', async (t) => {
  const a = {
    file: 'a.yaml',
    text: idms(
      'a',
      { source: 'Registry.Example.com:5000/ns/sub_ns/repo-x', mirrors: ['mirror.example.com:443/a__b/c.d'] },
      { source: '*.example.org', mirrors: ['mirror.example.com/org'] },
    ),
  };
  const r = build(a);
  t.strictSame(errors(r), []);
  t.type(r.text, 'string');
});

t.test('several problems in one file are all reported, each at its own line', async (t) => {
  const a = {
    file: 'a.yaml',
    text: idms(
      'a',
      { source: '*.bad.com/ns', mirrors: ['ok.example.com'] },
      { source: 'ok.example.com/ns', mirrors: ['*.bad.com'] },
      { source: 'x.example.com', mirrors: ['x.example.com'], policy: 'NeverContactSource' },
    ),
  };
  const r = build(a);
  assertRefused(t, r);
  t.strictSame(
    located(r).map(([loc]) => loc),
    [at(a.file, a.text, '"*.bad.com/ns"'), at(a.file, a.text, '"*.bad.com"', 0), at(a.file, a.text, 'x.example.com')],
  );
});

// ------------------------------------------------------------------ insecure / blocked scopes ----

const INVALID_SCOPES = [
  '',
  '**.example.com',
  'example.*.com',
  '*.example.com/foo/bar',
  '*.example.com:foo',
  '*example.com',
  '*/example.com',
  '*.*example.com',
  '*.example.com/foo:sha@bar',
];

t.test('invalid insecure and blocked scopes (IsValidRegistriesConfScope, V18)', async (t) => {
  for (const scope of INVALID_SCOPES) {
    t.test(`${JSON.stringify(scope)} in insecure-registries and blocked-registries of a TOML fragment`, async (t) => {
      const text = `# lists\ninsecure-registries = ["ok.example.com", ${JSON.stringify(scope)}]\nblocked-registries = [\n  ${JSON.stringify(scope)},\n]\n`;
      const r = build({ file: '90-lists.toml', text });
      assertRefused(t, r);
      t.strictSame(located(r), [
        [`90-lists.toml:2:42`, `invalid entry for insecure registries ${JSON.stringify(scope)}: expected host[:port][/namespace...] or *.domain`],
        [`90-lists.toml:4:3`, `invalid entry for blocked registries ${JSON.stringify(scope)}: expected host[:port][/namespace...] or *.domain`],
      ]);
    });
    t.test(`${JSON.stringify(scope)} in the cluster Image object (registrySources)`, async (t) => {
      const text = [
        'apiVersion: config.openshift.io/v1',
        'kind: Image',
        'metadata:',
        '  name: cluster',
        'spec:',
        '  registrySources:',
        '    insecureRegistries:',
        '    - ok.example.com',
        `    - ${JSON.stringify(scope)}`,
        '    blockedRegistries:',
        `    - ${JSON.stringify(scope)}`,
        '',
      ].join('\n');
      const r = build({ file: 'cluster.yaml', text });
      assertRefused(t, r);
      t.strictSame(
        located(r).map(([loc]) => loc),
        ['cluster.yaml:9:7', 'cluster.yaml:11:7'],
      );
    });
  }
});

t.test('valid scopes: hosts, ports, namespaces and *.domain wildcards render', async (t) => {
  const r = build({
    file: 'lists.toml',
    text: 'insecure-registries = ["localhost:5000", "*.lab.example", "registry.example.com/ns"]\nblocked-registries = ["*.untrusted.example"]\n',
  });
  t.strictSame(errors(r), []);
  t.type(r.text, 'string');
});

t.test('a scope MCO accepts but containers/image could never use (trailing space) is caught by rewrite validation at its line', async (t) => {
  const r = build({ file: 'lists.toml', text: '\ninsecure-registries = ["quay.io "]\n' });
  assertRefused(t, r);
  t.ok(
    located(r).every(([loc]) => loc === 'lists.toml:2:24'),
    `all at lists.toml:2:24: ${JSON.stringify(located(r))}`,
  );
});

t.test('errors in one fragment keep every fragment from rendering (strict pipeline), the others still parsed', async (t) => {
  const good = { file: '10-good.yaml', text: idms('good', { source: 'quay.io/a', mirrors: ['m.example.com/a'] }) };
  const bad = { file: '20-bad.toml', text: 'blocked-registries = ["**.example.com"]\n' };
  const r = build(good, bad);
  assertRefused(t, r);
  t.strictSame(
    r.fragments.map((f) => f.file),
    ['10-good.yaml'],
    'the good fragment parsed',
  );
  t.strictSame(
    located(r).map(([loc]) => loc),
    ['20-bad.toml:1:23'],
  );
});

// ------------------------------------------------------------------ one object, two definitions ----

t.test('an object of the same kind and name defined twice: a warning at the later one naming the first (a cluster keeps one)', async (t) => {
  const a = { file: '10-catalog.yaml', text: idms('idms-operator-0', { source: 'quay.io/ocp/release', mirrors: ['old-mirror.example.com/ocp'] }) };
  const b = { file: '20-catalog-new.yaml', text: idms('idms-operator-0', { source: 'quay.io/ocp/release', mirrors: ['new-mirror.example.com/ocp'] }) };
  const other = { file: '30-tags.yaml', text: itms('idms-operator-0', { source: 'quay.io/ocp/release', mirrors: ['new-mirror.example.com/ocp'] }) };
  const r = build(a, b, other);
  t.same(errors(r), [], 'rendered: both apply on this host');
  t.ok(r.text?.includes('old-mirror.example.com/ocp') && r.text.includes('new-mirror.example.com/ocp'), 'both objects rendered');
  const repeated = r.diagnostics.filter((d) => d.message.includes('idms-operator-0'));
  t.same(
    repeated.map((d) => [formatLocation(d), d.severity]),
    [[at(b.file, b.text, 'idms-operator-0'), 'warning']],
    'one warning, at the later name; another kind of the same name is another object',
  );
  t.match(
    repeated[0]?.message,
    `ImageDigestMirrorSet "idms-operator-0" is also defined at ${at(a.file, a.text, 'idms-operator-0')}: a cluster keeps one object of a kind and name`,
  );

  const twoDocs = {
    file: '10-both.yaml',
    text: `${icsp('same', { source: 'a.example/x', mirrors: ['m.example/x'] })}---\n${icsp('same', { source: 'b.example/y', mirrors: ['m.example/y'] })}`,
  };
  const inOneFile = build(twoDocs).diagnostics.filter((d) => d.message.includes('"same"'));
  t.same(inOneFile.map(formatLocation), [at(twoDocs.file, twoDocs.text, 'same', 1)], 'within one file too');
});
