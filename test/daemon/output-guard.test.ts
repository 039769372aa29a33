/**
 * OutputGuard (src/daemon/output-guard.ts) on a temp dir with a real state dir: adoption of
 * a file it did not write, a hand edit kept before it is replaced, compare-before-replace,
 * and the last write error.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { renderRegistriesConf } from '../../src/registries-conf/render.js';
import { OutputGuard } from '../../src/daemon/output-guard.js';
import { EMPTY_SETTLE_MS, WRITE_HOLD_MS } from '../../src/daemon/render-scheduler.js';
import { IN_PLACE_SETTLE_MS } from '../../src/fragments/policy-dir.js';
import { StateDir } from '../../src/daemon/state-dir.js';
import type { Teardown } from '../helpers/daemon.js';

const OURS = renderRegistriesConf({ registries: [{ location: 'quay.io', mirrors: [{ location: 'm.example' }] }] }, { fragments: ['a.toml'] });
const OURS_NEXT = renderRegistriesConf({ registries: [{ location: 'quay.io', mirrors: [{ location: 'n.example' }] }] }, { fragments: ['a.toml'] });
const HOSTS = 'unqualified-search-registries = ["docker.io"]\n';

interface Setup {
  readonly guard: OutputGuard;
  readonly dir: string;
  readonly output: string;
  readonly state: StateDir;
  readonly logs: string[];
}

/**
 * `now`: the monotonic clock. `wallNow`: the wall clock the file times are compared with; by
 * default a minute ahead, so that every write a test makes is long done by its look (a write
 * just made is a case of its own: maybeHalfWritten).
 */
async function setUp(t: Teardown, base?: string, now?: () => number, wallNow: () => number = () => Date.now() + 60_000): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-guard-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const output = join(dir, 'out', 'registries.conf');
  const state = new StateDir(join(dir, 'state'));
  await state.init();
  const logs: string[] = [];
  const log = pino({ level: 'debug', base: undefined }, { write: (line: string) => void logs.push((JSON.parse(line) as { msg: string }).msg) });
  const settings = { output, stateDir: state.dir, ...(base !== undefined ? { base } : {}) };
  return { guard: new OutputGuard(() => settings, state, log, now ?? (() => performance.now()), wallNow), dir, output, state, logs };
}

t.test('no file: written; our own file: replaced without a drift event', async (t) => {
  const { guard, output } = await setUp(t);
  const look = await guard.look();
  t.same(look, { text: undefined });
  t.same(await guard.replace(OURS, look), { changed: true }, 'the parent is created too');
  t.equal(readFileSync(output, 'utf8'), OURS);
  t.same(await guard.replace(OURS, await guard.look()), { changed: false }, 'the same text: unchanged');
  t.same(await guard.replace(OURS_NEXT, await guard.look()), { changed: true });
  t.same(guard.drift, []);
  t.equal(guard.driftRestores, 0);
});

t.test('a file we did not write, with no --base: adopted as the base first, the new base after', async (t) => {
  const { guard, output, state } = await setUp(t);
  mkdirSync(join(output, '..'));
  writeFileSync(output, HOSTS);
  const look = await guard.look();
  t.same(look, { text: HOSTS, bytes: Buffer.from(HOSTS) }, 'the adopted text is the one the render may replace, with its bytes');
  t.equal(await state.readBase(), HOSTS);
  t.equal(await state.readOriginal(), HOSTS);
  t.match(guard.drift, [{ kind: 'adopted', savedAs: state.path('base.conf') }]);
  await guard.replace(OURS, look);

  writeFileSync(output, `${HOSTS}short-name-mode = "enforcing"\n`);
  await guard.look();
  t.match(guard.drift, [{ kind: 'adopted' }, { kind: 'replaced', savedAs: state.path('base.conf') }]);
  t.equal(await state.readOriginal(), HOSTS, 'the original stays the first file adopted');
  t.equal(guard.driftRestores, 0, 'a replacement is not a hand edit');
});

t.test("our render by `render`, with the host's file it kept beside it: that copy is adopted at the first start (its settings stay in the base)", async (t) => {
  const { guard, output, state } = await setUp(t);
  mkdirSync(join(output, '..'));
  writeFileSync(output, OURS);
  writeFileSync(`${output}.before-mirror-policyd`, HOSTS);
  const look = await guard.look();
  t.same(look, { text: OURS, bytes: Buffer.from(OURS) }, 'our file is the text the render replaces');
  t.equal(await state.readOriginal(), HOSTS, 'the kept copy is the original restore puts back');
  t.equal(await state.readBase(), HOSTS, 'and the base of the render');
  t.match(guard.drift, [{ kind: 'adopted', savedAs: state.path('base.conf') }]);

  writeFileSync(`${output}.before-mirror-policyd`, `${HOSTS}short-name-mode = "enforcing"\n`);
  const restarted = new OutputGuard(() => ({ output, stateDir: state.dir }), state, pino({ level: 'silent' }));
  await restarted.look();
  t.equal(await state.readBase(), HOSTS, 'adopted once: at a restart the copy is not taken again');
  t.same(restarted.drift, []);
});

