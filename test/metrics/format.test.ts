import t from 'tap';
import fc from 'fast-check';
import { escapeLabelValue, renderMetrics, type MetricsSnapshot } from '../../src/metrics/format.js';
import { checkMetrics as check, type Parsed } from '../helpers/prometheus-text.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 300);

// ---------------------------------------------------------------- tests

const SMALL: MetricsSnapshot = {
  mirrors: [
    { endpoint: 'https://m2:5000', up: false, demoted: true },
    { endpoint: 'https://m1:5000', up: true, probeLatencySeconds: 0.012, demoted: false },
    { endpoint: 'insecure://m3:5000', up: undefined, demoted: false },
  ],
  rendersTotal: 7,
  renderErrorsTotal: 1,
  fragments: { valid: 3, held: 1, invalid: 0 },
  lastSuccessfulRenderTimestampSeconds: 1_700_000_000.5,
  driftRestoresTotal: 2,
  demotionsTotal: 4,
  info: { version: '0.1.0' },
};

const SMALL_TEXT = `# HELP mirror_policyd_build_info mirror-policyd build information; always 1.
# TYPE mirror_policyd_build_info gauge
mirror_policyd_build_info{version="0.1.0"} 1
# HELP mirror_policyd_demotions_total Times a mirror endpoint was demoted (listed after the healthy mirrors).
# TYPE mirror_policyd_demotions_total counter
mirror_policyd_demotions_total 4
# HELP mirror_policyd_drift_restores_total Hand edits of the managed file undone by restoring the render.
# TYPE mirror_policyd_drift_restores_total counter
mirror_policyd_drift_restores_total 2
# HELP mirror_policyd_fragments Policy fragments by state: valid, held (last valid content kept in effect), invalid (never valid, left out).
# TYPE mirror_policyd_fragments gauge
mirror_policyd_fragments{state="held"} 1
mirror_policyd_fragments{state="invalid"} 0
mirror_policyd_fragments{state="valid"} 3
# HELP mirror_policyd_last_successful_render_timestamp_seconds Unix time of the last successful render, in seconds.
# TYPE mirror_policyd_last_successful_render_timestamp_seconds gauge
mirror_policyd_last_successful_render_timestamp_seconds 1700000000.5
# HELP mirror_policyd_mirror_demoted Whether the mirror endpoint is listed after the healthy mirrors (health-aware order) (1) or in its configured place (0).
# TYPE mirror_policyd_mirror_demoted gauge
mirror_policyd_mirror_demoted{endpoint="https://m1:5000"} 0
mirror_policyd_mirror_demoted{endpoint="https://m2:5000"} 1
mirror_policyd_mirror_demoted{endpoint="insecure://m3:5000"} 0
# HELP mirror_policyd_mirror_probe_latency_seconds Duration of the last successful probe of the mirror endpoint, in seconds.
# TYPE mirror_policyd_mirror_probe_latency_seconds gauge
mirror_policyd_mirror_probe_latency_seconds{endpoint="https://m1:5000"} 0.012
# HELP mirror_policyd_mirror_up Whether the last probe (GET /v2/) of the mirror endpoint succeeded (1) or failed (0); absent until probed.
# TYPE mirror_policyd_mirror_up gauge
mirror_policyd_mirror_up{endpoint="https://m1:5000"} 1
mirror_policyd_mirror_up{endpoint="https://m2:5000"} 0
# HELP mirror_policyd_render_errors_total Renders that failed (invalid result or write error).
# TYPE mirror_policyd_render_errors_total counter
mirror_policyd_render_errors_total 1
# HELP mirror_policyd_renders_total Renders (each a full re-read of the policy directory), including those that changed nothing or failed.
# TYPE mirror_policyd_renders_total counter
mirror_policyd_renders_total 7
`;

t.test('exact output for a small snapshot', async (t) => {
  t.equal(renderMetrics(SMALL), SMALL_TEXT);
  check(SMALL_TEXT);
  const reversed = { ...SMALL, mirrors: [...SMALL.mirrors].reverse() };
  t.equal(renderMetrics(reversed), SMALL_TEXT, 'deterministic: the order of mirrors in the snapshot does not matter');
});

t.test('the tiny parser refuses what it must', async (t) => {
  t.throws(() => check('mirror_policyd_x 1\n'), /HELP or TYPE missing|outside/);
  t.throws(() => check('# HELP mirror_policyd_x h\n# TYPE mirror_policyd_x gauge\nmirror_policyd_x NaN\n'), /finite/);
  t.throws(() => check('# HELP mirror_policyd_x h\n# TYPE mirror_policyd_x gauge\nmirror_policyd_x{a="b"c"} 1\n'), /name\{labels\} value/);
  t.throws(() => check('# HELP mirror_policyd_x h\n# HELP mirror_policyd_x h\n'), /second HELP/);
  t.throws(() => check('# HELP mirror_policyd_x h\n# TYPE mirror_policyd_x gauge\nmirror_policyd_x 1'), /newline/);
});

