/**
 * after-render commands from the config file: argv arrays (no shell of ours), run once per
 * render that changed the output, never for one that did not; a failing, missing or
 * hanging command is logged and the daemon carries on.
 */
import t from 'tap';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fragment, readOrUndefined, startDaemon, workspace } from '../../helpers/daemon.js';

const toml = (s: string): string => JSON.stringify(s);
const lines = (path: string): string[] => (readOrUndefined(path) ?? '').split('\n').filter((l) => l !== '');

t.test('after-render runs once per changed render, with its argv as given', async (t) => {
  const ws = workspace(t);
  const ran = join(ws.dir, 'ran.txt');
  const args = join(ws.dir, 'args.txt');
  const hostile = '$(touch PWNED); `touch PWNED2` && echo "x" > PWNED3';
  const config = join(ws.dir, 'config.toml');
  writeFileSync(
    config,
    [
      'after-render = [',
      `  ["/bin/sh", "-c", ${toml(`echo x >> '${ran}'`)}],`,
      `  ["/bin/sh", "-c", ${toml(`printf '%s\\n' "$1" >> '${args}'`)}, "sh", ${toml(hostile)}],`,
      ']',
      '',
    ].join('\n'),
  );
  // Fragments are replaced by rename here, so that no render can see a half-written file: the
  // number of changed renders is then exactly the number of real changes.
  const a = join(ws.policy, '10-a.toml');
  const put = (text: string): void => {
    writeFileSync(`${a}.tmp`, text);
    renameSync(`${a}.tmp`, a);
  };
  put(fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws, { config });
  // Both commands of the first render (they run at once, after READY=1).
  await d.waitFor(() => lines(ran).length === 1 && lines(args).length === 1, 'the commands after the first render');
  t.same(lines(args), [hostile], 'the argument arrives as one literal argv element');
  t.notOk(
    ['PWNED', 'PWNED2', 'PWNED3'].some((f) => existsSync(join(ws.dir, f))),
    'nothing in it was run by a shell (the daemon runs in ws.dir)',
  );
  await d.waitForLog(/after-render: \/bin\/sh -c echo x .*: ok/);

  put(fragment('quay.io/a', ['mirror-a2.example/a']));
  await d.waitFor(() => lines(ran).length === 2, 'the command after a changed render');

  // A change that does not change the output (a comment): that render runs nothing.
  const from = d.log().length;
  put(fragment('quay.io/a', ['mirror-a2.example/a'], '# only a comment\n'));
  // A render has read it once its last good content is the new text.
  await d.waitFor(() => (readOrUndefined(join(ws.state, 'last-good', '10-a.toml')) ?? '').includes('# only a comment'), 'a render of the commented fragment');
  t.equal(lines(ran).length, 2, 'no command for a render that changed nothing');
  t.notMatch(d.log().slice(from), /INFO: rendered /, 'that render did not change the output');

  put(fragment('quay.io/a', ['mirror-a3.example/a']));
  await d.waitForOutput((o) => o.includes('mirror-a3.example/a'), 'the third render');
  await d.waitFor(() => (d.stdout().match(/after-render: .*: ok/g) ?? []).length === 6, 'both commands after the third render');
  const changed = (d.stdout().match(/^INFO: rendered /gm) ?? []).length;
  t.equal(changed, 3, 'three renders changed the output');
  t.equal(lines(ran).length, 3, 'the command ran exactly once per changed render');
  t.equal(lines(args).length, 3);
  t.equal(await d.stop(), 0);
  t.equal(lines(ran).length, 3, 'and not again on the way out');
});

