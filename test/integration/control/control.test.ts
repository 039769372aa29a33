import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { NotRunningError, controlRequest, isServing } from '../../../src/control/client.js';
import { MAX_REQUEST_BYTES, type Request } from '../../../src/control/protocol.js';
import { startControlServer, type ControlHandlers, type ControlServer, type ControlServerOptions } from '../../../src/control/server.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'mpd-ctl-'));
  dirs.push(d);
  return d;
};
t.teardown(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const sockIn = (): string => join(tmp(), 'control.sock');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const STATUS = { state: 'synced', generation: 7, mirrors: ['a', 'b'] };
const handlers: ControlHandlers = { status: async () => STATUS };

function capture(): { warn(o: object, m: string): void; msgs: string[] } {
  const msgs: string[] = [];
  return { msgs, warn: (_o, m) => void msgs.push(m) };
}

async function start(t: Test, path: string, h: ControlHandlers = handlers, opts: ControlServerOptions = {}, log = capture()): Promise<ControlServer> {
  const s = await startControlServer(path, h, log, opts);
  t.teardown(() => s.close());
  return s;
}

interface RawResult {
  readonly text: string;
  readonly closed: boolean;
}

/** Connects, writes `chunks` (in order, each its own write), optionally half-closes, and collects what comes back until the server closes or `timeoutMs`. */
function raw(path: string, chunks: readonly (string | Buffer)[], opts: { end?: boolean; timeoutMs?: number } = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    let text = '';
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, closed });
    };
    const timer = setTimeout(() => done(false), opts.timeoutMs ?? 3000);
    sock.on('connect', () => {
      for (const c of chunks) sock.write(c);
      if (opts.end) sock.end();
    });
    sock.on('data', (b: Buffer) => (text += b.toString('utf8')));
    sock.on('error', () => {}); // EPIPE/ECONNRESET when the server hangs up on us: 'close' follows
    sock.on('close', () => done(true));
  });
}

/** A socket file nobody listens on: a child process binds it and is killed with SIGKILL (so nothing unlinks it). */
async function staleSocket(path: string): Promise<void> {
  const code = `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('ready'))`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => (String(b).includes('ready') ? resolve() : undefined));
      child.on('exit', () => reject(new Error('child exited before listening')));
    });
  } finally {
    child.kill('SIGKILL');
    await exited;
    clearTimeout(killer);
  }
}

t.test('status round trip, ping, isServing', async (t) => {
  const p = sockIn();
  const s = await start(t, p);
  t.equal(s.path, p);
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS });
  t.same(await controlRequest(p, { cmd: 'ping' }), { ok: true, result: 'pong' });
  t.equal(await isServing(p), true);
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS }, 'serves more than one connection');
});

t.test('socket is mode 0600 and ours even with umask 000; parent created 0700; no temporary left behind', async (t) => {
  const root = tmp();
  const p = join(root, 'run', 'mirror-policyd', 'control.sock');
  const old = process.umask(0);
  try {
    await start(t, p);
  } finally {
    process.umask(old);
  }
  const st = lstatSync(p);
  t.ok(st.isSocket());
  t.equal(st.mode & 0o777, 0o600);
  t.equal(st.uid, process.getuid?.());
  t.equal(statSync(dirname(p)).mode & 0o777, 0o700, 'missing parent created 0700');
  t.same(readdirSync(dirname(p)), ['control.sock'], 'the private bind directory is gone');
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS });
});

t.test('a second server on a live path fails with EADDRINUSE; the first keeps serving', async (t) => {
  const p = sockIn();
  const first = await start(t, p);
  const ino = lstatSync(p).ino;
  await t.rejects(startControlServer(p, handlers), {
    code: 'EADDRINUSE',
    message: `another mirror-policyd is running (control socket ${p} answers)`,
  });
  t.equal(lstatSync(p).ino, ino, 'socket file untouched');
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS });
  await first.close();
  t.notOk(existsSync(p), 'close() removes the socket file');
  await first.close(); // idempotent
  await start(t, p);
  t.equal(await isServing(p), true, 'the path can be bound again after close');
});

