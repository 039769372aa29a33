/**
 * The metrics file (src/metrics/file.ts): replaced whole, a failed write logged once, the file
 * removed when the daemon stops cleanly or the setting moves it or turns it off, so that
 * node_exporter never goes on exporting the figures of a daemon that is not running.
 */
import t from 'tap';
import pino from 'pino';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsFile } from '../../src/metrics/file.js';
import type { MetricsSnapshot } from '../../src/metrics/format.js';

const SNAP: MetricsSnapshot = {
  mirrors: [],
  rendersTotal: 1,
  renderErrorsTotal: 0,
  fragments: { valid: 1, held: 0, invalid: 0 },
  driftRestoresTotal: 0,
  demotionsTotal: 0,
};

function setup(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logs: string[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push((JSON.parse(line) as { msg: string }).msg) });
  let renders = 1;
  const file = new MetricsFile(log, () => ({ ...SNAP, rendersTotal: renders++ }));
  return { dir, logs, file };
}

t.test('written whole, world-readable for the collector, and replaced by each write', async (t) => {
  const { dir, file } = setup(t);
  const path = join(dir, 'mirror-policyd.prom');
  await file.write(path);
  t.match(readFileSync(path, 'utf8'), /^mirror_policyd_renders_total 1$/m);
  t.equal(statSync(path).mode & 0o777, 0o644, 'the collector (another user) can read it');
  await file.write(path);
  t.match(readFileSync(path, 'utf8'), /^mirror_policyd_renders_total 2$/m);
});

t.test('a clean stop removes the file: a stopped daemon’s last figures are not exported as if it ran', async (t) => {
  const { dir, file, logs } = setup(t);
  const path = join(dir, 'mirror-policyd.prom');
  void file.write(path);
  await file.remove();
  t.notOk(existsSync(path), 'removed after the write queued before it');
  await file.write(path);
  t.notOk(existsSync(path), 'no write after it');
  t.match(logs.join('\n'), /metrics file .*mirror-policyd\.prom removed/);
});

t.test('a reload that moves the file or turns it off removes the old one; a file never written is left alone', async (t) => {
  const { dir, file } = setup(t);
  const a = join(dir, 'a.prom');
  const b = join(dir, 'b.prom');
  writeFileSync(b, 'someone else’s\n');
  await file.write(a);
  await file.write(a);
  t.ok(existsSync(a));
  const c = join(dir, 'c.prom');
  await file.write(c);
  t.notOk(existsSync(a), 'moved: the old file removed');
  t.ok(existsSync(c));
  await file.write(undefined);
  t.notOk(existsSync(c), 'turned off: removed');
  await file.remove();
  t.equal(readFileSync(b, 'utf8'), 'someone else’s\n', 'a path we never wrote is not ours to remove');
});

t.test('a file gone already at the stop: nothing thrown, nothing logged', async (t) => {
  const { dir, file, logs } = setup(t);
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  const path = join(sub, 'm.prom');
  await file.write(path);
  rmSync(path);
  await file.remove();
  t.notMatch(logs.join('\n'), /cannot remove/, 'gone already: nothing to say');
});

t.test('a metrics file that cannot be written is logged once, not at every write (each has its own temp name); written again is logged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-metrics-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  const metrics = new MetricsFile(log, () => SNAP);
  const file = join(dir, 'gone', 'm.prom'); // its directory is missing: every write fails the same way
  for (let i = 0; i < 4; i++) await metrics.write(file);
  const warned = lines.filter((l) => l.level === 40);
  t.equal(warned.length, 1, 'once');
  t.match(warned[0]?.msg, /cannot write the metrics file .*m\.prom/);
  mkdirSync(join(dir, 'gone'));
  chmodSync(join(dir, 'gone'), 0o755);
  await metrics.write(file);
  t.match(lines.at(-1)?.msg, /metrics file .* written again/);
});
