/**
 * FragmentTracker (src/daemon/fragment-tracker.ts): when each fragment last changed, the
 * in-place-write guard for a fragment that just became empty, and each problem logged once.
 */
import t from 'tap';
import { pino } from 'pino';
import { error, warning } from '../../src/core/diagnostic.js';
import type { FragmentStatus } from '../../src/pipeline/forgiving.js';
import { FragmentTracker } from '../../src/daemon/fragment-tracker.js';
import { EMPTY_SETTLE_MS, WRITE_HOLD_MS } from '../../src/daemon/render-scheduler.js';
import { StateDir } from '../../src/daemon/state-dir.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A tracker whose log lines (level and message) are kept, and which counts its recheck requests; `now`, its clock. */
function trackerWithLog(pace?: () => Promise<void>, now?: () => number): { tracker: FragmentTracker; logs: string[]; rechecks: () => number } {
  const logs: string[] = [];
  const log = pino(
    { level: 'trace', base: undefined },
    { write: (line: string) => void logs.push(((r) => `${pino.levels.labels[r.level]}: ${r.msg}`)(JSON.parse(line) as { level: number; msg: string })) },
  );
  let rechecks = 0;
  return { tracker: new FragmentTracker(log, () => rechecks++, pace, now), logs, rechecks: () => rechecks };
}

const frag = (file: string, text: string): { file: string; text: string } => ({ file, text });
const status = (file: string, state: FragmentStatus['state'], errors: FragmentStatus['errors'] = []): FragmentStatus => ({ file, state, errors, warnings: [] });

/** A tracker loaded from a fresh state dir under a temp dir (removed in teardown). */
async function trackerOnStateDir(t: { teardown(fn: () => unknown): void }, pace?: () => Promise<void>): Promise<{ dir: string; tracker: FragmentTracker }> {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-tracker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const state = new StateDir(dir, { warn: () => {} });
  await state.init();
  const { tracker } = trackerWithLog(pace);
  await tracker.load(state);
  return { dir, tracker };
}

t.test('changedAt: kept while the text is the same, newer at each change, in the order seen', async (t) => {
  const { tracker } = trackerWithLog();
  const first = tracker.stamp([frag('a.toml', 'A'), frag('b.toml', 'B')]);
  t.same(
    first.map((f) => f.changedAt),
    [1, 2],
  );
  t.same(
    tracker.stamp([frag('a.toml', 'A'), frag('b.toml', 'B')]).map((f) => f.changedAt),
    [1, 2],
    'unchanged',
  );
  t.same(
    tracker.stamp([frag('a.toml', 'A2'), frag('b.toml', 'B')]).map((f) => f.changedAt),
    [3, 2],
    'a changed last',
  );
  // A fragment gone and back is seen for the first time again.
  tracker.stamp([frag('b.toml', 'B')]);
  t.same(
    tracker.stamp([frag('a.toml', 'A2'), frag('b.toml', 'B')]).map((f) => f.changedAt),
    [4, 2],
  );
  // One gone and one new in the same read (as many names as before): the gone one is still forgotten.
  t.same(
    tracker.stamp([frag('b.toml', 'B'), frag('c.toml', 'C')]).map((f) => f.changedAt),
    [2, 5],
  );
  t.same(
    tracker.stamp([frag('a.toml', 'A2'), frag('b.toml', 'B'), frag('c.toml', 'C')]).map((f) => f.changedAt),
    [6, 2, 5],
    'a is new again',
  );
});

t.test('a fragment that just became empty keeps its text until it is still empty WRITE_HOLD_MS later, and asks for a look again', async (t) => {
  let now = 0;
  const { tracker, rechecks } = trackerWithLog(undefined, () => now);
  tracker.stamp([frag('a.toml', 'A')]);
  const during = tracker.stamp([frag('a.toml', '')]);
  t.same(during, [{ file: 'a.toml', text: 'A', changedAt: 1 }], 'the previous text, the previous changedAt');
  t.equal(rechecks(), 1);
  now += 10;
  t.same(tracker.stamp([frag('a.toml', 'A3')]), [{ file: 'a.toml', text: 'A3', changedAt: 2 }], 'rewritten in place: the new text');
  tracker.stamp([frag('a.toml', '')]);
  t.equal(rechecks(), 2);
  now += WRITE_HOLD_MS - 1;
  t.same(
    tracker.stamp([frag('a.toml', '')]),
    [{ file: 'a.toml', text: 'A3', changedAt: 2 }],
    "read empty again within the moment (the writer's truncation read twice): still the previous text",
  );
  t.equal(rechecks(), 3, 'and one more look');
  now += 1;
  t.same(
    tracker.stamp([frag('a.toml', '')]),
    [{ file: 'a.toml', text: '', changedAt: 3 }],
    'still empty WRITE_HOLD_MS after it was first read so: really empty',
  );
  t.equal(rechecks(), 3, 'no further look');
});