t.test('a stale socket (its server killed -9) reads as not running and is replaced', async (t) => {
  const p = sockIn();
  await staleSocket(p);
  t.ok(lstatSync(p).isSocket(), 'the killed process left its socket file');
  await t.rejects(controlRequest(p, { cmd: 'status' }), NotRunningError);
  await t.rejects(controlRequest(p, { cmd: 'status' }), { name: 'NotRunningError', reason: 'refused' });
  t.equal(await isServing(p), false);
  await start(t, p);
  t.equal(lstatSync(p).mode & 0o777, 0o600);
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS });
});

t.test(
  "a stale socket of another user's at the server's own path is replaced as well (the owner check is the clients')",
  { skip: process.getuid?.() !== 0 ? 'needs root to give the socket to another user' : false },
  async (t) => {
    const p = sockIn();
    await staleSocket(p);
    chownSync(p, 65534, 65534);
    await t.rejects(controlRequest(p, { cmd: 'status' }), { code: 'EOWNER' }, 'a client does not ask it');
    await start(t, p);
    t.equal(lstatSync(p).uid, 0, 'ours now');
    t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS });
  },
);

t.test('NotRunningError for a missing path', async (t) => {
  const p = sockIn();
  const err = await controlRequest(p, { cmd: 'status' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof NotRunningError);
  t.match(err, { reason: 'missing', path: p, message: /not running/ });
  t.equal(await isServing(p), false);
});

t.test('malformed requests get an error response and the server keeps serving', async (t) => {
  const p = sockIn();
  await start(t, p);
  for (const [line, want] of [
    ['{nope', /not valid JSON/],
    ['', /not valid JSON/],
    ['[1,2]', /expected a JSON object/],
    ['"status"', /expected a JSON object/],
    ['null', /expected a JSON object/],
    ['{"cmd":5}', /"cmd" must be a non-empty string/],
    ['{}', /"cmd" must be a non-empty string/],
  ] as const) {
    const r = await raw(p, [line + '\n']);
    t.ok(r.closed, `${JSON.stringify(line)}: server closes`);
    t.match(JSON.parse(r.text), { ok: false, error: want }, JSON.stringify(line));
  }
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS });
});

t.test('oversize requests are refused and the connection closed; the next client is served', async (t) => {
  const p = sockIn();
  const log = capture();
  // A request timeout far past the client's wait: a close can only be the refusal (no time bound asserted).
  await start(t, p, handlers, { requestTimeoutMs: 60_000 }, log);
  const cases: [string, (string | Buffer)[]][] = [
    ['one write, no newline', ['x'.repeat(MAX_REQUEST_BYTES + 100)]],
    ['several writes, no newline', ['{"cmd":"status",' + ' '.repeat(3000), ' '.repeat(3000)]],
    ['too long a line, newline included', [`{"cmd":"status"${' '.repeat(MAX_REQUEST_BYTES)}}\n`]],
    ['1 MiB', [Buffer.alloc(1 << 20, 0x20)]],
  ];
  for (const [name, chunks] of cases) {
    const r = await raw(p, chunks, { timeoutMs: 30_000 });
    t.ok(r.closed, `${name}: connection closed by the server`);
    if (r.text) t.match(JSON.parse(r.text), { ok: false, error: /too large/ }, `${name}: refusal`);
    t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS }, `${name}: next client served`);
  }
  t.ok(
    log.msgs.some((m) => /too large/.test(m)),
    'refusal logged',
  );

  // Exactly MAX_REQUEST_BYTES before the newline is still accepted.
  const base = '{"cmd":"status"';
  const exact = base + ' '.repeat(MAX_REQUEST_BYTES - base.length - 1) + '}';
  t.equal(Buffer.byteLength(exact), MAX_REQUEST_BYTES);
  const r = await raw(p, [exact + '\n']);
  t.same(JSON.parse(r.text), { ok: true, result: STATUS }, 'a request of exactly the limit is served');
});

