/**
 * The daemon's incremental render (src/pipeline/kept-checks.ts, and the parse cache): over
 * random sequences of changes, a render that reuses what the renders before judged and parsed
 * back is byte-identical to a full render from nothing, with the same statuses and diagnostics.
 */
import t from 'tap';
import fc from 'fast-check';
import { formatDiagnostic } from '../../src/core/diagnostic.js';
import { SweepCache } from '../../src/core/sweep-cache.js';
import { buildForgiving, type ForgivingResult, type FragmentInput, type ParseCache } from '../../src/pipeline/forgiving.js';
import { KeptChecks } from '../../src/pipeline/kept-checks.js';
import { finishConf } from '../../src/pipeline/strict.js';
import type { RegistriesConf, RegistryTable } from '../../src/registries-conf/model.js';

const OUT = { file: 'registries.conf' };

const set = (source: string, mirrors: string[], extra = ''): string =>
  `[[mirror-set]]\nsource = "${source}"\nmirrors = [${mirrors.map((m) => `"${m}"`).join(', ')}]\n${extra}`;
const idms = (source: string, mirrors: string[]): string =>
  `apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: x\nspec:\n  imageDigestMirrors:\n  - source: ${source}\n    mirrors:\n${mirrors.map((m) => `    - ${m}\n`).join('')}`;

/** Contents a fragment may take: valid, conflicting, invalid, with odd but valid names, nested scopes, flags. */
const POOL = [
  set('docker.io', ['a0.example/hub']),
  set('docker.io', ['a1.example/hub', 'a1b.example/hub']),
  set('docker.io/library', ['lib.example/hub']),
  set('quay.io/team', ['q.example:5000/team'], 'pull-from-mirror = "digest-only"\n'),
  set('quay.io/team', ['q2.example/team'], 'source-policy = "never"\n'),
  set('*.example.org', ['wild.example/any']),
  set('registry.example.com/x', ['m.example/x'], 'insecure-registries = ["m.example"]\nblocked-registries = ["registry.example.com/x/blocked"]\n'),
  idms('ghcr.io/org', ['g.example/org', 'g2.example/org']),
  idms('ghcr.io/org/app', ['g3.example/app']),
  set('Docker.io', ['bad.example']), // not canonical: an error
  '[[mirror-set]\nsource = "docker.io"\n', // TOML syntax error
  'mirror-sets = []\n', // unknown key
  '',
];
const FILES = ['10-a.toml', '20-b.yaml', '30-c.toml', '40-d.toml'] as const;

function show(r: ForgivingResult): string {
  return JSON.stringify({
    ...r,
    conf: undefined,
    diagnostics: r.diagnostics.map(formatDiagnostic),
    statuses: r.statuses.map((s) => [s.file, s.state, s.errors.map(formatDiagnostic), s.warnings.map(formatDiagnostic)]),
  });
}

t.test('property: incremental renders (kept checks and parses) equal full renders over random changes', async (t) => {
  // A step: for each file, a pool index (-1: absent). YAML content in a .toml name is an error, too.
  const stepArb = fc.tuple(...FILES.map(() => fc.integer({ min: -1, max: POOL.length - 1 })));
  let renders = 0;
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 12 }), (steps) => {
      const parseCache: ParseCache = new SweepCache();
      const kept = new KeptChecks();
      let lastGood: Record<string, string> = {};
      let counter = 0;
      for (const step of steps) {
        const fragments: FragmentInput[] = [];
        step.forEach((pick, i) => {
          if (pick >= 0) fragments.push({ file: FILES[i] as string, text: POOL[pick] as string, changedAt: ++counter });
        });
        const full = buildForgiving({ fragments, unreadable: [], lastGood, version: 'v' }, OUT);
        const incremental = buildForgiving({ fragments, unreadable: [], lastGood, version: 'v', parseCache, kept }, OUT);
        renders++;
        if (incremental.text !== full.text) throw new Error(`the incremental render differs:\n${incremental.text}\n---\n${full.text}`);
        if (show(incremental) !== show(full)) throw new Error('the incremental statuses or diagnostics differ');
        lastGood = full.lastGood;
      }
    }),
    { numRuns: 150, seed: 20261204 },
  );
  t.ok(renders > 150, `${renders} renders compared`);
});

