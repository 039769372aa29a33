/**
 * The daemon probes every mirror of its render in the background; `status` shows each
 * endpoint's health, and the shared cache in the state dir is what `pull` then reads.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { pollUntil, startDaemon, workspace } from '../../helpers/daemon.js';
import { refusingHost } from '../../helpers/fault-proxy.js';
import { registryFor } from '../../helpers/registry.js';

t.test('background probes: a live mirror is up, a refused one down, in status and in the shared cache', async (t) => {
  const live = await registryFor(t);
  const dead = await refusingHost();
  const ws = workspace(t);
  writeFileSync(
    join(ws.policy, '10-app.toml'),
    `insecure-registries = ["${live.host}", "${dead}"]\n\n[[mirror-set]]\nsource = "quay.io/app"\nmirrors = ["${dead}/app", "${live.host}/app"]\n`,
  );
  const d = await startDaemon(t, ws, { args: ['--probe-interval-ms', '200'] });
  await d.waitForOutput((o) => o.includes(`${live.host}/app`), 'the first render');
  let mirrors: Array<{ endpoint: string; state: string; why?: string }> = [];
  await pollUntil(async () => {
    const r = await runCli(['status', '--json', '--control-socket', ws.control]);
    mirrors = (JSON.parse(r.stdout) as { mirrors?: typeof mirrors }).mirrors ?? [];
    return mirrors.length === 2 && mirrors.every((m) => m.state !== 'unknown');
  }, 'both mirrors probed');
  const byEndpoint = Object.fromEntries(mirrors.map((m) => [m.endpoint, m]));
  t.equal(byEndpoint[`insecure://${live.host}`]?.state, 'up');
  t.equal(byEndpoint[`insecure://${dead}`]?.state, 'down');
  t.match(byEndpoint[`insecure://${dead}`]?.why, /refused/);
  const human = await runCli(['status', '--control-socket', ws.control]);
  t.match(human.stdout, new RegExp(`mirrors \\(health cache\\):\\n(.*\\n)*  down +insecure://${dead.replace(/\./g, '\\.')}`));
  const cache = JSON.parse(readFileSync(join(ws.state, 'health.json'), 'utf8')) as { endpoints: Record<string, unknown> };
  t.ok(cache.endpoints[`insecure://${dead}`], 'the shared cache holds it for pull');
});
