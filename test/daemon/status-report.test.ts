/**
 * The status report (src/daemon/status-report.ts), pure: the daemon's facts in, the `status`
 * answer, the systemd status line, the degraded reasons and the metrics out.
 */
import t from 'tap';
import { error, warning } from '../../src/core/diagnostic.js';
import { HealthKeeper } from '../../src/health/keeper.js';
import type { HealthMap } from '../../src/health/health.js';
import type { FragmentStatus } from '../../src/pipeline/forgiving.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import {
  buildStatus,
  degradedReasons,
  fragmentCounts,
  metricsSnapshot,
  statusLine,
  type DaemonFacts,
  type RenderInfo,
} from '../../src/daemon/status-report.js';

const NOW = 1_700_000_000_000;
const RENDER: RenderInfo = { at: new Date(NOW - 5000).toISOString(), ms: 7, sha256: 'a'.repeat(64), changed: true, fragments: 1, tables: 1, mirrors: 2 };
const CONF: RegistriesConf = { registries: [{ location: 'quay.io', mirrors: [{ location: 'm1.example/a' }, { location: 'm2.example/b' }] }] };
const M1 = 'https://m1.example';
const M2 = 'https://m2.example';
const HEALTH: HealthMap = { [M2]: { endpoint: M2, failures: 0, lastSuccess: NOW - 500, latencyMs: 12, updatedAt: NOW - 500 } };
const VALID: FragmentStatus = { file: '10-a.toml', state: 'valid', errors: [], warnings: [warning({ file: '10-a.toml', line: 2 }, 'unknown key')] };

/** A healthy daemon after one render; each test changes what it needs. */
function facts(over: Partial<DaemonFacts> = {}): DaemonFacts {
  return {
    now: NOW,
    pid: 4242,
    version: '9.9.9',
    startedAt: new Date(NOW - 60_000).toISOString(),
    policyDir: '/p',
    output: '/o/registries.conf',
    stateDir: '/s',
    base: { source: 'none' },
    fragments: [VALID],
    otherWarnings: [],
    lastRender: RENDER,
    lastSuccessAt: NOW - 5000,
    policyDirProblems: [],
    savingProblems: [],
    generalProblems: [],
    drift: [],
    shadowing: [],
    conf: CONF,
    health: HEALTH,
    counters: { renders: 3, renderErrors: 1, writes: 2, healthRewrites: 0, probeRounds: 4, driftRestores: 1 },
    ...over,
  };
}

t.test('healthy: no degraded reason, the status line and the status answer', async (t) => {
  const f = facts();
  t.same(degradedReasons(f), []);
  t.equal(statusLine(f), `healthy: fragments 1 valid, 0 held, 0 invalid, 1 table, 2 mirrors, rendered ${RENDER.at}`);
  t.same(buildStatus(f), {
    state: 'healthy',
    degraded: [],
    pid: 4242,
    version: '9.9.9',
    startedAt: new Date(NOW - 60_000).toISOString(),
    policyDir: '/p',
    output: '/o/registries.conf',
    stateDir: '/s',
    base: { source: 'none' },
    fragments: [{ file: '10-a.toml', state: 'valid', errors: [], warnings: ['10-a.toml:2:1: warning: unknown key'] }],
    warnings: [],
    lastRender: RENDER,
    drift: [],
    shadowing: [],
    mirrors: [
      { endpoint: M1, state: 'unknown' },
      { endpoint: M2, state: 'up', lastProbe: new Date(NOW - 500).toISOString(), latencyMs: 12 },
    ],
    renders: 3,
    renderErrors: 1,
    reloads: { requested: 0, started: 0, finished: 0 },
  });
  const reloads = { requested: 2, started: 1, finished: 1, last: { number: 1, at: RENDER.at, outcome: 'applied' as const, problems: [], warnings: [] } };
  t.same(buildStatus(facts({ reloads })).reloads, reloads, 'the reload counts as the daemon keeps them');
});

