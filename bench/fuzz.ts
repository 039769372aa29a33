/**
 * Fuzzing fragments (fast-check), shared by test/fuzz/*.test.ts (a bounded count in CI) and
 * `npm run soak` (many more). Pure and in-process: the pipeline, not the daemon.
 *
 * Inputs, TOML and YAML alike:
 *  - random structures: known and hostile keys, values of every type where another is meant
 *    (tables for strings, numbers for lists...), deep nesting, huge strings;
 *  - random OpenShift objects: known and junk kinds and API versions, random specs, several
 *    documents or a List, shared sub-objects written as YAML anchors and aliases;
 *  - well-formed fragments whose strings are hostile (quotes, newlines, headers, control
 *    characters, unicode, BOMs) in every place a string goes;
 *  - raw junk text, and any of the above with a BOM, CRLF line ends or a hostile piece spliced in.
 *
 * Properties (checkCase):
 *  1. no exception escapes the pipeline;
 *  2. a rendered output parses with smol-toml, parses and validates as a registries.conf
 *     (parseRegistriesConf without errors), is recognised as ours (header digest), and
 *     renders again as the base of an empty policy;
 *  3. no string adds a table or key: the output's keys are all known keys, and its key sets
 *     (top level, each table, each mirror, aliases) are exactly those of the merged model;
 *     and (hostileStrings) a fragment whose strings are made hostile renders, when accepted,
 *     to exactly the same key sets as the same fragment with plain strings;
 *  4. every rejection names the file and a line ≥ 1.
 */
import fc from 'fast-check';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import YAML from 'yaml';
import { formatDiagnostic, type Diagnostic } from '../src/core/diagnostic.js';
import { classifyText } from '../src/output/managed-file.js';
import { buildRegistriesConf, type PipelineResult } from '../src/pipeline/strict.js';
import type { RegistriesConf } from '../src/registries-conf/model.js';
import { parseRegistriesConf, TOP_LEVEL_KEYS } from '../src/registries-conf/parse.js';

// ---------------------------------------------------------------- pieces

/** Strings that break naive writers and parsers. */
export const HOSTILE = [
  '"',
  '\\',
  '\n',
  '\r\n',
  '\r',
  '\u0000',
  '\u0001',
  '\u001b',
  '\u007f',
  '\b',
  '\f',
  '\t',
  ']',
  '[',
  '[[registry]]',
  '[aliases]',
  '[[registry.mirror]]',
  '\n[[registry]]\nlocation = "evil.com"\n',
  '"\nblocked = true\n#',
  '=',
  '#',
  "'",
  "'''",
  '"""',
  ' ',
  '\ufeff',
  '\u2028',
  '\u2029',
  '\u0085',
  '\u00a0',
  'é',
  '\u{1f600}',
  '\u202e',
  'location = "evil.com"',
  '\\u0041',
  '\\"',
  ',',
  '{',
  '}',
  ':',
  ': ',
  '- ',
  '&a',
  '*a',
  '!!str',
  '!!js/function',
  '---',
  '...',
  '%YAML 1.2',
  '? ',
  '|',
  '>',
  '@',
  '%',
];

const KNOWN_LOCATIONS = ['quay.io', 'docker.io/library', 'registry.example:5000/ns', 'mirror.example.net/m', 'm2.example.net', '*.example.com', 'localhost/x'];

const hostilePieces = fc.array(fc.constantFrom(...HOSTILE), { minLength: 1, maxLength: 4 }).map((a) => a.join(''));

