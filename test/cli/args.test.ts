/**
 * Flag errors say which flag, what is wrong with it and what to write instead, in our words
 * (not node:util's, which quote unevenly and never suggest); every one is a usage error (exit 2).
 */
import t, { type Test } from 'tap';
import { UsageError } from '../../src/core/diagnostic.js';
import { COMMON_OPTIONS, logSettings, parse } from '../../src/cli/args.js';

const OPTIONS = {
  ...COMMON_OPTIONS,
  'policy-dir': { type: 'string' },
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  'timeout-ms': { type: 'string' },
} as const;

/** The usage error `parse` throws for `args`, or a failure. */
function usageError(t: Test, args: readonly string[], maxPositionals = 0): string {
  try {
    parse(args, OPTIONS, maxPositionals);
  } catch (e) {
    t.ok(e instanceof UsageError, 'a usage error (exit 2)');
    return (e as Error).message;
  }
  t.fail(`${args.join(' ')}: accepted`);
  return '';
}

t.test('an unknown flag is named, with the flag it most likely misspells', async (t) => {
  t.equal(usageError(t, ['--polic-dir', 'x']), 'unknown option --polic-dir; did you mean --policy-dir?');
  t.equal(usageError(t, ['--POLICY-DIR', 'x']), 'unknown option --POLICY-DIR; did you mean --policy-dir?');
  t.equal(usageError(t, ['--frobnicate']), 'unknown option --frobnicate');
  t.equal(usageError(t, ['--outptu=x']), 'unknown option --outptu; did you mean --output?');
  t.equal(usageError(t, ['-x']), 'unknown option -x');
  t.equal(usageError(t, ['-hx']), 'unknown option -x (in -hx)');
  t.equal(usageError(t, ['-policy-dir', 'x']), 'unknown option -policy-dir; did you mean --policy-dir?', 'a long flag with one dash');
  t.equal(usageError(t, ['--verbose']), 'unknown option --verbose; did you mean --log-level debug?', "other tools' words");
  t.equal(usageError(t, ['-v']), 'unknown option -v; did you mean --log-level debug?');
  t.equal(usageError(t, ['--quiet']), 'unknown option --quiet; did you mean --log-level warn?');
  t.equal(usageError(t, ['--version']), 'unknown option --version; did you mean mirror-policyd --version?');
  t.equal(usageError(t, ['--dry-run']), 'unknown option --dry-run', 'a synonym of a flag this command does not have: none');
  t.throws(
    () => parse(['--dry-run'], { ...OPTIONS, diff: { type: 'boolean' } }),
    new UsageError('unknown option --dry-run; did you mean --diff?'),
    "render's --diff is its dry run",
  );
});

t.test('a flag that needs a value and has none says so, and how to give a value starting with "-"', async (t) => {
  t.equal(usageError(t, ['--policy-dir']), '--policy-dir needs a value');
  t.equal(usageError(t, ['-o']), '-o (--output) needs a value');
  t.equal(usageError(t, ['--policy-dir=']), '--policy-dir needs a value, not an empty one', 'a path that is no path');
  t.equal(usageError(t, ['--output', '']), '--output needs a value, not an empty one');
  t.equal(
    usageError(t, ['--policy-dir', '--json']),
    '--policy-dir needs a value, but the next argument "--json" is an option; for a value starting with "-", write --policy-dir=--json',
  );
  t.equal(
    usageError(t, ['--timeout-ms', '-5']),
    '--timeout-ms needs a value, but the next argument "-5" is an option; for a value starting with "-", write --timeout-ms=-5',
  );
});

t.test('a switch given a value is refused', async (t) => {
  t.equal(usageError(t, ['--json=yes']), '--json takes no value (write --json alone)');
  t.equal(usageError(t, ['--help=1']), '--help takes no value (write --help alone)');
});

t.test('a flag given twice: the last one counts (a wrapper adds a flag that overrides; documented)', async (t) => {
  t.same(parse(['--output', 'a', '--output=b'], OPTIONS).values, { output: 'b' });
  t.same(parse(['-o', 'a', '--output', 'b'], OPTIONS).values, { output: 'b' });
  t.same(parse(['--json', '--json'], OPTIONS).values, { json: true });
});

t.test('too many arguments', async (t) => {
  t.equal(usageError(t, ['a', 'b'], 1), 'unexpected argument "b"');
});

t.test('what is right still parses as node:util does: --opt=value, --opt value, -o value, "-" as a value, and -- ', async (t) => {
  t.same(parse(['--policy-dir=a', '-o', 'b', '--json'], OPTIONS).values, { 'policy-dir': 'a', output: 'b', json: true });
  t.same(parse(['--policy-dir', 'a', '--output=-'], OPTIONS).values, { 'policy-dir': 'a', output: '-' });
  t.same(parse(['--policy-dir=--odd'], OPTIONS).values, { 'policy-dir': '--odd' }, 'a value starting with "-" after =');
  const after = parse(['--json', '--', '--output', '-x'], OPTIONS, Infinity);
  t.same(after.values, { json: true });
  t.same(after.positionals, ['--output', '-x'], 'after --, everything is an argument');
  t.same(parse(['-'], OPTIONS, 1).positionals, ['-'], '"-" alone is an argument (standard input)');
});

t.test('a log setting of the wrong kind names what was given and what may be', async (t) => {
  t.throws(() => logSettings({ 'log-level': 'loud' }), new UsageError('--log-level must be one of trace, debug, info, warn, error, fatal, silent, not "loud"'));
  t.throws(() => logSettings({ 'log-format': 'xml' }), new UsageError('--log-format must be pretty or json, not "xml"'));
  t.same(logSettings({}), { level: 'info', format: 'pretty' }, 'the defaults');
});
