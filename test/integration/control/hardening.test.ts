/**
 * The REAL daemon's control socket (the server itself: test/control/control.test.ts): mode
 * 0600 and owned by the daemon's user even when it starts under umask 000; another user
 * cannot connect; no request changes anything (every command but status and ping is
 * unknown, and the daemon's state and output are the same after a barrage of them); requests
 * are size-bounded, and neither oversized requests nor a flood of idle connections stop the
 * daemon from rendering or answering.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { controlRequest } from '../../../src/control/client.js';
import { MAX_REQUEST_BYTES } from '../../../src/control/protocol.js';
import { cleanEnv, fragment, replaceFile, runArgs, sleep, startDaemon, workspace, type Workspace } from '../../helpers/daemon.js';
import { runCli } from '../../helpers/cli.js';
import { NOBODY } from '../cli/run-as.js';

const isRoot = process.getuid?.() === 0;

/** Sends raw bytes, returns what came back before the server closed (or `timeoutMs` passed). */
function raw(path: string, bytes: Buffer | string, timeoutMs = 5000): Promise<{ answer: string; closedByServer: boolean; error?: string }> {
  return new Promise((resolve) => {
    const so = connect(path);
    let answer = '';
    const timer = setTimeout(() => {
      so.destroy();
      resolve({ answer, closedByServer: false });
    }, timeoutMs);
    so.on('data', (b: Buffer) => (answer += b.toString()));
    so.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ answer, closedByServer: true, error: e.code ?? e.message });
    });
    so.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closedByServer: true });
    });
    so.write(bytes, () => undefined);
  });
}

async function daemonUnderUmask(t: Parameters<typeof startDaemon>[0], ws: Workspace, mask: number): Promise<Awaited<ReturnType<typeof startDaemon>>> {
  const old = process.umask(mask); // inherited by the child at spawn
  try {
    return await startDaemon(t, ws); // the umask holds until READY=1, well past the spawn
  } finally {
    process.umask(old);
  }
}

t.test("the socket is 0600, a socket, owned by the daemon's user, in a 0700 directory, even under umask 000", async (t) => {
  const ws = workspace(t);
  const control = join(ws.dir, 'run', 'control.sock'); // a directory the daemon must create
  const d = await daemonUnderUmask(t, { ...ws, control }, 0o000);
  const st = lstatSync(control);
  t.ok(st.isSocket(), 'a unix socket');
  t.equal((st.mode & 0o777).toString(8), '600', 'mode 0600');
  t.equal(st.uid, process.getuid?.(), 'owned by the user the daemon runs as');
  t.equal((lstatSync(dirname(control)).mode & 0o777).toString(8), '700', 'its directory, created by the daemon, is 0700');
  t.equal((await controlRequest(control, { cmd: 'ping' })).ok, true, 'and it answers');
  t.equal(await d.stop(), 0);
});

t.test(
  'another user cannot connect, even with every directory on the way open to them',
  { skip: !isRoot && 'needs root to run a client as another user' },
  async (t) => {
    const ws = workspace(t);
    const d = await startDaemon(t, ws);
    chmodSync(ws.dir, 0o755); // only the socket's own mode stands in the way now
    const script = `const s = require('node:net').connect(${JSON.stringify(ws.control)}); s.on('connect', () => { console.log('connected'); s.destroy(); }); s.on('error', (e) => console.log(e.code));`;
    const run = (uid: number): Promise<string> =>
      new Promise((resolve) => {
        const c = spawn(process.execPath, ['-e', script], { uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
        let out = '';
        c.stdout.on('data', (b: Buffer) => (out += b.toString()));
        const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
        c.on('close', () => {
          clearTimeout(timer);
          resolve(out.trim());
        });
      });
    t.equal(await run(65534), 'EACCES', "nobody (65534) is refused by the socket's mode");
    t.equal(await run(0), 'connected', "the daemon's own user (root here) connects");
    t.equal(await d.stop(), 0);
  },
);

t.test('no request changes anything: only status and ping exist, and a barrage of others leaves state and output as they were', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('a.example.com', ['m.a.example.net']));
  const d = await startDaemon(t, ws, { args: ['--rescan-interval-ms', '600000'] }); // no periodic rescan render in the window
  const out = await d.waitForOutput((o) => o.includes('m.a.example.net'));
  // Quiet first: the renders that follow a start (the daemon's own write, the settle pass 1 s after
  // a watcher event, events delivered late on a busy machine) must not be taken for ours: renders
  // unchanged for 3 s in a row.
  let before = await d.status();
  for (let stable = 0, n = 0; stable < 10 && n < 80; n++) {
    await sleep(300);
    const now = await d.status();
    stable = now.renders === before.renders ? stable + 1 : 0;
    before = now;
  }
  const commands = [
    'reload',
    'render',
    'restore',
    'stop',
    'shutdown',
    'set',
    'write',
    'exec',
    'config',
    'adopt',
    'probe',
    '__proto__',
    'constructor',
    'toString',
    'hasOwnProperty',
    'STATUS',
    'status ',
    ' status',
  ];
  for (const cmd of commands) {
    const r = await controlRequest(ws.control, { cmd } as never);
    t.same(r, { ok: false, error: `unknown command: ${JSON.stringify(cmd)}` }, `${JSON.stringify(cmd)} is no command`);
  }
  for (const line of [
    '{"cmd":"status","set":{"policyDir":"/"}}',
    '{"cmd":"status","output":"/etc/passwd"}',
    '{"cmd":["status","reload"]}',
    '[{"cmd":"reload"}]',
  ]) {
    const r = await raw(ws.control, `${line}\n`);
    t.ok(r.answer.startsWith('{"ok":'), `${line}: answered with one JSON line`);
  }
  const after = await d.status();
  // A render the watcher starts on its own (a late event on a busy machine) may still fall in the window;
  // a command that rendered would have added one for each of the ${commands.length + 4} requests.
  t.ok(after.renders - before.renders <= 1, `no render was caused by the ${commands.length + 4} requests (renders ${before.renders} → ${after.renders})`);
  t.equal(after.lastRender?.sha256, before.lastRender?.sha256, 'the last render is the same one');
  t.same(after.fragments, before.fragments, 'every fragment in the same state');
  t.equal(after.policyDir, before.policyDir, 'the policy directory is the same');
  t.equal(after.output, before.output, 'the output is the same path');
  t.equal(readFileSync(ws.output, 'utf8'), out, 'the output file is byte for byte the same');
  t.notOk(d.hasExited(), 'the daemon is running');
  t.equal(await d.stop(), 0);
});