/** Any hostile string: unicode, binary, hostile pieces alone or around a valid location, rarely huge. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', maxLength: 16 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }), weight: 2 },
  { arbitrary: hostilePieces, weight: 4 },
  { arbitrary: fc.tuple(fc.constantFrom(...KNOWN_LOCATIONS), hostilePieces, fc.boolean()).map(([l, h, before]) => (before ? h + l : l + h)), weight: 4 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom('x', '"', '\n', 'é', '\u{1f600}', '[[registry]]\n'), fc.integer({ min: 1000, max: 70_000 }))
      .map(([s, n]) => s.repeat(Math.ceil(n / s.length)).slice(0, n)),
    weight: 1,
  },
);

const TOML_KEYS = [
  'source',
  'mirrors',
  'pull-from-mirror',
  'source-policy',
  'insecure-registries',
  'blocked-registries',
  'mirror-set',
  'registry',
  'mirror',
  'prefix',
  'location',
  'insecure',
  'blocked',
  'mirror-by-digest-only',
  'unqualified-search-registries',
  'short-name-mode',
  'credential-helpers',
  'additional-layer-store-auth-helper',
  'aliases',
];
const YAML_KEYS = [
  'apiVersion',
  'kind',
  'metadata',
  'name',
  'spec',
  'status',
  'items',
  'repositoryDigestMirrors',
  'imageDigestMirrors',
  'imageTagMirrors',
  'registrySources',
  'insecureRegistries',
  'blockedRegistries',
  'allowedRegistries',
  'containerRuntimeSearchRegistries',
  'source',
  'mirrors',
  'mirrorSourcePolicy',
];
const ODD_KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  '',
  ' ',
  'a.b',
  '"',
  "'",
  '[x]',
  'registry]]\n[[x',
  'é',
  '\u{1f600}',
  'x\u0000y',
  'Source',
  'MIRRORS',
];

const key = (known: readonly string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.constantFrom(...known), weight: 10 },
    { arbitrary: fc.constantFrom(...ODD_KEYS), weight: 2 },
    { arbitrary: fc.string({ maxLength: 6 }), weight: 1 },
  );

const scalar: fc.Arbitrary<unknown> = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      ...KNOWN_LOCATIONS,
      'all',
      'digest-only',
      'tag-only',
      'never',
      'allow',
      'enforcing',
      'NeverContactSource',
      'AllowContactingSource',
    ),
    weight: 6,
  },
  { arbitrary: hostileString, weight: 4 },
  { arbitrary: fc.integer(), weight: 1 },
  { arbitrary: fc.double(), weight: 1 },
  { arbitrary: fc.boolean(), weight: 1 },
);

/** A random value tree with keys from `known`: wrong types anywhere, nesting to `depth`. */
function valueTree(known: readonly string[], depth: number): fc.Arbitrary<unknown> {
  const { tree } = fc.letrec<{ tree: unknown; node: unknown }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small', maxDepth: depth }, scalar, tie('node')),
    node: fc.oneof(fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(key(known), tie('tree'), { maxKeys: 5, noNullPrototype: true })),
  }));
  return tree;
}

/** A deeply nested value (hundreds to thousands of levels), as arrays or tables. */
const deep: fc.Arbitrary<{ depth: number; arrays: boolean }> = fc.record({ depth: fc.integer({ min: 50, max: 3000 }), arrays: fc.boolean() });

function deepToml(d: { depth: number; arrays: boolean }): string {
  return d.arrays ? `mirrors = ${'['.repeat(d.depth)}"x"${']'.repeat(d.depth)}\n` : `x = ${'{ a = '.repeat(d.depth)}1${' }'.repeat(d.depth)}\n`;
}

function deepYaml(d: { depth: number; arrays: boolean }): string {
  return `apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nspec:\n  imageDigestMirrors: ${d.arrays ? '['.repeat(d.depth) + ']'.repeat(d.depth) : '{a: '.repeat(d.depth) + '1' + '}'.repeat(d.depth)}\n`;
}

// ---------------------------------------------------------------- whole fragments

export interface FuzzCase {
  readonly kind: string;
  readonly file: string;
  readonly text: string;
}

/** smol-toml cannot write every value (a key of a table and a string at once, NaN in some places...): such trees are skipped. */
function tomlOf(v: unknown): string | undefined {
  try {
    return stringifyToml(v);
  } catch {
    return undefined;
  }
}

const tomlStructure = fc.dictionary(key(TOML_KEYS), valueTree(TOML_KEYS, 4), { minKeys: 1, maxKeys: 6, noNullPrototype: true });

/** Mostly a value of the right type for its key, sometimes any value tree (a wrong type, a nested table...). */
const mostlyRight = <T>(right: fc.Arbitrary<T>, known: readonly string[]): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: right, weight: 40 }, { arbitrary: valueTree(known, 2), weight: 1 });
const loc = fc.oneof({ arbitrary: fc.constantFrom(...KNOWN_LOCATIONS.filter((l) => !l.startsWith('*'))), weight: 40 }, { arbitrary: hostileString, weight: 1 });
const scopeString = fc.oneof(
  { arbitrary: fc.constantFrom(...KNOWN_LOCATIONS), weight: 30 },
  { arbitrary: hostileString.map((h) => `*.${h}`), weight: 4 },
  { arbitrary: hostileString, weight: 1 },
);
// Helper names are validated (validate.ts): mostly real ones, so that enough fragments are accepted.
const freeText = fc.oneof({ arbitrary: fc.constantFrom('containers-auth.json', 'pass', 'secretservice'), weight: 6 }, { arbitrary: hostileString, weight: 1 });
const locs = fc.array(loc, { maxLength: 3 });

