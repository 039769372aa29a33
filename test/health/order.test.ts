import t from 'tap';
import fc from 'fast-check';
import { parse as parseToml } from 'smol-toml';
import { mirrorEndpoints } from '../../src/health/prober.js';
import { endpointKey } from '../../src/health/health.js';
import {
  applyHealthOrder,
  DEFAULT_HYSTERESIS,
  demotedKeys,
  hysteresisProblems,
  mayRewrite,
  mirrorEndpointKey,
  NEVER_CHANGED,
  observeProbe,
  pruneRewriteTimes,
  retainEndpoints,
  type HysteresisPolicy,
  type OrderChange,
  type OrderState,
} from '../../src/health/order.js';
import { buildRegistriesConf } from '../../src/pipeline/strict.js';
import type { Endpoint, RegistriesConf } from '../../src/registries-conf/model.js';
import { renderBody, renderRegistriesConf } from '../../src/registries-conf/render.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const T0 = 1_700_000_000_000;
const S = 1000;
const M1 = 'https://m1:5000';

// ---------------------------------------------------------------- observeProbe

/** One probe: at T0 + seconds, ok ('ok') or failed with a class ('refused', ...; '?' for no class). */
type Probe = readonly [seconds: number, result: string];

function run(
  probes: readonly Probe[],
  policy: HysteresisPolicy = DEFAULT_HYSTERESIS,
  key = M1,
  start: OrderState = {},
): { state: OrderState; changes: Array<OrderChange & { at: number }> } {
  let state = start;
  const changes: Array<OrderChange & { at: number }> = [];
  for (const [sec, r] of probes) {
    const res = observeProbe(state, key, r === 'ok', r === 'ok' || r === '?' ? undefined : r, T0 + sec * S, policy);
    state = res.state;
    if (res.change) changes.push({ ...res.change, at: sec });
  }
  return { state, changes };
}

/** Probes every 10 s from `from`: 'F' connect-timeout, 'o' ok. */
function every10(pattern: string, from = 0): Probe[] {
  return [...pattern].map((c, i) => [from + i * 10, c === 'o' ? 'ok' : 'connect-timeout'] as const);
}

t.test('defaults: demoted within 30 s at a 10 s probe interval, and usable', async (t) => {
  t.same({ ...DEFAULT_HYSTERESIS }, { demoteAfter: 3, restoreAfter: 2, minDwellMs: 30_000, maxRewritesPerMinute: 6 });
  t.same(hysteresisProblems(DEFAULT_HYSTERESIS), []);
  const { changes } = run(every10('FFF'));
  t.same(
    changes.map((c) => c.at),
    [20],
    'third probe, 20 s after the first failure',
  );
});