t.test('with --base, the copy `render` kept is not adopted', async (t) => {
  const { guard, output, state } = await setUp(t, '/etc/base.conf');
  mkdirSync(join(output, '..'));
  writeFileSync(output, OURS);
  writeFileSync(`${output}.before-mirror-policyd`, HOSTS);
  await guard.look();
  t.equal(await state.readOriginal(), undefined);
  t.same(guard.drift, []);
});

t.test('with --base, a file we did not write is kept in drift/, not adopted', async (t) => {
  const { guard, output, state, dir } = await setUp(t, '/etc/base.conf');
  mkdirSync(join(output, '..'));
  writeFileSync(output, HOSTS);
  await guard.look();
  t.equal(await state.readBase(), undefined);
  t.equal(guard.drift.length, 1);
  const kept = guard.drift[0]!;
  t.equal(kept.kind, 'replaced');
  t.ok(kept.savedAs.startsWith(join(dir, 'state', 'drift')));
  t.equal(readFileSync(kept.savedAs, 'utf8'), HOSTS);
});

t.test('a hand edit of our file is kept before it is replaced, and counted as a restore', async (t) => {
  const { guard, output, logs } = await setUp(t);
  await guard.replace(OURS, await guard.look());
  const edited = OURS.replace('m.example', 'hand.example');
  writeFileSync(output, edited);
  const look = await guard.look();
  t.equal(guard.driftRestores, 1);
  t.equal(guard.drift[0]?.kind, 'edited');
  t.equal(readFileSync(guard.drift[0]!.savedAs, 'utf8'), edited);
  t.match(logs.join('\n'), /was edited by hand; the edited copy is kept as/);
  t.same(await guard.replace(OURS, look), { changed: true });
  t.equal(readFileSync(output, 'utf8'), OURS, 'our render restored');
  await guard.look();
  t.equal(guard.driftRestores, 1, 'what we wrote is not drift');
});

t.test('a hand edit looked at again before a write succeeds (renders failing, retried) is kept and counted once', async (t) => {
  const { guard, output, state, logs } = await setUp(t);
  await guard.replace(OURS, await guard.look());
  const edited = OURS.replace('m.example', 'hand.example');
  writeFileSync(output, edited);
  for (let retry = 0; retry < 3; retry++) t.match(await guard.look(), { text: edited });
  t.equal(guard.driftRestores, 1);
  t.equal(guard.drift.length, 1);
  t.equal(logs.filter((l) => l.includes('was edited by hand')).length, 1, 'logged once');
  t.equal(readdirSync(state.path('drift')).length, 1, 'one copy in drift/');
  t.same(await guard.replace(OURS, await guard.look()), { changed: true });
  writeFileSync(output, edited);
  await guard.look();
  t.equal(guard.driftRestores, 2, 'the same edit made again after our write is a new edit');
});

t.test('an in-place edit of our file to the same length is seen: the look compares bytes with our write, not sizes or times', async (t) => {
  const { guard, output } = await setUp(t);
  await guard.replace(OURS, await guard.look());
  const edited = OURS.replace('m.example', 'x.example');
  t.equal(edited.length, OURS.length);
  writeFileSync(output, edited); // in place: same inode, same size, within the same clock tick as our write
  const look = await guard.look();
  t.match(look, { text: edited });
  t.equal(guard.drift[0]?.kind, 'edited', 'kept as a hand edit');
  t.same(await guard.replace(OURS, look), { changed: true });
  t.equal(readFileSync(output, 'utf8'), OURS);
});

t.test('our output emptied is acted on only once it has stayed the same empty file EMPTY_SETTLE_MS, however often it is looked at', async (t) => {
  let now = 0;
  const { guard, output } = await setUp(t, undefined, () => now);
  await guard.replace(OURS, await guard.look());
  writeFileSync(output, '');
  t.same(await guard.look(), { settling: true }, 'first seen empty: a moment for the rest of an in-place write');
  now += EMPTY_SETTLE_MS - 1;
  t.same(await guard.look(), { settling: true }, 'looked at again within the moment (another event): still settling');
  now += 1;
  const look = await guard.look();
  t.notOk('settling' in look, 'the same empty file EMPTY_SETTLE_MS later: acted on');
  t.same(await guard.replace(OURS, look), { changed: true });
  t.equal(guard.drift.length, 1, 'kept (as any file we did not write), then ours written');
});

