/**
 * SIGHUP re-reads the config file: a changed policy-dir is watched and rendered from then
 * on, new after-render commands apply; an invalid file keeps the previous settings.
 */
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { runCli } from '../../helpers/cli.js';
import { join } from 'node:path';
import { configFileArgs, fragment, readOrUndefined, replaceFile, sleep, startDaemon, twoPolicyDirs, workspace } from '../../helpers/daemon.js';

t.test('SIGHUP re-reads the config file', async (t) => {
  const ws = workspace(t);
  const { p1, p2 } = twoPolicyDirs(ws);
  const hook = join(ws.dir, 'hook.txt');
  const config = join(ws.dir, 'config.toml');
  const settings = (policyDir: string, debounce: number, tag: string): string =>
    `policy-dir = ${JSON.stringify(policyDir)}\ndebounce-ms = ${debounce}\nafter-render = [["/bin/sh", "-c", ${JSON.stringify(`echo ${tag} >> '${hook}'`)}]]\n`;
  writeFileSync(config, settings(p1, 50, 'first'));
  // No --policy-dir or --debounce-ms flags: flags would win over the file.
  const argv = configFileArgs(ws, config);
  const d = await startDaemon(t, ws, { argv });
  await d.waitForOutput((o) => o.includes('mirror-one.example/x'), 'the render of the first policy dir');
  t.equal((await d.status()).policyDir, p1);

  writeFileSync(config, settings(p2, 80, 'second'));
  const n = d.notify!.messages().length;
  d.child.kill('SIGHUP');
  await d.waitForNotify((m) => m.startsWith('RELOADING=1'), n);
  const out = await d.waitForOutput((o) => o.includes('mirror-two.example/x'), 'the render of the new policy dir');
  t.notMatch(out, /mirror-one/, 'the old policy dir is no longer in effect');
  await d.waitForNotify((m) => m.startsWith('READY=1'), n);
  t.equal((await d.status()).policyDir, p2, 'status shows the new policy dir');
  await d.waitFor(() => (readOrUndefined(hook) ?? '').includes('second'), 'the new after-render command');
  t.notMatch(readOrUndefined(hook) ?? '', /first\n[\s\S]*first/, 'the old command ran only for the first render');

  // The new directory is watched; the old one no longer is.
  writeFileSync(join(p1, '20-late.toml'), fragment('quay.io/late', ['mirror-late.example/x']));
  writeFileSync(join(p2, '20-new.toml'), fragment('quay.io/new', ['mirror-new.example/x']));
  const later = await d.waitForOutput((o) => o.includes('mirror-new.example/x'), 'a change in the new policy dir');
  t.notMatch(later, /mirror-late/);

  // An invalid config file on SIGHUP: logged with FILE:LINE, previous settings kept, still running.
  // Degraded until a reload takes a valid file: the next start (a reboot) would refuse this one.
  writeFileSync(config, `policy-dir = ${JSON.stringify(p1)}\ndebounce-ms = -5\n`);
  const m = d.notify!.messages().length;
  d.child.kill('SIGHUP');
  await d.waitForLog(new RegExp(`reload: ${config}:2:\\d+: "debounce-ms" must be a whole number`));
  await d.waitForLog(/configuration invalid; keeping the previous settings/);
  const ready = await d.waitForNotify((x) => x.startsWith('READY=1'), m);
  const refusedAt = d.stdout().lastIndexOf('configuration invalid; keeping the previous settings');
  t.match(
    d.stdout().slice(refusedAt),
    /\nWARN: reload done with the previous settings \(the configuration file was refused\); policy re-rendered\n/,
    'the end of the reload says the settings are the old ones',
  );
  t.notMatch(d.stdout().slice(refusedAt), /settings re-read/, 'never that the refused settings were read');
  t.match(ready, /STATUS=degraded: configuration refused at the last reload \(.*"debounce-ms" must be a whole number/, 'STATUS= says why');
  const s = await d.status();
  t.equal(s.policyDir, p2, 'the previous settings are kept');
  t.equal(s.state, 'degraded');
  t.match(s.degraded[0], `configuration refused at the last reload (${config}:2:`);
  t.match(s.degraded[0], /the previous settings stay in effect, and a restart would fail until it is fixed/);
  t.match(readOrUndefined(ws.output) ?? '', /mirror-new\.example\/x/);

  writeFileSync(config, settings(p2, 80, 'third'));
  const k = d.notify!.messages().length;
  d.child.kill('SIGHUP');
  t.match(await d.waitForNotify((x) => x.startsWith('READY=1'), k), /STATUS=healthy/, 'a valid file at the next reload: healthy again');
  t.equal((await d.status()).state, 'healthy');
  t.equal(await d.stop(), 0);
});

t.test('SIGHUP applies a new rescan-interval-ms: a change only the rescan sees (the base file) is rendered at the new pace', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const base = join(ws.dir, 'base.conf');
  writeFileSync(base, 'unqualified-search-registries = ["first.example"]\n');
  const config = join(ws.dir, 'config.toml');
  const settings = (rescanMs: number): string =>
    [`policy-dir = ${JSON.stringify(ws.policy)}`, `base = ${JSON.stringify(base)}`, 'probe-interval-ms = 0', `rescan-interval-ms = ${rescanMs}`, ''].join('\n');
  writeFileSync(config, settings(3_600_000)); // an hour: never within the test
  const d = await startDaemon(t, ws, { argv: configFileArgs(ws, config) });
  await d.waitForOutput((o) => o.includes('first.example'), 'the first render');

  writeFileSync(config, settings(200));
  const n = d.notify!.messages().length;
  d.child.kill('SIGHUP');
  await d.waitForNotify((m) => m.startsWith('READY=1'), n);
  replaceFile(base, 'unqualified-search-registries = ["second.example"]\n'); // the watcher watches the policy dir and the output only
  await d.waitForOutput((o) => o.includes('second.example'), 'the base change, seen by the rescan at its new interval');
  t.equal(await d.stop(), 0);
});