t.test('hostile label values are escaped and parse back to themselves', async (t) => {
  const hostile = [
    'https://evil:1"} 1\nmirror_policyd_renders_total 999\n# TYPE x counter',
    'back\\slash',
    'quote"quote',
    'new\nline',
    '\\n not a newline',
    '\\"',
    'tab\tand \r carriage',
    'ünïcödé 🚀',
    '',
  ];
  const snap: MetricsSnapshot = {
    ...SMALL,
    mirrors: hostile.map((endpoint, i) => ({ endpoint, up: i % 2 === 0, demoted: i % 3 === 0 })),
    info: { version: '1.0"}\n\\' },
  };
  const text = renderMetrics(snap);
  const p = check(text);
  t.same(
    p.samples
      .filter((s) => s.name === 'mirror_policyd_mirror_demoted')
      .map((s) => s.labels.endpoint)
      .sort(),
    [...hostile].sort(),
  );
  t.same(p.samples.find((s) => s.name === 'mirror_policyd_build_info')?.labels, { version: '1.0"}\n\\' });
  t.same(
    p.samples.filter((s) => s.name === 'mirror_policyd_renders_total').map((s) => s.value),
    [7],
    'no injected sample',
  );
  t.notOk(
    text.split('\n').some((l) => l.startsWith('# TYPE x') || l.startsWith('mirror_policyd_renders_total 999')),
    'no injected line',
  );
  t.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  t.equal(escapeLabelValue('lone \ud800 surrogate'), 'lone \ufffd surrogate', 'the file stays valid UTF-8');
});

t.test('unknown values are left out: never NaN, Infinity or undefined', async (t) => {
  const snap: MetricsSnapshot = {
    mirrors: [
      { endpoint: 'https://a:1', up: undefined, demoted: false },
      { endpoint: 'https://b:1', up: true, probeLatencySeconds: Number.NaN, demoted: false },
      { endpoint: 'https://c:1', up: false, probeLatencySeconds: Number.POSITIVE_INFINITY, demoted: true },
      { endpoint: 'https://d:1', up: true, probeLatencySeconds: -1, demoted: false },
    ],
    rendersTotal: Number.NaN,
    renderErrorsTotal: -3,
    fragments: { valid: 2, held: Number.NaN, invalid: undefined as unknown as number },
    driftRestoresTotal: 0,
    demotionsTotal: Number.POSITIVE_INFINITY,
  };
  const text = renderMetrics(snap);
  const p = check(text);
  t.notMatch(text, /NaN|Inf|undefined|null/);
  t.same(
    p.samples.filter((s) => s.name === 'mirror_policyd_mirror_up').map((s) => s.labels.endpoint),
    ['https://b:1', 'https://c:1', 'https://d:1'],
    'an endpoint not probed yet has no mirror_up',
  );
  t.notOk(p.help.has('mirror_policyd_mirror_probe_latency_seconds'), 'no latency known: no family at all');
  t.notOk(p.help.has('mirror_policyd_renders_total'));
  t.notOk(p.help.has('mirror_policyd_render_errors_total'), 'a negative counter is not a counter value');
  t.notOk(p.help.has('mirror_policyd_demotions_total'));
  t.notOk(p.help.has('mirror_policyd_last_successful_render_timestamp_seconds'), 'never rendered');
  t.notOk(p.help.has('mirror_policyd_build_info'), 'no info');
  t.same(
    p.samples.filter((s) => s.name === 'mirror_policyd_fragments').map((s) => [s.labels.state, s.value]),
    [['valid', 2]],
  );
  t.same(
    p.samples.filter((s) => s.name === 'mirror_policyd_drift_restores_total').map((s) => s.value),
    [0],
    'zero is a value',
  );
  t.equal(p.samples.filter((s) => s.name === 'mirror_policyd_mirror_demoted').length, 4);
});

t.test('an endpoint listed twice gives one series (a duplicate would fail the whole scrape)', async (t) => {
  const snap: MetricsSnapshot = { ...SMALL, mirrors: [...SMALL.mirrors, { endpoint: 'https://m1:5000', up: false, demoted: true }] };
  t.equal(renderMetrics(snap), SMALL_TEXT, 'the first entry wins');
});