t.test('a hand edit written just now (maybe the first part of an in-place write) is acted on once its last write is IN_PLACE_SETTLE_MS old', async (t) => {
  let now = 0;
  let wall = Date.now() + 60_000;
  const { guard, output } = await setUp(
    t,
    undefined,
    () => now,
    () => wall,
  );
  await guard.replace(OURS, await guard.look());
  const firstPart = `${OURS}[[registry]]\n`;
  writeFileSync(output, firstPart); // in place, as an editor's or `cat >`'s first write
  wall = statSync(output).mtimeMs + IN_PLACE_SETTLE_MS - 1;
  t.same(await guard.look(), { settling: true }, 'written just now: not kept yet, and nothing renamed over the file its writer still holds');
  t.same(guard.drift, [], 'nothing kept');
  const whole = `${firstPart}location = "docker.io"\n`;
  writeFileSync(output, whole);
  now += EMPTY_SETTLE_MS;
  wall = statSync(output).mtimeMs + 10;
  t.same(await guard.look(), { settling: true }, 'written again since: still settling');
  wall = statSync(output).mtimeMs + IN_PLACE_SETTLE_MS;
  const look = await guard.look();
  t.match(look, { text: whole }, 'its last write that old: the whole edit is acted on');
  t.equal(readFileSync(guard.drift[0]!.savedAs, 'utf8'), whole, 'the copy kept is the whole edit, not its first part');
  t.equal(guard.drift.length, 1, 'kept once');
});

t.test(
  "someone else's file written just now is held WRITE_HOLD_MS at most (a writer still writing is taken as it is), and only when not our render",
  async (t) => {
    let now = 0;
    let wall = 0;
    const { guard, output, state } = await setUp(
      t,
      undefined,
      () => now,
      () => wall,
    );
    mkdirSync(join(output, '..'));
    writeFileSync(output, OURS);
    wall = statSync(output).mtimeMs;
    t.match(await guard.look(), { text: OURS }, 'our render (an earlier run), written just now: replaced at once, nothing of it is kept');
    writeFileSync(output, HOSTS);
    wall = statSync(output).mtimeMs;
    t.same(await guard.look(), { settling: true }, "the host's file written just now: held");
    now += WRITE_HOLD_MS - 1;
    t.same(await guard.look(), { settling: true }, 'still being written (its time just now at each look): held until WRITE_HOLD_MS');
    now += 1;
    const adopted = await guard.look();
    t.match(adopted, { text: HOSTS }, 'WRITE_HOLD_MS after it was first seen so: adopted as it is');
    t.equal(await state.readBase(), HOSTS);
    t.equal(guard.drift.length, 1, 'kept once');
    // Our render written over it (no look after our own write), then, an hour later, an edit in place.
    await guard.replace(OURS, adopted);
    writeFileSync(output, `${OURS}# an edit\n`);
    wall = statSync(output).mtimeMs;
    now += 3_600_000;
    t.same(await guard.look(), { settling: true }, "an hour later another write just now is held again: its own moment, not the first one's");
  },
);

t.test('compare-before-replace: a file changed since the look is not overwritten', async (t) => {
  const { guard, output } = await setUp(t);
  await guard.replace(OURS, await guard.look());
  const look = await guard.look();
  writeFileSync(output, HOSTS); // someone writes while the render runs
  t.equal(await guard.replace(OURS_NEXT, look), 'raced');
  t.equal(readFileSync(output, 'utf8'), HOSTS, 'their file is intact; the next render keeps it');
});

t.test('a file put in place of ours while its directory is synced is not taken for our own write', async (t) => {
  const { guard, output } = await setUp(t);
  await guard.replace(OURS, await guard.look());
  t.ok(guard.isOwnWrite(), 'our file, as we left it');
  // Someone renames their file over ours right after our rename, before our write is done.
  const theirs = (): void => {
    writeFileSync(`${output}.theirs`, HOSTS);
    renameSync(`${output}.theirs`, output);
  };
  t.same(await guard.replace(OURS_NEXT, await guard.look(), theirs), { changed: true });
  t.equal(readFileSync(output, 'utf8'), HOSTS);
  t.notOk(guard.isOwnWrite(), 'theirs: the watcher event for it leads to a render that keeps it');
});

t.test('an output that cannot be read is a write problem, kept until a write succeeds', async (t) => {
  const { guard, dir, logs } = await setUp(t);
  writeFileSync(join(dir, 'out'), 'a file where the directory should be\n');
  const look = await guard.look();
  t.match(look, { problem: /^cannot read it: ENOTDIR/ });
  const thrown = await guard.replace(OURS, look).catch((e: unknown) => e);
  t.type(thrown, Error);
  t.match(guard.failed(thrown), /^cannot read it: ENOTDIR/);
  t.match(guard.lastWriteError, /ENOTDIR/);
  rmSync(join(dir, 'out'));
  t.same(await guard.replace(OURS, await guard.look()), { changed: true });
  t.equal(guard.lastWriteError, undefined);
  t.match(logs.join('\n'), /registries\.conf written again/);
});

t.test('a FIFO at the output path is refused, not waited on (the look reads blocking)', async (t) => {
  const { guard, output } = await setUp(t);
  mkdirSync(join(output, '..'));
  execFileSync('mkfifo', [output]);
  const look = await guard.look();
  t.match(look, { problem: /^cannot read it: .*registries\.conf is not a regular file/ });
  const thrown = await guard.replace(OURS, look).catch((e: unknown) => e);
  t.type(thrown, Error, 'nothing written over it');
  t.ok(lstatSync(output).isFIFO(), 'the FIFO is left as it was');
});
