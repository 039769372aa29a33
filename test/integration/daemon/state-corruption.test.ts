/**
 * A state directory damaged while the daemon was stopped (a crash of the file system, a
 * careless edit): truncated or garbage files never stop the daemon, and never cost the output
 * the daemon last wrote. The real daemon, restarted on the damaged directory.
 */
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fragment, startDaemon, workspace, type Workspace } from '../../helpers/daemon.js';

/** A first run that renders one fragment and stops; returns the output it left. */
async function firstRun(t: Test, ws: Workspace): Promise<string> {
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws);
  const out = await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');
  t.equal(await d.stop(), 0);
  return out;
}

t.test('daemon.json, health.json and format-version torn or garbage: the restart is healthy, the output unchanged', async (t) => {
  const ws = workspace(t);
  const out = await firstRun(t, ws);
  writeFileSync(join(ws.state, 'daemon.json'), '{"pid": 12');
  writeFileSync(join(ws.state, 'health.json'), '\0\0\0\0');
  writeFileSync(join(ws.state, 'format-version'), '');
  const d = await startDaemon(t, ws); // resolves at READY=1
  await d.waitForLog(/format-version is empty or unreadable \(torn by a crash\?\): rewritten as 1/);
  t.equal((await d.status()).state, 'healthy');
  t.equal(readFileSync(ws.output, 'utf8'), out, 'the output as the first run left it');
  t.equal(await d.stop(), 0);
});

t.test('a garbage base.conf: READY=1, degraded naming the file by its path, the output left as it was', async (t) => {
  const ws = workspace(t);
  const out = await firstRun(t, ws);
  const base = join(ws.state, 'base.conf');
  writeFileSync(base, 'garbage [[[\n', { mode: 0o600 });
  const d = await startDaemon(t, ws);
  const s = await d.status();
  t.equal(s.state, 'degraded');
  t.match(s.degraded.join('\n'), `${base}:1:`, 'the reason names the state file by its path');
  t.equal(readFileSync(ws.output, 'utf8'), out, 'the output as the first run left it');
  t.equal(await d.stop(), 0);
});