t.test('every degraded reason, in order: fragments, the policy dir, the render, the write, the state dir, the rest', async (t) => {
  const f = facts({
    fragments: [
      VALID,
      { file: '20-b.toml', state: 'held', errors: [], warnings: [] },
      { file: '30-c.toml', state: 'invalid', errors: [error({ file: '30-c.toml', line: 3 }, 'bad')], warnings: [] },
    ],
    policyDirProblems: ['policy directory /p does not exist; the last render stays in effect until it is back'],
    lastWriteError: 'EROFS: read-only file system',
    savingProblems: ['cannot save the last-good copies in /s/last-good: ENOSPC'],
    generalProblems: ['base: ENOENT'],
  });
  t.same(degradedReasons(f), [
    '1 fragment(s) held at their last valid content',
    '1 fragment(s) left out',
    'policy directory /p does not exist; the last render stays in effect until it is back',
    'cannot write /o/registries.conf: EROFS: read-only file system',
    'cannot save the last-good copies in /s/last-good: ENOSPC',
    'base: ENOENT',
  ]);
  t.match(statusLine(f), /^degraded: 1 fragment\(s\) held at their last valid content \(\+5 more\); fragments 1 valid, 1 held, 1 invalid, 1 table,/);
  const s = buildStatus(f);
  t.equal(s.state, 'degraded');
  t.equal(s.lastWriteError, 'EROFS: read-only file system');
  t.same(s.fragments[2], { file: '30-c.toml', state: 'invalid', errors: ['30-c.toml:3:1: bad'], warnings: [] });
});

t.test('not rendered yet: degraded, and said so in the line; no lastRender, no mirrors', async (t) => {
  const { lastRender: _r, lastSuccessAt: _s, conf: _c, ...rest } = facts({ fragments: [] });
  t.same(degradedReasons(rest), ['not rendered yet']);
  t.equal(statusLine(rest), 'degraded: not rendered yet; fragments 0 valid, 0 held, 0 invalid');
  const s = buildStatus(rest);
  t.notOk('lastRender' in s);
  t.notOk('lastWriteError' in s);
  t.same(s.mirrors, []);
  t.notOk('lastSuccessfulRenderTimestampSeconds' in metricsSnapshot(rest));
});

t.test('health-aware order: its summary only while on, demoted endpoints in byte order', async (t) => {
  t.notOk('healthAwareOrder' in buildStatus(facts()), 'off: no summary');
  const keeper = new HealthKeeper({ demoteAfter: 1, restoreAfter: 1, minDwellMs: 0, maxRewritesPerMinute: 6 });
  keeper.observeRound(
    [
      { key: M2, ok: false, failureClass: 'refused' },
      { key: M1, ok: false, failureClass: 'tls' },
    ],
    [M1, M2],
    NOW - 1000,
  );
  const s = buildStatus(facts({ keeper, counters: { ...facts().counters, healthRewrites: 1 } }));
  t.same(s.healthAwareOrder, { demoted: [M1, M2], demotions: 2, rewrites: 1, rewritesLastMinute: 1 });
  t.same(
    s.mirrors?.map((m) => [m.endpoint, m.state, m.demoted]),
    [
      [M1, 'demoted', true],
      [M2, 'demoted', true],
    ],
  );
  t.equal(buildStatus(facts({ keeper, now: NOW + 120_000 })).healthAwareOrder?.rewritesLastMinute, 0, 'the minute is counted from `now`');
  t.same(
    metricsSnapshot(facts({ keeper })).mirrors.map((m) => m.demoted),
    [true, true],
  );
  t.equal(metricsSnapshot(facts({ keeper })).demotionsTotal, 2);
});

t.test('metrics: the counters, the fragments by state, the last success in seconds, the version', async (t) => {
  t.same(metricsSnapshot(facts({ fragments: [VALID, { file: 'x.toml', state: 'held', errors: [], warnings: [] }] })), {
    mirrors: [
      { endpoint: M1, up: undefined, demoted: false },
      { endpoint: M2, up: true, probeLatencySeconds: 0.012, lastProbeTimestampSeconds: (NOW - 500) / 1000, demoted: false },
    ],
    rendersTotal: 3,
    renderErrorsTotal: 1,
    writesTotal: 2,
    healthRewritesTotal: 0,
    probeRoundsTotal: 4,
    fragments: { valid: 1, held: 1, invalid: 0 },
    lastSuccessfulRenderTimestampSeconds: (NOW - 5000) / 1000,
    driftRestoresTotal: 1,
    demotionsTotal: 0,
    info: { version: '9.9.9' },
    degraded: true,
    configLastReloadSuccessful: true,
    reloads: { applied: 0, refused: 0, 'not-rendered': 0, failed: 0, stopped: 0 },
    brokenFragments: [{ file: 'x.toml', state: 'held' }],
  });
  t.same(fragmentCounts([]), { valid: 0, held: 0, invalid: 0 });
});

