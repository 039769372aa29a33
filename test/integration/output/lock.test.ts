/**
 * The one lock helper (src/output/lock.ts) and the health cache that uses it (src/health/store.ts),
 * with real processes as holders: a live `sleep` holds a lock for as long as it runs, a
 * lock is taken over only when its holder is proven gone, the cache is never written
 * without the lock, and separate processes updating the cache at once lose nothing.
 */
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, LockBusyError, withLock } from '../../../src/output/lock.js';
import { ownIdentity } from '../../../src/output/pid.js';
import { readHealth, updateHealth } from '../../../src/health/store.js';
import type { EndpointHealth } from '../../../src/health/health.js';
import { repoPath } from '../../helpers/repo.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A live process that holds nothing of ours: `sleep`, killed in teardown. */
async function liveSleep(t: Test): Promise<number> {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  return child.pid as number;
}

/** The identity of `pid` as its own ownIdentity() would write it (start time from /proc). */
function identityOf(pid: number): Record<string, unknown> {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return { pid, bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), startTicks };
}

/** A pid that surely runs no more: a child that has exited and been reaped. */
const gonePid = (): number => spawnSync(process.execPath, ['-e', '0']).pid;

const anHourAgo = (): Date => new Date(Date.now() - 3600_000);

const record = (endpoint: string, updatedAt: number): EndpointHealth => ({ endpoint, failures: 0, lastSuccess: updatedAt, updatedAt });

const opts = { waitMs: 300, unnamedStaleMs: 10_000 };

t.test('a lock held by a live process is never taken over, however old; the waiter gets a clear error', async (t) => {
  const dir = tempDir(t);
  const lock = join(dir, 'x.lock');
  const pid = await liveSleep(t);
  const content = `${JSON.stringify(identityOf(pid))}\n`;
  writeFileSync(lock, content);
  utimesSync(lock, anHourAgo(), anHourAgo());
  const e: unknown = await acquireLock(lock, opts).then(
    () => undefined,
    (x: unknown) => x,
  );
  t.ok(e instanceof LockBusyError, 'LockBusyError');
  t.match((e as Error).message, `${lock} is held by another process (pid ${pid}, still running) after waiting 0.3 s`);
  t.equal(readFileSync(lock, 'utf8'), content, "the holder's lock is left alone");
  t.same(readdirSync(dir), ['x.lock'], 'no temp file left behind');
});

t.test('a lock whose holder is gone is taken over at once: exited, pid reused, earlier boot, no valid pid', async (t) => {
  const sleeper = await liveSleep(t);
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['exited', { pid: gonePid() }, /not running/],
    ['its pid now a `sleep`', { ...identityOf(sleeper), startTicks: 1 }, /the pid is now another process: sleep 300/],
    ['an older plain pid, now a `sleep` (judged by its command line)', { pid: sleeper }, /the pid is now another process: sleep 300/],
    ['an earlier boot', { ...identityOf(sleeper), bootId: 'earlier' }, /written before the last boot/],
    ['pid 0', { pid: 0 }, /is not a process id/],
    ['pid -1', { pid: -1 }, /is not a process id/],
    ['pid 1', { pid: 1 }, /is not a process id/],
  ];
  for (const [name, holder, why] of cases) {
    const dir = tempDir(t);
    const lock = join(dir, 'x.lock');
    writeFileSync(lock, `${JSON.stringify(holder)}\n`);
    const told: string[] = [];
    const looksLike = (argv: readonly string[]): boolean => argv.some((a) => a.includes('mirror-policyd'));
    const held = await acquireLock(lock, { ...opts, waitMs: 5000, looksLike, onTakeOver: (p, w) => told.push(`${p}: ${w}`) });
    t.match(JSON.parse(readFileSync(lock, 'utf8')), { ...ownIdentity(), nonce: /^[0-9a-f]{8}$/ }, `${name}: the lock is ours now`);
    t.match(told.join('\n'), why, `${name}: says why`);
    await held.release();
    t.notOk(existsSync(lock), `${name}: released`);
  }
});

t.test('a lock holding garbage (a torn or foreign file) is taken over at once, said as such, not as "pid NaN"', async (t) => {
  const dir = tempDir(t);
  const lock = join(dir, 'x.lock');
  writeFileSync(lock, 'garbage\n\0\0');
  const told: string[] = [];
  await (await acquireLock(lock, { ...opts, onTakeOver: (p, w) => told.push(`${p}: ${w}`) })).release();
  t.same(told, ['undefined: it holds no process id']);
});

t.test(
  "a lock whose pid is now another user's process is taken over: only root and we write our state",
  { skip: process.getuid?.() !== 0 && 'needs root to run a process as nobody' },
  async (t) => {
    const child = spawn('sleep', ['300'], { stdio: 'ignore', uid: 65534, gid: 65534 });
    t.teardown(() => void child.kill('SIGKILL'));
    await new Promise((r) => child.once('spawn', r));
    const dir = tempDir(t);
    const lock = join(dir, 'x.lock');
    writeFileSync(lock, `${child.pid}\n`); // an older version's plain pid: no start time to compare
    const told: string[] = [];
    await (await acquireLock(lock, { ...opts, onTakeOver: (p, w) => told.push(`${p}: ${w}`) })).release();
    t.same(told, [`${child.pid}: the pid is now a process of uid 65534`]);
  },
);