t.test('requests are size-bounded: oversized lines and endless streams are refused and closed; the daemon keeps working', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('a.example.com', ['m1.a.example.net']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('m1.a.example.net'));

  const justRight = `{"cmd":"ping","pad":"${'x'.repeat(MAX_REQUEST_BYTES - 30)}"}`;
  t.ok(Buffer.byteLength(justRight) <= MAX_REQUEST_BYTES);
  t.match(
    (await raw(ws.control, `${justRight}\n`)).answer,
    /^\{"ok":true,"result":"pong"\}\n$/,
    `a request of ${Buffer.byteLength(justRight)} bytes is served`,
  );

  const over = await raw(ws.control, `{"cmd":"ping","pad":"${'x'.repeat(MAX_REQUEST_BYTES)}"}\n`);
  t.match(over.answer, new RegExp(`request too large \\(limit ${MAX_REQUEST_BYTES} bytes\\)`), 'one byte line over the limit: refused');
  t.ok(over.closedByServer, 'and the connection closed');

  // 16 MiB without a newline: the server stops reading at the limit and closes; the client does not get to send it all.
  // The refusal is written, but the client, still writing, may get EPIPE first and drop what
  // it had not read yet (seen once under CI load): then the daemon's log is the witness.
  const endless = await raw(ws.control, Buffer.alloc(16 * 1024 * 1024, 0x78), 10_000);
  t.ok(
    /request too large/.test(endless.answer) || endless.error === 'EPIPE' || endless.error === 'ECONNRESET',
    `an endless line is refused (answer ${JSON.stringify(endless.answer.slice(0, 80))}, error ${endless.error ?? 'none'})`,
  );
  t.ok(endless.closedByServer, 'and closed by the server, not left to stream');
  await d.waitFor(() => (d.log().match(/control socket: request too large; refused/g) ?? []).length >= 2, 'the daemon logs both refusals');

  // A flood of idle connections (more than the server's 16 slots): they are dropped, and the daemon still renders and answers.
  const idle = Array.from({ length: 40 }, () => connect(ws.control).on('error', () => undefined));
  t.teardown(() => idle.forEach((s) => s.destroy()));
  replaceFile(join(ws.policy, '10-a.toml'), fragment('a.example.com', ['m2.a.example.net']));
  await d.waitForOutput((o) => o.includes('m2.a.example.net'), 'a render during the flood');
  const st = await d.waitForStatus((s) => s.state === 'healthy', 'status answered once the idle connections time out', 15_000);
  t.equal(st.state, 'healthy');
  t.ok(d.log().includes('control socket'), 'the daemon logged the refusals');
  idle.forEach((s) => s.destroy());
  t.equal(await d.stop(), 0);
});

t.test(
  'a socket directory another user owns is refused: they could put their own socket in its place',
  { skip: !isRoot && 'needs root to chown' },
  async (t) => {
    const ws = workspace(t);
    const run = join(ws.dir, 'run');
    mkdirSync(run, { mode: 0o755 });
    chownSync(run, NOBODY, NOBODY); // as when another user made it first (in /tmp)
    const control = join(run, 'control.sock');
    const r = await runCli(['run', ...runArgs({ ...ws, control })], { env: cleanEnv() });
    t.equal(r.code, 1, 'the daemon does not start');
    t.match(r.stdout + r.stderr, `refusing control socket ${control}: its directory ${run} is owned by uid ${NOBODY}, not by root or uid 0`);
    t.notOk(existsSync(control), 'no socket was bound there');

    chmodSync(run, 0o777);
    chownSync(run, 0, 0);
    const writable = await runCli(['run', ...runArgs({ ...ws, control })], { env: cleanEnv() });
    t.equal(writable.code, 1, 'nor under a directory others may write');
    t.match(writable.stdout + writable.stderr, `its directory ${run} is writable by group and others (mode 0777)`);
  },
);