t.test('unknown commands, including Object.prototype names, get an error response', async (t) => {
  const p = sockIn();
  await start(t, p);
  for (const cmd of ['reload', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    const res = await controlRequest(p, { cmd } as unknown as Request);
    t.same(res, { ok: false, error: `unknown command: ${JSON.stringify(cmd)}` }, cmd);
  }
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS });
});

t.test('a silent client is dropped after the request timeout; the server still works', async (t) => {
  const p = sockIn();
  const log = capture();
  await start(t, p, handlers, { requestTimeoutMs: 200 }, log);
  // The server's 200 ms timer, not our 30 s one, must end it (no time bound asserted: a loaded CI runs timers late).
  const r = await raw(p, [], { timeoutMs: 30_000 });
  t.ok(r.closed, 'dropped by the server');
  t.match(JSON.parse(r.text), { ok: false, error: /no request within 200 ms/ });
  t.ok(
    log.msgs.some((m) => /no request within/.test(m)),
    'logged',
  );
  // A client that sends half a line and stalls is dropped the same way.
  const half = await raw(p, ['{"cmd":"sta'], { timeoutMs: 30_000 });
  t.ok(half.closed, 'half a request: dropped by the server');
  t.match(JSON.parse(half.text), { ok: false, error: /no request within 200 ms/ }, "by the server's timer");
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: true, result: STATUS });
});

t.test('client timeout against a server that accepts but never answers', async (t) => {
  const p = sockIn();
  const held: Socket[] = [];
  const mute = createServer((s) => void held.push(s));
  await new Promise<void>((r) => mute.listen(p, r));
  t.teardown(() => {
    for (const s of held) s.destroy();
    return new Promise<void>((r) => mute.close(() => r()));
  });

  // The error names the client's 300 ms timer: that it fired is the behaviour (no time bound: timers run late under load).
  await t.rejects(controlRequest(p, { cmd: 'status' }, 300), { code: 'ETIMEDOUT', message: /did not answer within 300 ms/ });
  t.equal(await isServing(p, 300), false);

  // A daemon starting at this path must not remove a live (if mute) socket.
  const ino = lstatSync(p).ino;
  await t.rejects(startControlServer(p, handlers, undefined, { probeTimeoutMs: 300 }), {
    code: 'EADDRINUSE',
    message: /accepts connections but does not answer/,
  });
  t.equal(lstatSync(p).ino, ino, 'socket left in place');
});