/** Native-shaped TOML: the right keys, mostly with the right types, strings often hostile. */
const tomlShaped = fc
  .record({
    sets: fc.array(
      fc.record(
        {
          source: mostlyRight(loc, TOML_KEYS),
          mirrors: mostlyRight(locs, TOML_KEYS),
          'pull-from-mirror': mostlyRight(fc.constantFrom('all', 'digest-only', 'tag-only'), TOML_KEYS),
          'source-policy': mostlyRight(fc.constantFrom('allow', 'never'), TOML_KEYS),
        },
        { requiredKeys: ['source'] },
      ),
      { maxLength: 3 },
    ),
    registries: fc.array(
      fc.record(
        {
          prefix: mostlyRight(scopeString, TOML_KEYS),
          location: mostlyRight(loc, TOML_KEYS),
          insecure: mostlyRight(fc.boolean(), TOML_KEYS),
          blocked: mostlyRight(fc.boolean(), TOML_KEYS),
          'mirror-by-digest-only': mostlyRight(fc.boolean(), TOML_KEYS),
          mirror: mostlyRight(
            fc.array(
              fc.record(
                {
                  location: mostlyRight(loc, TOML_KEYS),
                  insecure: fc.boolean(),
                  'pull-from-mirror': mostlyRight(fc.constantFrom('all', 'digest-only', 'tag-only'), TOML_KEYS),
                },
                { requiredKeys: ['location'] },
              ),
              { maxLength: 2 },
            ),
            TOML_KEYS,
          ),
        },
        { requiredKeys: ['location'] },
      ),
      { maxLength: 2 },
    ),
    top: fc.record(
      {
        'insecure-registries': mostlyRight(fc.array(scopeString, { maxLength: 2 }), TOML_KEYS),
        'blocked-registries': mostlyRight(fc.array(scopeString, { maxLength: 2 }), TOML_KEYS),
        'unqualified-search-registries': mostlyRight(fc.array(fc.constantFrom('docker.io', 'quay.io', 'registry.example:5000'), { maxLength: 2 }), TOML_KEYS),
        'short-name-mode': mostlyRight(fc.constantFrom('enforcing', 'permissive', 'disabled'), TOML_KEYS),
        'credential-helpers': mostlyRight(fc.array(freeText, { maxLength: 2 }), TOML_KEYS),
        'additional-layer-store-auth-helper': mostlyRight(freeText, TOML_KEYS),
        aliases: mostlyRight(
          fc.dictionary(
            fc.oneof({ arbitrary: fc.constantFrom('fedora', 'ubi', 'team/tool'), weight: 15 }, { arbitrary: hostileString, weight: 1 }),
            fc.oneof(
              { arbitrary: fc.constantFrom('quay.io/ns/app', 'registry.fedoraproject.org/fedora', ''), weight: 15 },
              { arbitrary: hostileString, weight: 1 },
            ),
            { maxKeys: 2, noNullPrototype: true },
          ),
          TOML_KEYS,
        ),
      },
      { requiredKeys: [] },
    ),
  })
  .map(({ sets, registries, top }) => ({ ...top, ...(sets.length ? { 'mirror-set': sets } : {}), ...(registries.length ? { registry: registries } : {}) }));

const KINDS = ['ImageContentSourcePolicy', 'ImageDigestMirrorSet', 'ImageTagMirrorSet', 'Image', 'List', 'ConfigMap', '', 'imagedigestmirrorset'];
const APIS = ['operator.openshift.io/v1alpha1', 'config.openshift.io/v1', 'v1', 'config.openshift.io/v2', ''];

/** A spec with its kind's own fields (unknown fields are errors): four times in five, as the apiVersion. */
function ownFields(kind: string, spec: unknown): unknown {
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) return spec;
  const fields = spec as Record<string, unknown>;
  if (kind === 'Image') return Object.hasOwn(fields, 'registrySources') ? { registrySources: fields.registrySources } : {};
  const own = LIST_OF[kind];
  if (!own) return spec;
  const entries: unknown[] = Object.values(fields).find((v): v is unknown[] => Array.isArray(v)) ?? [];
  const keep = kind === 'ImageContentSourcePolicy' ? ['source', 'mirrors'] : ['source', 'mirrors', 'mirrorSourcePolicy'];
  const clean = entries.map((e) =>
    e && typeof e === 'object' && !Array.isArray(e) ? Object.fromEntries(Object.entries(e).filter(([k]) => keep.includes(k))) : e,
  );
  return { [own]: clean };
}
const LIST_OF: Readonly<Record<string, string>> = {
  ImageContentSourcePolicy: 'repositoryDigestMirrors',
  ImageDigestMirrorSet: 'imageDigestMirrors',
  ImageTagMirrorSet: 'imageTagMirrors',
};

