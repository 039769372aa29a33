/**
 * buildForgiving (src/pipeline/forgiving.ts), pure: each fragment valid, held at its last
 * good content, or left out; conflicts resolved against the most recently changed; the
 * render always equal to the strict render of exactly what is in effect.
 */
import t from 'tap';
import fc from 'fast-check';
import { error, formatDiagnostic, type Diagnostic } from '../../src/core/diagnostic.js';
import { buildForgiving, type FragmentInput, type FragmentState, type ForgivingInput, type ParseCache } from '../../src/pipeline/forgiving.js';
import { SweepCache } from '../../src/core/sweep-cache.js';
import { buildRegistriesConf, type SourceText } from '../../src/pipeline/strict.js';

const OUT = { file: 'registries.conf' };

const set = (source: string, mirrors: string[], extra = ''): string =>
  `[[mirror-set]]\nsource = "${source}"\nmirrors = [${mirrors.map((m) => `"${m}"`).join(', ')}]\n${extra}`;
const never = (source: string, mirrors: string[]): string => set(source, mirrors, 'source-policy = "never"\n');
const idms = (source: string, mirrors: string[]): string =>
  `apiVersion: config.openshift.io/v1\nkind: ImageDigestMirrorSet\nmetadata:\n  name: x\nspec:\n  imageDigestMirrors:\n  - source: ${source}\n    mirrors:\n${mirrors.map((m) => `    - ${m}\n`).join('')}`;

const A0 = set('docker.io', ['a0.example/hub']);
const A1 = set('docker.io', ['a1.example/hub', 'a1b.example/hub']);
const B0 = idms('quay.io', ['b0.example/quay']);
const B1 = idms('quay.io', ['b1.example/quay']);
const C1 = set('ghcr.io', ['c1.example/ghcr']);
const BROKEN = '[[mirror-set]\nsource = "docker.io"\n'; // TOML syntax error
const TYPO = 'mirror-sets = []\n'; // unknown key
const BAD_YAML =
  'kind: ImageDigestMirrorSet\napiVersion: config.openshift.io/v1\nspec:\n  imageDigestMirrors:\n  - source: "not a source!"\n    mirrors: [x.example]\n';
// Conflicting mirrorSourcePolicy for one source (MCO refuses it): each valid alone.
const Q_NEVER = never('registry.example.com/team', ['qn.example/team']);
const Q_ALLOW = set('registry.example.com/team', ['qa.example/team']);
const Q_ALLOW_2 = set('registry.example.com/team', ['qa2.example/team']);
const Q_OTHER = set('other.example.com', ['qo.example/other']); // no conflict with anything

const refused = (file: string): Diagnostic => error({ file }, 'refusing fragment: writable by group and others (mode 0666)');

interface Case {
  readonly name: string;
  readonly fragments: ReadonlyArray<readonly [file: string, text: string, changedAt: number]>;
  readonly unreadable?: readonly string[];
  readonly lastGood?: Readonly<Record<string, string>>;
  readonly base?: SourceText;
  /** Expected state per present fragment. */
  readonly states: Readonly<Record<string, FragmentState>>;
  /** The texts that must be in effect (the render is the strict render of exactly these); undefined: no text at all. */
  readonly effective: Readonly<Record<string, string>> | undefined;
  /** The last-good texts afterwards. */
  readonly lastGoodAfter: Readonly<Record<string, string>>;
  /** Substrings each listed fragment's errors must contain (all of them, in its formatted errors). */
  readonly errorsMention?: Readonly<Record<string, readonly string[]>>;
}

