/**
 * `status` and `reload` find the daemon through the `control-socket` its config file sets, with
 * no flag (the unit's ExecReload= has none): `--config` names the file, as for `run`. A socket
 * named there that nobody answers on is said to come from that file.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { fragment, startDaemon, workspace } from '../../helpers/daemon.js';

t.test('status and reload ask the socket the config file sets', async (t) => {
  const ws = workspace(t);
  const config = join(ws.dir, 'config.toml');
  writeFileSync(config, `policy-dir = ${JSON.stringify(ws.policy)}\ncontrol-socket = ${JSON.stringify(ws.control)}\nprobe-interval-ms = 0\n`);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws, { argv: ['--config', config, '--output', ws.output, '--state-dir', ws.state, '--allow-unsafe-fragments'] });
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

  const status = await runCli(['status', '--config', config]);
  t.equal(status.code, 0, status.stderr);
  t.match(status.stdout, new RegExp(`pid ${d.pid}, since .*: HEALTHY`));
  t.equal(status.stderr, '');

  writeFileSync(join(ws.policy, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']));
  const reload = await runCli(['reload', '--config', config]);
  t.equal(reload.code, 0, reload.stderr);
  t.match(reload.stdout, `mirror-policyd reloaded (pid ${d.pid}, reload 1)`);
  t.match((await d.status()).reloads, { finished: 1 });

  // The file now names a socket the running daemon does not have (it takes a new one at a restart).
  const moved = join(ws.dir, 'moved.sock');
  writeFileSync(config, `policy-dir = ${JSON.stringify(ws.policy)}\ncontrol-socket = ${JSON.stringify(moved)}\n`);
  for (const command of ['status', 'reload']) {
    const r = await runCli([command, '--config', config]);
    t.equal(r.code, 3, `${command}: not running at the file's socket`);
    t.match(r.stderr, `${moved}): it is the control-socket set in ${config}, and a changed one takes effect at the daemon's restart`, command);
  }
  t.equal((await d.status()).reloads?.requested, 1, 'no signal was sent to the daemon');
});