t.test('failing, missing and hanging commands are logged; the daemon keeps running', async (t) => {
  const ws = workspace(t);
  const config = join(ws.dir, 'config.toml');
  writeFileSync(
    config,
    [
      'after-render = [["/bin/false"], ["/nonexistent/reload-something"], ["/bin/sleep", "30"], ["/bin/sh", "-c", "echo Unit crio.service not found. >&2; exit 5"]]',
      'after-render-timeout-ms = 300',
      '',
    ].join('\n'),
  );
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws, { config });
  await d.waitForLog(/after-render: \/bin\/false: failed/);
  await d.waitForLog(/after-render: \/nonexistent\/reload-something: failed: .*ENOENT/);
  await d.waitForLog(/after-render: \/bin\/sleep 30: failed: killed after 300 ms/);
  t.match(d.stdout(), /^ERROR: after-render: \/bin\/false: failed/m, 'logged as errors');
  // What the command said is in the line itself, not only in the json format's fields.
  await d.waitForLog(/^ERROR: after-render: \/bin\/sh -c .*: failed: exit 5: Unit crio\.service not found\.$/m);
  t.notMatch(d.stdout(), /Command failed/, "not node's wording, which repeats the command");

  // Still running and rendering.
  writeFileSync(join(ws.policy, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']));
  await d.waitForOutput((o) => o.includes('mirror-b.example/b'), 'a later render');
  const s = await d.status();
  t.equal(s.state, 'healthy', 'a failed after-render command does not degrade the render');
  t.equal(await d.stop(), 0);
});

t.test("the first render's commands run after READY=1: one that waits for a unit ordered after us cannot hold up the start", async (t) => {
  // At boot `systemctl reload crio.service` joins CRI-O's start job, which waits for our READY=1
  // (Before=crio.service): run before READY=1, it held the start until its timeout.
  const ws = workspace(t);
  const go = join(ws.dir, 'go');
  const ran = join(ws.dir, 'ran.txt');
  const config = join(ws.dir, 'config.toml');
  const waitForGo = `i=0; while [ ! -e '${go}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; [ -e '${go}' ] && echo go >> '${ran}'`;
  writeFileSync(config, [`after-render = [["/bin/sh", "-c", ${toml(waitForGo)}]]`, 'after-render-timeout-ms = 60000', ''].join('\n'));
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws, { config }); // resolves at READY=1 (10 s deadline; the command waits up to 30 s)
  t.match(readOrUndefined(ws.output), /mirror-a\.example\/a/, 'READY=1 came after the output was written');
  t.notOk(existsSync(ran), 'the command was still waiting at READY=1');
  writeFileSync(go, '');
  await d.waitFor(() => lines(ran).length === 1, 'the command, once what it waits for is there');
  await d.waitForLog(/after-render: \/bin\/sh -c .*: ok/);

  // SIGTERM while such a command runs: the stop waits for it, as for one after any render.
  const ran2 = join(ws.dir, 'ran2.txt');
  rmSync(go);
  writeFileSync(config, [`after-render = [["/bin/sh", "-c", ${toml(waitForGo.replace(ran, ran2))}]]`, 'after-render-timeout-ms = 60000', ''].join('\n'));
  d.child.kill('SIGHUP');
  await d.waitForLog(/reloaded/);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-b.example/a']));
  await d.waitForOutput((o) => o.includes('mirror-b.example/a'), 'a later render');
  const stopped = d.stop(30_000);
  writeFileSync(go, '');
  t.equal(await stopped, 0, 'exit 0');
  t.same(lines(ran2), ['go'], 'the command in flight finished');
});

t.test("commands do not inherit systemd's notify socket or watchdog: only the main process talks to systemd", async (t) => {
  // sd_notify(3) unset_environment: a child that speaks sd_notify (podman's conmon sends
  // READY=1 and MAINPID= to NOTIFY_SOCKET) would otherwise talk to systemd about our unit.
  const ws = workspace(t);
  const env = join(ws.dir, 'env.txt');
  const config = join(ws.dir, 'config.toml');
  writeFileSync(config, `after-render = [["/bin/sh", "-c", ${toml(`env > '${env}'`)}]]\n`);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws, { config, env: { WATCHDOG_USEC: '30000000', MPD_MARKER: 'kept' } });
  await d.waitFor(() => lines(env).some((l) => l.startsWith('MPD_MARKER=')), 'the command ran');
  const names = lines(env).map((l) => l.split('=')[0]);
  t.ok(names.includes('MPD_MARKER'), 'the rest of the environment is passed on');
  for (const v of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) t.notOk(names.includes(v), `no ${v}`);
  await d.waitForNotify((m) => m === 'WATCHDOG=1'); // the daemon itself still has them
  t.equal(await d.stop(), 0);
});

t.test(
  'a write whose commands did not run (the daemon killed in between) owes them: the next start runs them, though its render changes nothing',
  async (t) => {
    const ws = workspace(t);
    const started = join(ws.dir, 'started.txt');
    const config = join(ws.dir, 'config.toml');
    // Slow enough to be killed during: it says when it starts, then takes 2 s.
    writeFileSync(config, `after-render = [["/bin/sh", "-c", ${toml(`echo x >> '${started}'; exec sleep 2`)}]]\n`);
    writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
    const d = await startDaemon(t, ws, { config });
    await d.waitFor(() => lines(started).length === 1, 'the command after the first render');
    await d.waitForLog(/after-render: .*: ok/);
    writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-b.example/a']));
    await d.waitFor(() => lines(started).length === 2, 'the command of the second render, under way');
    d.child.kill('SIGKILL'); // the output is written, its command has not finished
    await new Promise((r) => d.child.once('exit', r));
    t.ok(existsSync(join(ws.state, 'after-render-due')), 'the state dir says the commands are owed');

    const again = await startDaemon(t, ws, { config });
    await again.waitForLog(/did not have its after-render commands run/);
    await again.waitFor(() => lines(started).length === 3, 'the owed command, run after the start');
    await again.waitForLog(/after-render: .*: ok/);
    t.notMatch(again.stdout(), /INFO: rendered /, 'that start wrote nothing: the output already held the policy');
    t.equal(await again.stop(), 0);
    t.notOk(existsSync(join(ws.state, 'after-render-due')), 'paid: no longer owed');

    const third = await startDaemon(t, ws, { config });
    await third.waitForLog(/watching /);
    t.equal(await third.stop(), 0);
    t.equal(lines(started).length, 3, 'a start with nothing owed runs nothing');
  },
);