const CASES: Case[] = [
  {
    name: 'all valid, nothing known before: all in effect, all become last good',
    fragments: [
      ['a.toml', A0, 1],
      ['b.yaml', B0, 2],
    ],
    states: { 'a.toml': 'valid', 'b.yaml': 'valid' },
    effective: { 'a.toml': A0, 'b.yaml': B0 },
    lastGoodAfter: { 'a.toml': A0, 'b.yaml': B0 },
  },
  {
    name: 'a valid change replaces the last good',
    fragments: [
      ['a.toml', A1, 5],
      ['b.yaml', B0, 2],
    ],
    lastGood: { 'a.toml': A0, 'b.yaml': B0 },
    states: { 'a.toml': 'valid', 'b.yaml': 'valid' },
    effective: { 'a.toml': A1, 'b.yaml': B0 },
    lastGoodAfter: { 'a.toml': A1, 'b.yaml': B0 },
  },
  {
    name: 'an invalid change is held at the last good',
    fragments: [
      ['a.toml', BROKEN, 5],
      ['b.yaml', B1, 2],
    ],
    lastGood: { 'a.toml': A0, 'b.yaml': B0 },
    states: { 'a.toml': 'held', 'b.yaml': 'valid' },
    effective: { 'a.toml': A0, 'b.yaml': B1 },
    lastGoodAfter: { 'a.toml': A0, 'b.yaml': B1 },
    errorsMention: { 'a.toml': ['a.toml:1:', 'invalid TOML'] },
  },
  {
    name: 'an unknown key is invalid content too: held',
    fragments: [['a.toml', TYPO, 5]],
    lastGood: { 'a.toml': A0 },
    states: { 'a.toml': 'held' },
    effective: { 'a.toml': A0 },
    lastGoodAfter: { 'a.toml': A0 },
    errorsMention: { 'a.toml': ['a.toml:1:1', 'unknown key "mirror-sets"'] },
  },
  {
    name: 'a new invalid fragment is left out; the rest renders',
    fragments: [
      ['a.toml', A0, 1],
      ['b.yaml', BAD_YAML, 2],
    ],
    states: { 'a.toml': 'valid', 'b.yaml': 'invalid' },
    effective: { 'a.toml': A0 },
    lastGoodAfter: { 'a.toml': A0 },
    errorsMention: { 'b.yaml': ['b.yaml:5:'] },
  },
  {
    name: 'only invalid fragments: an empty render, not none',
    fragments: [['a.toml', BROKEN, 1]],
    states: { 'a.toml': 'invalid' },
    effective: {},
    lastGoodAfter: {},
  },
  {
    name: 'no fragments at all: an empty render',
    fragments: [],
    states: {},
    effective: {},
    lastGoodAfter: {},
  },
  {
    name: 'an unreadable (refused) fragment with a last good is held at it',
    fragments: [['b.yaml', B0, 1]],
    unreadable: ['a.toml'],
    lastGood: { 'a.toml': A0, 'b.yaml': B0 },
    states: { 'a.toml': 'held', 'b.yaml': 'valid' },
    effective: { 'a.toml': A0, 'b.yaml': B0 },
    lastGoodAfter: { 'a.toml': A0, 'b.yaml': B0 },
    errorsMention: { 'a.toml': ['refusing fragment'] },
  },
  {
    name: 'an unreadable fragment without a last good is left out',
    fragments: [['b.yaml', B0, 1]],
    unreadable: ['a.toml'],
    states: { 'a.toml': 'invalid', 'b.yaml': 'valid' },
    effective: { 'b.yaml': B0 },
    lastGoodAfter: { 'b.yaml': B0 },
    errorsMention: { 'a.toml': ['refusing fragment'] },
  },
  {
    name: 'last good of fragments that are gone is dropped; present ones only',
    fragments: [['b.yaml', B0, 1]],
    lastGood: { 'a.toml': A0, 'b.yaml': B0, 'gone.toml': C1 },
    states: { 'b.yaml': 'valid' },
    effective: { 'b.yaml': B0 },
    lastGoodAfter: { 'b.yaml': B0 },
  },
  {
    name: 'conflict between two new valid fragments: the more recently changed (b) gives way and is left out',
    fragments: [
      ['a.toml', Q_NEVER, 1],
      ['b.toml', Q_ALLOW, 2],
    ],
    states: { 'a.toml': 'valid', 'b.toml': 'invalid' },
    effective: { 'a.toml': Q_NEVER },
    lastGoodAfter: { 'a.toml': Q_NEVER },
    errorsMention: { 'b.toml': ['a.toml', 'b.toml', 'conflicting mirrorSourcePolicy'] },
  },
  {
    name: 'the same conflict, a changed more recently: a gives way, whatever the file order',
    fragments: [
      ['a.toml', Q_NEVER, 3],
      ['b.toml', Q_ALLOW, 2],
    ],
    states: { 'a.toml': 'invalid', 'b.toml': 'valid' },
    effective: { 'b.toml': Q_ALLOW },
    lastGoodAfter: { 'b.toml': Q_ALLOW },
    errorsMention: { 'a.toml': ['a.toml', 'b.toml', 'conflicting mirrorSourcePolicy'] },
  },
  {
    name: 'conflict: the newer one is held at its different last good',
    fragments: [
      ['a.toml', Q_NEVER, 1],
      ['b.toml', Q_ALLOW, 2],
    ],
    lastGood: { 'a.toml': Q_NEVER, 'b.toml': Q_OTHER },
    states: { 'a.toml': 'valid', 'b.toml': 'held' },
    effective: { 'a.toml': Q_NEVER, 'b.toml': Q_OTHER },
    lastGoodAfter: { 'a.toml': Q_NEVER, 'b.toml': Q_OTHER },
    errorsMention: { 'b.toml': ['a.toml', 'b.toml'] },
  },
  {
    name: 'conflict: the newer one whose last good is its current content is left out (no different content to hold)',
    fragments: [
      ['a.toml', Q_NEVER, 1],
      ['b.toml', Q_ALLOW, 2],
    ],
    lastGood: { 'b.toml': Q_ALLOW },
    states: { 'a.toml': 'valid', 'b.toml': 'invalid' },
    effective: { 'a.toml': Q_NEVER },
    lastGoodAfter: { 'a.toml': Q_NEVER, 'b.toml': Q_ALLOW },
    errorsMention: { 'b.toml': ['a.toml', 'b.toml'] },
  },
  {
    name: 'conflict between current content and held content: the current gives way even if changed earlier',
    fragments: [
      ['a.toml', BROKEN, 9],
      ['b.toml', Q_ALLOW, 2],
    ],
    lastGood: { 'a.toml': Q_NEVER },
    states: { 'a.toml': 'held', 'b.toml': 'invalid' },
    effective: { 'a.toml': Q_NEVER },
    lastGoodAfter: { 'a.toml': Q_NEVER },
    errorsMention: { 'a.toml': ['invalid TOML'], 'b.toml': ['a.toml', 'b.toml'] },
  },
  {
    name: 'conflict whose last-good fallback conflicts too: the fallback stays, the other new fragment is left out',
    // b changed (B: allow → allow'), a is new (never): b gives way to its last good, which still conflicts with a;
    // then a (current) gives way. The render must still happen, with b's last good alone.
    fragments: [
      ['a.toml', Q_NEVER, 1],
      ['b.toml', Q_ALLOW_2, 2],
    ],
    lastGood: { 'b.toml': Q_ALLOW },
    states: { 'a.toml': 'invalid', 'b.toml': 'held' },
    effective: { 'b.toml': Q_ALLOW },
    lastGoodAfter: { 'b.toml': Q_ALLOW },
    errorsMention: { 'a.toml': ['a.toml', 'b.toml'], 'b.toml': ['a.toml', 'b.toml'] },
  },
  {
    name: 'three-way conflict: the newest two give way, one after the other',
    fragments: [
      ['a.toml', Q_NEVER, 1],
      ['b.toml', Q_ALLOW, 2],
      ['c.toml', Q_ALLOW_2, 3],
      ['d.toml', C1, 4],
    ],
    states: { 'a.toml': 'valid', 'b.toml': 'invalid', 'c.toml': 'invalid', 'd.toml': 'valid' },
    effective: { 'a.toml': Q_NEVER, 'd.toml': C1 },
    lastGoodAfter: { 'a.toml': Q_NEVER, 'd.toml': C1 },
  },
  {
    name: 'a valid base is used and named in the header',
    base: { file: '/etc/mirror-policyd/base.conf', text: 'unqualified-search-registries = ["docker.io"]\n' },
    fragments: [['a.toml', A0, 1]],
    states: { 'a.toml': 'valid' },
    effective: { 'a.toml': A0 },
    lastGoodAfter: { 'a.toml': A0 },
  },
  {
    name: 'an invalid base: no text at all (keep the old output), and no new last good',
    base: { file: 'base.conf', text: '[[registry]\n' },
    fragments: [
      ['a.toml', A1, 3],
      ['b.yaml', B0, 1],
    ],
    lastGood: { 'a.toml': A0 },
    states: { 'a.toml': 'valid', 'b.yaml': 'valid' },
    effective: undefined,
    lastGoodAfter: { 'a.toml': A0 },
  },
];

