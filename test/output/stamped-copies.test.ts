/**
 * Time-stamped copies (src/output/stamped-copies.ts) on a real temp directory: names that sort
 * like time, never shared, and only the newest N kept.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileStamp, freeStampedPath, isStampedCopy, keepStampedCopy } from '../../src/output/stamped-copies.js';

const tempDir = (t: Test): string => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-stamped-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

t.test('fileStamp sorts like time and is a plain file name', async (t) => {
  const a = fileStamp(new Date('2025-03-04T05:06:07.008Z'));
  t.equal(a, '2025-03-04T05-06-07-008Z');
  t.ok(fileStamp(new Date('2025-03-04T05:06:07.009Z')) > a);
  t.ok(fileStamp(new Date('2026-01-01T00:00:00.000Z')) > a);
});

t.test('copies asked for at the same time, one after the other or at once, never share a name', async (t) => {
  const naming = { dir: tempDir(t), prefix: 'x-', suffix: '.conf' };
  const at = new Date('2026-12-06T12:00:00.000Z');
  const one = await freeStampedPath(naming, at);
  writeFileSync(one, 'one\n');
  const two = await freeStampedPath(naming, at);
  t.not(two, one, 'a name on disk is not handed out again');
  const together = await Promise.all([0, 1, 2].map(() => freeStampedPath(naming, at)));
  t.equal(new Set([one, two, ...together]).size, 5, 'nor one handed out to a copy not yet written');
  t.same([one, two, ...together], [one, two, ...together].sort(), 'in the order they were asked for');
});

t.test('a copy made after the clock was set back still sorts newest in this process', async (t) => {
  const naming = { dir: tempDir(t), prefix: '', suffix: '.conf' };
  const later = await freeStampedPath(naming, new Date('2026-12-06T12:00:00.000Z'));
  const back = await freeStampedPath(naming, new Date('2026-01-01T00:00:00.000Z'));
  t.ok(back > later);
});

t.test('keepStampedCopy keeps the newest N, the one just made among them, and leaves other files', async (t) => {
  const dir = tempDir(t);
  const naming = { dir, prefix: 'hosts.toml.edited-', suffix: '' };
  writeFileSync(join(dir, 'README'), 'not a copy\n');
  writeFileSync(join(dir, `.hosts.toml.edited-x.${process.pid}.abcdef01.tmp`), 'a temp file\n'); // a write under way (this process)
  const at = new Date('2026-12-06T12:00:00.000Z');
  const paths: string[] = [];
  for (let i = 0; i < 5; i++) paths.push(await keepStampedCopy(naming, 3, (p) => fs.writeFile(p, `copy ${i}\n`), at));
  const copies = readdirSync(dir)
    .filter((n) => isStampedCopy(naming, n))
    .sort();
  t.equal(copies.length, 3, 'the newest 3');
  t.same(
    copies.map((n) => readFileSync(join(dir, n), 'utf8')),
    ['copy 2\n', 'copy 3\n', 'copy 4\n'],
  );
  t.equal(readFileSync(paths[4] as string, 'utf8'), 'copy 4\n', 'the path returned is the copy');
  t.ok(readdirSync(dir).includes('README') && readdirSync(dir).includes(`.hosts.toml.edited-x.${process.pid}.abcdef01.tmp`), 'other files stay');
});

t.test("keepStampedCopy removes the temp of a copy whose writer was killed (its pid gone), not a live writer's", async (t) => {
  const dir = tempDir(t);
  const naming = { dir, prefix: 'hosts.toml.edited-', suffix: '' };
  const { spawnSync } = await import('node:child_process');
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  const dead = `.hosts.toml.edited-2026-12-06T11-00-00-000Z.${gone}.deadbeef.tmp`;
  const live = `.hosts.toml.edited-2026-12-06T11-00-00-000Z.${process.pid}.deadbeef.tmp`;
  for (const n of [dead, live]) writeFileSync(join(dir, n), 'half a copy\n');
  await keepStampedCopy(naming, 3, (p) => fs.writeFile(p, 'a copy\n'), new Date('2026-12-06T12:00:00.000Z'));
  t.notOk(readdirSync(dir).includes(dead), "the dead writer's temp is gone");
  t.ok(readdirSync(dir).includes(live), "a live writer's (this process's) stays");
});
