/**
 * mirrorViews / mirrorMetrics (src/health/mirror-view.ts), pure: each mirror endpoint of the
 * render with its health and its place in the order, as `status` and the metrics show it.
 */
import t from 'tap';
import { HealthKeeper } from '../../src/health/keeper.js';
import { mirrorMetrics, mirrorViews } from '../../src/health/mirror-view.js';
import type { HealthMap } from '../../src/health/health.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';

const CONF: RegistriesConf = {
  registries: [
    { location: 'quay.io', mirrors: [{ location: 'm1.example:5000/a', insecure: true }, { location: 'm2.example/b' }, { location: 'm3.example/c' }] },
  ],
};
const M1 = 'insecure://m1.example:5000';
const M2 = 'https://m2.example';
const M3 = 'https://m3.example';
const NOW = 1_700_000_000_000;
const HEALTH: HealthMap = {
  [M1]: {
    endpoint: M1,
    failures: 3,
    downUntil: NOW + 30_000,
    lastFailure: { at: NOW - 1000, class: 'refused', message: 'connect ECONNREFUSED' },
    lastSuccess: NOW - 60_000,
    latencyMs: 4,
    updatedAt: NOW - 1000,
  },
  [M2]: { endpoint: M2, failures: 0, lastSuccess: NOW - 500, latencyMs: 12, updatedAt: NOW - 500 },
};

t.test('without health-aware order: the cache verdicts, no demoted field', async (t) => {
  t.same(mirrorViews(CONF, HEALTH, undefined, NOW), [
    { endpoint: M1, state: 'down', lastProbe: new Date(NOW - 1000).toISOString(), why: '3 × refused: connect ECONNREFUSED' },
    { endpoint: M2, state: 'up', lastProbe: new Date(NOW - 500).toISOString(), latencyMs: 12 },
    { endpoint: M3, state: 'unknown' },
  ]);
  t.same(mirrorViews(undefined, HEALTH, undefined, NOW), [], 'nothing rendered yet');
});

t.test('demoted, and a demotion the rewrite cap holds back, each said so', async (t) => {
  const k = new HealthKeeper({ demoteAfter: 1, restoreAfter: 1, minDwellMs: 0, maxRewritesPerMinute: 1 });
  k.observeRound(
    [
      { key: M1, ok: false, failureClass: 'refused' },
      { key: M2, ok: true },
    ],
    [M1, M2, M3],
    NOW - 2000,
  );
  k.observeRound([{ key: M3, ok: false, failureClass: 'tls' }], [M1, M2, M3], NOW - 1000); // capped
  const v = mirrorViews(CONF, HEALTH, k, NOW);
  t.equal(v[0]?.state, 'demoted');
  t.equal(v[0]?.demoted, true);
  t.equal(v[0]?.why, 'demoted: 1 refused; 3 × refused: connect ECONNREFUSED');
  t.equal(v[0]?.latencyMs, undefined, 'no latency of a success a minute old beside a demoted, failing mirror');
  t.equal(v[1]?.latencyMs, 12, "the latest probe's latency of a healthy mirror");
  t.equal(v[1]?.state, 'up');
  t.equal(v[1]?.demoted, false);
  t.equal(v[2]?.state, 'unknown', 'not in the file order yet');
  t.equal(v[2]?.why, 'demotion held back by max-rewrites-per-minute (1 tls)');
  t.same(mirrorMetrics(CONF, HEALTH, k.demoted()), [
    { endpoint: M1, up: false, probeLatencySeconds: 0.004, lastProbeTimestampSeconds: (NOW - 1000) / 1000, demoted: true },
    { endpoint: M2, up: true, probeLatencySeconds: 0.012, lastProbeTimestampSeconds: (NOW - 500) / 1000, demoted: false },
    { endpoint: M3, up: undefined, demoted: false },
  ]);
});