t.test('probe sequences (defaults: N=3, M=2, dwell 30 s)', async (t) => {
  const cases: Array<{ name: string; probes: Probe[]; changes: Array<[number, boolean, string]>; demoted: boolean }> = [
    { name: 'fail, fail, fail → demoted at the 3rd', probes: every10('FFF'), changes: [[20, true, `demoted ${M1}: 3 connect-timeout`]], demoted: true },
    { name: 'two failures are not enough', probes: every10('FF'), changes: [], demoted: false },
    { name: 'a success blip resets the failure count', probes: every10('FFoFF'), changes: [], demoted: false },
    { name: 'after the blip, three more failures demote', probes: every10('FFoFFF'), changes: [[50, true, `demoted ${M1}: 3 connect-timeout`]], demoted: true },
    { name: 'alternating failures and successes never demote', probes: every10('FoFoFoFoFoFoFoFo'), changes: [], demoted: false },
    { name: 'healthy all along: nothing', probes: every10('oooooo'), changes: [], demoted: false },
    {
      name: 'restored after M successes once the dwell has passed',
      probes: [...every10('FFF'), ...every10('oo', 60)],
      changes: [
        [20, true, `demoted ${M1}: 3 connect-timeout`],
        [70, false, `restored ${M1}: 2 successful probes`],
      ],
      demoted: false,
    },
    {
      name: 'M successes inside the dwell wait for it; the next success after it restores',
      probes: [...every10('FFF'), ...every10('ooo', 30)], // demoted at 20; ok at 30, 40 (dwell until 50), 50
      changes: [
        [20, true, `demoted ${M1}: 3 connect-timeout`],
        [50, false, `restored ${M1}: 3 successful probes`],
      ],
      demoted: false,
    },
    {
      name: 'flapping faster than the dwell: no change',
      probes: [
        ...every10('FFF'),
        [23, 'ok'],
        [26, 'ok'],
        [29, 'connect-timeout'],
        [32, 'ok'],
        [35, 'ok'],
        [38, 'refused'],
        [41, 'ok'],
        [44, 'ok'],
        [47, 'refused'],
      ],
      changes: [[20, true, `demoted ${M1}: 3 connect-timeout`]],
      demoted: true,
    },
    {
      name: 'one success is not a recovery (M=2)',
      probes: [...every10('FFF'), ...every10('oFoFoF', 60)],
      changes: [[20, true, `demoted ${M1}: 3 connect-timeout`]],
      demoted: true,
    },
    {
      name: 'after a restore, failing again inside the dwell waits for it',
      probes: [...every10('FFF'), ...every10('oo', 60), [71, 'refused'], [72, 'refused'], [73, 'refused'], [80, 'refused'], [100, 'refused']],
      changes: [
        [20, true, `demoted ${M1}: 3 connect-timeout`],
        [70, false, `restored ${M1}: 2 successful probes`],
        [100, true, `demoted ${M1}: 5 refused`],
      ],
      demoted: true,
    },
    {
      name: 'mixed failure classes are summed up',
      probes: [
        [0, 'refused'],
        [10, 'tls'],
        [20, 'refused'],
      ],
      changes: [[20, true, `demoted ${M1}: 3 failed probes (2 refused, 1 tls)`]],
      demoted: true,
    },
    {
      name: 'failures without a class',
      probes: [
        [0, '?'],
        [10, '?'],
        [20, '?'],
      ],
      changes: [[20, true, `demoted ${M1}: 3 failed probes`]],
      demoted: true,
    },
  ];
  for (const c of cases) {
    const { state, changes } = run(c.probes);
    t.same(
      changes.map((x) => [x.at, x.demoted, x.reason]),
      c.changes,
      c.name,
    );
    t.equal(state[M1]?.demoted, c.demoted, `${c.name}: final flag`);
    for (const x of changes) t.equal(x.key, M1);
  }
});

t.test('the state records counters, the time of the last change and its short reason', async (t) => {
  let { state } = run(every10('FF'));
  t.same(state[M1], { demoted: false, consecutiveFailures: 2, consecutiveSuccesses: 0, since: NEVER_CHANGED, failureClasses: { 'connect-timeout': 2 } });
  ({ state } = run(every10('FFFF')));
  t.same(state[M1], {
    demoted: true,
    consecutiveFailures: 4,
    consecutiveSuccesses: 0,
    since: T0 + 20 * S,
    reason: '3 connect-timeout',
    failureClasses: { 'connect-timeout': 4 },
  });
  ({ state } = run([...every10('FFF'), ...every10('oo', 60)]));
  t.same(state[M1], { demoted: false, consecutiveFailures: 0, consecutiveSuccesses: 2, since: T0 + 70 * S, reason: '2 successful probes' });
  t.same(JSON.parse(JSON.stringify(state)), state, 'JSON round trip (a state may be kept on disk)');
});

t.test('other policies: N=1, M=1, no dwell flips on every probe; a long dwell holds', async (t) => {
  const eager = { demoteAfter: 1, restoreAfter: 1, minDwellMs: 0, maxRewritesPerMinute: 100 };
  t.same(
    run(every10('FoFo'), eager).changes.map((c) => [c.at, c.demoted]),
    [
      [0, true],
      [10, false],
      [20, true],
      [30, false],
    ],
  );
  const slow = { ...DEFAULT_HYSTERESIS, minDwellMs: 300_000 };
  const r = run([...every10('FFF'), ...every10('oooooooooooooooooooooooooooooooo', 30)], slow);
  t.same(
    r.changes.map((c) => c.at),
    [20, 320],
    'restored at the first success 5 min after the demotion',
  );
});

