/**
 * The daemon under systemd: sd_notify messages in order (READY after the first render,
 * RELOADING + MONOTONIC_USEC then READY on SIGHUP, STOPPING on SIGTERM), watchdog pings,
 * silence without NOTIFY_SOCKET, journald priority prefixes, and an output it cannot write
 * (READY but degraded, the old file intact, retried).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { exists, fragment, readOrUndefined, sleep, startDaemon, workspace } from '../../helpers/daemon.js';
import { immutableSupported } from '../../helpers/immutable.js';

const isWatchdog = (m: string): boolean => m === 'WATCHDOG=1';

t.test('READY after the first render, RELOADING then READY on SIGHUP, STOPPING on SIGTERM; watchdog pings', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws, { env: { WATCHDOG_USEC: '300000' } }); // pings every 150 ms
  const notify = d.notify!;

  // READY=1 came after the first render: the output was there when it arrived.
  t.match(readOrUndefined(ws.output) ?? '', /mirror-a\.example\/a/, 'the output was written before READY=1');
  const ready = await d.waitForNotify((m) => m.startsWith('READY=1'));
  t.match(ready, /^READY=1\nSTATUS=healthy: fragments 1 valid, 0 held, 0 invalid, \d+ tables?, \d+ mirrors?, rendered /);
  const beforeReady = notify.messages().slice(0, notify.messages().indexOf(ready));
  t.ok(
    beforeReady.every((m) => m.startsWith('STATUS=')),
    `only STATUS= before READY=1: ${JSON.stringify(beforeReady)}`,
  );

  // Watchdog: WATCHDOG_USEC set (and no WATCHDOG_PID) → pings at half the interval.
  await d.waitFor(() => notify.messages().filter(isWatchdog).length >= 3, 'three WATCHDOG=1 pings');

  // SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
  const n = notify.messages().length;
  const monoBefore = process.hrtime.bigint() / 1000n;
  d.child.kill('SIGHUP');
  const reloading = await d.waitForNotify((m) => m.startsWith('RELOADING=1'), n);
  const m = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(reloading);
  t.ok(m, `RELOADING message: ${JSON.stringify(reloading)}`);
  t.ok(BigInt(m?.[1] ?? '0') >= monoBefore, 'MONOTONIC_USEC is CLOCK_MONOTONIC, taken after the signal was sent');
  const iReloading = notify.messages().indexOf(reloading, n);
  const ready2 = await d.waitForNotify((x) => x.startsWith('READY=1'), iReloading + 1);
  t.match(ready2, /^READY=1\nSTATUS=healthy/);
  await d.waitForLog(/reloaded/);

  // SIGTERM: STOPPING=1, exit 0, nothing after STOPPING but (at most) watchdog pings.
  const n2 = notify.messages().length;
  t.equal(await d.stop(), 0, 'exit 0 on SIGTERM');
  const after = notify
    .messages()
    .slice(n2)
    .filter((x) => !isWatchdog(x));
  t.same(after, ['STOPPING=1'], 'STOPPING=1 is the last message');
  t.match(d.log(), /SIGTERM: stopping[\s\S]*stopped/);

  // The order over the whole life, watchdog pings aside.
  const kinds = notify
    .messages()
    .filter((x) => !isWatchdog(x))
    .map((x) => x.split('=')[0])
    .filter((k) => k !== 'STATUS');
  t.same(kinds, ['READY', 'RELOADING', 'READY', 'STOPPING']);
});

t.test('WATCHDOG_PID of another process: no pings', async (t) => {
  const ws = workspace(t);
  const d = await startDaemon(t, ws, { env: { WATCHDOG_USEC: '200000', WATCHDOG_PID: '1' } });
  await d.waitForNotify((m) => m.startsWith('READY=1'));
  await sleep(600); // several intervals of 100 ms: asserting an absence needs some time
  t.notOk(d.notify!.messages().some(isWatchdog), 'the watchdog belongs to pid 1, not to us');
  t.equal(await d.stop(), 0);
});

t.test('no NOTIFY_SOCKET: quiet, and plain log lines when JOURNAL_STREAM does not match stdout', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const other = join(ws.dir, 'other');
  writeFileSync(other, '');
  const st = statSync(other);
  const d = await startDaemon(t, ws, { notify: false, env: { JOURNAL_STREAM: `${st.dev}:${st.ino}`, WATCHDOG_USEC: '200000' } });
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');
  await d.waitForStatus((s) => s.state === 'healthy', 'healthy');
  t.equal(await d.stop(), 0);
  t.equal(d.stderr(), '', 'nothing on stderr (no sd_notify warning)');
  t.notMatch(d.log(), /sd_notify|NOTIFY_SOCKET/);
  t.notMatch(d.stdout(), /^</m, 'no priority prefixes on a pipe');
  t.match(d.stdout(), /^INFO: rendered /m);
});

t.test('journald: stdout is the JOURNAL_STREAM → every line starts with its syslog priority', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  writeFileSync(join(ws.policy, '20-bad.toml'), fragment('quay.io/b', ['UPPER.example/B']));
  writeFileSync(join(ws.policy, '30-x.toml'), 'short-name-mode = "permissive"\n');
  writeFileSync(join(ws.policy, '31-y.toml'), 'short-name-mode = "disabled"\n'); // a warning: the later file wins
  const journal = join(ws.dir, 'journal.log');
  const fd = openSync(journal, 'a');
  t.teardown(() => closeSync(fd));
  const st = fstatSync(fd, { bigint: true });
  const d = await startDaemon(t, ws, { stdoutFd: fd, env: { JOURNAL_STREAM: `${st.dev}:${st.ino}` } });
  await d.waitFor(() => /rendered /.test(readFileSync(journal, 'utf8')), 'the render logged');
  t.equal(await d.stop(), 0);
  const lines = readFileSync(journal, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  t.ok(lines.length >= 3, `some lines: ${JSON.stringify(lines)}`);
  for (const l of lines) t.match(l, /^<[0-7]>/, `prefixed: ${l}`);
  t.ok(
    lines.some((l) => /^<6>INFO: rendered /.test(l)),
    'info → <6>',
  );
  t.ok(
    lines.some((l) => /^<3>ERROR: 20-bad\.toml:3:\d+: /.test(l)),
    'error → <3>',
  );
  t.ok(
    lines.some((l) => /^<4>WARN: 31-y\.toml:1:1: short-name-mode/.test(l)),
    'warning → <4>',
  );
  t.notOk(lines.some((l) => /^<6>ERROR|^<3>INFO/.test(l)));
});

t.test('output whose parent is a file: READY but degraded, retried, written once possible', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const parent = join(ws.dir, 'out');
  writeFileSync(parent, 'a file where the output directory should be\n');
  const d = await startDaemon(t, ws, { args: ['--log-level', 'debug'] });
  const ready = await d.waitForNotify((m) => m.startsWith('READY=1'));
  t.match(ready, /STATUS=degraded/, 'READY=1 even though it cannot write');
  const s = await d.status();
  t.equal(s.state, 'degraded');
  t.match(s.lastWriteError ?? '', /ENOTDIR|EEXIST|not a directory/);
  t.match(s.degraded.join('\n'), /cannot write .*registries\.conf/);
  t.same(
    s.fragments.map((f) => [f.file, f.state]),
    [['10-a.toml', 'valid']],
    'the policy itself is fine',
  );
  t.equal((await runCli(['status', '--control-socket', ws.control])).code, 1, 'status: exit 1 (degraded)');
  t.equal(readFileSync(parent, 'utf8'), 'a file where the output directory should be\n', 'the file in the way is untouched');
  // Retried on its own (backoff), not only when something changes; logged once, the retries at debug.
  await d.waitFor(() => (d.stdout().match(/^DEBUG: still cannot write .*retrying in/gm) ?? []).length >= 1, 'a retry that fails again');
  t.equal((d.stdout().match(/^ERROR: cannot write /gm) ?? []).length, 1, 'one error line');
  rmSync(parent);
  mkdirSync(parent, { recursive: true }); // the daemon's own retry may make it first
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the output, once its directory is there', 15_000);
  await d.waitForStatus((x) => x.state === 'healthy' && x.lastWriteError === undefined, 'healthy again');
  await d.waitForLog(/written again/); // the line may land a moment after the status
  t.equal(await d.stop(), 0);
});

const immutable = immutableSupported();
t.test(
  'an output directory that refuses writes (immutable): the old file stays intact, retried; the failure logged once, its repeats at debug',
  { skip: immutable ? false : 'chattr +i does not work here' },
  async (t) => {
    const ws = workspace(t);
    writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
    const d = await startDaemon(t, ws, { args: ['--log-level', 'debug'] });
    const old = await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');
    const outDir = join(ws.dir, 'out');
    execFileSync('chattr', ['+i', outDir]);
    try {
      writeFileSync(join(ws.policy, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']));
      const s = await d.waitForStatus((x) => x.lastWriteError !== undefined, 'a write error');
      t.equal(s.state, 'degraded');
      t.match(s.lastWriteError ?? '', /EPERM|not permitted/);
      t.equal(readFileSync(ws.output, 'utf8'), old, 'the old file is intact, byte for byte');
      await d.waitFor(() => (d.stdout().match(/^DEBUG: still cannot write /gm) ?? []).length >= 2, 'two retries that fail again');
      t.equal(readFileSync(ws.output, 'utf8'), old, 'still intact');
      const errors = d.stdout().match(/^ERROR: cannot write .*/gm) ?? [];
      t.equal(errors.length, 1, 'one error line for the failure, however often it is retried');
      t.match(errors[0], /the old file is intact; retrying in 1 s, then less often \(up to every 60 s\); repeats are logged at debug/);
    } finally {
      execFileSync('chattr', ['-i', outDir]); // before anything else, or the workspace cannot be removed
    }
    await d.waitForOutput((o) => o.includes('mirror-b.example/b'), 'the new render once writes work again', 15_000);
    await d.waitForStatus((x) => x.state === 'healthy', 'healthy again');
    await d.waitForLog(/^INFO: .* written again/m); // the recovery is logged at info (the line may land a moment after the status)
    t.equal(await d.stop(), 0);
  },
);

