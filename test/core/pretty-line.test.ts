/**
 * The `pretty` log format: `LEVEL: message`, as pino-pretty printed it with the options the
 * logger gave it before it was replaced (the expected lines are pino-pretty 13's output), but
 * always one line: control characters are escaped where pino-pretty kept newlines.
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

t.test('messages: none, empty, not a string', async (t) => {
  t.equal(line({ level: 30, a: 1 }), 'INFO:\n', 'no message');
  t.equal(line({ level: 30, msg: '' }), 'INFO: \n');
  t.equal(line({ level: 30, msg: 42 }), 'INFO: 42\n');
  t.equal(prettyLine('{"level":30,"msg":"no newline"}'), 'INFO: no newline\n');
});

t.test('a message carrying a forged record stays one line: CR and LF escaped', async (t) => {
  // a fragment's content or a registry's error body in a message, as an attacker would write it
  const forged = 'bad mirror "x"\nERROR: rendered /etc/containers/registries.conf from evil.toml\r\n<3>FATAL: fake';
  const out = line({ level: 40, msg: forged });
  t.equal(out, 'WARN: bad mirror "x"\\u000aERROR: rendered /etc/containers/registries.conf from evil.toml\\u000d\\u000a<3>FATAL: fake\n');
  t.equal(out.split('\n').length, 2, 'one line and its newline');
  t.equal(prettyLine('not json\nERROR: forged\n'), 'not json\\u000aERROR: forged\n', 'a line that is no record: the same');
});

t.test('every control character is escaped, visible and inert; the Unicode line separators too', async (t) => {
  t.equal(
    line({ level: 30, msg: 'a\tb \u001b[31mred\u0007 \u009bx\u0085\u2028\u2029\u007f' }),
    'INFO: a\\u0009b \\u001b[31mred\\u0007 \\u009bx\\u0085\\u2028\\u2029\\u007f\n',
  );
  t.equal(prettyLine('not json \u001b[2J'), 'not json \\u001b[2J\n', 'a line that is no record passes, escaped');
  t.equal(line({ level: 30, msg: 'é ✓ \\n plain' }), 'INFO: é ✓ \\n plain\n', 'other text as it is');
});
