// The OpenShift rendering vectors V1–V16 of docs/registries-semantics.md §3.4, run through the
// whole pure pipeline (parse → merge → validate → render → parse back) from fixture files under
// test/fixtures/vectors/VNN-name/<variant>/, plus order independence, determinism and the one
// intentional deviation from runtime-utils (most specific mirrored scope wins).
//
// Expected outcomes use the doc's notation, one string per [[registry]] table, in file order:
//   location | prefix=…   (B) blocked, (I) insecure, (B,I) both
//   → mirror[d] digest-only, mirror[t] tag-only, mirror (no pull-from-mirror), mirror[d](I) insecure mirror
import t, { type Test } from 'tap';
import { shuffled } from '../helpers/shuffle.js';
import { readdirSync, readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import { formatDiagnostic, formatLocation, type Diagnostic } from '../../src/core/diagnostic.js';
import { mergePolicies } from '../../src/merge/merge.js';
import { buildRegistriesConf, type PipelineResult, type SourceText } from '../../src/pipeline/strict.js';
import type { Fragment, MirrorSet } from '../../src/fragments/policy.js';
import type { Endpoint, RegistriesConf, RegistryTable } from '../../src/registries-conf/model.js';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';
import { renderBody } from '../../src/registries-conf/render.js';
import { registryScope } from '../../src/registries-conf/model.js';
import { scopeIsNestedInsideScope } from '../../src/reference/scope.js';
import fc from 'fast-check';
import { repoPath } from '../helpers/repo.js';

const VECTORS = repoPath('test/fixtures/vectors/');

/** The MCO template (templates/*\/01-*-container-runtime/_base/files/container-registries.yaml). */
const BASE: SourceText = {
  file: '/etc/containers/registries.conf.template',
  text: "unqualified-search-registries = ['registry.access.redhat.com', 'docker.io']\n",
};
const SEARCH = ['registry.access.redhat.com', 'docker.io'];

// ------------------------------------------------------------------ notation ----

const MODE_ABBREV: Readonly<Record<string, string>> = { 'digest-only': 'd', 'tag-only': 't', all: 'all' };

function mirrorNotation(m: Endpoint): string {
  const mode = m.pullFromMirror === undefined ? '' : `[${MODE_ABBREV[m.pullFromMirror] ?? m.pullFromMirror}]`;
  return `${m.location}${mode}${m.insecure ? '(I)' : ''}`;
}

function tableNotation(r: RegistryTable): string {
  let name = r.location;
  if (r.prefix && r.prefix !== r.location) name = r.location ? `prefix=${r.prefix} location=${r.location}` : `prefix=${r.prefix}`;
  const flags = [r.blocked ? 'B' : '', r.insecure ? 'I' : ''].filter((f) => f !== '');
  let s = name + (flags.length > 0 ? ` (${flags.join(',')})` : '');
  if (r.mirrorByDigestOnly) s += ' mirror-by-digest-only';
  if (r.mirrors.length > 0) s += ` → ${r.mirrors.map(mirrorNotation).join(', ')}`;
  return s;
}

function notation(conf: RegistriesConf | undefined): string[] {
  return (conf?.registries ?? []).map(tableNotation);
}

/** ICSP/IDMS rows become ITMS rows: every digest-only mirror is tag-only instead. */
const asTag = (lines: readonly string[]): string[] => lines.map((l) => l.replaceAll('[d]', '[t]'));

// ------------------------------------------------------------------ fixtures ----

function loadVariant(dir: string): SourceText[] {
  const abs = `${VECTORS}${dir}/`;
  return readdirSync(abs)
    .sort()
    .map((file) => ({ file, text: readFileSync(abs + file, 'utf8') }));
}

function fixtureText(dir: string, file: string): string {
  return readFileSync(`${VECTORS}${dir}/${file}`, 'utf8');
}

/** 1-based line and column of the first occurrence of `needle` in `text`, as the parsers report them. */
function position(text: string, needle: string, after?: string): { line: number; col: number } {
  const from = after === undefined ? 0 : text.indexOf(after);
  if (from < 0) throw new Error(`fixture lacks ${JSON.stringify(after)}`);
  const at = text.indexOf(needle, from);
  if (at < 0) throw new Error(`fixture lacks ${JSON.stringify(needle)}`);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return { line, col: at - before.lastIndexOf('\n') };
}

/** Builds with the MCO template as base, or with no base at all when `base` is null. */
function build(fragments: readonly SourceText[], base: SourceText | null = BASE): PipelineResult {
  return buildRegistriesConf({ ...(base ? { base } : {}), fragments });
}

const errorsOf = (ds: readonly Diagnostic[]): string[] => ds.filter((d) => d.severity === 'error').map(formatDiagnostic);
const warningsOf = (ds: readonly Diagnostic[]): string[] => ds.filter((d) => d.severity === 'warning').map(formatDiagnostic);

/** The rendered file below its header (the header names the fragment files, the body must not depend on them). */
function bodyOf(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const i = text.indexOf('\n\n');
  return i < 0 ? '' : text.slice(i + 2);
}

/** Asserts a clean build with the expected tables, the template's search list, and a text that parses back to the same tables. */
function assertRendered(t: Test, result: PipelineResult, expected: readonly string[], warnings: readonly RegExp[] = []): void {
  t.strictSame(errorsOf(result.diagnostics), [], 'no errors');
  const said = warningsOf(result.diagnostics);
  t.equal(said.length, warnings.length, warnings.length === 0 ? 'no warnings' : `${warnings.length} warnings`);
  warnings.forEach((w, i) => t.match(said[i], w, `warning ${i + 1}`));
  t.strictSame(notation(result.conf), expected, 'registries in order');
  t.strictSame(result.conf?.unqualifiedSearchRegistries, SEARCH, 'search registries of the template untouched');
  if (!t.type(result.text, 'string', 'text rendered')) return;
  const text = result.text as string;
  const back = parseRegistriesConf(text, 'registries.conf');
  t.strictSame(back.diagnostics.map(formatDiagnostic), [], 'rendered text parses back cleanly');
  t.strictSame(notation(back.conf), expected, 'rendered text parses back to the same registries');
  t.strictSame(back.conf?.unqualifiedSearchRegistries, SEARCH, 'rendered text keeps the search registries');
  if (back.conf) t.equal(renderBody(back.conf), bodyOf(text), 're-rendering the parsed text gives the same body bytes');
  const firstTable = text.indexOf('[[registry]]');
  if (firstTable >= 0) t.ok(text.indexOf('unqualified-search-registries') < firstTable, 'top-level keys come before the first [[registry]]');
}

// ------------------------------------------------------------------ vectors ----

interface Row {
  readonly name: string;
  /** test/fixtures/vectors/<dir>/ holds the fragment files of this row. */
  readonly dir: string;
  readonly expected: readonly string[];
  /** Our own warnings (runtime-utils has none), in order. */
  readonly warnings?: readonly RegExp[];
}

const KINDS = [
  { kind: 'icsp', label: 'ICSP' },
  { kind: 'idms', label: 'IDMS' },
  { kind: 'itms', label: 'ITMS' },
] as const;

/** A vector that holds for all three kinds: the ITMS row expects [t] where ICSP and IDMS give [d]. */
function allKinds(vector: string, what: string, expected: readonly string[], kinds: ReadonlyArray<(typeof KINDS)[number]> = KINDS): Row[] {
  return kinds.map(({ kind, label }) => ({
    name: `${vector.slice(0, 3)} ${label}: ${what}`,
    dir: `${vector}/${kind}`,
    expected: kind === 'itms' ? asTag(expected) : expected,
  }));
}

const V8_TABLES = [
  'blocked.com/ns-b/ns2-b (B) → other.com/ns-o2[d], insecure.com/ns-i2[d](I)',
  'insecure.com/ns-i1 (I) → blocked.com/ns-b1[d], other.com/ns-o1[d]',
  'other.com/ns-o3 → insecure.com/ns-i2[d](I), blocked.com/ns-b/ns3-b[d], foo.insecure-example.com/bar[d](I)',
  'blocked.com (B)',
  'prefix=*.blocked.insecure-example.com (B,I)',
  'prefix=*.blocked-example.com (B)',
  'insecure.com (I)',
  'prefix=*.insecure-example.com (I)',
  'prefix=*.insecure.blocked-example.com (B,I)',
];

/** V8's two mirrors under blocked.com: containers/image refuses every pull from them (runtime-utils renders them silently). */
const V8_BLOCKED_MIRRORS = [
  /warning: mirror "blocked\.com\/ns-b1" of "insecure\.com\/ns-i1" is under blocked "blocked\.com" \(.*\): containers\/image refuses every pull from it/,
  /warning: mirror "blocked\.com\/ns-b\/ns3-b" of "other\.com\/ns-o3" is under blocked "blocked\.com"/,
];

const V15_TABLES = [
  'primary.com/top → mirror.com/primary[d], mirror-tag.com/primary[t]',
  'primary.com/top/insecure/more-specific (I) → mirror.com/more-specific[d], mirror-tag.com/more-specific[t]',
  'primary.com/top/blocked (B) → mirror.com/primary/blocked[d], mirror-tag.com/primary/blocked[t]',
  'primary.com/top/insecure (I) → mirror.com/primary/insecure[d], mirror-tag.com/primary/insecure[t]',
];

const ROWS: readonly Row[] = [
  ...allKinds('V01-sets-sharing-an-element', 'two sets sharing an element merge to [z1, y2, x3]; sources sorted, .com before .net', [
    'source.example.com → z1.example.com[d], y2.example.com[d], x3.example.com[d]',
    'source.example.net → z1.example.net[d], y2.example.net[d], x3.example.net[d]',
  ]),
  ...allKinds('V02-disjoint-sets', 'disjoint sets of one source are ordered alphabetically', [
    'source.vendor.com → local-mirror.example.com[d], registry2.vendor.com[d]',
  ]),
  ...allKinds('V03-conflicting-order', 'conflicting orders (a cycle) are broken at the first mirror in byte order', [
    'source.vendor2.com → local-mirror2.example.com[d], registry1.vendor2.com[d], registry2.vendor2.com[d]',
  ]),
  ...allKinds('V04-source-inside-a-set', 'the source listed inside the sets is kept as a mirror because it does not come out last', [
    'source.example.com → z1.example.com[d], source.example.com[d], y2.example.com[d], x3.example.com[d]',
  ]),
  ...allKinds('V05-no-real-mirrors', 'sets [S], [S, S, S] (ICSP only: IDMS and ITMS refuse a repeat), empty, absent and null mirrors give no table at all', []),
  ...allKinds('V05-no-real-mirrors', 'NeverContactSource on a mirror-less set is ignored with the set (no table, nothing blocked)', [], KINDS.slice(1)).map(
    (r) => ({
      ...r,
      dir: `${r.dir}-never`,
    }),
  ),
  ...allKinds(
    'V06-source-policy-disjoint-sources',
    'NeverContactSource blocks only its own source (.net), AllowContactingSource (.com) stays unblocked',
    ['source.example.com → z1.example.com[d], y2.example.com[d]', 'source.example.net (B) → z1.example.net[d], y2.example.net[d]'],
    KINDS.slice(1),
  ),
  ...[
    ['toml', 'native TOML fragment lists'],
    ['image-config', 'the cluster Image object (spec.registrySources)'],
  ].map(([variant, label]) => ({
    name: `V07 ${label}: insecure + blocked only: blocked tables first, common.com both, search list untouched although docker.io is blocked`,
    dir: `V07-insecure-and-blocked-only/${variant}`,
    expected: ['blocked.com (B)', 'common.com (B,I)', 'docker.io (B)', 'registry.access.redhat.com (I)', 'insecure.com (I)'],
  })),
  ...[
    ['icsp', 'ICSP'],
    ['idms', 'IDMS'],
  ].map(([variant, label]) => ({
    name: `V08 ${label}: wildcard insecure/blocked scopes propagate to nested tables and to mirrors (mirrors never get blocked)`,
    dir: `V08-wildcard-insecure-and-blocked/${variant}`,
    expected: V8_TABLES,
    warnings: V8_BLOCKED_MIRRORS,
  })),
  {
    name: 'V09 ITMS only: one table per source, each with one tag-only mirror',
    dir: 'V09-itms-only/itms',
    expected: ['registry-a.com → mirror-tag-1.registry-a.com[t]', 'registry-b.com → mirror-tag-1.registry-b.com[t]'],
  },
  {
    name: 'V10 IDMS + ITMS on the same sources: one table each, digest mirrors first, then tag mirrors',
    dir: 'V10-idms-and-itms-same-sources/idms+itms',
    expected: ['a', 'b'].map(
      (r) =>
        `registry-${r}.com → mirror-digest-1.registry-${r}.com[d], mirror-digest-2.registry-${r}.com[d], mirror-tag-1.registry-${r}.com[t], mirror-tag-2.registry-${r}.com[t]`,
    ),
  },
  {
    name: 'V11 ICSP + IDMS + ITMS on three sources: digest sources (sorted) before tag-only sources',
    dir: 'V11-icsp-idms-itms/all-three',
    expected: [
      'registry-a.com → mirror-icsp-1.registry-a.com[d]',
      'registry-b.com → mirror-digest-1.registry-b.com[d]',
      'registry-c.com → mirror-tag-1.registry-c.com[t]',
    ],
  },
  {
    name: 'V12 ICSP and IDMS sets of one source merge into one digest list, tag mirrors after it',
    dir: 'V12-icsp-and-idms-merged/all-three',
    expected: [
      ...['a', 'b'].map(
        (r) =>
          `registry-${r}.com → mirror-digest-1.registry-${r}.com[d], mirror-digest-2.registry-${r}.com[d], mirror-icsp-1.registry-${r}.com[d], mirror-tag-1.registry-${r}.com[t], mirror-tag-2.registry-${r}.com[t]`,
      ),
      'registry-c.com → mirror-icsp-1.registry-c.com[d], mirror-icsp-2.registry-c.com[d]',
    ],
  },
  {
    name: 'V13 (made valid for MCO) NeverContactSource on either the digest or the tag set blocks the one shared table',
    dir: 'V13-mirror-source-policy/mco-valid',
    expected: [
      'registry-a.com (B) → mirror-digest-1.registry-a.com[d], mirror-digest-2.registry-a.com[d]',
      'registry-b.com (B) → mirror-digest-1.registry-b.com[d], mirror-digest-2.registry-b.com[d], mirror-tag-1.registry-b.com[t], mirror-tag-2.registry-b.com[t]',
      'registry-c.com → mirror-digest-1.registry-c.com[d], mirror-digest-2.registry-c.com[d]',
    ],
  },
  {
    name: 'V14 one source in two IDMS entries and an ICSP: one insecure table, mirrors alphabetical (no constraints)',
    dir: 'V14-duplicate-source-across-objects/dupe',
    expected: [
      'insecure.com/ns-dupe-i1 (I) → other.com/ns-o1[d], other.com/ns-o2[d], other.com/ns-o3[d]',
      'insecure.com/ns-icsp-i1 (I) → other.com/ns-o1[d]',
      'insecure.com/ns-idms-i1 (I) → other.com/ns-o1[d]',
      'insecure.com (I)',
    ],
  },
  {
    name: 'V14 separate ns-icsp-* and ns-idms-* sources get their own tables, sorted (ns-icsp before ns-idms)',
    dir: 'V14-duplicate-source-across-objects/separate-sources',
    expected: [
      'blocked.com/ns-icsp-b/ns2-b (B) → other.com/ns-o2[d], insecure.com/ns-i2[d](I)',
      'blocked.com/ns-idms-b/ns2-b (B) → other.com/ns-o2[d], insecure.com/ns-i2[d](I)',
      'insecure.com/ns-icsp-i1 (I) → blocked.com/ns-b1[d], other.com/ns-o1[d]',
      'insecure.com/ns-idms-i1 (I) → blocked.com/ns-b1[d], other.com/ns-o1[d]',
      'other.com/ns-icsp-o3 → insecure.com/ns-i2[d](I), blocked.com/ns-b/ns3-b[d], foo.insecure-example.com/bar[d](I)',
      'other.com/ns-idms-o3 → insecure.com/ns-i2[d](I), blocked.com/ns-b/ns3-b[d], foo.insecure-example.com/bar[d](I)',
      ...V8_TABLES.slice(3),
    ],
    warnings: ['insecure.com/ns-icsp-i1', 'insecure.com/ns-idms-i1', 'other.com/ns-icsp-o3', 'other.com/ns-idms-o3'].map(
      (source) => new RegExp(`mirror "blocked\\.com/ns-b[^"]*" of "${source.replaceAll('.', '\\.')}" is under blocked "blocked\\.com"`),
    ),
  },
  {
    name: 'V15 IDMS + ITMS: mirror-less insecure/blocked scopes nested in a mirrored scope inherit its mirrors with the suffix; a scope with its own mirrors keeps them',
    dir: 'V15-nested-scopes/idms+itms',
    expected: V15_TABLES,
  },
  {
    name: 'V15 ICSP only: same as IDMS + ITMS without the tag mirrors',
    dir: 'V15-nested-scopes/icsp',
    expected: V15_TABLES.map((l) => l.replace(/, mirror-tag\.com\/[^,]*\[t\]/, '')),
  },
  {
    name: 'V16 suffix adjustment: [mirror-1.com, mirror-2.com/nested, example.com] (source last, so dropped) → nested scope gets mirror-1.com/subscope, mirror-2.com/nested/subscope',
    dir: 'V16-suffix-adjustment/source-last',
    expected: ['example.com → mirror-1.com[d], mirror-2.com/nested[d]', 'example.com/subscope (B) → mirror-1.com/subscope[d], mirror-2.com/nested/subscope[d]'],
  },
  {
    name: 'V16 suffix adjustment: a kept source among the mirrors gets the suffix too (example.com → example.com/subscope)',
    dir: 'V16-suffix-adjustment/source-kept',
    expected: [
      'example.com → mirror-1.com[d], example.com[d], mirror-2.com/nested[d]',
      'example.com/subscope (I) → mirror-1.com/subscope[d], example.com/subscope[d], mirror-2.com/nested/subscope[d]',
    ],
  },
];

t.test('vectors V1–V16 through buildRegistriesConf (base = the MCO template)', async (t) => {
  for (const row of ROWS) {
    t.test(row.name, async (t) => {
      assertRendered(t, build(loadVariant(row.dir)), row.expected, row.warnings);
    });
  }
});

t.test('V5: the no-mirror cases render the unchanged template', async (t) => {
  const template = build([]);
  for (const { kind } of KINDS) {
    const r = build(loadVariant(`V05-no-real-mirrors/${kind}`));
    t.equal(bodyOf(r.text), bodyOf(template.text), `${kind}: same body as with no fragments at all`);
  }
});

// ------------------------------------------------------------------ V13 conflict ----

t.test('V13 as in the upstream test (IDMS registry-b unset, ITMS registry-b NeverContactSource)', async (t) => {
  const dir = 'V13-mirror-source-policy/as-upstream-test';
  const idms = fixtureText(dir, '10-idms.yaml');
  const itms = fixtureText(dir, '20-itms.yaml');
  const never = position(itms, 'registry-b.com', '- source:');
  const allow = position(idms, 'registry-b.com', '- source: registry-b.com');

  t.test('the pipeline reports a conflict naming both fragments with line numbers, and renders nothing', async (t) => {
    const r = build(loadVariant(dir));
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    t.equal(errors.length, 1, 'exactly one error');
    const e = errors[0] as Diagnostic;
    t.match(e, { file: '20-itms.yaml', line: never.line, col: never.col }, 'at the NeverContactSource entry of the ITMS');
    t.match(e.message, /conflicting mirrorSourcePolicy for source "registry-b\.com"/);
    t.ok(
      e.message.includes(`10-idms.yaml:${allow.line}:${allow.col}`),
      `message names the other side ${`10-idms.yaml:${allow.line}:${allow.col}`}: ${e.message}`,
    );
    t.strictSame(e.related, [{ file: '10-idms.yaml', line: allow.line, col: allow.col }], 'related location is the IDMS entry');
    t.equal(r.text, undefined, 'no text');
  });

  t.test('the same conflict is found whatever the file names order', async (t) => {
    const r = build([
      { file: '90-itms.yaml', text: itms },
      { file: '05-idms.yaml', text: idms },
    ]);
    const files = r.diagnostics.filter((d) => d.severity === 'error').flatMap((d) => [formatLocation(d), ...(d.related ?? []).map(formatLocation)]);
    t.strictSame(files.sort(), [`05-idms.yaml:${allow.line}:${allow.col}`, `90-itms.yaml:${never.line}:${never.col}`]);
    t.equal(r.text, undefined);
  });

  t.test('mergePolicies on hand-built fragments renders what runtime-utils renders (doc output), plus the conflict diagnostic', async (t) => {
    const set = (file: string, source: string, mirrors: string[], mode: 'digest-only' | 'tag-only', never: boolean, line: number): MirrorSet => ({
      source,
      mirrors,
      mode,
      kind: mode === 'digest-only' ? 'ImageDigestMirrorSet' : 'ImageTagMirrorSet',
      origin: { file, line },
      ...(never ? { sourcePolicy: 'never' as const } : {}),
    });
    const frag = (file: string, mirrorSets: MirrorSet[]): Fragment => ({
      file,
      mirrorSets,
      insecure: [],
      blocked: [],
      conf: { registries: [] },
      confOrigins: {},
    });
    const d = (r: string, n: number): string => `mirror-digest-${n}.registry-${r}.com`;
    const tg = (r: string, n: number): string => `mirror-tag-${n}.registry-${r}.com`;
    const base: RegistriesConf = { unqualifiedSearchRegistries: SEARCH, registries: [] };
    const result = mergePolicies({
      base,
      fragments: [
        frag('10-idms.yaml', [
          set('10-idms.yaml', 'registry-a.com', [d('a', 1), d('a', 2)], 'digest-only', true, 1),
          set('10-idms.yaml', 'registry-b.com', [d('b', 1), d('b', 2)], 'digest-only', false, 2),
          set('10-idms.yaml', 'registry-c.com', [d('c', 1), d('c', 2)], 'digest-only', false, 3),
        ]),
        frag('20-itms.yaml', [set('20-itms.yaml', 'registry-b.com', [tg('b', 1), tg('b', 2)], 'tag-only', true, 7)]),
      ],
    });
    t.strictSame(notation(result.conf), [
      'registry-a.com (B) → mirror-digest-1.registry-a.com[d], mirror-digest-2.registry-a.com[d]',
      'registry-b.com (B) → mirror-digest-1.registry-b.com[d], mirror-digest-2.registry-b.com[d], mirror-tag-1.registry-b.com[t], mirror-tag-2.registry-b.com[t]',
      'registry-c.com → mirror-digest-1.registry-c.com[d], mirror-digest-2.registry-c.com[d]',
    ]);
    t.strictSame(
      result.diagnostics.map((x) => [x.severity, formatLocation(x), x.related?.map(formatLocation)]),
      [['error', '20-itms.yaml:7:1', ['10-idms.yaml:2:1']]],
    );
    t.strictSame(base.registries, [], 'the base passed in is not modified');
  });
});

// ------------------------------------------------------------------ V5 / V16 errors ----

t.test('V5: a NeverContactSource mirror-less set still conflicts with an allowing set of the same source (MCO counts it)', async (t) => {
  const never =
    'apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: never\nspec:\n  imageDigestMirrors:\n  - source: source.example.com\n    mirrorSourcePolicy: NeverContactSource\n';
  const allow =
    'apiVersion: config.openshift.io/v1\nkind: ImageTagMirrorSet\nmetadata:\n  name: allow\nspec:\n  imageTagMirrors:\n  - source: source.example.com\n    mirrors:\n    - z1.example.com\n';
  const r = build([
    { file: '10-never.yaml', text: never },
    { file: '20-allow.yaml', text: allow },
  ]);
  t.strictSame(
    r.diagnostics.filter((d) => d.severity === 'error').map((d) => [formatLocation(d), d.related?.map(formatLocation)]),
    [['10-never.yaml:7:13', ['20-allow.yaml:7:13']]],
  );
  t.equal(r.text, undefined);
});

t.test('deviation (V16 with a wildcard source): mirror-less scopes inside it inherit its mirrors with the suffix containers/image would append', async (t) => {
  // runtime-utils fails the whole render here ("internal error ... for a wildcard scope").
  // containers/image rewrites *.example.com by replacing the host name only, so the port and path stay.
  const r = build(loadVariant('V16-suffix-adjustment/wildcard-nested'));
  t.same(
    r.diagnostics.filter((d) => d.severity === 'error'),
    [],
  );
  const tables = Object.fromEntries((r.conf?.registries ?? []).map((x) => [x.prefix || x.location, x.mirrors.map((m) => m.location)]));
  t.same(tables['*.example.com'], ['mirror.com/example']);
  t.same(tables['*.nested.example.com'], ['mirror.com/example'], 'a nested wildcard keeps the mirrors as they are');
  t.same(tables['host.example.com/ns'], ['mirror.com/example/ns'], 'a nested host keeps its path, as the wildcard rewrite would');
});

// ------------------------------------------------------------------ deviation ----

t.test('intentional deviation (propagateMirrorsToNestedScopes): a mirror-less nested table inherits from the MOST specific mirrored scope', async (t) => {
  // runtime-utils walks mirror sets in source order and fills the first matching mirror-less table, so
  // quay.io/a/b/c would get quay.io/a's mirrors (m-a.example.com/a/b/c), unlike how containers/image routes
  // quay.io/a/b/c/x without that table (through quay.io/a/b, the longest prefix). We follow containers/image.
  const idms = [
    'apiVersion: config.openshift.io/v1',
    'kind: ImageDigestMirrorSet',
    'metadata:',
    '  name: nested',
    'spec:',
    '  imageDigestMirrors:',
    '  - source: quay.io/a',
    '    mirrors:',
    '    - m-a.example.com/a',
    '  - source: quay.io/a/b',
    '    mirrors:',
    '    - m-b.example.com/b',
    '',
  ].join('\n');
  const r = build([
    { file: '10-idms.yaml', text: idms },
    { file: '90-lists.toml', text: 'blocked-registries = ["quay.io/a/b/c"]\n' },
  ]);
  assertRendered(t, r, ['quay.io/a → m-a.example.com/a[d]', 'quay.io/a/b → m-b.example.com/b[d]', 'quay.io/a/b/c (B) → m-b.example.com/b/c[d]']);
});

// ------------------------------------------------------------------ order independence ----

type Obj = { kind: string; spec?: Record<string, unknown> } & Record<string, unknown>;
const LIST_KEYS = ['repositoryDigestMirrors', 'imageDigestMirrors', 'imageTagMirrors'];

/**
 * Re-packs the OpenShift objects of a variant: objects shuffled, the entries inside each object shuffled
 * (mirror lists themselves untouched: their order is the policy), objects spread over new files with new
 * names, or all put in one `kind: List`. TOML fragments (insecure/blocked lists) are kept as they are.
 */
function repack(files: readonly SourceText[], seed: number): SourceText[] {
  const objects: Obj[] = [];
  const kept: SourceText[] = [];
  for (const f of files) {
    if (!f.file.endsWith('.yaml')) {
      kept.push(f);
      continue;
    }
    const docs = parseAllDocuments(f.text);
    for (const doc of Array.isArray(docs) ? docs : []) objects.push(doc.toJS() as Obj);
  }
  const repacked = shuffled(objects, seed).map((o, i) => {
    const spec = { ...(o.spec ?? {}) };
    for (const key of LIST_KEYS) if (Array.isArray(spec[key])) spec[key] = shuffled(spec[key] as unknown[], seed * 31 + i);
    return { ...o, spec };
  });
  const prefix = ['zz', 'aa', 'mm', '00', 'policy-', 'Z'][seed % 6] as string;
  if (seed % 4 === 3) {
    return [...kept, { file: `${prefix}list.yml`, text: stringify({ apiVersion: 'v1', kind: 'List', items: repacked }) }];
  }
  const nfiles = 1 + (seed % Math.max(1, repacked.length));
  const buckets: Obj[][] = Array.from({ length: nfiles }, () => []);
  repacked.forEach((o, i) => buckets[(i * 7 + seed) % nfiles]?.push(o));
  return [
    ...kept,
    ...buckets
      .filter((b) => b.length > 0)
      .map((b, i) => ({ file: `${prefix}${String(nfiles - i).padStart(2, '0')}-objects.yaml`, text: b.map((o) => stringify(o)).join('---\n') })),
  ];
}

t.test('the result does not depend on object order, entry order, file split or file names (where OpenShift does not)', async (t) => {
  for (const row of ROWS) {
    const files = loadVariant(row.dir);
    if (files.filter((f) => f.file.endsWith('.yaml')).length === 0) continue;
    const reference = build(files);
    t.test(row.name, async (t) => {
      for (let seed = 1; seed <= 8; seed++) {
        const packed = repack(files, seed);
        const r = build(packed);
        const label = `seed ${seed}: ${packed.map((f) => f.file).join(', ')}`;
        t.strictSame(errorsOf(r.diagnostics), [], `${label}: no errors`);
        t.strictSame(notation(r.conf), row.expected, `${label}: same registries`);
        t.equal(bodyOf(r.text), bodyOf(reference.text), `${label}: same body bytes`);
      }
    });
  }
});

t.test('determinism: the same input gives the same bytes, whatever order the fragment list is given in', async (t) => {
  for (const row of ROWS) {
    const files = loadVariant(row.dir);
    const first = build(files);
    const again = build(files);
    const reversed = build([...files].reverse());
    t.equal(again.text, first.text, `${row.name}: same text twice`);
    t.equal(reversed.text, first.text, `${row.name}: same text with the fragment list reversed (merge order is file name order)`);
  }
});

t.test('without a base, the vectors render the same tables and no search registries', async (t) => {
  const r = build(loadVariant('V08-wildcard-insecure-and-blocked/idms'), null);
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(notation(r.conf), V8_TABLES);
  t.equal(r.conf?.unqualifiedSearchRegistries, undefined);
  t.notMatch(r.text ?? '', /unqualified-search-registries/);
});

t.test('where OpenShift does depend on order: insecure/blocked tables follow list order, lists of several fragments joined in file-name order', async (t) => {
  const b = 'blocked-registries = ["b.example.com"]\ninsecure-registries = ["y.example.com"]\n';
  const a = 'blocked-registries = ["a.example.com"]\ninsecure-registries = ["x.example.com"]\n';
  const one = build([
    { file: '10-b.toml', text: b },
    { file: '20-a.toml', text: a },
  ]);
  assertRendered(t, one, ['b.example.com (B)', 'a.example.com (B)', 'y.example.com (I)', 'x.example.com (I)']);
  const other = build([
    { file: '10-b.toml', text: b },
    { file: '05-a.toml', text: a },
  ]);
  assertRendered(t, other, ['a.example.com (B)', 'b.example.com (B)', 'x.example.com (I)', 'y.example.com (I)']);
});

// ------------------------------------------------------------------ error locations ----

t.test('an invalid mirror merged in from a later fragment is reported at that mirror, in the file that lists it', async (t) => {
  const idms = (name: string, mirror: string): string =>
    [
      'apiVersion: config.openshift.io/v1',
      'kind: ImageDigestMirrorSet',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      '  imageDigestMirrors:',
      '  - source: quay.io/ns',
      '    mirrors:',
      `    - ${mirror}`,
      '',
    ].join('\n');
  // "localmirror" passes MCO's mirror regex, but quay.io/ns/x rewritten to localmirror/x is not canonical (docker.io/localmirror/x).
  const good = { file: '10-a.yaml', text: idms('a', 'good.example.com/ns') };
  const bad = { file: '20-b.yaml', text: idms('b', 'localmirror') };
  const r = build([good, bad]);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  t.equal(errors.length, 1, 'one error');
  t.match(errors[0]?.message, /"localmirror" cannot serve images of "quay\.io\/ns"/);
  t.equal(errors[0]?.file, '20-b.yaml', 'located in the file that lists the mirror');
  t.equal(errors[0]?.line, 9, 'at the mirror line');
  t.equal(errors[0]?.col, 7);
});

t.test(
  'insecure, blocked and inherited mirrors are what scopeIsNestedInsideScope says, scope by scope (the lookup agrees with comparing every pair)',
  async (t) => {
    // Small alphabets: nesting by path, by wildcard, equal-length ties between a host and a wildcard.
    const scope = fc.constantFrom('a.com', 'b.a.com', 'b.a.com/x', 'b.a.com/x/y', 'c.com', 'c.com/x', 'c.a.com:5000/x', '*.a.com', '*.com', 'm1.io', 'm1.io/p');
    const source = fc.constantFrom('a.com', 'b.a.com', 'b.a.com/x', 'c.com', '*.a.com', '*.com');
    const mirror = fc.constantFrom('m1.io/p', 'm1.io/p/q', 'm2.io', 'm3.io/r');
    const set = fc.record({ source, mirrors: fc.uniqueArray(mirror, { minLength: 1, maxLength: 3 }) });
    const at = { file: '10-f.toml', line: 1 };
    fc.assert(
      fc.property(
        fc.array(set, { maxLength: 4 }),
        fc.uniqueArray(scope, { maxLength: 5 }),
        fc.uniqueArray(scope, { maxLength: 3 }),
        (sets, insecure, blocked) => {
          const fragment: Fragment = {
            file: '10-f.toml',
            mirrorSets: sets.map((s) => ({ ...s, mode: 'all', kind: 'mirror-set', origin: at })),
            insecure: insecure.map((value) => ({ value, origin: at })),
            blocked: blocked.map((value) => ({ value, origin: at })),
            conf: { registries: [] },
            confOrigins: {},
          };
          const { conf } = mergePolicies({ fragments: [fragment] });
          const nestedIn = (scopes: readonly string[], sub: string): boolean => scopes.some((sup) => scopeIsNestedInsideScope(sub, sup));
          const mirrored: string[] = [...new Set(sets.map((s) => s.source))];
          const own = new Map(conf.registries.filter((x) => mirrored.includes(registryScope(x))).map((x) => [registryScope(x), x.mirrors]));
          for (const x of conf.registries) {
            const sc = registryScope(x);
            if (Boolean(x.insecure) !== nestedIn(insecure, sc)) return false;
            if (Boolean(x.blocked) !== nestedIn(blocked, sc)) return false;
            if (own.has(sc)) {
              if (!x.mirrors.every((m) => Boolean(m.insecure) === nestedIn(insecure, m.location))) return false;
              continue;
            }
            // The most specific mirrored scope around it (equal lengths: byte order of sources, the merge's order).
            const around = mirrored.filter((s) => s !== sc && scopeIsNestedInsideScope(sc, s)).sort((a, b) => b.length - a.length || (a < b ? -1 : 1))[0];
            const suffix =
              around === undefined
                ? ''
                : around.startsWith('*.')
                  ? sc.startsWith('*.') || sc.search(/[:/]/) < 0
                    ? ''
                    : sc.slice(sc.search(/[:/]/))
                  : sc.slice(around.length);
            // A port can follow only a bare host: a mirror with a path or port is not carried into a scope with a port.
            const carried = (own.get(around ?? '') ?? []).filter((m) => !suffix.startsWith(':') || !/[:/]/.test(m.location));
            const expected = carried.map((m) => ({ ...m, location: m.location + suffix }));
            if (JSON.stringify(x.mirrors) !== JSON.stringify(expected)) return false;
          }
          return true;
        },
      ),
      { numRuns: 3000 },
    );
    t.pass('checked');
  },
);
