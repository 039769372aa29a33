// Mirror sets merged into a table that is `mirror-by-digest-only` (the host's or a fragment's):
// containers/image refuses `pull-from-mirror` beside that key, and the key makes every mirror
// digest-only, so what a set meant for tags is said, not silently narrowed.
import t from 'tap';
import { formatDiagnostic, type Diagnostic } from '../../src/core/diagnostic.js';
import { buildRegistriesConf } from '../../src/pipeline/strict.js';
import { registryScope, type RegistriesConf } from '../../src/registries-conf/model.js';

const OUT = { file: 'registries.conf' };
const BASE = { file: 'base.conf', text: '[[registry]]\nlocation = "quay.io/org"\nmirror-by-digest-only = true\n' };
const set = (mode: string, source = 'quay.io/org'): string => `[[mirror-set]]\nsource = "${source}"\nmirrors = ["m.local/org"]\npull-from-mirror = "${mode}"\n`;

const errorsOf = (ds: readonly Diagnostic[]): string[] => ds.filter((d) => d.severity === 'error').map(formatDiagnostic);
const warningsOf = (ds: readonly Diagnostic[]): Diagnostic[] => ds.filter((d) => d.severity === 'warning');
const tableOf = (conf: RegistriesConf | undefined, scope: string) => conf?.registries.find((x) => registryScope(x) === scope);

t.test('a set merged into a mirror-by-digest-only table: valid, and what it meant for tags is said', async (t) => {
  const cases = [
    { mode: 'digest-only', mirrors: [{ location: 'm.local/org' }], warns: undefined },
    {
      mode: 'all',
      mirrors: [{ location: 'm.local/org' }],
      warns: /"quay\.io\/org" is mirror-by-digest-only \(base\.conf:1:1\), so the set's mirrors serve pulls by digest only/,
    },
    { mode: 'tag-only', mirrors: [], warns: /so the set's tag-only mirrors are left out/ },
  ];
  for (const c of cases) {
    const r = buildRegistriesConf({ base: BASE, fragments: [{ file: '10-a.toml', text: set(c.mode) }] }, OUT);
    t.strictSame(errorsOf(r.diagnostics), [], `${c.mode}: no error (containers/image would load it)`);
    t.type(r.text, 'string', `${c.mode}: rendered`);
    t.strictSame(
      tableOf(r.conf, 'quay.io/org')?.mirrors.map(({ location, pullFromMirror }) => ({ location, ...(pullFromMirror ? { pullFromMirror } : {}) })),
      c.mirrors,
      `${c.mode}: no pull-from-mirror beside mirror-by-digest-only`,
    );
    const w = warningsOf(r.diagnostics);
    if (c.warns === undefined) t.strictSame(w.map(formatDiagnostic), [], `${c.mode}: nothing to say`);
    else {
      t.equal(w.length, 1, `${c.mode}: one warning`);
      t.match(w[0]?.message, c.warns, `${c.mode}: says what happens`);
      t.equal(w[0]?.file, '10-a.toml', `${c.mode}: at the set`);
      t.equal(w[0]?.related?.[0]?.file, 'base.conf', `${c.mode}: naming where the table is digest-only`);
    }
  }
});

t.test('a mirror-by-digest-only table that inherits: the mirrors lose pull-from-mirror, tag-only ones are left out, with a warning', async (t) => {
  const base = { file: 'base.conf', text: '[[registry]]\nlocation = "quay.io/org/team"\nmirror-by-digest-only = true\n' };
  const r = buildRegistriesConf(
    { base, fragments: [{ file: '10-a.toml', text: set('digest-only') + set('tag-only').replace('m.local/org', 'tags.local/org') }] },
    OUT,
  );
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(
    tableOf(r.conf, 'quay.io/org/team')?.mirrors.map((m) => [m.location, m.pullFromMirror]),
    [['m.local/org/team', undefined]],
    'the digest-only mirror, as mirror-by-digest-only serves it',
  );
  t.match(warningsOf(r.diagnostics).map(formatDiagnostic), [
    /base\.conf:1:1: warning: "quay\.io\/org\/team" is mirror-by-digest-only, so the quay\.io\/org tag-only mirrors are left out/,
  ]);
});

t.test("a nested table inheriting a mirror-by-digest-only table's mirrors keeps them digest-only", async (t) => {
  const base = {
    file: 'base.conf',
    text: '[[registry]]\nlocation = "quay.io/org"\nmirror-by-digest-only = true\n\n  [[registry.mirror]]\n  location = "m.local/org"\n',
  };
  const r = buildRegistriesConf({ base, fragments: [{ file: '10-a.toml', text: 'insecure-registries = ["quay.io/org/team"]\n' }] }, OUT);
  t.strictSame(errorsOf(r.diagnostics), []);
  t.strictSame(
    tableOf(r.conf, 'quay.io/org/team')?.mirrors.map((m) => [m.location, m.pullFromMirror]),
    [['m.local/org/team', 'digest-only']],
    'not turned into a mirror for tags too',
  );
});
