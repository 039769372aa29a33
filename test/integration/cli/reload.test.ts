/**
 * `mirror-policyd reload` (the unit's ExecReload=) against the real daemon: it returns only once
 * the reload its SIGHUP asked for has finished (the new settings and policy in the output, the
 * after-render commands run), exits 1 naming file and line when the config file is refused (the
 * output and the settings stay), and says clearly when there is no daemon to reload.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import {
  configFileArgs,
  fragment,
  readOrUndefined,
  snapshots,
  startDaemon,
  twoPolicyDirs,
  workspace,
  type DaemonProcess,
  type Workspace,
} from '../../helpers/daemon.js';

/**
 * A config file for `ws` with `policyDir`, and an after-render command that keeps a copy of each
 * output it ran for, after `delay` (seconds): a reload then lasts at least that long.
 */
function settings(ws: Workspace, policyDir: string, delay = 0): { config: string; seen: string; write(policyDir: string): void } {
  const config = join(ws.dir, 'config.toml');
  const seen = join(ws.dir, 'seen.txt');
  const command = `sleep ${delay}; cat '${ws.output}' >> '${seen}'; printf '\\n=====\\n' >> '${seen}'`;
  const write = (dir: string): void =>
    writeFileSync(config, `policy-dir = ${JSON.stringify(dir)}\nafter-render = [["/bin/sh", "-c", ${JSON.stringify(command)}]]\n`);
  write(policyDir);
  return { config, seen, write };
}

/** The daemon on `config` (no --policy-dir flag: the file's wins only without one). */
function startOn(t: Test, ws: Workspace, config: string): Promise<DaemonProcess> {
  return startDaemon(t, ws, { argv: [...configFileArgs(ws, config), '--probe-interval-ms', '0'] });
}