t.test('SIGTERM while starting (before READY=1): the start completes, then a clean stop, exit 0', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  // The first render reads its base from a FIFO, which blocks until the test writes it: a start
  // held open, with `status` already answering, however slow the machine. (After-render commands
  // no longer hold it: they run after READY=1.)
  const base = join(ws.dir, 'base.fifo');
  execFileSync('mkfifo', [base]);
  const d = await startDaemon(t, ws, { args: ['--base', base], waitReady: false });
  await d.waitForStatus((s) => s.pid === d.pid, 'the control socket answers');
  t.notOk(
    d.notify!.messages().some((m) => m.startsWith('READY=1')),
    'not READY yet',
  );
  const stopped = d.stop();
  writeFileSync(base, '[[registry]]\nlocation = "example.com"\n'); // the start may complete now, with the SIGTERM already sent
  t.equal(await stopped, 0, 'exit 0, not killed by the signal');
  t.match(d.stdout(), /SIGTERM: stopping[\s\S]*stopped\n$/);
  t.notOk(exists(ws.control), 'the control socket is removed');
  t.notOk(exists(join(ws.state, 'daemon.json')), 'and the lock record');
  const kinds = d
    .notify!.messages()
    .map((m) => m.split('=')[0])
    .filter((k) => k !== 'STATUS');
  t.same(kinds, ['READY', 'STOPPING']);
});

t.test(
  "output on a read-only file system (a directory the unit's ReadWritePaths= leaves out): degraded, and the reason says where to fix it",
  { skip: process.getuid?.() !== 0 && 'needs root: unshare -m and a read-only bind mount' },
  async (t) => {
    const ws = workspace(t);
    writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
    const out = join(ws.dir, 'out');
    mkdirSync(out);
    // As ProtectSystem=strict does: the output's directory read-only in the daemon's mount namespace.
    const readOnly = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"';
    const d = await startDaemon(t, ws, { wrap: ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', readOnly, out] });
    const s = await d.waitForStatus((x) => x.lastWriteError !== undefined, 'the write failed');
    t.equal(s.state, 'degraded');
    t.match(s.degraded.join('\n'), /cannot write .*registries\.conf: .*read-only file system.*ReadWritePaths=/);
    await d.waitForLog(/ERROR: cannot write .*read-only file system.*ReadWritePaths=.*retrying in/);
    t.equal(await d.stop(), 0);
  },
);
