/**
 * The daemon's state directory (src/daemon/state-dir.ts) on real temp directories:
 * layout and format version, last-good files, adoption of the host's file, drift copies.
 */
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASES_KEEP,
  describeFsError,
  DRIFT_KEEP,
  looksLikeDaemonOf,
  recordHolder,
  STATE_FORMAT_VERSION,
  StateDir,
  StateDirError,
} from '../../../src/daemon/state-dir.js';
import { ownIdentity } from '../../../src/output/pid.js';
import { removeLeftTemps } from '../../../src/daemon/start-up-claim.js';
import { pino } from 'pino';

/**
 * Stops the wall clock for `new Date()` / `Date.now()` until the teardown, so that many
 * copies fall into one millisecond whatever the disk's speed (tmpfs makes that common).
 */
function freezeClock(t: Test, at = '2025-06-01T12:00:00.000Z'): void {
  const Real = Date;
  const frozen = new Real(at).getTime();
  class Frozen extends Real {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(frozen);
      else super(...(args as [string]));
    }
    static override now(): number {
      return frozen;
    }
  }
  globalThis.Date = Frozen as DateConstructor;
  t.teardown(() => void (globalThis.Date = Real));
}

function tempState(t: Test, warnings: string[] = []): StateDir {
  const root = mkdtempSync(join(tmpdir(), 'mpd-state-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return new StateDir(join(root, 'state'), { warn: (m) => warnings.push(m) });
}

/** Rejects when `p` has not settled within `ms`: a read that would hang on a FIFO fails the test instead. */
function within<T>(p: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

t.test('init creates the layout with format-version, private to the daemon, and is idempotent', async (t) => {
  const s = tempState(t);
  await s.init();
  t.same(readdirSync(s.dir).sort(), ['bases', 'drift', 'format-version', 'last-good']);
  t.equal(readFileSync(s.path('format-version'), 'utf8'), `${STATE_FORMAT_VERSION}\n`);
  t.equal(statSync(s.dir).mode & 0o777, 0o700);
  for (const sub of ['last-good', 'bases', 'drift']) t.ok(statSync(s.path(sub)).isDirectory(), sub);
  t.equal(statSync(s.path('format-version')).mode & 0o777, 0o600);
  await s.init(); // a restart
  t.equal(readFileSync(s.path('format-version'), 'utf8'), `${STATE_FORMAT_VERSION}\n`);
  t.same(readdirSync(s.dir).sort(), ['bases', 'drift', 'format-version', 'last-good']);
});

t.test('init keeps what an earlier run left and ignores its interrupted temp files', async (t) => {
  const s = tempState(t);
  await s.init();
  await s.writeLastGood({}, { 'a.toml': 'A\n' });
  writeFileSync(s.path('last-good', '.a.toml.123.abcd.tmp'), 'torn'); // a kill -9 during a write
  await s.init();
  t.same(await s.readLastGood(), { 'a.toml': 'A\n' });
});

t.test('a format-version torn by a crash (empty, or zeros) is rewritten with a warning, not a refusal to start', async (t) => {
  const cases: Array<[string, string]> = [
    ['empty', ''],
    ['zeros', '\0\0\0'],
    ['blank', ' \n'],
  ];
  for (const [name, content] of cases) {
    const warnings: string[] = [];
    const s = tempState(t, warnings);
    await s.init();
    writeFileSync(s.path('format-version'), content);
    await t.resolves(s.init(), `${name}: init goes on`);
    t.equal(readFileSync(s.path('format-version'), 'utf8'), `${STATE_FORMAT_VERSION}\n`, `${name}: rewritten`);
    t.match(warnings, [new RegExp(`format-version.*(empty|unreadable).*rewritten as ${STATE_FORMAT_VERSION}`)], `${name}: said once`);
  }
});

t.test('a format version other than ours is refused, not misread', async (t) => {
  const cases: Array<[string, string]> = [
    ['a newer version', `${STATE_FORMAT_VERSION + 1}\n`],
    ['garbage', 'two\n'],
  ];
  for (const [name, content] of cases) {
    const s = tempState(t);
    await s.init();
    writeFileSync(s.path('format-version'), content);
    const e: unknown = await s.init().then(
      () => undefined,
      (x: unknown) => x,
    );
    t.ok(e instanceof StateDirError, `${name}: a StateDirError`);
    t.match((e as Error).message, `has format version ${content.trim()}, this mirror-policyd knows ${STATE_FORMAT_VERSION}`, name);
    t.equal(readFileSync(s.path('format-version'), 'utf8'), content, `${name}: left as it was`);
  }
  const s = tempState(t);
  await s.init();
  writeFileSync(s.path('format-version'), `${STATE_FORMAT_VERSION}`); // no newline: still ours
  await t.resolves(s.init());
});

t.test('last good: written only where changed, removed when the fragment is gone', async (t) => {
  const s = tempState(t);
  await s.init();
  t.same(await s.readLastGood(), {});
  await s.writeLastGood({}, { 'a.toml': 'A1\n', 'b.yaml': 'B1\n' });
  t.same(await s.readLastGood(), { 'a.toml': 'A1\n', 'b.yaml': 'B1\n' });
  t.equal(statSync(s.path('last-good', 'a.toml')).mode & 0o777, 0o600);

  const bBefore = statSync(s.path('last-good', 'b.yaml'));
  await s.writeLastGood({ 'a.toml': 'A1\n', 'b.yaml': 'B1\n' }, { 'a.toml': 'A2\n', 'b.yaml': 'B1\n', 'c.toml': 'C1\n' });
  t.same(await s.readLastGood(), { 'a.toml': 'A2\n', 'b.yaml': 'B1\n', 'c.toml': 'C1\n' });
  t.equal(statSync(s.path('last-good', 'b.yaml')).ino, bBefore.ino, 'an unchanged entry is not rewritten');

  await s.writeLastGood({ 'a.toml': 'A2\n', 'b.yaml': 'B1\n', 'c.toml': 'C1\n' }, { 'c.toml': 'C1\n' });
  t.same(await s.readLastGood(), { 'c.toml': 'C1\n' });
  t.same(readdirSync(s.path('last-good')), ['c.toml'], 'no temp files left behind');

  await s.writeLastGood({ 'c.toml': 'C1\n' }, {});
  t.same(await s.readLastGood(), {});
});

t.test('the daemon record: written, read, cleared only by its owner; a torn one reads as absent', async (t) => {
  const s = tempState(t);
  await s.init();
  t.equal(await s.readRecord(), undefined);
  const r = { pid: 4242, output: '/x/registries.conf', controlSocket: '/x/c.sock', startedAt: '2025-01-01T00:00:00.000Z' };
  await s.writeRecord(r);
  t.same(await s.readRecord(), r);
  await s.clearRecord(4243);
  t.same(await s.readRecord(), r, 'another pid does not clear it');
  await s.clearRecord(4242);
  t.equal(await s.readRecord(), undefined);
  writeFileSync(s.path('daemon.json'), '{"pid": 42');
  t.equal(await s.readRecord(), undefined);
});

t.test('adopt keeps the very first original and archives every base it replaces', async (t) => {
  const s = tempState(t);
  await s.init();
  t.equal(await s.readOriginal(), undefined);
  t.equal(await s.readBase(), undefined);

  await s.adopt('host one\n');
  t.equal(await s.readOriginal(), 'host one\n');
  t.equal(await s.readBase(), 'host one\n');
  t.same(readdirSync(s.path('bases')), [], 'nothing replaced yet');

  await s.adopt('host one\n'); // the same file again: nothing to archive
  t.same(readdirSync(s.path('bases')), []);

  freezeClock(t); // both replacements within one millisecond
  await s.adopt('host two\n');
  await s.adopt('host three\n');
  t.equal(await s.readOriginal(), 'host one\n', 'the original is never overwritten');
  t.equal(await s.readBase(), 'host three\n');
  const archived = readdirSync(s.path('bases')).sort();
  t.equal(archived.length, 2, 'both replaced bases are kept, even within one millisecond');
  t.same(
    archived.map((n) => readFileSync(s.path('bases', n), 'utf8')),
    ['host one\n', 'host two\n'],
    'oldest first by name',
  );
  for (const n of archived) t.match(n, /^2025-06-01T12-00-00-\d{3}Z\.conf$/);
});

t.test('adopt keeps only the newest BASES_KEEP replaced bases; the original stays', async (t) => {
  const s = tempState(t);
  await s.init();
  freezeClock(t);
  for (let i = 0; i < BASES_KEEP + 6; i++) await s.adopt(`host ${i}\n`); // a tool stamping the time in the host's file at each run
  const kept = readdirSync(s.path('bases')).sort();
  t.equal(kept.length, BASES_KEEP);
  t.same(
    kept.map((n) => readFileSync(s.path('bases', n), 'utf8')),
    Array.from({ length: BASES_KEEP }, (_, i) => `host ${i + 5}\n`),
    'the newest replaced, in order',
  );
  t.equal(await s.readOriginal(), 'host 0\n', 'the very first is still the original');
  t.equal(await s.readBase(), `host ${BASES_KEEP + 5}\n`);
});

t.test('keepDrift keeps only the newest DRIFT_KEEP copies, each complete', async (t) => {
  const s = tempState(t);
  await s.init();
  t.equal(DRIFT_KEEP, 20);
  freezeClock(t); // all of them within one millisecond
  const paths: string[] = [];
  for (let i = 0; i < DRIFT_KEEP + 5; i++) paths.push(await s.keepDrift(`edit ${i}\n`));
  t.equal(new Set(paths).size, paths.length, 'every copy has its own name');
  const kept = readdirSync(s.path('drift')).sort();
  t.equal(kept.length, DRIFT_KEEP);
  t.same(
    kept.map((n) => readFileSync(s.path('drift', n), 'utf8')),
    Array.from({ length: DRIFT_KEEP }, (_, i) => `edit ${i + 5}\n`),
    'the oldest five are gone, the newest twenty kept in order',
  );
  for (const p of paths.slice(0, 5)) t.notOk(existsSync(p), `${p} removed`);
  for (const p of paths.slice(5)) t.ok(existsSync(p), `${p} kept`);
  t.equal(statSync(paths.at(-1) as string).mode & 0o777, 0o600);
  const next = await s.keepDrift('edit 25\n'); // still the same millisecond, after the oldest were removed
  t.ok(existsSync(next), 'a new copy is kept, not taken for the oldest');
  t.equal(readFileSync(s.path('drift', readdirSync(s.path('drift')).sort().at(-1) as string), 'utf8'), 'edit 25\n', 'and sorts newest');
});

t.test('keepDrift with the clock set back since an earlier process: the new copy is kept, the oldest other goes', async (t) => {
  const s = tempState(t);
  await s.init();
  // DRIFT_KEEP copies an earlier process made when the clock read 2099.
  const earlier = Array.from({ length: DRIFT_KEEP }, (_, i) => `2099-01-01T00-00-00-${String(i).padStart(3, '0')}Z.conf`);
  for (const n of earlier) writeFileSync(s.path('drift', n), `${n}\n`, { mode: 0o600 });
  const path = await s.keepDrift('edit now\n');
  t.equal(readFileSync(path, 'utf8'), 'edit now\n', 'the copy reported is there');
  const kept = readdirSync(s.path('drift')).sort();
  t.equal(kept.length, DRIFT_KEEP, 'still only DRIFT_KEEP copies');
  t.notOk(kept.includes(earlier[0] as string), 'the oldest of the others removed');
  t.ok(kept.includes(earlier.at(-1) as string), 'the newest of the others kept');
});

t.test('keepDrift over a real clock: copies made in quick succession all survive up to the limit', async (t) => {
  const s = tempState(t);
  await s.init();
  const paths: string[] = [];
  for (let i = 0; i < DRIFT_KEEP; i++) paths.push(await s.keepDrift(`quick ${i}\n`));
  t.same(
    readdirSync(s.path('drift'))
      .sort()
      .map((n) => readFileSync(s.path('drift', n), 'utf8')),
    paths.map((_, i) => `quick ${i}\n`),
  );
});

t.test('keepDrift ignores stray files in drift/ when counting', async (t) => {
  const s = tempState(t);
  await s.init();
  writeFileSync(s.path('drift', '.x.conf.1.ab.tmp'), 'torn');
  writeFileSync(s.path('drift', 'README'), 'notes');
  for (let i = 0; i < DRIFT_KEEP + 1; i++) await s.keepDrift(`e${i}\n`);
  const names = readdirSync(s.path('drift'));
  t.equal(names.filter((n) => n.endsWith('.conf')).length, DRIFT_KEEP);
  t.ok(names.includes('README') && names.includes('.x.conf.1.ab.tmp'), 'files that are not copies are left alone');
});

t.test('init refuses a state directory (or a part of its layout) that others could write, naming the fix', async (t) => {
  const uid = process.getuid?.() ?? 0;
  const owner = uid === 0 ? 'root' : String(uid);
  const cases: Array<[string, (s: StateDir) => string, RegExp]> = [
    ['world-writable', (s) => (chmodSync(s.dir, 0o777), s.dir), /mode 0777\): writable by group and others/],
    ['group-writable', (s) => (chmodSync(s.dir, 0o770), s.dir), /mode 0770\): writable by group/],
    ['last-good/ world-writable', (s) => (chmodSync(s.path('last-good'), 0o777), s.path('last-good')), /mode 0777\): writable by group and others/],
  ];
  for (const [name, spoil, found] of cases) {
    const s = tempState(t);
    await s.init();
    const dir = spoil(s);
    const e: unknown = await s.init().then(
      () => undefined,
      (x: unknown) => x,
    );
    t.ok(e instanceof StateDirError, `${name}: refused`);
    t.match((e as Error).message, `refusing state directory ${dir} (owner uid ${uid}, `, `${name}: names it and its owner`);
    t.match((e as Error).message, found, `${name}: and its mode`);
    t.match((e as Error).message, `fix: chown ${owner}: ${dir}; chmod 0700 ${dir}`, `${name}: and the fix`);
  }
  const s = tempState(t);
  await s.init();
  const elsewhere = mkdtempSync(join(tmpdir(), 'mpd-elsewhere-'));
  t.teardown(() => rmSync(elsewhere, { recursive: true, force: true }));
  rmSync(s.path('last-good'), { recursive: true });
  symlinkSync(elsewhere, s.path('last-good'));
  await t.rejects(
    s.init(),
    { message: `${s.path('last-good')} is not a directory (it must be one, ours and private); fix: remove it` },
    'a symlinked last-good/ is refused',
  );
});