t.test('a server that closes without answering, or answers garbage, is a protocol error (not "not running")', async (t) => {
  const p = sockIn();
  let reply = '';
  const srv = createServer((s) => {
    s.on('error', () => {});
    s.resume(); // read (and drop) the request, so the client's close is seen
    s.end(reply);
  });
  await new Promise<void>((r) => srv.listen(p, r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  await t.rejects(controlRequest(p, { cmd: 'ping' }, 2000), { code: 'EPROTO', message: /without answering/ });
  reply = 'hello\n';
  await t.rejects(controlRequest(p, { cmd: 'ping' }, 2000), { code: 'EPROTO', message: /not valid JSON/ });
  reply = '{"ok":false}\n';
  await t.rejects(controlRequest(p, { cmd: 'ping' }, 2000), { code: 'EPROTO', message: /expected/ });
  reply = '{"ok":true,"result":1}'; // no final newline: taken at EOF
  t.same(await controlRequest(p, { cmd: 'ping' }, 2000), { ok: true, result: 1 });
});

t.test('a path holding something other than a socket is not replaced', async (t) => {
  const p = join(tmp(), 'control.sock');
  writeFileSync(p, 'precious\n');
  await t.rejects(startControlServer(p, handlers), { code: 'EEXIST', message: /not a socket/ });
  t.equal(readFileSync(p, 'utf8'), 'precious\n');
  t.same(readdirSync(dirname(p)), ['control.sock'], 'nothing left behind');
});

t.test('handler failures become error responses; the server survives', async (t) => {
  const p = sockIn();
  const log = capture();
  const h: ControlHandlers = {
    status: () => {
      throw new Error('boom');
    },
    ping: () => Promise.reject(new Error('async boom')),
    slow: () => new Promise(() => {}),
    nothing: () => undefined,
    big: () => 10n,
  };
  await start(t, p, h, { handlerTimeoutMs: 200 }, log);
  t.same(await controlRequest(p, { cmd: 'status' }), { ok: false, error: 'boom' });
  t.same(await controlRequest(p, { cmd: 'ping' }), { ok: false, error: 'async boom' });
  // A hung handler is cut off by the server's 200 ms bound (its answer), long before our 30 s client bound.
  t.same(await controlRequest(p, { cmd: 'slow' } as unknown as Request, 30_000), {
    ok: false,
    error: 'command "slow" did not finish within 200 ms',
  });
  t.same(await controlRequest(p, { cmd: 'nothing' } as unknown as Request), { ok: true, result: null });
  t.match(await controlRequest(p, { cmd: 'big' } as unknown as Request), { ok: false, error: /cannot be sent/ });
  t.ok(log.msgs.some((m) => /command .* failed/.test(m)));
  t.ok(
    log.msgs.some((m) => m.includes('control socket: command "status" failed: boom')),
    'the line names the command and why (the pretty format shows no fields)',
  );
});

t.test('connections beyond the limit are closed on accept; freed slots serve again', async (t) => {
  const p = sockIn();
  const log = capture();
  await start(t, p, handlers, { maxConnections: 2, requestTimeoutMs: 5000 }, log);
  const idle = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect({ path: p }, () => resolve(s));
          s.on('error', reject);
        }),
    ),
  );
  await sleep(50); // let the server account for both
  const extra = await raw(p, ['{"cmd":"status"}\n'], { timeoutMs: 2000 });
  t.ok(extra.closed, 'third connection closed');
  t.equal(extra.text, '', 'without an answer');
  t.ok(
    log.msgs.some((m) => /too many connections/.test(m)),
    'drop logged',
  );
  t.equal(await isServing(p, 300), false, 'a full server does not read as serving');
  for (const s of idle) s.destroy();
  let served = false;
  for (let i = 0; i < 50 && !served; i++) {
    served = await isServing(p, 500);
    if (!served) await sleep(20);
  }
  t.ok(served, 'served again once the idle clients left');
});

t.test('a client that half-closes after its request (no final newline) still gets the answer', async (t) => {
  const p = sockIn();
  await start(t, p);
  const r = await raw(p, ['{"cmd":"status"}'], { end: true });
  t.ok(r.closed);
  t.same(JSON.parse(r.text), { ok: true, result: STATUS });
  const empty = await raw(p, [], { end: true, timeoutMs: 30_000 });
  t.ok(empty.closed, 'an empty request is closed by the server');
  t.equal(empty.text, '', 'at once, not by its request timeout (which answers with an error)');
});

t.test('one request per connection: a second line is ignored', async (t) => {
  const p = sockIn();
  await start(t, p);
  const r = await raw(p, ['{"cmd":"ping"}\n{"cmd":"status"}\n']);
  t.ok(r.closed);
  t.equal(r.text, '{"ok":true,"result":"pong"}\n');
});

t.test('close() drops open clients promptly and never removes a successor socket', async (t) => {
  const p = sockIn();
  const a = await startControlServer(p, handlers);
  // The idle client would wait 30 s; closed (by the server) proves close() did not wait for it.
  const hanging = raw(p, [], { timeoutMs: 30_000 });
  await sleep(50);
  await a.close();
  t.ok((await hanging).closed, 'close() does not wait for the idle client');

  const c = await startControlServer(p, handlers);
  unlinkSync(p); // someone removed the socket file ...
  const b = await start(t, p); // ... and another daemon took the path
  await c.close();
  t.ok(existsSync(p), "c.close() left b's socket alone");
  t.equal(await isServing(p), true);
  await b.close();
  t.notOk(existsSync(p));
});

t.test('a path too long for a unix socket is refused up front, creating nothing', async (t) => {
  const root = tmp();
  const dir = join(root, 'd'.repeat(100));
  await t.rejects(startControlServer(join(dir, 'control.sock'), handlers), { code: 'ENAMETOOLONG', message: /too long/ });
  t.notOk(existsSync(dir));
});