t.test("a lock that names no holder (an older version's) waits while young, is taken over when old", async (t) => {
  const dir = tempDir(t);
  const lock = join(dir, 'x.lock');
  writeFileSync(lock, '');
  await t.rejects(acquireLock(lock, opts), LockBusyError, 'young: busy');
  t.ok(existsSync(lock));
  utimesSync(lock, anHourAgo(), anHourAgo());
  const held = await acquireLock(lock, opts);
  await held.release();
  t.notOk(existsSync(lock));
  // An older version's claim: a directory with `pid` in it.
  mkdirSync(lock);
  writeFileSync(join(lock, 'pid'), `${gonePid()}\n`);
  await (await acquireLock(lock, opts)).release();
  t.notOk(existsSync(lock), 'the old directory lock of a gone pid is taken over');
});

t.test('release removes only our own lock', async (t) => {
  const dir = tempDir(t);
  const lock = join(dir, 'x.lock');
  const held = await acquireLock(lock, opts);
  rmSync(lock);
  writeFileSync(lock, "someone else's\n");
  await held.release();
  t.equal(readFileSync(lock, 'utf8'), "someone else's\n", 'a lock that is not ours any more is left alone');
});

t.test('in one process, holders take turns', async (t) => {
  const dir = tempDir(t);
  const lock = join(dir, 'x.lock');
  const counter = join(dir, 'n');
  writeFileSync(counter, '0');
  await Promise.all(
    Array.from({ length: 8 }, () =>
      withLock(lock, { waitMs: 10_000, unnamedStaleMs: 10_000 }, async () => {
        const n = Number(readFileSync(counter, 'utf8'));
        await new Promise((r) => setTimeout(r, 5));
        writeFileSync(counter, String(n + 1));
      }),
    ),
  );
  t.equal(readFileSync(counter, 'utf8'), '8', 'no update lost');
  t.notOk(existsSync(lock));
});

t.test('the health cache is never written without the lock: a live holder makes the update fail, the file and the lock untouched', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'health.json');
  await updateHealth(path, { a: record('https://a.example', 1) });
  const before = readFileSync(path, 'utf8');
  const pid = await liveSleep(t);
  const content = `${JSON.stringify(identityOf(pid))}\n`;
  writeFileSync(`${path}.lock`, content);
  utimesSync(`${path}.lock`, anHourAgo(), anHourAgo()); // old: the earlier code took it for stale
  const e: unknown = await updateHealth(path, { b: record('https://b.example', 2) }).then(
    () => undefined,
    (x: unknown) => x,
  );
  t.ok(e instanceof LockBusyError, `LockBusyError: ${String(e)}`);
  t.match((e as Error).message, `${path}.lock is held by another process (pid ${pid}, still running)`);
  t.equal(readFileSync(path, 'utf8'), before, 'the cache is unchanged');
  t.equal(readFileSync(`${path}.lock`, 'utf8'), content, "the holder's lock is still there");
  rmSync(`${path}.lock`);
  t.same(Object.keys(await updateHealth(path, { b: record('https://b.example', 2) })).sort(), ['a', 'b'], 'once it is free, updates go on');
});

t.test('a health cache that is not a private regular file of ours is not believed, and replaced by a private one', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'health.json');
  writeFileSync(path, JSON.stringify({ version: 1, endpoints: { evil: record('https://evil.example', 9) } }));
  chmodSync(path, 0o666);
  t.same(await readHealth(path), {}, 'writable by others: no memory');
  await updateHealth(path, { a: record('https://a.example', 1) });
  t.equal(statSync(path).mode & 0o777, 0o600, 'the new file is private');
  t.same(Object.keys(await readHealth(path)), ['a'], 'and holds only what we wrote');
  const fifoDir = tempDir(t);
  const fifo = join(fifoDir, 'health.json');
  t.equal(spawnSync('mkfifo', [fifo]).status, 0);
  t.same(await readHealth(fifo), {}, 'a FIFO is not opened (no hang)');
});

t.test('separate processes updating the cache at once lose nothing', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'health.json');
  const store = repoPath('dist/src/health/store.js');
  t.ok(existsSync(store), 'built (npm run build)');
  // Each writer prints the keys it stored. Under a heavily loaded machine a writer may not get the
  // lock within its wait: that update is then not written (LockBusyError), never written unlocked.
  const script = `const { updateHealth } = await import(${JSON.stringify(store)});
const stored = [];
for (let i = 0; i < 10; i++) {
  const k = process.argv[1] + '-' + i;
  try { await updateHealth(${JSON.stringify(path)}, { [k]: { endpoint: k, failures: 0, updatedAt: Date.now() } }); stored.push(k); }
  catch (e) { if (e.name !== 'LockBusyError') throw e; }
}
process.stdout.write(JSON.stringify(stored));`;
  const runs = Array.from(
    { length: 4 },
    (_, n) =>
      new Promise<{ code: number | null; stored: string[] }>((resolve) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', script, `p${n}`], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        c.stdout.on('data', (b: Buffer) => (out += b.toString()));
        const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
        c.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stored: code === 0 ? (JSON.parse(out) as string[]) : [] });
        });
      }),
  );
  const results = await Promise.all(runs);
  t.same(
    results.map((r) => r.code),
    [0, 0, 0, 0],
    'every writer ran to its end',
  );
  const stored = results.flatMap((r) => r.stored).sort();
  t.comment(`${stored.length} of 40 updates got the lock in time`);
  t.ok(stored.length > 0, 'updates were stored');
  t.same(Object.keys(await readHealth(path)).sort(), stored, 'every stored update is in the file: none lost to another writer');
  t.notOk(existsSync(`${path}.lock`), 'no lock left behind');
});
