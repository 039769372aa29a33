/**
 * The command word: a usage error (exit 2) says what was wrong and what was likely meant;
 * help and the version exit 0.
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { main } from '../../src/cli/main.js';
import { repoPath } from '../helpers/repo.js';

/** main(argv), with what it printed on stdout and stderr. */
async function run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = (s: string) => ((stderr += s), true);
  try {
    const code = await main(argv, { stdout: (s) => void (stdout += s) });
    return { code, stdout, stderr };
  } finally {
    process.stderr.write = write;
  }
}

t.test('an unknown command is named, with the command it most likely misspells', async (t) => {
  const r = await run(['chek']);
  t.equal(r.code, 2);
  t.equal(r.stderr, `mirror-policyd: unknown command "chek"; did you mean "check"?\nTry 'mirror-policyd --help'.\n`);
  t.match((await run(['frobnicate'])).stderr, /^mirror-policyd: unknown command "frobnicate"\n/);
});

t.test('a flag before the command: the command comes first', async (t) => {
  const r = await run(['--policy-dir', 'x', 'check']);
  t.equal(r.code, 2);
  t.match(r.stderr, /^mirror-policyd: "--policy-dir" is not a command: the command comes first \(mirror-policyd COMMAND \[FLAGS\]\)\n/);
});

t.test("help COMMAND is that command's help; help of no such command is a usage error", async (t) => {
  const ok = await run(['help', 'render']);
  t.equal(ok.code, 0);
  t.match(ok.stdout, /^Usage: mirror-policyd render /);
  const bad = await run(['help', 'rendr']);
  t.equal(bad.code, 2);
  t.equal(bad.stdout, '');
  t.match(bad.stderr, /unknown command "rendr"; did you mean "render"\?/);
  t.equal((await run(['--help'])).code, 0);
  const none = await run([]);
  t.equal(none.code, 2, 'no command at all is a usage error, with the usage');
  t.match(none.stdout, /^Usage: mirror-policyd COMMAND/);
});

t.test('flag errors name the command whose help to read', async (t) => {
  const r = await run(['render', '--stdot']);
  t.equal(r.code, 2);
  t.equal(r.stderr, `mirror-policyd: unknown option --stdot; did you mean --stdout?\nTry 'mirror-policyd render --help'.\n`);
});

t.test('the usage error docs/commands.md shows is what the command prints', async (t) => {
  const doc = readFileSync(repoPath('docs/commands.md'), 'utf8');
  const shown = [...doc.matchAll(/```\n\$ mirror-policyd ([^\n]*)\n([\s\S]*?)```/g)];
  t.ok(shown.length >= 1, 'a transcript is shown');
  for (const [, line = '', output] of shown) {
    const r = await run(line.split(' '));
    t.equal(r.code, 2, line);
    t.equal(r.stderr, output, line);
  }
});

t.test('a bad --max-fragment-bytes is a usage error before anything is read or written', async (t) => {
  const dir = t.testdir({ 'registries.conf': 'unqualified-search-registries = ["docker.io"]\n', 'policy.d': {} });
  const missing = await run(['check', '--policy-dir', `${dir}/no-such-dir`, '--max-fragment-bytes', 'abc']);
  t.equal(missing.code, 2, 'check: exit 2, not the missing directory');
  t.match(missing.stderr, /--max-fragment-bytes must be a whole number/);
  for (const command of ['check', 'render']) {
    const r = await run([
      command,
      '--policy-dir',
      `${dir}/policy.d`,
      '--output',
      `${dir}/registries.conf`,
      ...(command === 'render' ? ['--state-dir', `${dir}/state`] : []),
      '--allow-unsafe-fragments',
      '--max-fragment-bytes',
      'abc',
    ]);
    t.equal(r.code, 2, `${command}: exit 2`);
    t.match(r.stderr, /--max-fragment-bytes must be a whole number/, command);
  }
  t.notOk(existsSync(`${dir}/registries.conf.before-mirror-policyd`), 'render kept no copy of the host file');
});
