/**
 * The daemon with `local-mirror` on: the rendered file lists the endpoint first in every table
 * with mirrors from the policy, `resolve` shows it like any mirror, and turning the setting off
 * (SIGHUP with a config without it) removes it at the next render.
 */
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fragment, startDaemon, workspace, runArgs } from '../../helpers/daemon.js';
import { runCli } from '../../helpers/cli.js';
import { freePort } from '../../helpers/registry.js';
import { localMirrorLocation } from '../../../src/local-mirror/mapping.js';

const D = `sha256:${'b'.repeat(64)}`;

t.test('on: the endpoint first; resolve lists it first; off: the next render removes it', async (t) => {
  const ws = workspace(t);
  const address = `127.0.0.1:${await freePort()}`;
  const endpoint = localMirrorLocation(address, 'quay.io/team');
  writeFileSync(join(ws.policy, '10-team.toml'), fragment('quay.io/team', ['mirror-1.example/team', 'mirror-2.example:5000/team']));
  const config = join(ws.dir, 'config.toml');
  writeFileSync(config, `local-mirror = ${JSON.stringify(address)}\n`);
  const d = await startDaemon(t, ws, { argv: runArgs(ws, 50, config) });

  const on = await d.waitForOutput((o) => o.includes(endpoint), 'the endpoint in the output');
  t.match(
    on,
    `[[registry]]\nlocation = "quay.io/team"\n\n  [[registry.mirror]]\n  location = "${endpoint}"\n  insecure = true\n  pull-from-mirror = "digest-only"\n\n  [[registry.mirror]]\n  location = "mirror-1.example/team"`,
    'first, insecure, digest-only like the mirrors behind it',
  );

  const home = join(ws.dir, 'home');
  const resolved = await runCli(['resolve', '--registries-conf', ws.output, '--json', `quay.io/team/app@${D}`], { env: { ...process.env, HOME: home } });
  t.equal(resolved.code, 0, resolved.stderr);
  const sources = (JSON.parse(resolved.stdout) as { sources: Array<{ reference: string; endpoint: string; role: string; insecure: boolean }> }).sources;
  t.same(
    sources.map((s) => [s.role, s.reference, s.endpoint, s.insecure]),
    [
      ['mirror', `${endpoint}/app@${D}`, address, true],
      ['mirror', `mirror-1.example/team/app@${D}`, 'mirror-1.example', false],
      ['mirror', `mirror-2.example:5000/team/app@${D}`, 'mirror-2.example:5000', false],
      ['primary', `quay.io/team/app@${D}`, 'quay.io', false],
    ],
    'resolve reads the rendered file: the endpoint is the first mirror',
  );

  writeFileSync(config, '# local-mirror turned off\n');
  d.child.kill('SIGHUP');
  const off = await d.waitForOutput((o) => !o.includes(address), 'the endpoint gone from the output');
  t.match(off, /location = "mirror-1\.example\/team"/, 'the configured mirrors stay');
  t.notMatch(off, /mirror-policyd\//, 'no trace of the endpoint');
  t.equal(await d.stop(), 0);
});