t.test('a fragment read while it is being rewritten in place (settling) keeps its text until it settles, WRITE_HOLD_MS at most', async (t) => {
  let now = 0;
  const { tracker, rechecks } = trackerWithLog(undefined, () => now);
  tracker.stamp([frag('a.toml', 'A whole')]);
  t.same(
    tracker.stamp([{ file: 'a.toml', text: 'A ha', settling: true }]),
    [{ file: 'a.toml', text: 'A whole', changedAt: 1 }],
    'the first part: the previous text',
  );
  t.equal(rechecks(), 1, 'and a look again');
  now += 10;
  t.same(tracker.stamp([frag('a.toml', 'B whole')]), [{ file: 'a.toml', text: 'B whole', changedAt: 2 }], 'settled: the new text');
  tracker.stamp([{ file: 'a.toml', text: 'C p', settling: true }]);
  now += WRITE_HOLD_MS;
  t.same(
    tracker.stamp([{ file: 'a.toml', text: 'C part', settling: true }]),
    [{ file: 'a.toml', text: 'C part', changedAt: 3 }],
    'a writer still writing WRITE_HOLD_MS after the first such read: taken as it is',
  );
  t.same(tracker.stamp([{ file: 'a.toml', text: 'C part', settling: true }])[0]?.text, 'C part', 'the same text again: nothing to hold');
});

t.test('an empty read pending for a file that vanished is forgotten: a file of that name later has its own moment', async (t) => {
  let now = 0;
  const { tracker, rechecks } = trackerWithLog(undefined, () => now);
  tracker.stamp([frag('a.toml', 'A'), frag('b.toml', 'B')]);
  tracker.stamp([frag('a.toml', 'A'), frag('b.toml', '')]);
  t.equal(rechecks(), 1, 'b read empty: a look again');
  tracker.stamp([frag('a.toml', 'A')]);
  now += 10 * WRITE_HOLD_MS;
  t.same(
    tracker.stamp([frag('a.toml', 'A'), frag('b.toml', '')]).map((f) => f.file),
    ['a.toml'],
    'a new b read empty long after: left out for its own moment, not taken at once',
  );
  t.equal(rechecks(), 2);
});

t.test(
  'a fragment that vanished from a read of named entries stays for a moment (rm -rf unlinks the files first); a whole read drops it at once',
  async (t) => {
    const { tracker, rechecks } = trackerWithLog();
    const [a, b] = tracker.stamp([frag('a.toml', 'A'), frag('b.toml', 'B')]);
    const during = tracker.stamp([frag('b.toml', 'B')], true);
    t.equal(during.length, 2, 'a is still in the render');
    t.ok(during.includes(a as never) && during.includes(b as never), 'the same inputs as before');
    t.equal(rechecks(), 1, 'a look again is asked for');
    t.equal(tracker.stamp([frag('b.toml', 'B')], true).length, 2, 'looked at again within the moment: still kept');
    t.equal(tracker.stamp([frag('a.toml', 'A'), frag('b.toml', 'B')], true).length, 2, 'back: an input as any other');
    t.same(
      tracker.stamp([frag('b.toml', 'B')], false).map((f) => f.file),
      ['b.toml'],
      'a whole read (the rescan, a directory back) takes the removal at once',
    );
    tracker.stamp([frag('a.toml', 'A'), frag('b.toml', 'B')]);
    tracker.stamp([frag('b.toml', 'B')], true);
    await new Promise((r) => setTimeout(r, EMPTY_SETTLE_MS + 50));
    t.same(
      tracker.stamp([frag('b.toml', 'B')], true).map((f) => f.file),
      ['b.toml'],
      'still gone once the moment has passed: removed',
    );
  },
);

t.test('known(): fragments with a last valid content or a status', async (t) => {
  const { tracker } = trackerWithLog();
  t.same([...tracker.known()], []);
  tracker.accept({ 'a.toml': 'A' });
  tracker.record([status('b.toml', 'invalid')], []);
  t.same([...tracker.known()].sort(), ['a.toml', 'b.toml']);
  t.same(tracker.lastGood, { 'a.toml': 'A' });
  t.same(tracker.savingProblems(), [], 'nothing to save into before load()');
});