function inputOf(c: Case): ForgivingInput {
  return {
    base: c.base,
    fragments: c.fragments.map(([file, text, changedAt]): FragmentInput => ({ file, text, changedAt })),
    unreadable: (c.unreadable ?? []).map(refused),
    lastGood: c.lastGood ?? {},
  };
}

t.test('states, the render, and last good, case by case', async (t) => {
  for (const c of CASES) {
    const r = buildForgiving(inputOf(c), OUT);
    t.same(Object.fromEntries(r.statuses.map((s) => [s.file, s.state])), c.states, `${c.name}: states`);
    t.same(
      r.statuses.map((s) => s.file),
      Object.keys(c.states).sort(),
      `${c.name}: statuses in byte order`,
    );
    t.same(r.lastGood, c.lastGoodAfter, `${c.name}: last good`);
    for (const s of r.statuses) {
      if (s.state === 'valid') t.same(s.errors, [], `${c.name}: ${s.file} valid has no errors`);
      else t.ok(s.errors.length > 0, `${c.name}: ${s.file} ${s.state} says why`);
    }
    for (const [file, needles] of Object.entries(c.errorsMention ?? {})) {
      const text =
        r.statuses
          .find((s) => s.file === file)
          ?.errors.map(formatDiagnostic)
          .join('\n') ?? '';
      for (const n of needles) t.match(text, n, `${c.name}: ${file}'s errors mention ${n}`);
    }
    if (c.effective === undefined) {
      t.equal(r.text, undefined, `${c.name}: no text`);
      t.equal(r.conf, undefined, `${c.name}: no conf`);
      t.ok(
        r.diagnostics.some((d) => d.severity === 'error'),
        `${c.name}: says why`,
      );
      continue;
    }
    t.same(r.inEffect, Object.keys(c.effective).sort(), `${c.name}: in effect`);
    const strict = buildRegistriesConf({ base: c.base, fragments: Object.entries(c.effective).map(([file, text]) => ({ file, text })) }, OUT);
    t.same(
      strict.diagnostics.filter((d) => d.severity === 'error'),
      [],
      `${c.name}: (the expected effective set is itself valid)`,
    );
    t.equal(r.text, strict.text, `${c.name}: the render is the strict render of what is in effect`);
    t.ok(r.conf, `${c.name}: conf`);
  }
});