t.test('last good: entries that are not private regular files are skipped and named, never opened', async (t) => {
  const warnings: string[] = [];
  const s = tempState(t, warnings);
  await s.init();
  await s.writeLastGood({}, { 'a.toml': 'A\n' });
  mkdirSync(s.path('last-good', 'dir.toml'));
  t.equal(spawnSync('mkfifo', [s.path('last-good', 'fifo.toml')]).status, 0, 'mkfifo');
  writeFileSync(s.path('elsewhere'), 'X\n');
  symlinkSync(s.path('elsewhere'), s.path('last-good', 'link.toml'));
  writeFileSync(s.path('last-good', 'open.toml'), 'O\n', { mode: 0o666 });
  chmodSync(s.path('last-good', 'open.toml'), 0o666);
  t.same(await within(s.readLastGood()), { 'a.toml': 'A\n' }, 'only the good one');
  const all = warnings.join('\n');
  t.match(all, `${s.path('last-good', 'dir.toml')}: not used: a directory, not a regular file`);
  t.match(all, `${s.path('last-good', 'fifo.toml')}: not used: a FIFO, not a regular file`);
  t.match(all, `${s.path('last-good', 'link.toml')}: not used: a symbolic link, not a regular file`);
  t.match(all, `${s.path('last-good', 'open.toml')}: not used: writable by group and others (mode 0666)`);

  // Writing: a directory in the way is named and left alone; a file others could write is replaced by a private one.
  warnings.length = 0;
  await within(s.writeLastGood({ 'a.toml': 'A\n' }, { 'a.toml': 'A\n', 'dir.toml': 'D\n', 'open.toml': 'O2\n', 'fifo.toml': 'F\n' }));
  t.match(warnings.join('\n'), `${s.path('last-good', 'dir.toml')}: cannot be written: it is a directory; remove it`);
  t.ok(statSync(s.path('last-good', 'dir.toml')).isDirectory(), 'the directory is still there');
  t.equal(readFileSync(s.path('last-good', 'open.toml'), 'utf8'), 'O2\n');
  t.equal(statSync(s.path('last-good', 'open.toml')).mode & 0o777, 0o600, 'replaced by a private file');
  t.ok(statSync(s.path('last-good', 'fifo.toml')).isFile(), 'the FIFO is replaced by a file, not written into');
  await within(s.writeLastGood({ 'dir.toml': 'D\n', 'open.toml': 'O2\n' }, {}));
  t.match(warnings.join('\n'), `${s.path('last-good', 'dir.toml')}: not removed: it is a directory; remove it`);
  t.notOk(existsSync(s.path('last-good', 'open.toml')));
});