const API_OF: Readonly<Record<string, string>> = {
  ImageContentSourcePolicy: 'operator.openshift.io/v1alpha1',
  ImageDigestMirrorSet: 'config.openshift.io/v1',
  ImageTagMirrorSet: 'config.openshift.io/v1',
  Image: 'config.openshift.io/v1',
};

/** An object with random contents; four times in five its apiVersion is the one its kind needs. */
const openshiftObject: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.integer({ min: 0, max: 4 }),
    fc.record({
      apiVersion: fc.oneof(
        { arbitrary: fc.constantFrom('config.openshift.io/v1'), weight: 6 },
        { arbitrary: fc.constantFrom(...APIS), weight: 3 },
        { arbitrary: scalar, weight: 1 },
      ),
      kind: fc.oneof(
        { arbitrary: fc.constantFrom('ImageDigestMirrorSet', 'ImageTagMirrorSet', 'Image'), weight: 6 },
        { arbitrary: fc.constantFrom(...KINDS), weight: 3 },
        { arbitrary: scalar, weight: 1 },
      ),
      metadata: fc.oneof(fc.constant({ name: 'x' }), valueTree(YAML_KEYS, 2)),
      spec: fc.oneof(
        {
          weight: 5,
          arbitrary: fc
            .record({
              list: fc.constantFrom('repositoryDigestMirrors', 'imageDigestMirrors', 'imageTagMirrors'),
              entries: fc.array(
                fc.oneof(
                  {
                    arbitrary: fc.record(
                      {
                        source: mostlyRight(scopeString, YAML_KEYS),
                        mirrors: mostlyRight(locs, YAML_KEYS),
                        mirrorSourcePolicy: mostlyRight(fc.constantFrom('NeverContactSource', 'AllowContactingSource'), YAML_KEYS),
                      },
                      { requiredKeys: ['source', 'mirrors'] },
                    ),
                    weight: 4,
                  },
                  {
                    arbitrary: fc.dictionary(
                      fc.constantFrom('source', 'mirrors', 'mirrorSourcePolicy', 'junk'),
                      fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }), valueTree(YAML_KEYS, 2)),
                      { maxKeys: 4, noNullPrototype: true },
                    ),
                    weight: 1,
                  },
                ),
                { maxLength: 3 },
              ),
            })
            .map(({ list, entries }) => ({ [list]: entries })),
        },
        {
          weight: 3,
          arbitrary: fc
            .dictionary(
              fc.constantFrom('insecureRegistries', 'blockedRegistries', 'allowedRegistries', 'containerRuntimeSearchRegistries'),
              mostlyRight(fc.array(scopeString, { maxLength: 3 }), YAML_KEYS),
              { maxKeys: 3, noNullPrototype: true },
            )
            .map((registrySources) => ({ registrySources })),
        },
        { weight: 1, arbitrary: valueTree(YAML_KEYS, 3) },
      ),
    }),
  )
  .map(([n, o]) =>
    n > 0 && typeof o.kind === 'string' && Object.hasOwn(API_OF, o.kind) ? { ...o, apiVersion: API_OF[o.kind], spec: ownFields(o.kind, o.spec) } : o,
  );

/** Several objects, as separate documents or a List; with `share`, one sub-object is reused, which YAML writes as an anchor and aliases. */
const yamlDocs = fc
  .record({ objects: fc.array(openshiftObject, { minLength: 1, maxLength: 3 }), list: fc.boolean(), share: fc.boolean() })
  .map(({ objects, list, share }) => {
    if (share && objects.length > 0) {
      const shared = { source: 'quay.io', mirrors: ['m.example.net/q'] };
      for (const o of objects) {
        const spec = (o as { spec?: unknown }).spec;
        if (spec && typeof spec === 'object' && !Array.isArray(spec) && (o as { kind?: unknown }).kind === 'ImageDigestMirrorSet')
          (spec as Record<string, unknown>)['imageDigestMirrors'] = [shared, shared];
      }
    }
    try {
      return list ? YAML.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) : objects.map((o) => YAML.stringify(o)).join('---\n');
    } catch {
      return 'kind: List\n';
    }
  });

