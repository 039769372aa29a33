/**
 * The state directory against what a crash, a full disk or another user leaves in it, on
 * the REAL daemon: a stale daemon.json whose pid is now another process (a real `sleep`),
 * a directory or a FIFO in last-good/, a state directory or file others could write, and
 * no space left on the device at start. Each start either runs or fails with one line.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, BIN } from '../../helpers/cli.js';
import { cleanEnv, fragment, runArgs, sleep, startDaemon, workspace, type Workspace } from '../../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;

/** A live process that is surely not a mirror-policyd: `sleep`, killed in teardown. */
async function liveSleep(t: Test): Promise<number> {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  return child.pid as number;
}

function writeRecord(ws: Workspace, record: Record<string, unknown>): void {
  mkdirSync(ws.state, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(ws.state, 'daemon.json'),
    `${JSON.stringify({ output: ws.output, controlSocket: ws.control, startedAt: '2025-01-01T00:00:00.000Z', ...record })}\n`,
    { mode: 0o600 },
  );
}

const bootId = (): string => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

t.test('a stale daemon.json whose pid is now a live `sleep` does not stop a start, in any form of record', async (t) => {
  const pid = await liveSleep(t);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an older record (pid only)', { pid }, /the pid is now another process: sleep 300/],
    ['a record with identity, pid reused since', { pid, bootId: bootId(), startTicks: 1 }, /the pid is now another process: sleep 300/],
    ['a record from an earlier boot', { pid, bootId: '00000000-0000-0000-0000-000000000000', startTicks: 1 }, /written before the last boot/],
  ];
  for (const [name, record, why] of cases) {
    const ws = workspace(t);
    writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
    writeRecord(ws, record);
    const d = await startDaemon(t, ws);
    await d.waitForOutput((o) => o.includes('mirror-a.example/a'), `${name}: the first render`);
    t.match(d.log(), new RegExp(`replacing the record of a mirror-policyd that is gone \\(.*daemon\\.json: pid ${pid}, ${why.source}`), `${name}: says why`);
    const now = JSON.parse(readFileSync(join(ws.state, 'daemon.json'), 'utf8')) as Record<string, unknown>;
    t.equal(now.pid, d.pid, `${name}: the record is the new daemon's`);
    t.match(now, { bootId: bootId(), startTicks: Number }, `${name}: with its identity`);
    t.equal(await d.stop(), 0);
  }
});

t.test('pids 0, -1, 1 and non-integers in daemon.json are never a running daemon', async (t) => {
  for (const pid of [0, -1, 1, 2.5, '4242']) {
    const ws = workspace(t);
    writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
    writeRecord(ws, { pid });
    const d = await startDaemon(t, ws, { notify: false, waitReady: false });
    await d.waitFor(() => d.hasExited() || existsSync(ws.output), `pid ${JSON.stringify(pid)}: a render or an exit`);
    t.notOk(d.hasExited(), `pid ${JSON.stringify(pid)}: the daemon runs${d.hasExited() ? `: ${d.log()}` : ''}`);
    t.equal(await d.stop(), 0);
  }
});

t.test('a real daemon started twice: the second is refused, also when the record is in the older form', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');
  const second = await runCli(['run', ...runArgs({ ...ws, control: join(ws.dir, 'c2.sock') })], { env: cleanEnv() });
  t.equal(second.code, 1);
  t.match(second.stdout + second.stderr, new RegExp(`another mirror-policyd \\(pid ${d.pid}\\) is running with state directory`));

  // As an older version wrote it (pid only): the command line of that pid shows it is a mirror-policyd.
  const record = JSON.parse(readFileSync(join(ws.state, 'daemon.json'), 'utf8')) as Record<string, unknown>;
  writeRecord(ws, { pid: record.pid });
  const third = await runCli(['run', ...runArgs({ ...ws, control: join(ws.dir, 'c3.sock') })], { env: cleanEnv() });
  t.equal(third.code, 1);
  t.match(third.stdout + third.stderr, new RegExp(`another mirror-policyd \\(pid ${d.pid}\\) is running with state directory`));
  t.equal((await d.status()).pid, d.pid, 'the first one still runs');
  t.equal(await d.stop(), 0);
});