t.test('metrics: degraded as status says, the last reload, reloads by outcome, the broken fragments by name', async (t) => {
  const healthy = metricsSnapshot(facts());
  t.equal(healthy.degraded, false);
  t.same(healthy.brokenFragments, []);
  const reloads = { applied: 3, refused: 1, 'not-rendered': 0, failed: 0, stopped: 0 };
  const refused = metricsSnapshot(
    facts({
      configProblems: ['/c.toml:1:1: bad'],
      reloadOutcomes: reloads,
      fragments: [VALID, { file: 'b.toml', state: 'invalid', errors: [], warnings: [] }],
    }),
  );
  t.equal(refused.degraded, true);
  t.equal(refused.configLastReloadSuccessful, false, 'the config file refused at the last reload');
  t.same(refused.reloads, reloads);
  t.same(refused.brokenFragments, [{ file: 'b.toml', state: 'invalid' }]);
  const failed = facts({ reloads: { requested: 1, started: 1, finished: 1, last: { number: 1, at: '', outcome: 'failed', problems: ['x'], warnings: [] } } });
  t.equal(metricsSnapshot(failed).configLastReloadSuccessful, false, 'a reload that failed did not take the settings either');
});

t.test('metrics: demotions counted before health-aware order was turned off are kept (a counter never goes back)', async (t) => {
  t.equal(metricsSnapshot(facts({ earlierDemotions: 3 })).demotionsTotal, 3, 'off now: the earlier demotions');
  const keeper = new HealthKeeper({ demoteAfter: 1, restoreAfter: 1, minDwellMs: 0, maxRewritesPerMinute: 6 });
  keeper.observeRound([{ key: M2, ok: false, failureClass: 'refused' }], [M1, M2], NOW - 1000);
  t.equal(metricsSnapshot(facts({ keeper, earlierDemotions: 3 })).demotionsTotal, 4, 'on again: added to them');
  t.equal(buildStatus(facts({ keeper, earlierDemotions: 3 })).healthAwareOrder?.demotions, 4, 'status says the same');
});

t.test('the answer is a copy: changing it does not change the facts', async (t) => {
  const drift = [{ at: new Date(NOW).toISOString(), kind: 'edited' as const, savedAs: '/s/drift/1.conf' }];
  const otherWarnings = ['notes.txt: warning: not a fragment'];
  const s = buildStatus(facts({ drift, otherWarnings, shadowing: ['x'] }));
  s.drift.push(drift[0]!);
  s.warnings.push('more');
  s.shadowing.push('y');
  t.equal(drift.length, 1);
  t.equal(otherWarnings.length, 1);
});

t.test('a configuration refused at reload degrades the daemon, first among the reasons: a restart would fail', async (t) => {
  const f = facts({ configProblems: ['/etc/mirror-policyd/config.toml:2:15: "debounce-ms" must be a whole number'] });
  const reason =
    'configuration refused at the last reload (/etc/mirror-policyd/config.toml:2:15: "debounce-ms" must be a whole number); the previous settings stay in effect, and a restart would fail until it is fixed';
  t.same(degradedReasons(f), [reason]);
  t.equal(buildStatus(f).state, 'degraded');
  t.same(degradedReasons(facts({ configProblems: [reason], generalProblems: ['base: ENOENT'] }))[1], 'base: ENOENT', 'the others after it');
  t.same(degradedReasons(facts({ configProblems: [] })), [], 'none: healthy');
});

t.test('the status line names the first reason, cut to a line systemctl status shows', async (t) => {
  const long = `cannot write /o/registries.conf: ${'x'.repeat(300)}`;
  const line = statusLine(facts({ generalProblems: [long] }));
  t.match(line, /^degraded: cannot write \/o\/registries\.conf: x+…; fragments 1 valid/);
  t.ok(line.length < 250, `short enough (${line.length})`);
});

t.test('the status line prefers the reason behind "not rendered yet"', async (t) => {
  const { lastRender: _r, lastSuccessAt: _s, conf: _c, ...rest } = facts({ lastWriteError: 'EROFS: read-only file system' });
  t.equal(
    statusLine(rest),
    'degraded: cannot write /o/registries.conf: EROFS: read-only file system (+1 more); fragments 1 valid, 0 held, 0 invalid, not rendered yet',
  );
});
