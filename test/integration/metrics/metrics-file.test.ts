/**
 * The metrics file the real daemon writes, as node_exporter's textfile collector and the
 * alerts on it see it, through the states an operator alerts on: a mirror down and demoted,
 * a fragment broken (a hostile name), a config file refused at a reload, a reload that turns
 * health-aware order off and moves the file, a clean stop. Every file read is checked with
 * the strict parser (test/helpers/prometheus-text.ts), and with `promtool check metrics`
 * where Prometheus is installed.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runArgs, startDaemon, workspace } from '../../helpers/daemon.js';
import { checkMetrics, metricValue, type Parsed } from '../../helpers/prometheus-text.js';
import { freePort, registryFor } from '../../helpers/registry.js';

const PROMTOOL = '/usr/bin/promtool';
const DEADLINE_MS = 45_000;
const SOURCE = 'source.invalid/app';

/** The file as the collector would read it now: parsed strictly, and promtool's lint when it is installed (throws on a complaint). */
function scrape(file: string): Parsed {
  const text = readFileSync(file, 'utf8');
  const parsed = checkMetrics(text);
  if (existsSync(PROMTOOL)) execFileSync(PROMTOOL, ['check', 'metrics'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
  return parsed;
}

t.test('what the alerts need, through a mirror down, a broken fragment, reloads and a clean stop', async (t) => {
  if (!existsSync(PROMTOOL)) t.comment(`${PROMTOOL} not installed: the files are checked with the strict parser only`);
  const mirror = await registryFor(t);
  const dead = `127.0.0.1:${await freePort()}`;
  const ws = workspace(t);
  writeFileSync(
    join(ws.policy, '10-app.toml'),
    `insecure-registries = ["${mirror.host}", "${dead}"]\n\n[[mirror-set]]\nsource = "${SOURCE}"\nmirrors = ["${dead}/app", "${mirror.host}/app"]\n`,
  );
  const first = join(ws.dir, 'a.prom');
  const moved = join(ws.dir, 'b.prom');
  const config = join(ws.dir, 'config.toml');
  const settings = (over: { metrics?: string; healthAware?: boolean; extra?: string } = {}): string =>
    `metrics-file = ${JSON.stringify(over.metrics ?? first)}\nprobe-interval-ms = 300\nhealth-aware-order = ${String(over.healthAware ?? true)}\n` +
    `demote-after = 2\nrestore-after = 2\nmin-dwell-ms = 300\n${over.extra ?? ''}`;
  writeFileSync(config, settings());
  const argv = runArgs(ws, 50, config).filter((a, i, all) => a !== '--probe-interval-ms' && all[i - 1] !== '--probe-interval-ms');
  const d = await startDaemon(t, ws, { argv });

  let m: Parsed = checkMetrics('');
  const v = (name: string, labels: Record<string, string> = {}): number | undefined => metricValue(m, `mirror_policyd_${name}`, labels);
  const until = (file: string, pred: () => boolean, what: string): Promise<void> =>
    d.waitFor(
      () => {
        m = scrape(file);
        return pred();
      },
      what,
      DEADLINE_MS,
    );

  await until(first, () => v('mirror_demoted', { endpoint: `insecure://${dead}` }) === 1, 'the dead mirror demoted');
  t.equal(v('mirror_up', { endpoint: `insecure://${dead}` }), 0);
  t.equal(v('mirror_up', { endpoint: `insecure://${mirror.host}` }), 1);
  t.equal(v('demotions_total'), 1);
  t.equal(v('degraded'), 0, 'healthy: 0, present');
  t.equal(v('config_last_reload_successful'), 1, 'no reload yet: the file in effect');
  for (const outcome of ['applied', 'refused', 'not-rendered', 'failed', 'stopped'])
    t.equal(v('reloads_total', { outcome }), 0, `reloads ${outcome}: 0 from the start`);
  t.notOk(m.type.has('mirror_policyd_fragment_broken'), 'no broken fragment: no series');

  const hostile = '20-bad "quoted" back\\slash.toml';
  writeFileSync(join(ws.policy, hostile), '[[mirror-set]\n');
  await until(first, () => v('fragment_broken', { file: hostile, state: 'invalid' }) === 1, 'the broken fragment named, escaped');
  t.equal(v('degraded'), 1);
  t.equal(v('fragments', { state: 'invalid' }), 1);

  writeFileSync(config, settings({ extra: 'probe-timeout-ms = = 1\n' }));
  d.child.kill('SIGHUP');
  await until(first, () => v('reloads_total', { outcome: 'refused' }) === 1, 'the refused reload counted');
  t.equal(v('config_last_reload_successful'), 0, 'the config file refused: a restart would fail');

  writeFileSync(config, settings({ metrics: moved, healthAware: false }));
  d.child.kill('SIGHUP');
  await until(moved, () => v('reloads_total', { outcome: 'applied' }) === 1, 'the applied reload, in the moved file');
  t.equal(v('config_last_reload_successful'), 1);
  t.equal(v('mirror_demoted', { endpoint: `insecure://${dead}` }), 0, 'health-aware order off: in its place');
  t.equal(v('demotions_total'), 1, 'the demotion counted before it was turned off: a counter does not go back');
  t.notOk(existsSync(first), 'the file at the old path removed: nothing goes on exporting it');

  t.equal(await d.stop(), 0);
  t.notOk(existsSync(moved), 'a clean stop removes the file: its series go absent, absent() alerts see it');
});