t.test('reload returns after the output has the config change made before it, and the after-render commands ran', async (t) => {
  const ws = workspace(t);
  const { p1, p2 } = twoPolicyDirs(ws);
  // The reload lasts a second at least (its after-render command): a command that returned before its end is caught.
  const s = settings(ws, p1, 1);
  const d = await startOn(t, ws, s.config);
  await d.waitForOutput((o) => o.includes('mirror-one.example/x'), 'the first render');
  await d.waitFor(() => snapshots(s.seen).length === 1, 'the first after-render command');

  s.write(p2);
  const n = d.notify!.messages().length;
  const r = await runCli(['reload', '--pid', String(d.pid), '--control-socket', ws.control]);
  // Read at once, no waiting: the command returned only after the render and its commands.
  const output = readOrUndefined(ws.output) ?? '';
  const seen = snapshots(s.seen);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^mirror-policyd reloaded \\(pid ${d.pid}, reload 1\\): healthy\\n$`));
  t.match(output, /mirror-two\.example\/x/, 'the new policy dir is in the output');
  t.notMatch(output, /mirror-one/, 'the old one is not');
  t.match(seen.at(-1) ?? '', /mirror-two\.example\/x/, 'the after-render command ran for the new output');
  const notes = d.notify!.messages().slice(n);
  t.ok(notes.findIndex((m) => m.startsWith('RELOADING=1')) >= 0, 'RELOADING=1 was sent');
  t.ok(notes.findIndex((m) => m.startsWith('READY=1')) > notes.findIndex((m) => m.startsWith('RELOADING=1')), 'READY=1 after it');
  const st = await d.status();
  t.equal(st.policyDir, p2);
  t.match(st.reloads, { requested: 1, started: 1, finished: 1, last: { number: 1, outcome: 'applied', problems: [] } });

  // A fragment dropped in just before the command (no wait for the watcher) is in when it returns.
  writeFileSync(join(p2, '20-late.toml'), fragment('quay.io/late', ['mirror-late.example/x']));
  const again = await runCli(['reload', '--control-socket', ws.control]);
  t.equal(again.code, 0, again.stderr);
  t.match(readOrUndefined(ws.output) ?? '', /mirror-late\.example\/x/, 'without --pid: the daemon found through the socket');
  t.equal(await d.stop(), 0);
});

t.test('a refused config file: exit 1 naming file and line; the output and the settings stay', async (t) => {
  const ws = workspace(t);
  const { p1, p2 } = twoPolicyDirs(ws);
  const s = settings(ws, p1);
  const d = await startOn(t, ws, s.config);
  const before = await d.waitForOutput((o) => o.includes('mirror-one.example/x'), 'the first render');

  writeFileSync(s.config, `policy-dir = ${JSON.stringify(p2)}\ndebounce-ms = -5\n`);
  const r = await runCli(['reload', '--pid', String(d.pid), '--control-socket', ws.control]);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /^mirror-policyd reload: configuration refused; the previous settings stay in effect:\n/);
  t.match(
    r.stderr,
    new RegExp(`\\n  ${s.config.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:\\d+: "debounce-ms" must be a whole number`),
    'FILE:LINE:COL: message',
  );
  t.equal(r.stdout, '');
  t.equal(readOrUndefined(ws.output), before, 'the output is as it was');
  const st = await d.status();
  t.equal(st.policyDir, p1, 'the previous settings are in effect');
  t.equal(st.state, 'degraded');
  t.match(st.reloads.last, { outcome: 'refused' });
  const text = await runCli(['status', '--control-socket', ws.control]);
  t.match(text.stdout, /^reloads: +1 finished for 1 SIGHUP\(s\); the last \(1, [^)]+\): refused$/m, "status's text says how the reload ended");
  t.notOk(d.hasExited(), 'the daemon runs on');

  // Fixed: the next reload takes it.
  s.write(p2);
  const ok = await runCli(['reload', '--pid', String(d.pid), '--control-socket', ws.control]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /: healthy\n$/);
  t.match(readOrUndefined(ws.output) ?? '', /mirror-two\.example\/x/);
  t.equal(await d.stop(), 0);
});

t.test('settings taken but nothing rendered (the new policy dir is missing): exit 1 with the reasons', async (t) => {
  const ws = workspace(t);
  const { p1 } = twoPolicyDirs(ws);
  const s = settings(ws, p1);
  const d = await startOn(t, ws, s.config);
  const before = await d.waitForOutput((o) => o.includes('mirror-one.example/x'), 'the first render');
  const missing = join(ws.dir, 'missing.d');
  s.write(missing);
  const r = await runCli(['reload', '--control-socket', ws.control]);
  t.equal(r.code, 1, r.stderr);
  t.match(r.stderr, /^mirror-policyd reload: settings taken, but the policy did not reach the output:\n {2}/);
  t.match(r.stderr, missing, 'the reason names the missing directory');
  t.equal(readOrUndefined(ws.output), before, 'the last render stays');
  t.match((await d.status()).reloads.last, { outcome: 'not-rendered' });
  t.equal(await d.stop(), 0);
});

t.test('a start-only setting changed: reloaded (exit 0) with a warning naming it', async (t) => {
  const ws = workspace(t);
  const config = join(ws.dir, 'config.toml');
  const file = (state: string): void => writeFileSync(config, `policy-dir = ${JSON.stringify(ws.policy)}\nstate-dir = ${JSON.stringify(state)}\n`);
  file(ws.state);
  // No --state-dir flag: a flag would win over the file.
  const d = await startDaemon(t, ws, {
    argv: ['--config', config, '--output', ws.output, '--control-socket', ws.control, '--allow-unsafe-fragments', '--probe-interval-ms', '0'],
  });
  file(join(ws.dir, 'elsewhere'));
  const r = await runCli(['reload', '--control-socket', ws.control]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stderr, /^mirror-policyd reload: warning: "state-dir" changed from .*: taken only at start/);
  t.equal(await d.stop(), 0);
});

t.test('two reload commands at once: both wait for a reload begun after them, both exit 0', async (t) => {
  const ws = workspace(t);
  const { p1, p2 } = twoPolicyDirs(ws);
  const s = settings(ws, p1);
  const d = await startOn(t, ws, s.config);
  s.write(p2);
  const args = ['reload', '--pid', String(d.pid), '--control-socket', ws.control];
  const [a, b] = await Promise.all([runCli(args), runCli(args)]);
  t.equal(a.code, 0, a.stderr);
  t.equal(b.code, 0, b.stderr);
  t.match(readOrUndefined(ws.output) ?? '', /mirror-two\.example\/x/);
  const st = await d.status();
  // The kernel keeps one SIGHUP pending at a time: two sent before the handler ran count once. Either way both are served.
  t.ok(st.reloads.requested >= 1 && st.reloads.requested <= 2, `the SIGHUPs counted (${st.reloads.requested})`);
  t.ok(st.reloads.started >= 1 && st.reloads.started <= 2, `one or two reloads served them (${st.reloads.started})`);
  t.equal(st.reloads.finished, st.reloads.started);
  t.equal(await d.stop(), 0);
});

t.test('a reload that outlasts --timeout-ms: exit 4 saying it is in progress', async (t) => {
  const ws = workspace(t);
  const { p1, p2 } = twoPolicyDirs(ws);
  const config = join(ws.dir, 'config.toml');
  // The after-render command waits for the test to open a gate (bounded: 30 s at most), so the
  // reload lasts as long as the test wants it to, however fast or slow the machine.
  const gate = join(ws.dir, 'gate');
  const ran = join(ws.dir, 'ran.txt');
  const command = `i=0; while [ ! -e '${gate}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; echo ran >> '${ran}'`;
  const slow = (dir: string): void =>
    writeFileSync(config, `policy-dir = ${JSON.stringify(dir)}\nafter-render = [["/bin/sh", "-c", ${JSON.stringify(command)}]]\n`);
  writeFileSync(gate, ''); // open for the first render's command
  slow(p1);
  const d = await startOn(t, ws, config);
  await d.waitFor(() => (readOrUndefined(ran) ?? '').length > 0, "the first render's after-render command");
  rmSync(gate); // closed: the reload's command holds it until the gate opens again
  slow(p2);
  const r = await runCli(['reload', '--control-socket', ws.control, '--timeout-ms', '1500']);
  writeFileSync(gate, '');
  t.equal(r.code, 4, r.stderr);
  // Where it stood: in progress, unless a loaded machine kept even the signal or the answers from it that long.
  t.match(
    r.stderr,
    /^mirror-policyd reload: no reload finished within 1500 ms \((reload 1 is in progress|.+)\); it may still finish: see mirror-policyd status\n$/,
  );
  await d.waitForStatus((x) => x.reloads.finished === 1, 'the reload finishes all the same');
  t.equal(await d.stop(), 0);
});

t.test('--pid that is not the daemon answering at the socket: refused, nothing sent', async (t) => {
  const ws = workspace(t);
  const d = await startDaemon(t, ws);
  const r = await runCli(['reload', '--pid', String(process.pid), '--control-socket', ws.control]);
  t.equal(r.code, 1, r.stderr);
  t.equal(
    r.stderr,
    `mirror-policyd reload: refusing to signal pid ${process.pid}: the daemon answering at ${ws.control} is pid ${d.pid} (is --control-socket right?); nothing sent\n`,
  );
  t.same((await d.status()).reloads, { requested: 0, started: 0, finished: 0 }, 'no SIGHUP reached the daemon');
  for (const bad of ['0', '1', 'abc', '-5', '12.5']) {
    const u = await runCli(['reload', `--pid=${bad}`, '--control-socket', ws.control]);
    t.equal(u.code, 2, `--pid ${bad}: a usage error`);
    t.match(u.stderr, /--pid must be a process id/);
  }
  t.equal(await d.stop(), 0);
});

t.test('no daemon: no socket, a stale socket, a daemon that stops during the reload', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = await runCli(['reload', '--control-socket', join(dir, 'none.sock')]);
  t.equal(missing.code, 3, missing.stderr);
  t.equal(missing.stderr, `mirror-policyd reload: mirror-policyd is not running (no control socket at ${join(dir, 'none.sock')}); nothing reloaded\n`);

  // A daemon killed with SIGKILL leaves its socket file behind.
  const ws = workspace(t);
  const d = await startDaemon(t, ws);
  d.child.kill('SIGKILL');
  await d.exited;
  const stale = await runCli(['reload', '--control-socket', ws.control]);
  t.equal(stale.code, 3, stale.stderr);
  t.match(stale.stderr, /^mirror-policyd reload: mirror-policyd is not running \(control socket .* refuses connections\); nothing reloaded\n$/);

  // One that stops while its reload runs (the after-render command holds the reload; SIGTERM meanwhile).
  const ws2 = workspace(t);
  const config = join(ws2.dir, 'config.toml');
  writeFileSync(config, `policy-dir = ${JSON.stringify(ws2.policy)}\nafter-render = [["/bin/sleep", "2"]]\n`);
  writeFileSync(join(ws2.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/x']));
  const d2 = await startOn(t, ws2, config);
  writeFileSync(join(ws2.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-b.example/x']));
  const pending = runCli(['reload', '--control-socket', ws2.control]);
  await d2.waitForStatus((x) => x.reloads.started === 1, 'the reload has begun');
  d2.child.kill('SIGTERM');
  const gone = await pending;
  t.equal(gone.code, 3, gone.stderr);
  t.match(gone.stderr, new RegExp(`^mirror-policyd reload: the daemon \\(pid ${d2.pid}\\) stopped before the reload finished\\n$`));
  t.equal(await d2.exited, 0);
});

t.test('a daemon without reload counts (an older version): exit 4, nothing sent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-reload-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'control.sock');
  // Answers as the daemon before this command did: `status` and `ping`, anything else unknown.
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('data', (b: Buffer) => {
      const { cmd } = JSON.parse(b.toString()) as { cmd: string };
      s.end(`${JSON.stringify(cmd === 'status' ? { ok: true, result: { pid: 1 } } : { ok: false, error: `unknown command: ${JSON.stringify(cmd)}` })}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const r = await runCli(['reload', '--control-socket', path]);
  t.equal(r.code, 4, r.stderr);
  t.equal(r.stderr, `mirror-policyd reload: the daemon at ${path} does not report its reloads (an older version): restart it to reload; nothing sent\n`);
});

t.test('SIGHUP sent by hand still reloads, and is counted', async (t) => {
  const ws = workspace(t);
  const { p1, p2 } = twoPolicyDirs(ws);
  const s = settings(ws, p1);
  const d = await startOn(t, ws, s.config);
  s.write(p2);
  d.child.kill('SIGHUP');
  await d.waitForOutput((o) => o.includes('mirror-two.example/x'), 'the reload by signal');
  await d.waitForStatus((x) => x.reloads.finished === 1 && x.reloads.requested === 1, 'counted');
  t.equal(readFileSync(s.config, 'utf8').includes(p2), true);
  t.equal(await d.stop(), 0);
});

t.test('the output found empty by the reload (an in-place write begun): the reload waits for its render, outcome applied', async (t) => {
  const ws = workspace(t);
  const { p1, p2 } = twoPolicyDirs(ws);
  const s = settings(ws, p1);
  const d = await startOn(t, ws, s.config);
  await d.waitForOutput((o) => o.includes('mirror-one.example/x'), 'the first render');
  s.write(p2);
  // Truncated just before the reload (SIGHUP at once: the command's own start would give the
  // daemon time to settle first): the reload's render finds the output empty and looks again a
  // moment later (an editor's in-place write truncates first), then renders. Not a failed render.
  writeFileSync(ws.output, '');
  d.child.kill('SIGHUP');
  const st = await d.waitForStatus((x) => x.reloads.finished === 1, 'the reload finished');
  t.match(st.reloads.last, { outcome: 'applied', problems: [] });
  t.match(readOrUndefined(ws.output) ?? '', /mirror-two\.example\/x/, 'the new policy dir is in the output');
  t.notMatch(d.stdout(), /not rendered/);
  t.equal(await d.stop(), 0);
});