t.test('endpoints are independent; the input state is not mutated', async (t) => {
  const M2 = 'insecure://m2:5000';
  const frozen = Object.freeze({ [M2]: Object.freeze({ demoted: true, consecutiveFailures: 3, consecutiveSuccesses: 0, since: T0, reason: '3 refused' }) });
  const before = JSON.stringify(frozen);
  const r = run(every10('FFF', 100), DEFAULT_HYSTERESIS, M1, frozen);
  t.equal(JSON.stringify(frozen), before);
  t.same(r.state[M2], frozen[M2], 'the other endpoint is untouched');
  t.same([...demotedKeys(r.state)].sort(), [M2, M1].sort());
  t.same(Object.keys(retainEndpoints(r.state, [M1, 'https://gone:1'])), [M1], 'a mirror that left the configuration is forgotten');
});

t.test('policy validation', async (t) => {
  t.same(hysteresisProblems({ demoteAfter: 0, restoreAfter: 1.5, minDwellMs: -1, maxRewritesPerMinute: 0 }).length, 4);
  t.same(hysteresisProblems({ demoteAfter: 1, restoreAfter: 1, minDwellMs: 0, maxRewritesPerMinute: Number.POSITIVE_INFINITY }), []);
  t.same(hysteresisProblems({ demoteAfter: Number.NaN, restoreAfter: 2, minDwellMs: Number.NaN, maxRewritesPerMinute: 6 }).length, 2);
});

// ---------------------------------------------------------------- rate limiter

t.test('mayRewrite: at most maxRewritesPerMinute rewrites in any 60 s window', async (t) => {
  const p = DEFAULT_HYSTERESIS; // 6 a minute
  t.ok(mayRewrite([], T0, p));
  const five = [0, 1, 2, 3, 4].map((i) => T0 + i * S);
  t.ok(mayRewrite(five, T0 + 5 * S, p), '5 in the window: a 6th is allowed');
  const six = [...five, T0 + 5 * S];
  t.notOk(mayRewrite(six, T0 + 6 * S, p), '6 in the window: no 7th');
  t.notOk(mayRewrite(six, T0 + 59_999, p), 'the first is still inside the window');
  t.ok(mayRewrite(six, T0 + 60_000, p), 'exactly 60 s after the first, it has left the window');
  t.ok(mayRewrite(six, T0 + 3_600_000, p));
  t.notOk(
    mayRewrite(
      six.map((x) => x + 3_600_000),
      T0,
      p,
    ),
    'times after now (the clock stepped back) count as recent',
  );
  t.ok(mayRewrite(six, T0 + 6 * S, { ...p, maxRewritesPerMinute: Number.POSITIVE_INFINITY }), 'no cap');
  t.notOk(mayRewrite([T0], T0, { ...p, maxRewritesPerMinute: 1 }));
  t.same(pruneRewriteTimes(six, T0 + 62_500), [T0 + 3 * S, T0 + 4 * S, T0 + 5 * S]);
  t.equal(mayRewrite(pruneRewriteTimes(six, T0 + 62_500), T0 + 62_500, p), mayRewrite(six, T0 + 62_500, p), 'pruning does not change the answer');
});

// ---------------------------------------------------------------- applyHealthOrder

const m = (location: string, extra: Partial<Endpoint> = {}): Endpoint => ({ location, ...extra });