t.test('the kept parse back still refuses a text that does not mean the model', async (t) => {
  const conf: RegistriesConf = {
    registries: [
      { prefix: 'docker.io', location: 'docker.io', mirrors: [{ location: 'a.example/hub', origin: { file: 'a.toml' } }], origin: { file: 'a.toml' } },
      { prefix: 'quay.io', location: 'quay.io', mirrors: [], origin: { file: 'b.toml' } },
    ],
  };
  const kept = new KeptChecks();
  const facts = { fragments: ['a.toml', 'b.toml'] };
  const first = finishConf(conf, facts, OUT, undefined, kept);
  t.equal(first.text, finishConf(conf, facts, OUT).text, 'the same text as without kept checks');
  t.equal(finishConf(conf, facts, OUT, undefined, kept).text, first.text, 'and again from what was kept');
  // A location whose rendering would not parse back as written: a name with a newline (escaped) still means itself.
  const odd: RegistriesConf = {
    registries: [
      { prefix: 'docker.io', location: 'docker.io', mirrors: [{ location: 'x.example/"quoted"', origin: { file: 'a.toml' } }], origin: { file: 'a.toml' } },
    ],
  };
  const r = finishConf(odd, facts, OUT, undefined, kept);
  t.equal(r.text, finishConf(odd, facts, OUT).text, 'an invalid name: the same verdict with kept checks');
  t.ok(kept.size > 0 && kept.size < 20, `kept: ${kept.size} names and tables`);
});

t.test("a changed table of a kept scope is rendered afresh, and a second table of the same scope does not take the first one's text", async (t) => {
  const kept = new KeptChecks();
  const table = (mirror: string): RegistryTable => ({ location: 'quay.io', mirrors: [{ location: mirror }], origin: { file: 'a.toml' } });
  const first = kept.tablesOf({ registries: [table('a.example/q')] });
  kept.sweep();
  const changed = table('b.example/q');
  const next = kept.tablesOf({ registries: [changed] });
  t.match(next.get(changed)?.section, /b\.example\/q/, 'the new mirror is rendered');
  t.not(next.get(changed), [...first.values()][0], 'not what was kept for the old content');
  const twins = [table('c.example/q'), table('d.example/q')];
  const both = kept.tablesOf({ registries: twins });
  t.strictSame(
    twins.map((x) => both.get(x)?.section.includes(x.mirrors[0]?.location ?? '?')),
    [true, true],
    'each of two tables of one scope has its own text',
  );
});

t.test('a table kept from a render before is not rendered or parsed back again, and the text is the same', async (t) => {
  const kept = new KeptChecks();
  const mk = (n: number): RegistriesConf => ({
    registries: Array.from({ length: n }, (_, i) => ({
      location: `r${i}.example.com`,
      mirrors: [{ location: `m${i}.example.net/x` }],
      origin: { file: `${i}.toml` },
    })),
  });
  const facts = { fragments: ['a.toml'] };
  const first = finishConf(mk(3), facts, OUT, undefined, kept);
  const known = kept.tablesOf(mk(3));
  t.ok(
    [...known.values()].every((k) => k.rewritesClean && k.parsedBackAs !== undefined),
    'each table: checked clean and parsed back',
  );
  kept.sweep();
  t.equal(finishConf(mk(4), facts, OUT, undefined, kept).text, finishConf(mk(4), facts, OUT).text, 'one table more: the same text as a render from nothing');
  t.equal(first.text, finishConf(mk(3), facts, OUT).text);
});

t.test('a location checked below in a render before is not parsed again (problemBelow answers from what was kept)', async (t) => {
  const kept = new KeptChecks();
  const first = kept.rewriteChecks();
  t.equal(first.problemBelow('quay.io/team'), undefined);
  t.match(first.problemBelow('Quay.IO/Team'), /./, 'an upper-case repository is a problem');
  t.equal(first.parsed, 2);
  kept.sweep();
  const next = kept.rewriteChecks();
  t.equal(next.problemBelow('quay.io/team'), undefined);
  t.match(next.problemBelow('Quay.IO/Team'), /./, 'the kept problem, the same answer');
  t.equal(next.parsed, 0, 'nothing parsed again');
});