t.test('after a restart, a fragment still at its last valid content is older than any that changed', async (t) => {
  const { tracker } = trackerWithLog();
  tracker.accept({ 'a.toml': 'A', 'b.toml': 'B' });
  t.same(
    tracker.stamp([frag('a.toml', 'A'), frag('b.toml', 'B2')]).map((f) => f.changedAt),
    [0, 1],
  );
});

t.test('at start and after forget() (SIGHUP), a fragment read empty keeps its last valid content for the moment too', async (t) => {
  let now = 0;
  const { tracker, rechecks } = trackerWithLog(undefined, () => now);
  tracker.accept({ 'a.toml': 'A' });
  t.same(tracker.stamp([frag('a.toml', '')]), [{ file: 'a.toml', text: 'A', changedAt: 0 }], 'at start: its last valid content');
  t.equal(rechecks(), 1, 'and a look again');
  now += WRITE_HOLD_MS;
  t.same(tracker.stamp([frag('a.toml', '')]), [{ file: 'a.toml', text: '', changedAt: 1 }], 'still empty after the moment: empty');

  tracker.accept({ 'a.toml': 'A2' });
  tracker.stamp([frag('a.toml', 'A2')]);
  tracker.forget();
  now += 10 * WRITE_HOLD_MS;
  t.same(tracker.stamp([frag('a.toml', '')]), [{ file: 'a.toml', text: 'A2', changedAt: 0 }], 'after forget(): its last valid content, not empty at once');
  t.equal(rechecks(), 2);
  now += WRITE_HOLD_MS - 1;
  t.same(tracker.stamp([frag('a.toml', 'A3')]), [{ file: 'a.toml', text: 'A3', changedAt: 3 }], 'rewritten within the moment: the new text');
});

t.test('problems are logged once when they appear, fixes once when they happen; forget() logs them again', async (t) => {
  const { tracker, logs } = trackerWithLog();
  const bad = error({ file: 'a.toml', line: 3 }, 'mirrors must be an array');
  const aside = warning({ file: 'notes.txt' }, 'not a fragment: ignored');
  const inFragment = warning({ file: 'b.toml', line: 1 }, 'unknown key');
  tracker.record([status('a.toml', 'held', [bad]), { ...status('b.toml', 'valid'), warnings: [inFragment] }], [aside, inFragment]);
  t.same(logs, [
    'error: a.toml:3:1: mirrors must be an array (its last valid content stays in effect)',
    'warn: notes.txt: not a fragment: ignored',
    'warn: b.toml:1:1: unknown key',
  ]);
  t.same(tracker.warnings, ['notes.txt: warning: not a fragment: ignored'], 'only the warnings outside the fragments');
  t.same(
    tracker.statuses.map((x) => x.state),
    ['held', 'valid'],
  );

  tracker.record([status('a.toml', 'held', [bad]), status('b.toml', 'valid')], [aside, inFragment]);
  t.equal(logs.length, 3, 'the same problems: nothing logged again');

  tracker.record([status('a.toml', 'invalid', [bad]), status('b.toml', 'valid')], [aside]);
  t.same(logs.slice(3), ['error: a.toml:3:1: mirrors must be an array (left out)'], 'a changed state is logged');

  tracker.record([status('a.toml', 'valid'), status('b.toml', 'valid')], [aside]);
  t.same(logs.slice(4), ['info: a.toml is valid again']);

  tracker.forget();
  tracker.record([status('a.toml', 'invalid', [])], [aside]);
  t.same(logs.slice(5), ['error: a.toml: not usable (left out)', 'warn: notes.txt: not a fragment: ignored'], 'after forget(), everything is new again');
});