t.test('warnings (a setting two fragments give) pass through, both fragments stay valid', async (t) => {
  const r = buildForgiving(
    {
      fragments: [
        { file: 'a.toml', text: 'short-name-mode = "enforcing"\n', changedAt: 1 },
        { file: 'b.toml', text: 'short-name-mode = "permissive"\n', changedAt: 2 },
      ],
      unreadable: [],
      lastGood: {},
    },
    OUT,
  );
  t.same(
    r.statuses.map((s) => s.state),
    ['valid', 'valid'],
  );
  const warnings = r.diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
  t.equal(warnings.length, 1);
  t.match(warnings[0], /b\.toml.*a\.toml|a\.toml.*b\.toml/);
  t.match(r.text, 'short-name-mode = "permissive"');
});

t.test('deterministic: the same input gives the same result, in any input order', async (t) => {
  for (const c of CASES) {
    const input = inputOf(c);
    const one = buildForgiving(input, OUT);
    t.same(buildForgiving(input, OUT), one, `${c.name}: same again`);
    const reversed = buildForgiving({ ...input, fragments: [...input.fragments].reverse(), unreadable: [...input.unreadable].reverse() }, OUT);
    t.equal(reversed.text, one.text, `${c.name}: fragment order does not matter (text)`);
    t.same(reversed.statuses, one.statuses, `${c.name}: fragment order does not matter (states)`);
    t.same(reversed.lastGood, one.lastGood, `${c.name}: fragment order does not matter (last good)`);
  }
});

