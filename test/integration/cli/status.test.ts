/**
 * `status` when the daemon cannot be asked: no permission on the socket, no answer in time,
 * a garbled answer. One line saying why and exit 4 (status unknown), never a stack trace
 * and never 1 (degraded, which is an answer).
 */
import t, { type Test } from 'tap';
import { chmodSync, chownSync, mkdtempSync, symlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { NOBODY, runAs } from './run-as.js';

/** A Unix socket server whose connections get `answer` (or nothing); closed at teardown. */
async function socketServer(t: Test, path: string, answer?: string): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    if (answer !== undefined) s.on('data', () => s.end(answer));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return server;
}

function oneLineNoStack(t: Test, stderr: string): void {
  t.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
  t.notMatch(stderr, /\n\s+at /, 'no stack trace');
}

t.test('no answer within --timeout-ms: exit 4 with a one-line reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-status-'));
  const path = join(dir, 'control.sock');
  await socketServer(t, path);
  const r = await runCli(['status', '--control-socket', path, '--timeout-ms', '300']);
  t.equal(r.code, 4, r.stderr);
  t.match(r.stderr, new RegExp(`^mirror-policyd status: control socket ${path} did not answer within 300 ms; the daemon may be hung`));
  oneLineNoStack(t, r.stderr);
  const j = await runCli(['status', '--json', '--control-socket', path, '--timeout-ms', '300']);
  t.equal(j.code, 4);
  t.match(JSON.parse(j.stdout), { state: 'unknown', controlSocket: path, reason: /did not answer within 300 ms/ });
  t.equal((await runCli(['status', '--timeout-ms', '0'])).code, 2, 'a zero timeout is a usage error');
});

t.test('well-formed answers that are not a status: exit 4 with a one-line reason, no stack trace (text or --json)', async (t) => {
  for (const [i, result] of [
    null,
    42,
    { state: 'healthy' },
    { state: 'sleeping', degraded: [], fragments: [], drift: [], shadowing: [], base: {} },
  ].entries()) {
    const dir = mkdtempSync(join(tmpdir(), 'mpd-status-'));
    const path = join(dir, 'control.sock');
    await socketServer(t, path, `${JSON.stringify({ ok: true, result })}\n`);
    const r = await runCli(['status', '--control-socket', path]);
    t.equal(r.code, 4, `answer ${i}: ${r.stderr}`);
    t.match(r.stderr, `the answer at ${path} is not a mirror-policyd status`);
    oneLineNoStack(t, r.stderr);
    const j = await runCli(['status', '--json', '--control-socket', path]);
    t.equal(j.code, 4, `answer ${i}, --json`);
  }
});

t.test('a garbled answer: exit 4 with a one-line reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-status-'));
  const path = join(dir, 'control.sock');
  await socketServer(t, path, 'HTTP/1.1 400 Bad Request\r\n\r\n');
  const r = await runCli(['status', '--control-socket', path]);
  t.equal(r.code, 4, r.stderr);
  t.match(r.stderr, /is this mirror-policyd's control socket\?/);
  oneLineNoStack(t, r.stderr);
});

t.test(
  'an unprivileged user: permission denied, exit 4, one line',
  { skip: process.getuid?.() !== 0 ? 'needs root to run the CLI as another user' : false },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mpd-status-'));
    chmodSync(dir, 0o755);
    const path = join(dir, 'control.sock');
    await socketServer(t, path, '{"ok":true,"result":{}}\n');
    chmodSync(path, 0o600); // as the daemon's socket is
    const r = await runAs(NOBODY, ['status', '--control-socket', path]);
    t.equal(r.code, 4, r.stderr);
    t.match(r.stderr, new RegExp(`^mirror-policyd status: permission denied on the control socket ${path}.*run status as root`));
    oneLineNoStack(t, r.stderr);
  },
);

t.test(
  'a socket another user owns (one put in /tmp, say) is not asked: status and reload exit 4 saying whose it is; reload signals nothing',
  { skip: process.getuid?.() !== 0 ? 'needs root to give the socket to another user' : false },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'mpd-status-'));
    chmodSync(dir, 0o1777); // sticky and world-writable, as /tmp
    const path = join(dir, 'control.sock');
    let connections = 0;
    // What such a socket could answer: a status, and reload counts naming a pid to signal (this test's own).
    const server = await socketServer(t, path, `{"ok":true,"result":{"pid":${process.pid},"requested":0,"started":0,"finished":0}}\n`);
    server.on('connection', () => void connections++);
    chownSync(path, NOBODY, NOBODY);
    for (const command of ['status', 'reload']) {
      const r = await runCli([command, '--control-socket', path, '--timeout-ms', '2000']);
      t.equal(r.code, 4, `${command}: ${r.stderr}`);
      t.match(r.stderr, `control socket ${path} belongs to uid ${NOBODY}, neither root nor this user: not the daemon's, so not asked`);
      oneLineNoStack(t, r.stderr);
    }
    const link = join(dir, 'link.sock');
    symlinkSync(path, link); // root's link, to their socket
    const viaLink = await runCli(['status', '--control-socket', link, '--timeout-ms', '2000']);
    t.equal(viaLink.code, 4, `through a link of root's: ${viaLink.stderr}`);
    t.match(viaLink.stderr, `control socket ${link} belongs to uid ${NOBODY}`);
    t.equal(connections, 0, 'never connected to');
  },
);

t.test('names and messages from outside are shown one line each, control characters escaped: none forges a line or drives the terminal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-status-'));
  const path = join(dir, 'control.sock');
  const answer = {
    version: '0.1.0',
    pid: 1,
    startedAt: '2026-12-08T00:00:00.000Z',
    state: 'degraded',
    degraded: ['1 fragment(s) left out\u001b[2J'],
    policyDir: '/p',
    output: '/o',
    base: { source: 'none' },
    stateDir: '/s',
    renders: 1,
    renderErrors: 0,
    fragments: [{ file: '10-a\u001b]0;title\u0007.toml', state: 'invalid', errors: ['bad\nvalid   20-forged.toml'] }],
    drift: [],
    shadowing: [],
  };
  await socketServer(t, path, `${JSON.stringify({ ok: true, result: answer })}\n`);
  const r = await runCli(['status', '--control-socket', path, '--timeout-ms', '5000']);
  t.equal(r.code, 1, r.stderr);
  t.notMatch(r.stdout, /[\u0000-\u0009\u000b-\u001f]/, 'no control character but the line ends');
  t.match(r.stdout, '10-a\\u001b]0;title\\u0007.toml');
  t.notMatch(r.stdout, /^\s*valid\s+20-forged\.toml$/m, 'no forged line');
  t.match(r.stdout, 'bad\\u000avalid');
});