const aliasBomb = fc.integer({ min: 2, max: 12 }).map((levels) => {
  const lines = ['apiVersion: config.openshift.io/v1', 'kind: ImageDigestMirrorSet', 'spec:', '  a0: &a0 ["m.example.net"]'];
  for (let i = 1; i <= levels; i++) lines.push(`  a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(', ')}]`);
  lines.push(`  imageDigestMirrors: [{source: quay.io, mirrors: *a${levels}}]`);
  return `${lines.join('\n')}\n`;
});

/** Text transforms: BOM, CRLF, a hostile piece spliced in, no final newline. */
const transform = fc.record(
  {
    bom: fc.boolean(),
    crlf: fc.boolean(),
    splice: fc.oneof(
      { arbitrary: fc.constant(null), weight: 4 },
      { arbitrary: fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...HOSTILE), hostileString)), weight: 1 },
    ),
    chop: fc.boolean(),
  },
  { requiredKeys: [] },
);

function applyTransform(text: string, tr: { bom?: boolean; crlf?: boolean; splice?: [number, string] | null; chop?: boolean }): string {
  let s = text;
  if (tr.crlf) s = s.replace(/\n/g, '\r\n');
  if (tr.splice) {
    const at = tr.splice[0] % (s.length + 1);
    s = s.slice(0, at) + tr.splice[1] + s.slice(at);
  }
  if (tr.chop) s = s.replace(/\r?\n$/, '');
  if (tr.bom) s = `\ufeff${s}`;
  // Files are read as UTF-8: a lone surrogate cannot come out of a file, so none goes in.
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

const NAMES = ['10-fuzz', '50-local', 'zz', 'a b', 'é'];
const name = (ext: string): fc.Arbitrary<string> => fc.constantFrom(...NAMES).map((n) => `${n}.${ext}`);

/** Every kind of input, weighted; about a third TOML structures, a third YAML, the rest the odd ones. */
export const fuzzCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  {
    arbitrary: fc
      .tuple(tomlStructure, transform, name('toml'))
      .map(([v, tr, file]) => ({ kind: 'toml-structure', file, text: applyTransform(tomlOf(v) ?? 'x = 1\n', tr) })),
    weight: 5,
  },
  {
    arbitrary: fc.tuple(tomlShaped, transform, name('toml')).map(([v, tr, file]) => ({ kind: 'toml-shaped', file, text: applyTransform(tomlOf(v) ?? '', tr) })),
    weight: 6,
  },
  {
    arbitrary: fc.tuple(yamlDocs, transform, name('yaml')).map(([text, tr, file]) => ({ kind: 'yaml-objects', file, text: applyTransform(text, tr) })),
    weight: 8,
  },
  {
    arbitrary: fc
      .tuple(valueTree(YAML_KEYS, 4), transform, name('yml'))
      .map(([v, tr, file]) => ({ kind: 'yaml-structure', file, text: applyTransform(YAML.stringify(v) ?? '', tr) })),
    weight: 2,
  },
  { arbitrary: fc.tuple(aliasBomb, name('yaml')).map(([text, file]) => ({ kind: 'yaml-aliases', file, text })), weight: 1 },
  {
    arbitrary: fc
      .tuple(deep, fc.boolean())
      .map(([d, toml]) => ({ kind: 'deep', file: toml ? '10-deep.toml' : '10-deep.yaml', text: toml ? deepToml(d) : deepYaml(d) })),
    weight: 1,
  },
  {
    arbitrary: fc
      .tuple(hostileString, fc.boolean())
      .map(([text, toml]) => ({ kind: 'raw', file: toml ? '10-raw.toml' : '10-raw.yaml', text: applyTransform(text, {}) })),
    weight: 2,
  },
);

// ---------------------------------------------------------------- the same fragment, plain and hostile

/** A well-formed native fragment; every string slot holds either its plain value or a hostile one. */
export interface SlotFragment {
  readonly hostile: ReadonlyArray<string | undefined>;
  readonly yaml: boolean;
}

/** Plain values of the slots; a slot's hostile string replaces it when defined. */
const PLAIN_SLOTS = [
  'quay.io/ns',
  'mirror.example.net/ns',
  'm2.example.net/ns',
  '*.example.org',
  'containers-auth.json',
  'helper-name',
  'registry.fedoraproject.org/fedora',
  'docker.io',
  'insecure.example.com',
  'blocked.example.com',
];