t.test('the input is not changed', async (t) => {
  const lastGood = { 'a.toml': A0, 'gone.toml': C1 };
  const fragments = [
    { file: 'a.toml', text: BROKEN, changedAt: 2 },
    { file: 'b.toml', text: Q_ALLOW, changedAt: 1 },
  ];
  const copy = JSON.parse(JSON.stringify({ lastGood, fragments })) as unknown;
  buildForgiving({ fragments, unreadable: [], lastGood }, OUT);
  t.same({ lastGood, fragments }, copy);
});

t.test('a sequence of renders, as the daemon runs them: last good follows valid content only', async (t) => {
  let lastGood: Record<string, string> = {};
  let counter = 0;
  const step = (files: Record<string, string>): ReturnType<typeof buildForgiving> => {
    const r = buildForgiving({ fragments: Object.entries(files).map(([file, text]) => ({ file, text, changedAt: ++counter })), unreadable: [], lastGood }, OUT);
    lastGood = r.lastGood;
    return r;
  };
  t.same(step({ 'a.toml': A0 }).inEffect, ['a.toml']);
  t.same(lastGood, { 'a.toml': A0 });
  let r = step({ 'a.toml': BROKEN });
  t.same([r.statuses[0]?.state, lastGood], ['held', { 'a.toml': A0 }], 'broken: held, last good unchanged');
  r = step({ 'a.toml': TYPO });
  t.same([r.statuses[0]?.state, lastGood], ['held', { 'a.toml': A0 }], 'still broken differently: still held at the same');
  r = step({ 'a.toml': A1 });
  t.same([r.statuses[0]?.state, lastGood], ['valid', { 'a.toml': A1 }], 'fixed: the new content is the last good');
  r = step({});
  t.same([r.statuses, lastGood], [[], {}], 'removed: forgotten');
  r = step({ 'a.toml': BROKEN });
  t.same([r.statuses[0]?.state, r.inEffect], ['invalid', []], 'back, broken: nothing to hold');
});

t.test('property: over random change sequences the render is always the strict render of what is in effect', async (t) => {
  const FILES = ['a.toml', 'b.toml', 'c.toml', 'd.toml'] as const;
  const POOL = [A0, A1, C1, BROKEN, TYPO, Q_NEVER, Q_ALLOW, Q_ALLOW_2, Q_OTHER, never('registry.example.com/team', ['qn2.example/team'])];
  // One step: for each file, absent, unreadable, or one of the pool texts.
  const stepArb = fc.tuple(...FILES.map(() => fc.integer({ min: -2, max: POOL.length - 1 })));
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 8 }), (steps) => {
      let lastGood: Record<string, string> = {};
      let counter = 0;
      const seen = new Map<string, { text: string; changedAt: number }>();
      for (const step of steps) {
        const fragments: FragmentInput[] = [];
        const unreadable: Diagnostic[] = [];
        step.forEach((pick, i) => {
          const file = FILES[i] as string;
          if (pick === -2) return void seen.delete(file);
          if (pick === -1) return void unreadable.push(refused(file));
          const text = POOL[pick] as string;
          const prev = seen.get(file);
          const changedAt = prev && prev.text === text ? prev.changedAt : ++counter; // as the daemon counts changes
          seen.set(file, { text, changedAt });
          fragments.push({ file, text, changedAt });
        });
        const r = buildForgiving({ fragments, unreadable, lastGood }, OUT);
        const present = [...fragments.map((f) => f.file), ...unreadable.map((d) => d.file)];
        if (r.text === undefined) throw new Error('no render without a base');
        const effective = r.statuses
          .filter((s) => s.state !== 'invalid')
          .map((s) => ({
            file: s.file,
            text: s.state === 'valid' ? (fragments.find((f) => f.file === s.file)?.text as string) : (lastGood[s.file] as string),
          }));
        for (const s of r.statuses) if (s.state === 'held' && lastGood[s.file] === undefined) throw new Error(`${s.file} held without a last good`);
        const strict = buildRegistriesConf({ fragments: effective }, OUT);
        if (strict.text !== r.text) throw new Error(`render differs from the strict render of ${JSON.stringify(effective.map((e) => e.file))}`);
        if (JSON.stringify(r.inEffect) !== JSON.stringify(effective.map((e) => e.file))) throw new Error('inEffect differs from the statuses');
        for (const file of Object.keys(r.lastGood)) if (!present.includes(file)) throw new Error(`last good for absent ${file}`);
        for (const e of effective) if (r.lastGood[e.file] !== e.text) throw new Error(`last good of ${e.file} is not what is in effect`);
        lastGood = r.lastGood;
      }
    }),
    { numRuns: 300, seed: 20250601 },
  );
  t.pass('300 random sequences');
});

