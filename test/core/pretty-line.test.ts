/**
 * The `pretty` log format: `LEVEL: message`, as pino-pretty printed it with the options the
 * logger gave it before it was replaced (the expected lines are pino-pretty 13's output).
 */
import t from 'tap';
import { prettyLine } from '../../src/core/pretty-line.js';

const line = (record: Record<string, unknown>): string => prettyLine(`${JSON.stringify(record)}\n`);

t.test('the level label and the message; time, pid, host and fields hidden', async (t) => {
  t.equal(line({ level: 30, time: 1, pid: 7, hostname: 'h', msg: 'hello' }), 'INFO: hello\n');
  t.same(
    [10, 20, 30, 40, 50, 60].map((level) => line({ level, msg: 'm' })),
    ['TRACE: m\n', 'DEBUG: m\n', 'INFO: m\n', 'WARN: m\n', 'ERROR: m\n', 'FATAL: m\n'],
  );
  t.equal(line({ level: 30, fragments: 3, msg: 'rendered' }), 'INFO: rendered\n', 'the fields are in the json format only');
  t.equal(line({ level: 50, msg: 'x', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' } }), 'ERROR: x\n', 'no stack');
  t.equal(line({ level: 35, msg: 'c' }), 'USERLVL: c\n', 'a custom level');
});

t.test('messages: several lines kept, none, not a string', async (t) => {
  t.equal(line({ level: 40, msg: 'first\nsecond' }), 'WARN: first\nsecond\n');
  t.equal(line({ level: 30, a: 1 }), 'INFO:\n', 'no message');
  t.equal(line({ level: 30, msg: '' }), 'INFO: \n');
  t.equal(line({ level: 30, msg: 42 }), 'INFO: 42\n');
  t.equal(prettyLine('{"level":30,"msg":"no newline"}'), 'INFO: no newline\n');
});

t.test('control characters that could rewrite a terminal are removed; tab and newline stay', async (t) => {
  t.equal(line({ level: 30, msg: 'a\tb \u001b[31mred\u0007 \u009bx\r' }), 'INFO: a\tb [31mred x\n');
  t.equal(prettyLine('not json \u001b[2J'), 'not json [2J\n', 'a line that is no record passes, cleaned');
});
