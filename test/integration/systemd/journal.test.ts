import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isJournalStream, prefixLines, syslogPriority } from '../../../src/systemd/journal.js';
import { createLogger } from '../../../src/core/log.js';

/** The child, compiled beside this test (dist/test/integration/systemd/fixtures/). */
const FIXTURE = fileURLToPath(new URL('./fixtures/journal-log.js', import.meta.url));

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'mpd-journal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function devIno(fd: number): string {
  const st = fstatSync(fd, { bigint: true });
  return `${st.dev}:${st.ino}`;
}

/**
 * Runs the fixture with stdout and stderr each on a file of their own; `journal`
 * picks what JOURNAL_STREAM says: stdout's dev:ino, stderr's, a wrong one, or unset.
 */
async function runFixture(
  t: Test,
  format: 'pretty' | 'json',
  journal: 'stdout' | 'stderr' | 'wrong' | 'unset',
  target: 'stdout' | 'stderr' = 'stdout',
): Promise<{ stdout: string; stderr: string }> {
  const dir = tempDir(t);
  const outPath = join(dir, 'stdout');
  const errPath = join(dir, 'stderr');
  const out = openSync(outPath, 'w');
  const err = openSync(errPath, 'w');
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['JOURNAL_STREAM'];
  if (journal === 'stdout') env['JOURNAL_STREAM'] = devIno(out);
  if (journal === 'stderr') env['JOURNAL_STREAM'] = devIno(err);
  if (journal === 'wrong') env['JOURNAL_STREAM'] = `${fstatSync(out, { bigint: true }).dev}:1`;
  try {
    const child = spawn(process.execPath, [FIXTURE, format, target], { env, stdio: ['ignore', out, err] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((r) => child.on('close', r));
    clearTimeout(killer);
    t.equal(code, 0, 'fixture exited 0');
  } finally {
    closeSync(out);
    closeSync(err);
  }
  return { stdout: readFileSync(outPath, 'utf8'), stderr: readFileSync(errPath, 'utf8') };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');

t.test('syslogPriority maps pino levels', async (t) => {
  t.same([10, 20, 30, 40, 50, 60].map(syslogPriority), [7, 7, 6, 4, 3, 2]);
  t.equal(syslogPriority(35), 6, 'custom levels fall to the level below');
});

t.test('prefixLines prefixes every line and keeps the final newline', async (t) => {
  t.equal(prefixLines('a\n', 3), '<3>a\n');
  t.equal(prefixLines('a\nb\n', 6), '<6>a\n<6>b\n');
  t.equal(prefixLines('a', 7), '<7>a');
});

t.test('isJournalStream compares JOURNAL_STREAM with fstat(fd)', async (t) => {
  const dir = tempDir(t);
  const fd = openSync(join(dir, 'f'), 'w');
  const other = openSync(join(dir, 'g'), 'w');
  t.teardown(() => {
    closeSync(fd);
    closeSync(other);
  });
  const id = devIno(fd);
  t.equal(isJournalStream({ JOURNAL_STREAM: id }, fd), true);
  t.equal(isJournalStream({ JOURNAL_STREAM: ` ${id}\n` }, fd), true, 'surrounding whitespace is tolerated');
  t.equal(isJournalStream({ JOURNAL_STREAM: devIno(other) }, fd), false, 'another file');
  t.equal(isJournalStream({}, fd), false, 'unset');
  t.equal(isJournalStream({ JOURNAL_STREAM: '' }, fd), false, 'empty');
  t.equal(isJournalStream({ JOURNAL_STREAM: 'garbage' }, fd), false);
  t.equal(isJournalStream({ JOURNAL_STREAM: `${id}:7` }, fd), false);
  t.equal(isJournalStream({ JOURNAL_STREAM: '-1:-1' }, fd), false);
  t.equal(isJournalStream({ JOURNAL_STREAM: id }, 987654), false, 'a closed fd is not the journal');
});

t.test('createLogger with journal: true prefixes lines (in process)', async (t) => {
  const dir = tempDir(t);
  for (const format of ['json', 'pretty'] as const) {
    const path = join(dir, format);
    const fd = openSync(path, 'w');
    const log = createLogger({ level: 'debug', format, fd, journal: true });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    log.fatal('f');
    log.trace('not logged at debug');
    log.flush();
    closeSync(fd);
    const got = lines(readFileSync(path, 'utf8'));
    t.same(
      got.map((l) => l.slice(0, 3)),
      ['<7>', '<6>', '<4>', '<3>', '<2>'],
      `${format}: one prefixed line per record`,
    );
    if (format === 'json') t.match(JSON.parse(got[1]?.slice(3) ?? ''), { level: 30, msg: 'i' }, 'after the prefix, the JSON line');
    else t.equal(got[3], '<3>ERROR: e');
  }
});

t.test('createLogger with journal: false writes plain lines', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'plain');
  const fd = openSync(path, 'w');
  const log = createLogger({ format: 'json', fd, journal: false });
  log.error('e');
  closeSync(fd);
  t.match(readFileSync(path, 'utf8'), /^\{"level":50,/);
});

for (const format of ['json', 'pretty'] as const) {
  t.test(`${format}: stdout is the journal → <N> prefixes`, async (t) => {
    const { stdout, stderr } = await runFixture(t, format, 'stdout');
    t.equal(stderr, '', 'nothing on stderr');
    const got = lines(stdout);
    const prio = (needle: string) => got.find((l) => l.includes(needle))?.slice(0, 3);
    t.equal(prio('a trace line'), '<7>');
    t.equal(prio('a debug line'), '<7>');
    t.equal(prio('an info line'), '<6>');
    t.equal(prio('a warn line'), '<4>');
    t.equal(prio('an error line'), '<3>');
    t.equal(prio('a fatal line'), '<2>');
    t.equal(prio('a child error line'), '<3>', 'child loggers too');
    t.ok(
      got.every((l) => /^<[0-7]>/.test(l)),
      'every line carries a priority (journald would give unprefixed lines the default)',
    );
    if (format === 'pretty') {
      t.ok(got.includes('<6>INFO: first line\\u000a<3>ERROR: a forged line'), 'a message with a newline stays one record, escaped');
      t.notOk(
        got.some((l) => l.startsWith('<3>ERROR: a forged')),
        'no line forged with its own priority',
      );
      t.ok(got.includes('<3>ERROR: an error line'));
    } else {
      const info = got.find((l) => l.includes('an info line')) ?? '';
      t.match(JSON.parse(info.slice(3)), { level: 30, fragments: 3, msg: 'an info line' }, 'the rest is the JSON line');
    }
  });

  t.test(`${format}: no JOURNAL_STREAM → no prefix`, async (t) => {
    const { stdout } = await runFixture(t, format, 'unset');
    const got = lines(stdout);
    t.equal(got.length >= 8, true, 'lines were written');
    t.notOk(
      got.some((l) => /^<\d>/.test(l)),
      'no line is prefixed',
    );
    if (format === 'pretty') t.ok(got.includes('ERROR: an error line'));
    else t.ok(got.every((l) => l.startsWith('{')));
  });
}

t.test('JOURNAL_STREAM naming another file (inherited, stdout redirected) → no prefix', async (t) => {
  for (const journal of ['wrong', 'stderr'] as const) {
    const { stdout } = await runFixture(t, 'json', journal);
    t.notOk(
      lines(stdout).some((l) => /^<\d>/.test(l)),
      `JOURNAL_STREAM=${journal}`,
    );
  }
});

t.test('the CLI logger (fd 2) never prefixes, even when stderr is the journal stream', async (t) => {
  const { stdout, stderr } = await runFixture(t, 'json', 'stderr', 'stderr');
  t.equal(stdout, '');
  const got = lines(stderr);
  t.ok(got.length >= 8);
  t.notOk(got.some((l) => /^<\d>/.test(l)));
});