t.test('no mirrors: mirror families are left out, the rest is there', async (t) => {
  const p = check(renderMetrics({ ...SMALL, mirrors: [] }));
  t.notOk([...p.type.keys()].some((n) => n.startsWith('mirror_policyd_mirror_')));
  t.same([...p.type.entries()].sort(), [
    ['mirror_policyd_build_info', 'gauge'],
    ['mirror_policyd_demotions_total', 'counter'],
    ['mirror_policyd_drift_restores_total', 'counter'],
    ['mirror_policyd_fragments', 'gauge'],
    ['mirror_policyd_last_successful_render_timestamp_seconds', 'gauge'],
    ['mirror_policyd_render_errors_total', 'counter'],
    ['mirror_policyd_renders_total', 'counter'],
  ]);
});

t.test('property: any snapshot renders to text the parser accepts, and parses back to the snapshot', async (t) => {
  const num = fc.oneof(fc.double(), fc.nat(), fc.constant(undefined));
  const snapArb = fc.record({
    mirrors: fc.array(
      fc.record({ endpoint: fc.string({ unit: 'binary' }), up: fc.constantFrom(true, false, undefined), probeLatencySeconds: num, demoted: fc.boolean() }),
      { maxLength: 6 },
    ),
    rendersTotal: fc.double(),
    renderErrorsTotal: fc.nat(),
    fragments: fc.record({ valid: fc.nat(), held: fc.double(), invalid: fc.nat() }),
    lastSuccessfulRenderTimestampSeconds: num,
    driftRestoresTotal: fc.nat(),
    demotionsTotal: fc.double(),
    info: fc.option(fc.record({ version: fc.string({ unit: 'binary' }) }), { nil: undefined }),
  }) as fc.Arbitrary<MetricsSnapshot>;
  fc.assert(
    fc.property(snapArb, (s) => {
      const text = renderMetrics(s);
      const p = check(text);
      if (renderMetrics(s) !== text) return false;
      const firsts = new Map<string, MetricsSnapshot['mirrors'][number]>();
      for (const m of s.mirrors) {
        const key = m.endpoint.toWellFormed();
        if (!firsts.has(key)) firsts.set(key, m);
      }
      const demoted = p.samples.filter((x) => x.name === 'mirror_policyd_mirror_demoted');
      if (demoted.length !== firsts.size) return false;
      for (const x of demoted) {
        const m = firsts.get(x.labels.endpoint ?? '');
        if (!m || x.value !== (m.demoted ? 1 : 0)) return false;
      }
      const renders = p.samples.find((x) => x.name === 'mirror_policyd_renders_total');
      const ok = Number.isFinite(s.rendersTotal) && s.rendersTotal >= 0;
      if (ok !== (renders !== undefined) || (renders && renders.value !== (Object.is(s.rendersTotal, -0) ? 0 : s.rendersTotal))) return false;
      return true;
    }),
    { numRuns: RUNS },
  );
  t.pass('holds');
});

t.test('the daemon counters and last-probe time, when given', async (t) => {
  const text = renderMetrics({
    ...SMALL,
    writesTotal: 3,
    healthRewritesTotal: 2,
    probeRoundsTotal: 40,
    mirrors: [{ endpoint: 'https://m1:5000', up: true, demoted: false, lastProbeTimestampSeconds: 1_700_000_001.25 }],
  });
  const p = check(text);
  const value = (name: string): number | undefined => p.samples.find((s) => s.name === name)?.value;
  t.equal(value('mirror_policyd_writes_total'), 3);
  t.equal(value('mirror_policyd_health_rewrites_total'), 2);
  t.equal(value('mirror_policyd_probe_rounds_total'), 40);
  t.equal(value('mirror_policyd_mirror_last_probe_timestamp_seconds'), 1_700_000_001.25);
  t.equal(p.type.get('mirror_policyd_writes_total'), 'counter');
  t.notMatch(renderMetrics(SMALL), /writes_total|health_rewrites_total|probe_rounds_total|last_probe/, 'left out when not given');
});