t.test('a transform (health-aware order) reorders mirrors within their table; the rest of the file is byte-identical', async (t) => {
  const { applyHealthOrder } = await import('../../src/health/order.js');
  const input: ForgivingInput = {
    fragments: [
      { file: '10-a.toml', text: A1, changedAt: 1 },
      { file: '20-c.toml', text: C1, changedAt: 2 },
    ],
    unreadable: [],
    lastGood: {},
  };
  const plain = buildForgiving(input, OUT);
  const demoted = buildForgiving({ ...input, transform: (c) => applyHealthOrder(c, new Set(['https://a1.example'])) }, OUT);
  t.ok(plain.text && demoted.text);
  const p = plain.text as string;
  const d = demoted.text as string;
  t.ok(p.indexOf('a1.example/hub') < p.indexOf('a1b.example/hub'), 'configured order');
  t.ok(d.indexOf('a1b.example/hub') < d.indexOf('a1.example/hub'), 'the demoted mirror after the healthy one');
  // Swap the two mirror blocks back: only the header digest may differ.
  const body = (s: string): string =>
    s
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  const swapped = body(d).replace(/location = "a1b\.example\/hub"|location = "a1\.example\/hub"/g, (m) =>
    m.includes('a1b') ? 'location = "a1.example/hub"' : 'location = "a1b.example/hub"',
  );
  t.equal(swapped, body(p), 'nothing but the order of the two mirrors changed');
  t.same(demoted.statuses, plain.statuses);
  t.same(demoted.lastGood, plain.lastGood);
  t.equal(demoted.conf?.registries.find((r) => r.location === 'docker.io')?.mirrors[0]?.location, 'a1b.example/hub', 'the conf returned is the one rendered');
  const same = buildForgiving({ ...input, transform: (c) => applyHealthOrder(c, new Set()) }, OUT);
  t.equal(same.text, plain.text, 'nothing demoted: byte-identical');
});

t.test('property: a parse cache kept across renders (as the daemon keeps one) changes nothing in any result', async (t) => {
  const FILES = ['a.toml', 'b.yaml', 'c.toml'] as const;
  const POOL = [A0, A1, C1, BROKEN, TYPO, Q_NEVER, Q_ALLOW, Q_OTHER, B0, B1, BAD_YAML];
  const stepArb = fc.tuple(...FILES.map(() => fc.integer({ min: -2, max: POOL.length - 1 })));
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 10 }), (steps) => {
      const cache: ParseCache = new SweepCache();
      let lastGood: Record<string, string> = {};
      let counter = 0;
      for (const step of steps) {
        const fragments: FragmentInput[] = [];
        const unreadable: Diagnostic[] = [];
        step.forEach((pick, i) => {
          const file = FILES[i] as string;
          if (pick === -2) return;
          if (pick === -1) return void unreadable.push(refused(file));
          fragments.push({ file, text: POOL[pick] as string, changedAt: ++counter });
        });
        const fresh = buildForgiving({ fragments, unreadable, lastGood }, OUT);
        const cached = buildForgiving({ fragments, unreadable, lastGood, parseCache: cache }, OUT);
        const again = buildForgiving({ fragments, unreadable, lastGood, parseCache: cache }, OUT);
        const show = (r: typeof fresh): string =>
          JSON.stringify({
            ...r,
            diagnostics: r.diagnostics.map(formatDiagnostic),
            statuses: r.statuses.map((s) => [s.file, s.state, s.errors.map(formatDiagnostic), s.warnings.map(formatDiagnostic)]),
          });
        if (show(cached) !== show(fresh)) throw new Error('the first render with the cache differs');
        if (show(again) !== show(fresh)) throw new Error('a render from the cache differs');
        if (cache.size > 2 * FILES.length) throw new Error(`the cache holds ${cache.size} parses for ${FILES.length} files`);
        lastGood = fresh.lastGood;
      }
    }),
    { numRuns: 200, seed: 20261204 },
  );
  t.pass('200 random sequences');
});