t.test('a daemon record, original or base that others could write is not believed', async (t) => {
  const warnings: string[] = [];
  const s = tempState(t, warnings);
  await s.init();
  await s.writeRecord({ ...ownIdentity(), output: '/x', controlSocket: '/x.sock', startedAt: 'now' });
  chmodSync(s.path('daemon.json'), 0o646);
  t.equal(await s.readRecord(), undefined, 'a daemon.json others can write reads as absent');
  t.match(warnings.join('\n'), `${s.path('daemon.json')}: not used: writable by others (mode 0646)`);
  await s.adopt('host\n');
  chmodSync(s.path('base.conf'), 0o664);
  await t.rejects(s.readBase(), { message: `${s.path('base.conf')}: not used: writable by group (mode 0664)` });
  rmSync(s.path('original.conf'));
  mkdirSync(s.path('original.conf'));
  await t.rejects(s.readOriginal(), { message: `${s.path('original.conf')}: not used: a directory, not a regular file` });
});

t.test('the record names its process: a running one is ours, a reused or invalid pid is not', async (t) => {
  const dir = '/var/lib/mirror-policyd';
  const base = { output: '/x', controlSocket: '/x.sock', startedAt: 'now' };
  t.same(recordHolder({ ...ownIdentity(), ...base }, dir), { running: true }, 'this very process');
  t.match(recordHolder({ ...ownIdentity(), startTicks: 1, ...base }, dir), { running: false, why: /the pid is now another process/ });
  for (const pid of [0, -1, 1, 2.5, Number.NaN]) t.match(recordHolder({ pid, ...base }, dir), { running: false, why: /is not a process id/ }, `pid ${pid}`);
  const looks = looksLikeDaemonOf(dir);
  t.ok(looks(['node', '/usr/bin/mirror-policyd', 'run']), 'the default state dir');
  t.ok(looks(['node', '/usr/bin/mirror-policyd', 'run', '--state-dir', dir]), 'this state dir');
  t.ok(looks(['node', '/usr/bin/mirror-policyd', 'run', `--state-dir=${dir}/`]), 'this state dir, written otherwise');
  t.notOk(looks(['node', '/usr/bin/mirror-policyd', 'run', '--state-dir', '/srv/other']), 'another state dir');
  t.notOk(looks(['sleep', '300']), 'another program');
});

t.test('fs errors in plain words', async (t) => {
  t.equal(describeFsError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })), 'no space left on device');
  t.equal(describeFsError(Object.assign(new Error('EROFS: read-only file system, open'), { code: 'EROFS' })), 'read-only file system');
  t.equal(describeFsError(new Error('something else')), 'something else');
});

t.test('at start, temp files named with our own pid are an earlier process of that pid (a container): removed', async (t) => {
  const s = tempState(t);
  await s.init();
  const outDir = join(s.path('..'), 'out');
  mkdirSync(outDir);
  const output = join(outDir, 'registries.conf');
  const temps = [join(outDir, `.registries.conf.${process.pid}.0a1b2c3d.tmp`), s.path('drift', `.x.conf.${process.pid}.0a1b2c3d.tmp`)];
  for (const p of temps) writeFileSync(p, 'torn');
  const settings = { stateDir: s.path('.'), output, controlSocket: join(outDir, 'sock'), metricsFile: undefined };
  await removeLeftTemps(s, settings, pino({ enabled: false }));
  for (const p of temps) t.notOk(existsSync(p), `${p} removed`);
});