t.test('the local mirror: its counters labelled by route, code, source and outcome; absent while it is off', async (t) => {
  const text = renderMetrics({
    ...SMALL,
    localMirror: {
      listening: true,
      requests: { base: 1, manifests: 4, blobs: 9, refused: 2 },
      responses: { '200': 13, '404': 2 },
      bytesSent: 123_456,
      sources: { 'https://m1:5000': { ok: 0, absent: 0, failed: 1 }, 'insecure://m"2': { ok: 12, absent: 1, failed: 0 } },
      midBlobFallbacks: 1,
      digestMismatches: 0,
      deadlineAnswers: 0,
      errors: 2,
      inFlight: 3,
      waiting: 2,
    },
  });
  const p = check(text);
  const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
    p.samples.find((s) => s.name === `mirror_policyd_${name}` && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  t.equal(value('local_mirror_up'), 1);
  t.equal(value('local_mirror_requests_total', { route: 'blobs' }), 9);
  t.equal(value('local_mirror_responses_total', { code: '404' }), 2);
  t.equal(value('local_mirror_source_requests_total', { endpoint: 'https://m1:5000', outcome: 'failed' }), 1);
  t.equal(value('local_mirror_source_requests_total', { endpoint: 'insecure://m"2', outcome: 'ok' }), 12, 'a hostile endpoint label parses back');
  t.equal(value('local_mirror_sent_bytes_total'), 123_456);
  t.equal(value('local_mirror_mid_blob_fallbacks_total'), 1);
  t.equal(p.type.get('mirror_policyd_local_mirror_in_flight_requests'), 'gauge');
  t.equal(p.type.get('mirror_policyd_local_mirror_waiting_requests'), 'gauge');
  t.equal(value('local_mirror_waiting_requests'), 2);
  t.equal(value('local_mirror_up', {}), 1);
  t.equal(
    check(renderMetrics({ ...SMALL, localMirror: { listening: false } })).samples.find((s) => s.name === 'mirror_policyd_local_mirror_up')?.value,
    0,
    'on but not listening',
  );
  t.notMatch(renderMetrics(SMALL), /local_mirror/, 'off: no local-mirror family');
});

t.test('the daemon’s standing: degraded, the last reload, reloads by outcome, always there once given', async (t) => {
  const value = (p: Parsed, name: string, labels: Record<string, string> = {}): number | undefined =>
    p.samples.find((s) => s.name === `mirror_policyd_${name}` && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
  const healthy = check(
    renderMetrics({
      ...SMALL,
      degraded: false,
      configLastReloadSuccessful: true,
      reloads: { applied: 0, refused: 0, 'not-rendered': 0, failed: 0, stopped: 0 },
    }),
  );
  t.equal(value(healthy, 'degraded'), 0, 'healthy is 0, not absent: an alert on == 1 resolves, one on == 0 can fire');
  t.equal(value(healthy, 'config_last_reload_successful'), 1);
  t.equal(healthy.type.get('mirror_policyd_config_last_reload_successful'), 'gauge');
  t.same(
    healthy.samples.filter((s) => s.name === 'mirror_policyd_reloads_total').map((s) => [s.labels.outcome, s.value]),
    [
      ['applied', 0],
      ['failed', 0],
      ['not-rendered', 0],
      ['refused', 0],
      ['stopped', 0],
    ],
    'every outcome from the start, so that increase() sees the first refusal',
  );
  t.equal(healthy.type.get('mirror_policyd_reloads_total'), 'counter');
  const refused = check(renderMetrics({ ...SMALL, degraded: true, configLastReloadSuccessful: false, reloads: { applied: 2, refused: 1 } }));
  t.equal(value(refused, 'degraded'), 1);
  t.equal(value(refused, 'config_last_reload_successful'), 0);
  t.equal(value(refused, 'reloads_total', { outcome: 'refused' }), 1);
  t.notMatch(renderMetrics(SMALL), /degraded|reload/, 'left out when not given');
});

t.test('held and invalid fragments by name: hostile names escaped, valid ones not listed, a bounded number', async (t) => {
  const hostile = ['20-bad"} 1\nmirror_policyd_degraded 0\n.toml', 'back\\slash.yaml', 'ünï 🚀.toml', 'lone \ud800.toml'];
  const p = check(
    renderMetrics({
      ...SMALL,
      brokenFragments: [
        ...hostile.map((file, i) => ({ file, state: i % 2 === 0 ? ('invalid' as const) : ('held' as const) })),
        { file: hostile[0]!, state: 'held' },
      ],
    }),
  );
  const broken = p.samples.filter((s) => s.name === 'mirror_policyd_fragment_broken');
  t.same(
    broken.map((s) => s.labels.file).sort(),
    hostile.map((f) => f.toWellFormed()).sort(),
    'each name once, parsed back to itself (a name listed twice: the first entry wins)',
  );
  t.same(broken.find((s) => s.labels.file === hostile[0])?.labels.state, 'invalid');
  t.ok(broken.every((s) => s.value === 1));
  t.equal(p.type.get('mirror_policyd_fragment_broken'), 'gauge');
  t.notOk(
    p.samples.some((s) => s.name === 'mirror_policyd_degraded'),
    'no injected sample',
  );

  const many = Array.from({ length: 150 }, (_, i) => ({ file: `f${String(i).padStart(3, '0')}.toml`, state: 'invalid' as const }));
  const capped = check(renderMetrics({ ...SMALL, brokenFragments: many.reverse() })).samples.filter((s) => s.name === 'mirror_policyd_fragment_broken');
  t.equal(capped.length, 100, 'a bad sync of 10 000 fragments does not make 10 000 series');
  t.equal(capped[0]?.labels.file, 'f000.toml', 'the first in byte order');
  t.notMatch(renderMetrics({ ...SMALL, brokenFragments: [] }), /fragment_broken/, 'none broken: no family');
});