t.test('a directory and a FIFO in last-good/ are skipped and named; the daemon starts and renders', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  writeFileSync(join(ws.policy, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']));
  mkdirSync(join(ws.state, 'last-good', '10-a.toml'), { recursive: true });
  const fifo = spawnSync('mkfifo', [join(ws.state, 'last-good', '20-b.toml')]);
  t.equal(fifo.status, 0, 'mkfifo');
  chmodSync(ws.state, 0o700);
  chmodSync(join(ws.state, 'last-good'), 0o700);
  const d = await startDaemon(t, ws);
  const out = await d.waitForOutput((o) => o.includes('mirror-a.example/a') && o.includes('mirror-b.example/b'), 'both fragments rendered');
  t.ok(out);
  t.match(d.log(), /last-good copy .*last-good\/10-a\.toml: not used: a directory, not a regular file/);
  t.match(d.log(), /last-good copy .*last-good\/20-b\.toml: not used: a FIFO, not a regular file/);
  t.notMatch(d.log(), /internal error|EISDIR/);
  const s = await d.status();
  t.equal(s.state, 'healthy');
  t.equal(s.renderErrors, 0, 'the renders did not fail on the entries in the way');
  t.match(d.log(), /last-good copy .*last-good\/10-a\.toml: cannot be written: it is a directory; remove it/);
  t.equal(await d.stop(), 0);
});

t.test(
  'a state directory others can write is refused at start, naming owner, mode and the fix',
  { skip: !isRoot && "needs root to make a directory another user's" },
  async (t) => {
    const cases: Array<[string, (ws: Workspace) => string, RegExp]> = [
      ['world-writable', (ws) => (chmodSync(ws.state, 0o777), ws.state), /\(owner uid 0, mode 0777\): writable by group and others/],
      ['owned by nobody', (ws) => (chownSync(ws.state, 65534, 65534), ws.state), /\(owner uid 65534, mode 0700\): owned by uid 65534/],
      [
        'last-good/ world-writable',
        (ws) => (chmodSync(join(ws.state, 'last-good'), 0o1777), join(ws.state, 'last-good')),
        /\(owner uid 0, mode 1777\): writable by group and others/,
      ],
    ];
    for (const [name, spoil, found] of cases) {
      const ws = workspace(t);
      writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
      mkdirSync(join(ws.state, 'last-good'), { recursive: true, mode: 0o700 });
      chmodSync(ws.state, 0o700);
      const dir = spoil(ws);
      const r = await runCli(['run', ...runArgs(ws)], { env: cleanEnv() });
      t.equal(r.code, 1, `${name}: exit 1`);
      const text = r.stdout + r.stderr;
      t.match(text, `cannot start: refusing state directory ${dir} `, `${name}: names the directory`);
      t.match(text, found, `${name}: what was found`);
      t.match(text, `fix: chown root: ${dir}; chmod 0700 ${dir}`, `${name}: the fix`);
      t.notOk(existsSync(ws.output), `${name}: nothing rendered`);
      t.notOk(existsSync(join(ws.state, 'daemon.json')), `${name}: not claimed`);
    }
  },
);

t.test(
  'a last-good copy another user could have written never reaches the output',
  { skip: !isRoot && 'needs root to chown a file to another user' },
  async (t) => {
    const ws = workspace(t);
    // 10-a.toml is broken, so its last good copy would be rendered in its place.
    writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['BROKEN.example/A']));
    writeFileSync(join(ws.policy, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']));
    mkdirSync(join(ws.state, 'last-good'), { recursive: true, mode: 0o700 });
    chmodSync(ws.state, 0o700);
    const planted = join(ws.state, 'last-good', '10-a.toml');
    writeFileSync(planted, fragment('quay.io/a', ['evil.example/a']), { mode: 0o600 });
    chownSync(planted, 65534, 65534);
    const d = await startDaemon(t, ws);
    const out = await d.waitForOutput((o) => o.includes('mirror-b.example/b'), 'the render');
    t.notMatch(out, /evil\.example/, 'the planted mirror is not rendered');
    t.match(d.log(), /last-good copy .*last-good\/10-a\.toml: not used: owned by uid 65534, not by root or uid 0/);
    const s = await d.status();
    t.equal(s.fragments.find((f) => f.file === '10-a.toml')?.state, 'invalid', 'the broken fragment is left out, not held');
    t.equal(await d.stop(), 0);
  },
);

t.test(
  'no space left in the state directory at start: one FATAL line naming the file, exit 1',
  { skip: !isRoot && 'needs root: a full tmpfs in a private mount namespace' },
  async (t) => {
    const ws = workspace(t);
    mkdirSync(ws.state);
    // A 32 KiB tmpfs on the state dir, with the layout of an earlier run, filled up but for one
    // page: the start-up lock still fits, daemon.json does not.
    const script = [
      'mount -t tmpfs -o size=32k,mode=0700 mpd-test "$STATE"',
      'mkdir -m 0700 "$STATE/last-good" "$STATE/bases" "$STATE/drift"',
      'printf "1\\n" > "$STATE/format-version"',
      'echo spare > "$STATE/spare"',
      '{ head -c 1048576 /dev/zero > "$STATE/fill" 2>/dev/null || :; }',
      'rm "$STATE/spare"',
      'exec "$@"',
    ].join(' && ');
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', process.execPath, BIN, 'run', ...runArgs(ws)], {
      env: { ...cleanEnv(), STATE: ws.state },
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (r.error || /unshare: /.test(r.stderr)) {
      t.pass(`skipped: no private mount namespace here: ${r.error?.message ?? r.stderr}`);
      return;
    }
    const text = r.stdout + r.stderr;
    t.equal(r.status, 1, `exit 1: ${text}`);
    t.match(text, new RegExp(`FATAL: cannot start: .*${ws.state}/daemon\\.json: no space left on device`), 'names the file and the reason');
    t.notMatch(text, /internal error|\n\s+at /, 'no stack trace');
    t.equal(text.trim().split('\n').length, 1, 'one line');
    t.notOk(existsSync(ws.control), 'no control socket left behind');
    await sleep(0);
  },
);

t.test('restore never puts an original.conf others could write into place', async (t) => {
  const ws = workspace(t);
  mkdirSync(join(ws.state, 'last-good'), { recursive: true, mode: 0o700 });
  mkdirSync(join(ws.output, '..'), { recursive: true });
  writeFileSync(ws.output, '# the host file\n');
  const original = join(ws.state, 'original.conf');
  writeFileSync(original, '[[registry]]\nlocation = "quay.io"\n[[registry.mirror]]\nlocation = "evil.example"\n');
  chmodSync(original, 0o666);
  const r = await runCli(['restore', '--config', '/dev/null', '--state-dir', ws.state, '--output', ws.output]);
  t.equal(r.code, 1, 'refused');
  t.match(r.stdout + r.stderr, `cannot restore ${ws.output}: ${original}: not used: writable by group and others (mode 0666)`);
  t.equal(readFileSync(ws.output, 'utf8'), '# the host file\n', 'the output is untouched');
  chmodSync(original, 0o600);
  rmSync(ws.output); // a foreign file is left alone by restore: none in the way
  const ok = await runCli(['restore', '--config', '/dev/null', '--state-dir', ws.state, '--output', ws.output]);
  t.equal(ok.code, 0, ok.stderr);
  t.match(readFileSync(ws.output, 'utf8'), /evil\.example/, 'a private one is restored');
});

t.test(
  'a start that fails after the control socket is up exits in one line, leaving no daemon half up',
  { skip: !isRoot && 'needs root to run the daemon as nobody' },
  async (t) => {
    const ws = workspace(t);
    // As nobody, with its own state dir whose last-good/ it cannot list (mode 0300): safe, but unreadable.
    for (const d of [join(ws.state, 'last-good'), join(ws.state, 'bases'), join(ws.state, 'drift'), join(ws.output, '..')])
      mkdirSync(d, { recursive: true, mode: 0o700 });
    spawnSync('chown', ['-R', '65534:65534', ws.dir]);
    chmodSync(ws.dir, 0o755);
    chmodSync(join(ws.state, 'last-good'), 0o300);
    // `env -i`: not the test runner's environment, whose coverage hooks would write where nobody cannot.
    const r = spawnSync('env', ['-i', `PATH=${process.env['PATH'] ?? '/usr/bin:/bin'}`, process.execPath, BIN, 'run', ...runArgs(ws)], {
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
      timeout: 30_000,
    });
    const text = r.stdout + r.stderr;
    t.equal(r.status, 1, `exits 1 (not left running): ${text}`);
    t.match(text, `FATAL: cannot start: ${join(ws.state, 'last-good')}: permission denied`);
    t.notMatch(text, /internal error|\n\s+at /, 'no stack trace');
    t.notOk(existsSync(ws.control), 'the control socket is gone');
    t.notOk(existsSync(join(ws.state, 'daemon.json')), 'and the record');
  },
);

t.test(
  'a state directory under a directory others can write is refused at start: they could rename it and put their own in its place',
  { skip: !isRoot && "needs root to make a directory another user's" },
  async (t) => {
    const ws = workspace(t);
    const parent = join(ws.dir, 'var');
    mkdirSync(parent, { mode: 0o777 });
    chmodSync(parent, 0o777); // not sticky
    const state = join(parent, 'state');
    const r = await runCli(['run', ...runArgs({ ...ws, state })], { env: cleanEnv() });
    t.equal(r.code, 1, 'exit 1');
    const text = r.stdout + r.stderr;
    t.match(text, `cannot start: refusing state directory ${state}: ${parent} above it (owner uid 0, mode 0777) is writable by group and others`);
    t.match(text, `another user could put another directory in its place; fix: chmod go-w ${parent}`, 'the fix');
    t.notMatch(text, /fix: chown/, 'only what is needed: root owns it already');
    t.notOk(existsSync(ws.output), 'nothing rendered');
    t.notOk(existsSync(join(state, 'daemon.json')), 'not claimed');

    chmodSync(parent, 0o1777);
    const d = await startDaemon(t, { ...ws, state });
    t.equal(await d.stop(), 0, 'a sticky parent (as /tmp) is fine');
  },
);