export function slotText(f: SlotFragment): string {
  const v = (i: number): string => f.hostile[i] ?? (PLAIN_SLOTS[i] as string);
  const q = (s: string): string =>
    JSON.stringify(s)
      .replace(/\u007f/g, '\\u007f')
      .replace(/\u2028/g, '\\u2028')
      .replace(/\u2029/g, '\\u2029');
  if (f.yaml) {
    return [
      {
        apiVersion: 'config.openshift.io/v1',
        kind: 'ImageDigestMirrorSet',
        metadata: { name: 'fuzz' },
        spec: { imageDigestMirrors: [{ source: v(0), mirrors: [v(1), v(2)] }] },
      },
      {
        apiVersion: 'config.openshift.io/v1',
        kind: 'Image',
        metadata: { name: 'cluster' },
        // The free wildcard slot stays plain here: an Image's lists take only what the API server's pattern admits.
        spec: { registrySources: { insecureRegistries: [v(8)], blockedRegistries: [v(9), PLAIN_SLOTS[3]], containerRuntimeSearchRegistries: [v(7)] } },
      },
    ]
      .map((o) => YAML.stringify(o))
      .join('---\n');
  }
  return [
    `unqualified-search-registries = [${q(v(7))}]`,
    `credential-helpers = [${q(v(4))}]`,
    `additional-layer-store-auth-helper = ${q(v(5))}`,
    `insecure-registries = [${q(v(8))}]`,
    `blocked-registries = [${q(v(9))}]`,
    '',
    '[aliases]',
    `fedora = ${q(v(6))}`,
    '',
    '[[mirror-set]]',
    `source = ${q(v(0))}`,
    `mirrors = [${q(v(1))}, ${q(v(2))}]`,
    '',
    '[[registry]]',
    `prefix = ${q(v(3))}`,
    'location = ""',
    '',
    '  [[registry.mirror]]',
    `  location = ${q(v(2))}`,
    '',
  ].join('\n');
}

/** Slots whose strings are free text (or a wildcard with free text after `*.`), accepted whatever they hold; the others must be valid references. */
const FREE_SLOTS = new Set([3, 4, 5]);

export const slotFragment: fc.Arbitrary<SlotFragment> = fc.record({
  hostile: fc.tuple(
    ...PLAIN_SLOTS.map((_, i) =>
      FREE_SLOTS.has(i)
        ? fc.oneof({ arbitrary: fc.constant(undefined), weight: 1 }, { arbitrary: i === 3 ? hostileString.map((h) => `*.${h}`) : hostileString, weight: 3 })
        : fc.oneof({ arbitrary: fc.constant(undefined), weight: 25 }, { arbitrary: hostileString, weight: 1 }),
    ),
  ),
  yaml: fc.boolean(),
});

// ---------------------------------------------------------------- properties

export interface CaseFinding {
  readonly property: string;
  readonly detail: string;
}

const TOP_KEYS: ReadonlySet<string> = new Set(TOP_LEVEL_KEYS);
const REGISTRY_KEYS = new Set(['prefix', 'location', 'insecure', 'blocked', 'mirror-by-digest-only', 'mirror']);
const MIRROR_KEYS = new Set(['location', 'insecure', 'pull-from-mirror']);

/** The structure of a parsed registries.conf: which keys exist where, and how many tables and mirrors; no values. */
export function keySets(data: Record<string, unknown>): string {
  const regs = (Array.isArray(data['registry']) ? data['registry'] : []) as Array<Record<string, unknown>>;
  return JSON.stringify({
    top: Object.keys(data).sort(),
    aliases: data['aliases'] && typeof data['aliases'] === 'object' ? Object.keys(data['aliases']).length : 0,
    registry: regs.map((r) => ({
      keys: Object.keys(r).sort(),
      mirror: (Array.isArray(r['mirror']) ? (r['mirror'] as Array<Record<string, unknown>>) : []).map((m) => Object.keys(m).sort()),
    })),
  });
}

/** The key sets the merged model must render to. */
export function modelKeySets(conf: RegistriesConf): string {
  const data: Record<string, unknown> = {};
  if (conf.unqualifiedSearchRegistries) data['unqualified-search-registries'] = 1;
  if (conf.shortNameMode) data['short-name-mode'] = 1;
  if (conf.credentialHelpers) data['credential-helpers'] = 1;
  if (conf.additionalLayerStoreAuthHelper) data['additional-layer-store-auth-helper'] = 1;
  if (conf.aliases && Object.keys(conf.aliases).length > 0) data['aliases'] = Object.fromEntries(Object.keys(conf.aliases).map((k) => [k, 1]));
  if (conf.registries.length > 0) {
    data['registry'] = conf.registries.map((t) => {
      const r: Record<string, unknown> = {};
      if (t.prefix && t.prefix !== t.location) r['prefix'] = 1;
      r['location'] = 1;
      if (t.insecure) r['insecure'] = 1;
      if (t.blocked) r['blocked'] = 1;
      if (t.mirrorByDigestOnly) r['mirror-by-digest-only'] = 1;
      if (t.mirrors.length > 0)
        r['mirror'] = t.mirrors.map((m) => ({ location: 1, ...(m.insecure ? { insecure: 1 } : {}), ...(m.pullFromMirror ? { 'pull-from-mirror': 1 } : {}) }));
      return r;
    });
  }
  return keySets(data);
}