t.test('a fragment created while running and read before its first write is left out for a moment, then read again', async (t) => {
  let now = 0;
  const { tracker, rechecks } = trackerWithLog(undefined, () => now);
  t.same(
    tracker.stamp([frag('a.toml', 'A'), frag('z.toml', '')]).map((f) => f.file),
    ['a.toml', 'z.toml'],
    'at start an empty fragment is simply empty',
  );
  t.equal(rechecks(), 0);
  t.same(
    tracker.stamp([frag('a.toml', 'A'), frag('b.toml', ''), frag('z.toml', '')]).map((f) => f.file),
    ['a.toml', 'z.toml'],
    'the new empty one is left out',
  );
  t.equal(rechecks(), 1, 'and looked at again');
  t.same(
    tracker.stamp([frag('a.toml', 'A'), frag('b.toml', 'BAD'), frag('z.toml', '')]).map((f) => [f.file, f.text]),
    [
      ['a.toml', 'A'],
      ['b.toml', 'BAD'],
      ['z.toml', ''],
    ],
    'its written content is the first seen',
  );
  tracker.stamp([frag('a.toml', 'A'), frag('c.toml', '')]);
  now += WRITE_HOLD_MS - 1;
  t.same(
    tracker.stamp([frag('a.toml', 'A'), frag('c.toml', '')]).map((f) => f.file),
    ['a.toml'],
    'read empty again within the moment: still left out',
  );
  now += 1;
  t.same(
    tracker.stamp([frag('a.toml', 'A'), frag('c.toml', '')]).map((f) => f.file),
    ['a.toml', 'c.toml'],
    'still empty WRITE_HOLD_MS after it was first read so: it is empty',
  );
});

t.test('saveSoon: saves in the background, batched; what the state dir ends with is the last accepted', async (t) => {
  const { dir, tracker } = await trackerOnStateDir(t);
  const failures: number[] = [];
  for (let i = 0; i < 20; i++) {
    tracker.accept({ 'a.toml': `A${i}`, ...(i % 2 ? { 'b.toml': `B${i}` } : {}) });
    tracker.saveSoon((ms) => failures.push(ms));
  }
  t.same(tracker.lastGood, { 'a.toml': 'A19', 'b.toml': 'B19' }, 'in effect at once, before any save');
  await tracker.saved();
  t.same(failures, []);
  t.same(readdirSync(join(dir, 'last-good')).sort(), ['a.toml', 'b.toml']);
  t.equal(readFileSync(join(dir, 'last-good', 'a.toml'), 'utf8'), 'A19');
  t.equal(readFileSync(join(dir, 'last-good', 'b.toml'), 'utf8'), 'B19');
  t.same(tracker.savingProblems(), []);
});

t.test('stopSaving: a save under way begins no further copy, and each copy begun is whole', async (t) => {
  const { dir, tracker } = await trackerOnStateDir(t);
  const many: Record<string, string> = {};
  for (let i = 0; i < 200; i++) many[`${String(i).padStart(3, '0')}.toml`] = `text ${i}`;
  tracker.accept(many);
  tracker.saveSoon(() => {});
  await tracker.stopSaving();
  const names = readdirSync(join(dir, 'last-good')).filter((n) => !n.startsWith('.'));
  t.ok(names.length < 200, `stopped after ${names.length} of 200 copies`);
  for (const n of names) t.equal(readFileSync(join(dir, 'last-good', n), 'utf8'), many[n], `${n} whole`);
});

t.test('saves are paced: no copy is begun while the pace (the daemon: a render in flight) holds them', async (t) => {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  const { dir, tracker } = await trackerOnStateDir(t, () => held);
  tracker.accept({ 'a.toml': 'A', 'b.toml': 'B' });
  tracker.saveSoon(() => {});
  await new Promise((r) => setImmediate(r));
  t.same(
    readdirSync(join(dir, 'last-good')).filter((n) => !n.startsWith('.')),
    [],
    'nothing begun while held',
  );
  release();
  await tracker.saved();
  t.same(readdirSync(join(dir, 'last-good')).sort(), ['a.toml', 'b.toml'], 'all saved once released');
});

t.test('many fragments with the same problem at once (a refused policy directory): five lines, then one line counting the rest; fixes likewise', async (t) => {
  const { tracker, logs } = trackerWithLog();
  const files = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')}.toml`);
  const refused = (file: string) => error({ file }, 'refusing fragment: the policy directory is writable by group (mode 0775)');
  tracker.record(
    files.map((f) => status(f, 'held', [refused(f)])),
    [],
  );
  t.same(logs, [
    ...files
      .slice(0, 5)
      .map((f) => `error: ${f}: refusing fragment: the policy directory is writable by group (mode 0775) (its last valid content stays in effect)`),
    'error: and 35 more fragments: refusing fragment: the policy directory is writable by group (mode 0775) (its last valid content stays in effect); `mirror-policyd status` lists each',
  ]);
  tracker.record(
    files.map((f) => status(f, 'valid')),
    [],
  );
  t.same(logs.slice(6), [...files.slice(0, 5).map((f) => `info: ${f} is valid again`), 'info: and 35 more fragments are valid again']);
});