/** Two tables share m1:5000; the insecure endpoint of the same host is another key; each mirror has its own filter. */
function sample(): RegistriesConf {
  return {
    unqualifiedSearchRegistries: ['docker.io'],
    shortNameMode: 'enforcing',
    aliases: { fedora: 'registry.fedoraproject.org/fedora' },
    registries: [
      {
        prefix: 'docker.io',
        location: 'docker.io',
        mirrors: [
          m('m1:5000/hub', { pullFromMirror: 'digest-only' }),
          m('m2:5000/hub', { pullFromMirror: 'tag-only' }),
          m('m3.example/hub'),
          m('m1:5000/hub2', { pullFromMirror: 'all' }),
        ],
      },
      {
        prefix: 'quay.io/ocp',
        location: 'quay.io/ocp',
        blocked: true,
        mirrorByDigestOnly: true,
        mirrors: [m('m1:5000/ocp'), m('m1:5000/ocp', { insecure: true }), m('m4.example/ocp')],
      },
      { location: 'registry.lab.example:5000', insecure: true, mirrors: [m('m1:5000/all-down'), m('m1:5000/all-down-2')] },
      { location: 'no-mirrors.example', mirrors: [] },
    ],
  };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

const lines = (s: string): string[] => s.split('\n').sort();

/** The `[[registry]]` tables of a body without their mirror lines, and each table's mirror blocks. */
function tables(body: string): Array<{ head: string; mirrors: string[] }> {
  return body
    .split('\n\n[[registry]]\n')
    .slice(1)
    .map((chunk) => {
      const [head = '', ...mirrors] = chunk.split('\n\n  [[registry.mirror]]\n');
      return { head, mirrors };
    });
}

t.test('the endpoint key of a mirror is the one the prober uses', async (t) => {
  const conf = sample();
  const probed = new Set(mirrorEndpoints(conf).map((p) => endpointKey(p.host, p.insecure)));
  const ours = new Set(conf.registries.flatMap((r) => r.mirrors.map(mirrorEndpointKey)));
  t.same([...ours].sort(), [...probed].sort());
  t.equal(mirrorEndpointKey({ location: 'm1:5000/a/b' }), 'https://m1:5000');
  t.equal(mirrorEndpointKey({ location: 'm1:5000', insecure: true }), 'insecure://m1:5000');
});

t.test('demoted mirrors move after the healthy ones of each table; nothing else changes', async (t) => {
  const conf = deepFreeze(sample());
  const snapshot = JSON.stringify(conf);
  const out = applyHealthOrder(conf, new Set([M1]));
  t.equal(JSON.stringify(conf), snapshot, 'the input is not mutated');
  t.not(out, conf);
  t.same(
    out.registries.map((r) => r.mirrors),
    [
      [
        m('m2:5000/hub', { pullFromMirror: 'tag-only' }),
        m('m3.example/hub'),
        m('m1:5000/hub', { pullFromMirror: 'digest-only' }),
        m('m1:5000/hub2', { pullFromMirror: 'all' }),
      ],
      [m('m1:5000/ocp', { insecure: true }), m('m4.example/ocp'), m('m1:5000/ocp')],
      [m('m1:5000/all-down'), m('m1:5000/all-down-2')],
      [],
    ],
    'shared host demoted in every table, each mirror with its own pull-from-mirror; the insecure endpoint of the same host is another endpoint; an all-demoted table keeps its order',
  );
  const before = renderBody(conf);
  const after = renderBody(out);
  t.not(after, before);
  t.same(lines(after), lines(before), 'the same lines, only moved');
  const tb = tables(before);
  const ta = tables(after);
  t.same(
    ta.map((x) => x.head),
    tb.map((x) => x.head),
    'same tables in the same order, primaries untouched',
  );
  t.same(
    ta.map((x) => [...x.mirrors].sort()),
    tb.map((x) => [...x.mirrors].sort()),
    'each table keeps its own mirror blocks',
  );
  t.equal(after.slice(0, after.indexOf('[[registry]]')), before.slice(0, before.indexOf('[[registry]]')), 'top-level keys and aliases byte-identical');
  t.equal(renderBody(applyHealthOrder(conf, new Set())), before, 'nothing demoted: the same bytes');
  t.equal(renderBody(applyHealthOrder(conf, new Set(['https://unknown:1']))), before, 'an endpoint the file does not use: the same bytes');
  t.equal(renderBody(applyHealthOrder(out, new Set([M1]))), after, 'idempotent');
});

t.test('every mirror of a table demoted: configured order kept', async (t) => {
  const conf = sample();
  const all = new Set(conf.registries.flatMap((r) => r.mirrors.map(mirrorEndpointKey)));
  t.equal(renderBody(applyHealthOrder(conf, all)), renderBody(conf));
});

t.test('probes drive the order: down → demoted in the file; recovered → exactly the original bytes', async (t) => {
  const r = buildRegistriesConf({
    fragments: [
      {
        file: '50-local.toml',
        text: `blocked-registries = ["docker.io/library/blocked"]

[[mirror-set]]
source = "docker.io"
mirrors = ["m1:5000/hub", "m2:5000/hub"]
pull-from-mirror = "all"

[[mirror-set]]
source = "quay.io/ocp"
mirrors = ["m1:5000/ocp", "m3:5000/ocp"]
`,
      },
    ],
  });
  const conf = r.conf;
  if (!conf || r.text === undefined) throw new Error(JSON.stringify(r.diagnostics));
  const facts = { fragments: ['50-local.toml'] };
  const original = renderRegistriesConf(conf, facts);
  t.equal(original, r.text, 'renderRegistriesConf of the model is the pipeline text');
  t.ok(
    conf.registries.filter((x) => x.mirrors.some((y) => y.location.startsWith('m1:5000/'))).length >= 3,
    'several tables (one inherited by a nested blocked table) share m1',
  );

  let state: OrderState = {};
  const texts: string[] = [];
  const probe = (sec: number, ok: boolean): void => {
    const res = observeProbe(state, M1, ok, ok ? undefined : 'refused', T0 + sec * S);
    state = res.state;
    if (res.change) texts.push(renderRegistriesConf(applyHealthOrder(conf, demotedKeys(state)), facts));
  };
  for (const sec of [0, 10, 20]) probe(sec, false);
  t.equal(texts.length, 1);
  const demotedText = texts[0] ?? '';
  t.not(demotedText, original);
  t.same(lines(demotedText.slice(demotedText.indexOf('\n\n'))), lines(original.slice(original.indexOf('\n\n'))), 'below the header only the order changed');
  const parsed = parseToml(demotedText) as { registry: Array<{ location: string; mirror?: Array<{ location: string }> }> };
  for (const table of parsed.registry) {
    const locs = (table.mirror ?? []).map((x) => x.location);
    if (locs.length === 2) t.notOk(locs[0]?.startsWith('m1:5000/'), `${table.location}: m1 is no longer first`);
  }
  for (const sec of [30, 40, 50, 60]) probe(sec, true);
  t.equal(texts.length, 2);
  t.equal(texts[1], original, 'restored: exactly the original bytes');
});

// ---------------------------------------------------------------- property

const HOSTS = ['m1:5000', 'm2:5000', 'm3.example', 'M1:5000', 'localhost'];
const mirrorArb = fc.record(
  {
    location: fc.tuple(fc.constantFrom(...HOSTS), fc.constantFrom('', '/a', '/b/c')).map(([h, p]) => h + p),
    insecure: fc.boolean(),
    pullFromMirror: fc.constantFrom('all', 'digest-only', 'tag-only'),
  },
  { requiredKeys: ['location'] },
);
const confArb: fc.Arbitrary<RegistriesConf> = fc.record(
  {
    unqualifiedSearchRegistries: fc.array(fc.constantFrom('docker.io', 'quay.io'), { maxLength: 2 }),
    shortNameMode: fc.constantFrom('enforcing', 'permissive'),
    registries: fc.uniqueArray(
      fc.record(
        {
          location: fc.constantFrom('docker.io', 'quay.io', 'quay.io/ocp', 'reg.example:5000', 'reg.example:5000/ns'),
          insecure: fc.boolean(),
          blocked: fc.boolean(),
          mirrorByDigestOnly: fc.boolean(),
          mirrors: fc.array(mirrorArb, { maxLength: 6 }),
        },
        { requiredKeys: ['location', 'mirrors'] },
      ),
      { selector: (r) => r.location, maxLength: 5 },
    ),
  },
  { requiredKeys: ['registries'] },
);
const keysArb = fc.subarray(HOSTS.flatMap((h) => [endpointKey(h, false), endpointKey(h, true)]));

t.test('property: a stable partition of each table, everything else identical', async (t) => {
  fc.assert(
    fc.property(confArb, keysArb, (conf, keys) => {
      const demoted = new Set(keys);
      const snapshot = JSON.stringify(conf);
      const out = applyHealthOrder(conf, demoted);
      if (JSON.stringify(conf) !== snapshot) return false;
      const before = renderBody(conf);
      const after = renderBody(out);
      if (lines(after).join('\n') !== lines(before).join('\n')) return false;
      const { registries: a, ...restA } = out;
      const { registries: b, ...restB } = conf;
      if (JSON.stringify(restA) !== JSON.stringify(restB) || a.length !== b.length) return false;
      return a.every((ta, i) => {
        const tb = b[i];
        if (!tb) return false;
        const { mirrors: ma, ...headA } = ta;
        const { mirrors: mb, ...headB } = tb;
        if (JSON.stringify(headA) !== JSON.stringify(headB)) return false;
        const up = mb.filter((x) => !demoted.has(mirrorEndpointKey(x)));
        const down = mb.filter((x) => demoted.has(mirrorEndpointKey(x)));
        const expected = up.length === 0 ? mb : [...up, ...down];
        return JSON.stringify(ma) === JSON.stringify(expected);
      });
    }),
    { numRuns: RUNS },
  );
  t.pass('holds');
});