function unknownKeys(data: Record<string, unknown>): string[] {
  const bad = Object.keys(data).filter((k) => !TOP_KEYS.has(k));
  for (const r of (Array.isArray(data['registry']) ? data['registry'] : []) as Array<Record<string, unknown>>) {
    bad.push(
      ...Object.keys(r)
        .filter((k) => !REGISTRY_KEYS.has(k))
        .map((k) => `registry.${k}`),
    );
    for (const m of (Array.isArray(r['mirror']) ? r['mirror'] : []) as Array<Record<string, unknown>>)
      bad.push(
        ...Object.keys(m)
          .filter((k) => !MIRROR_KEYS.has(k))
          .map((k) => `registry.mirror.${k}`),
      );
  }
  return bad;
}

/** Runs the pipeline on one case; never throws. */
export function build(files: ReadonlyArray<{ file: string; text: string }>): { result?: PipelineResult; thrown?: unknown } {
  try {
    return { result: buildRegistriesConf({ fragments: files }) };
  } catch (e) {
    return { thrown: e };
  }
}

const errorsOf = (r: PipelineResult): Diagnostic[] => r.diagnostics.filter((d) => d.severity === 'error');

/** Properties 1, 2, 3 (model key sets) and 4 for one set of fragments; returns what is wrong, empty when all hold. */
export function checkCase(files: ReadonlyArray<{ file: string; text: string }>): { findings: CaseFinding[]; accepted: boolean; errors: number } {
  const findings: CaseFinding[] = [];
  const { result: r, thrown } = build(files);
  if (!r) return { findings: [{ property: 'no exception escapes', detail: String((thrown as Error)?.stack ?? thrown) }], accepted: false, errors: 0 };
  const names = new Set(files.map((f) => f.file));
  const errors = errorsOf(r);
  for (const d of errors) {
    if (!names.has(d.file) || typeof d.line !== 'number' || !Number.isInteger(d.line) || d.line < 1)
      findings.push({ property: 'every rejection names the file and a line', detail: formatDiagnostic(d) });
  }
  if (errors.length > 0) {
    if (r.text !== undefined) findings.push({ property: 'nothing rendered on errors', detail: errors.map(formatDiagnostic).join('; ') });
    return { findings, accepted: false, errors: errors.length };
  }
  if (r.text === undefined || r.conf === undefined)
    return { findings: [...findings, { property: 'no error means a render', detail: 'no text and no error' }], accepted: false, errors: 0 };
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(JSON.stringify(parseToml(r.text))) as Record<string, unknown>;
  } catch (e) {
    return { findings: [...findings, { property: 'every output parses with smol-toml', detail: (e as Error).message }], accepted: true, errors: 0 };
  }
  const again = parseRegistriesConf(r.text, 'registries.conf');
  const invalid = again.diagnostics.filter((d) => d.severity === 'error');
  if (invalid.length > 0) findings.push({ property: 'every output validates', detail: invalid.map(formatDiagnostic).join('; ') });
  if (classifyText(r.text) !== 'ours') findings.push({ property: 'every output is one whole render of ours', detail: classifyText(r.text) });
  let asBase: PipelineResult | undefined;
  try {
    asBase = buildRegistriesConf({ base: { file: 'base.conf', text: r.text }, fragments: [] });
  } catch (e) {
    findings.push({ property: 'no exception escapes (output as a base)', detail: String((e as Error)?.stack ?? e) });
  }
  if (asBase && asBase.text === undefined)
    findings.push({ property: 'every output loads again as a base', detail: asBase.diagnostics.map(formatDiagnostic).join('; ') });
  const unknown = unknownKeys(data);
  if (unknown.length > 0) findings.push({ property: 'no string adds a key (unknown keys in the output)', detail: unknown.join(', ') });
  const got = keySets(data);
  const want = modelKeySets(r.conf);
  if (got !== want) findings.push({ property: 'no string adds a table or key (output key sets = model key sets)', detail: `output ${got}\nmodel  ${want}` });
  return { findings, accepted: true, errors: 0 };
}

