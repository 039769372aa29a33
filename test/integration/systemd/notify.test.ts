import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createNotifier, loadUnixDgram } from '../../../src/systemd/notify.js';
import { startNotifyListener } from '../../helpers/notify-listener.js';

interface Warning {
  obj: object;
  msg: string;
}
function captureLog(): { warn(obj: object, msg: string): void; warnings: Warning[] } {
  const warnings: Warning[] = [];
  return { warnings, warn: (obj, msg) => warnings.push({ obj, msg }) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One datagram from a fresh socket (each its own send buffer); false when the receiver's queue is full. */
function sendTo(path: string, text: string): boolean {
  const sock = loadUnixDgram().createSocket('unix_dgram');
  let sent = false;
  const buf = Buffer.from(text);
  sock.send(buf, 0, buf.length, path, (err) => void (sent = err === undefined));
  sock.close();
  return sent;
}

t.test('each message arrives as systemd expects it', async (t) => {
  const l = await startNotifyListener();
  t.teardown(() => l.close());
  const log = captureLog();
  const n = createNotifier({ NOTIFY_SOCKET: l.path }, log);
  t.equal(n.enabled, true);

  n.ready();
  t.equal(await l.waitFor((m) => m.startsWith('READY'), 5000), 'READY=1');

  n.ready('rendered 3 fragments');
  t.equal(await l.waitFor((m) => m.startsWith('READY'), 5000, 1), 'READY=1\nSTATUS=rendered 3 fragments');

  n.status('line one\nline two\r\nline three\rfour');
  t.equal(await l.waitFor((m) => m.startsWith('STATUS'), 5000), 'STATUS=line one line two line three four');

  n.ready('multi\nline');
  t.equal(await l.waitFor((m) => m.startsWith('READY'), 5000, 3), 'READY=1\nSTATUS=multi line');

  n.stopping();
  t.equal(await l.waitFor((m) => m.startsWith('STOPPING'), 5000), 'STOPPING=1');

  n.watchdog();
  t.equal(await l.waitFor((m) => m.startsWith('WATCHDOG'), 5000), 'WATCHDOG=1');

  const before = process.hrtime.bigint() / 1000n;
  n.reloading();
  const after = process.hrtime.bigint() / 1000n;
  const reloading = await l.waitFor((m) => m.startsWith('RELOADING'), 5000);
  const match = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(reloading);
  t.ok(match, `RELOADING message shape: ${JSON.stringify(reloading)}`);
  const usec = BigInt(match?.[1] ?? '0');
  t.ok(usec >= before && usec <= after, 'MONOTONIC_USEC is process.hrtime in µs');

  t.same(l.messages().length, 7, 'one datagram per call');
  t.same(log.warnings, [], 'no warnings');

  n.close();
  t.equal(n.enabled, false, 'closed notifier is disabled');
  n.ready('after close');
  await sleep(100);
  t.equal(l.messages().length, 7, 'nothing is sent after close()');
});

function hasPython3(): boolean {
  try {
    execFileSync('python3', ['-c', 'pass'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

t.test('MONOTONIC_USEC is CLOCK_MONOTONIC (cross-checked with python3)', { skip: hasPython3() ? false : 'python3 not available' }, async (t) => {
  const l = await startNotifyListener();
  t.teardown(() => l.close());
  const n = createNotifier({ NOTIFY_SOCKET: l.path }, captureLog());
  const mono = (): bigint =>
    BigInt(execFileSync('python3', ['-c', 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)']).toString().trim());
  const lo = mono();
  n.reloading();
  const hi = mono();
  const m = /MONOTONIC_USEC=(\d+)/.exec(await l.waitFor((x) => x.startsWith('RELOADING'), 5000));
  const usec = BigInt(m?.[1] ?? '0');
  t.ok(usec >= lo && usec <= hi, `python CLOCK_MONOTONIC ${lo} <= MONOTONIC_USEC ${usec} <= ${hi}`);
});

t.test('watchdog pings every WATCHDOG_USEC/2', async (t) => {
  const l = await startNotifyListener();
  t.teardown(() => l.close());
  const log = captureLog();
  const n = createNotifier({ NOTIFY_SOCKET: l.path, WATCHDOG_USEC: '200000' }, log);
  t.equal(n.watchdogIntervalMs, 100);
  const stop = n.startWatchdog();
  const pings = () => l.messages().filter((m) => m === 'WATCHDOG=1').length;
  // Generous deadline: at 100 ms intervals, 3 pings (1 at once + 2 timed) take ~200 ms.
  const deadline = Date.now() + 10_000;
  while (pings() < 3 && Date.now() < deadline) await sleep(50);
  t.ok(pings() >= 3, `at least 3 pings arrived (${pings()})`);
  stop();
  await sleep(50); // a datagram already in flight
  const stopped = pings();
  await sleep(400);
  t.equal(pings(), stopped, 'no pings after stop()');
  t.same(log.warnings, []);
});

t.test('watchdog with WATCHDOG_PID = our pid pings; restart replaces the timer', async (t) => {
  const l = await startNotifyListener();
  t.teardown(() => l.close());
  const n = createNotifier({ NOTIFY_SOCKET: l.path, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) }, captureLog());
  n.startWatchdog();
  const stop = n.startWatchdog(); // replaces the first timer
  await l.waitFor((m) => m === 'WATCHDOG=1', 5000);
  const deadline = Date.now() + 10_000;
  while (l.messages().length < 4 && Date.now() < deadline) await sleep(50);
  t.ok(l.messages().length >= 4, 'pings keep coming');
  n.close(); // close() stops it too
  await sleep(50);
  const count = l.messages().length;
  await sleep(400);
  t.equal(l.messages().length, count, 'close() stops the watchdog');
  stop(); // harmless after close
});

t.test('watchdog belongs to another pid, or is unset or invalid: no pings', async (t) => {
  const l = await startNotifyListener();
  t.teardown(() => l.close());
  for (const env of [{ WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid + 1) }, {}, { WATCHDOG_USEC: '0' }, { WATCHDOG_USEC: 'soon' }]) {
    const n = createNotifier({ NOTIFY_SOCKET: l.path, ...env }, captureLog());
    t.equal(n.watchdogIntervalMs, null, `no watchdog for ${JSON.stringify(env)}`);
    const stop = n.startWatchdog();
    t.type(stop, 'function');
    stop();
  }
  await sleep(400);
  t.same(l.messages(), [], 'nothing was sent');
});

t.test('the watchdog timer does not keep the process alive', async (t) => {
  const l = await startNotifyListener();
  t.teardown(() => l.close());
  // A child that starts the watchdog and returns: it must exit by itself.
  const script = `
    import { createNotifier } from ${JSON.stringify(new URL('../../../src/systemd/notify.js', import.meta.url).href)};
    const n = createNotifier();
    n.ready('child up');
    n.startWatchdog();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, NOTIFY_SOCKET: l.path, WATCHDOG_USEC: '200000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
  clearTimeout(killer);
  t.equal(signal, null, 'not killed: it exited by itself');
  t.equal(code, 0, stderr);
  t.ok(l.messages().includes('READY=1\nSTATUS=child up'), 'the child notified');
  t.ok(l.messages().includes('WATCHDOG=1'), 'the child pinged once at start');
});

t.test('no NOTIFY_SOCKET: disabled and quiet', async (t) => {
  for (const env of [{}, { NOTIFY_SOCKET: '' }, { WATCHDOG_USEC: '200000' }]) {
    const log = captureLog();
    const n = createNotifier(env, log);
    t.equal(n.enabled, false);
    n.ready('x');
    n.status('x');
    n.reloading();
    n.stopping();
    n.watchdog();
    n.startWatchdog()();
    n.close();
    t.same(log.warnings, [], `no warnings for ${JSON.stringify(env)}`);
  }
});

t.test('abstract socket: one warning, no throw, no-op', async (t) => {
  const log = captureLog();
  const n = createNotifier({ NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify/42', WATCHDOG_USEC: '200000' }, log);
  t.equal(n.enabled, false);
  n.ready('x');
  n.status('x');
  n.reloading();
  n.stopping();
  n.watchdog();
  n.startWatchdog()();
  n.close();
  t.equal(log.warnings.length, 1, 'warned once');
  t.match(log.warnings[0]?.msg, /abstract/);
});

t.test('other unusable NOTIFY_SOCKET values: one warning each, disabled', async (t) => {
  for (const value of ['vsock:2:1234', 'relative/notify', '/' + 'x'.repeat(120)]) {
    const log = captureLog();
    const n = createNotifier({ NOTIFY_SOCKET: value }, log);
    t.equal(n.enabled, false, value.slice(0, 20));
    n.ready();
    n.watchdog();
    t.equal(log.warnings.length, 1);
  }
});

t.test('send errors are logged, never thrown, and not repeated', async (t) => {
  const l = await startNotifyListener();
  const path = l.path;
  await l.close(); // the socket file is gone: sendto fails with ENOENT
  const log = captureLog();
  const n = createNotifier({ NOTIFY_SOCKET: path }, log);
  t.equal(n.enabled, true);
  t.doesNotThrow(() => {
    n.ready('x');
    n.watchdog();
    n.watchdog();
  });
  t.equal(log.warnings.length, 1, 'the same failure is logged once');
  t.match(log.warnings[0], { msg: /cannot send/, obj: { error: 'ENOENT', notifySocket: path, message: 'READY=1' } });
  // The pretty format shows only the message: the socket and the reason are in it.
  t.match(log.warnings[0]?.msg, `sd_notify: cannot send READY=1 to ${path}: ENOENT`);
});

t.test("a full notification socket (EAGAIN) is waited out, in order: READY=1 is not lost as libsystemd's blocking send would not lose it", async (t) => {
  const l = await startNotifyListener();
  t.teardown(() => l.close());
  // Fill the listener's queue (net.unix.max_dgram_qlen datagrams: 10, or 512 where systemd set it) within
  // this tick, before it reads any: one socket a datagram, or a single sender's own send buffer would
  // fill first; full once a fresh socket is refused, as the notifier's own will be.
  let filled = 0;
  while (filled < 100_000 && sendTo(l.path, `FILLER=${filled}`)) filled++;
  t.ok(filled < 100_000, `the queue is full after ${filled} datagrams`);
  const log = captureLog();
  const n = createNotifier({ NOTIFY_SOCKET: l.path }, log);
  n.status('before');
  n.ready('up');
  n.watchdog();
  n.status('superseded');
  n.status('after');
  n.watchdog();
  await l.waitFor((m) => m === 'STATUS=after', 10_000);
  const ours = l.messages().filter((m) => !m.startsWith('FILLER='));
  t.same(
    ours,
    ['STATUS=before', 'READY=1\nSTATUS=up', 'WATCHDOG=1', 'STATUS=after'],
    'every message, in order; one waiting ping for two; a status replaces only one waiting last (never one a later READY=1 follows)',
  );
  t.same(log.warnings, [], 'a wait that ends is not a failure');
});

t.test(
  'a notification socket that stays full: the message is given up after its tries, with one warning saying so',
  { skip: hasPython3() ? false : 'python3 not available' },
  async (t) => {
    // A receiver that never reads (python3: bound, then asleep), its queue filled as above.
    const dir = mkdtempSync(join('/tmp', 'mpd-notify-full-'));
    const path = join(dir, 'notify.sock');
    const sleeper = spawn(
      'python3',
      [
        '-c',
        `import socket,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(${JSON.stringify(path)}); print('ready', flush=True); time.sleep(60)`,
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    t.teardown(() => {
      sleeper.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    await new Promise<void>((resolve, reject) => {
      sleeper.stdout.once('data', () => resolve());
      sleeper.once('exit', () => reject(new Error('python3 exited before binding')));
    });
    let filled = 0;
    while (filled < 100_000 && sendTo(path, `FILLER=${filled}`)) filled++;
    t.ok(filled < 100_000, `full after ${filled} datagrams`);
    const log = captureLog();
    const n = createNotifier({ NOTIFY_SOCKET: path }, log, { firstMs: 10, maxMs: 20, limit: 3 });
    n.ready('up');
    n.status('later');
    for (let i = 0; i < 100 && log.warnings.length === 0; i++) await sleep(100);
    t.equal(log.warnings.length, 1, 'one warning');
    t.match(
      log.warnings[0]?.msg,
      /sd_notify: cannot send READY=1 to .*: EAGAIN: systemd's notification socket is full for 0\.1 s; the waiting messages dropped/,
    );
    n.status('after');
    await sleep(200);
    t.equal(log.warnings.length, 1, 'the same failure is not logged again');
    n.close();
  },
);

t.test('listener: waitFor is bounded and reports what it saw', async (t) => {
  const l = await startNotifyListener();
  const n = createNotifier({ NOTIFY_SOCKET: l.path }, captureLog());
  n.status('hello');
  await l.waitFor((m) => m === 'STATUS=hello', 5000);
  await t.rejects(
    l.waitFor((m) => m === 'READY=1', 150),
    /no matching sd_notify message within 150 ms.*STATUS=hello/,
  );
  await t.rejects(
    l.waitFor((m) => m === 'STATUS=hello', 150, 1),
    /from index 1/,
    'from skips earlier messages',
  );
  await t.rejects(
    l.waitFor(() => {
      throw new Error('bad predicate');
    }, 1000),
    /bad predicate/,
  );
  const pending = l.waitFor((m) => m === 'never', 60_000);
  await l.close();
  await t.rejects(pending, /closed/, 'close() rejects pending waits');
  await t.rejects(
    l.waitFor(() => true, 100),
    /closed/,
  );
  await l.close(); // idempotent
});