t.test('a config file someone else than root could have written is refused: at start, and at a reload (the previous settings kept)', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const config = join(ws.dir, 'config.toml');
  // Its own allow-unsafe-fragments (the test's fragments need it): the flag on the command line would lift the check.
  writeFileSync(config, [`policy-dir = ${JSON.stringify(ws.policy)}`, 'allow-unsafe-fragments = true', 'probe-interval-ms = 0', ''].join('\n'));
  const argv = configFileArgs(ws, config).filter((a) => a !== '--allow-unsafe-fragments');
  chmodSync(config, 0o664);
  const refused = await runCli(['run', ...argv]);
  t.not(refused.code, 0, 'the daemon does not start');
  t.match(refused.stderr, `${config}: not read: writable by group (mode 0664)`);
  t.match(refused.stderr, `fix: chmod go-w ${config}`);
  t.notOk(existsSync(ws.output), 'nothing written');

  chmodSync(config, 0o644);
  const d = await startDaemon(t, ws, { argv });
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the render with the file trusted');
  chmodSync(config, 0o646);
  const n = d.notify!.messages().length;
  d.child.kill('SIGHUP');
  await d.waitForLog(/reload: .*config\.toml: not read: writable by others \(mode 0646\)/);
  await d.waitForNotify((m) => m.startsWith('READY=1'), n);
  const s = await d.status();
  t.equal(s.state, 'degraded', 'degraded until a reload takes a trusted file');
  t.equal(await d.stop(), 0);
});

t.test('SIGHUP with a new state dir or control socket: refused with the restart it takes; the rest of the file applies', async (t) => {
  const ws = workspace(t);
  const p2 = join(ws.dir, 'p2.d');
  mkdirSync(p2);
  writeFileSync(join(ws.policy, '10-one.toml'), fragment('quay.io/one', ['mirror-one.example/x']));
  writeFileSync(join(p2, '10-two.toml'), fragment('quay.io/two', ['mirror-two.example/x']));
  const config = join(ws.dir, 'config.toml');
  const settings = (policyDir: string, stateDir: string, socket: string): string =>
    `policy-dir = ${JSON.stringify(policyDir)}\nstate-dir = ${JSON.stringify(stateDir)}\ncontrol-socket = ${JSON.stringify(socket)}\n`;
  writeFileSync(config, settings(ws.policy, ws.state, ws.control));
  const d = await startDaemon(t, ws, { argv: ['--config', config, '--output', ws.output, '--allow-unsafe-fragments'] });
  await d.waitForOutput((o) => o.includes('mirror-one.example/x'), 'the first render');

  const otherState = join(ws.dir, 'other-state');
  const otherSocket = join(ws.dir, 'other.sock');
  writeFileSync(config, settings(p2, otherState, otherSocket));
  const from = d.log().length;
  d.child.kill('SIGHUP');
  await d.waitForLog(/reloaded: settings re-read/, from);
  const log = d.log().slice(from);
  const q = JSON.stringify;
  t.match(log, `"state-dir" changed from ${q(ws.state)} to ${q(otherState)}: taken only at start; still ${q(ws.state)} (restart the daemon to change it)`);
  t.match(log, `"control-socket" changed from ${q(ws.control)} to ${q(otherSocket)}`);
  await d.waitForOutput((o) => o.includes('mirror-two.example/x'), 'the new policy dir: the rest of the file applies');
  const s = await d.status(); // over the socket it started with
  t.equal(s.stateDir, ws.state, 'status names the state dir in use');
  t.equal(s.policyDir, p2);
  t.notOk(existsSync(otherState), 'nothing made in the refused state dir');
  t.notOk(existsSync(otherSocket), 'no socket at the refused path');
  t.equal(await d.stop(), 0);
});

t.test('SIGHUP (a new policy dir) and SIGTERM right after it: the daemon still stops, exit 0', async (t) => {
  for (const delay of [0, 5, 20]) {
    const ws = workspace(t);
    const p2 = join(ws.dir, 'p2.d');
    mkdirSync(p2);
    const config = join(ws.dir, 'config.toml');
    writeFileSync(config, `policy-dir = ${JSON.stringify(ws.policy)}\n`);
    const argv = configFileArgs(ws, config);
    const d = await startDaemon(t, ws, { argv });
    writeFileSync(config, `policy-dir = ${JSON.stringify(p2)}\n`);
    d.child.kill('SIGHUP');
    if (delay > 0) await sleep(delay);
    // Without SIGKILL: stop() sends SIGTERM and only kills after 10 s; a watcher started by
    // the reload after stop() closed the old one would keep the process alive until then.
    t.equal(await d.stop(), 0, `exit 0 (SIGTERM ${delay} ms after SIGHUP)`);
    t.match(d.stdout(), /stopped\n$/, 'nothing happens after "stopped"');
  }
});