/** Property 3, differential: the hostile version of a fragment, when accepted, has exactly the key sets of its plain version. */
export function checkSlots(f: SlotFragment): { findings: CaseFinding[]; accepted: boolean } {
  const file = f.yaml ? '10-slots.yaml' : '10-slots.toml';
  const hostileText = slotText(f);
  const own = checkCase([{ file, text: hostileText }]);
  if (!own.accepted) return { findings: own.findings, accepted: false };
  const plain = build([{ file, text: slotText({ ...f, hostile: f.hostile.map(() => undefined) }) }]).result;
  const hostile = build([{ file, text: hostileText }]).result;
  if (!plain?.text || !hostile?.text)
    return {
      findings: [...own.findings, { property: 'the plain fragment renders', detail: (plain?.diagnostics ?? []).map(formatDiagnostic).join('; ') }],
      accepted: true,
    };
  const a = keySets(JSON.parse(JSON.stringify(parseToml(plain.text))) as Record<string, unknown>);
  const b = keySets(JSON.parse(JSON.stringify(parseToml(hostile.text))) as Record<string, unknown>);
  // A hostile string may legitimately merge two slots (say a mirror equal to another) or drop an alias (""): compare only when the model agrees.
  const sameModel = plain.conf && hostile.conf && modelKeySets(plain.conf) === modelKeySets(hostile.conf);
  if (sameModel && a !== b)
    return {
      findings: [
        ...own.findings,
        { property: 'hostile strings add no table or key (same key sets as the plain fragment)', detail: `plain   ${a}\nhostile ${b}` },
      ],
      accepted: true,
    };
  if (!sameModel && b !== modelKeySets(hostile.conf as RegistriesConf))
    return { findings: [...own.findings, { property: 'hostile strings add no table or key', detail: b }], accepted: true };
  return { findings: own.findings, accepted: true };
}

export interface FuzzFigures {
  cases: number;
  accepted: number;
  rejected: number;
  errorsLocated: number;
  slotCases: number;
  slotAccepted: number;
  byKind: Record<string, number>;
  ms: number;
}

/**
 * Runs `runs` random cases (single fragments and pairs) and `slotRuns` plain/hostile pairs; throws
 * (fast-check's report, with the seed and the shrunk counterexample) at the first broken property.
 */
export function runFuzz(opts: { runs: number; slotRuns: number; seed?: number }): FuzzFigures {
  const started = performance.now();
  const fig: FuzzFigures = { cases: 0, accepted: 0, rejected: 0, errorsLocated: 0, slotCases: 0, slotAccepted: 0, byKind: {}, ms: 0 };
  const seed = opts.seed !== undefined ? { seed: opts.seed } : {};
  fc.assert(
    fc.property(fc.array(fuzzCase, { minLength: 1, maxLength: 2 }), (cases) => {
      // Two fragments get distinct names (the second keeps its extension).
      const files = cases.map((c, i) => ({ file: i === 0 ? c.file : `99-${i}-${c.file}`, text: c.text }));
      fig.cases++;
      for (const c of cases) fig.byKind[c.kind] = (fig.byKind[c.kind] ?? 0) + 1;
      const got = checkCase(files);
      if (got.accepted) fig.accepted++;
      else fig.rejected++;
      fig.errorsLocated += got.errors;
      if (got.findings.length > 0) throw new Error(got.findings.map((f) => `${f.property}: ${f.detail}`).join('\n'));
    }),
    { numRuns: opts.runs, ...seed },
  );
  fc.assert(
    fc.property(slotFragment, (f) => {
      fig.slotCases++;
      const got = checkSlots(f);
      if (got.accepted) fig.slotAccepted++;
      if (got.findings.length > 0) throw new Error(got.findings.map((x) => `${x.property}: ${x.detail}`).join('\n'));
    }),
    { numRuns: opts.slotRuns, ...seed },
  );
  fig.ms = Math.round(performance.now() - started);
  return fig;
}

export function formatFuzz(f: FuzzFigures): string {
  return [
    `fuzz: ${f.cases + f.slotCases} cases in ${(f.ms / 1000).toFixed(1)} s`,
    `  random fragments      ${f.cases} (${f.accepted} rendered and checked, ${f.rejected} rejected with ${f.errorsLocated} located errors)`,
    `    by kind             ${Object.entries(f.byKind)
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
    `  plain/hostile pairs   ${f.slotCases} (${f.slotAccepted} hostile versions accepted, key sets compared)`,
  ].join('\n');
}
