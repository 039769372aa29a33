/**
 * `mirror-policyd run` as a service: `status` (exit codes, --json, the socket's mode),
 * a single instance per state dir and control socket, `render` refusing to write a file
 * the daemon manages (unless --force), usage errors (exit 2) and an unusable state dir (1).
 */
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { cleanEnv, fragment, runArgs, startDaemon, workspace } from '../../helpers/daemon.js';
import { NOBODY, runAs } from '../cli/run-as.js';

t.test('status: exit 0 healthy, 1 degraded, 3 not running; --json; socket mode 0600', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

  t.equal(statSync(ws.control).mode & 0o777, 0o600, 'control socket mode 0600');
  t.ok(statSync(ws.control).isSocket());

  const healthy = await runCli(['status', '--control-socket', ws.control]);
  t.equal(healthy.code, 0, healthy.stderr);
  t.match(healthy.stdout, /^mirror-policyd \S+, pid \d+, since \S+: HEALTHY\n/);
  t.match(healthy.stdout, /\n {2}valid {3}10-a\.toml\n/);

  const json = await runCli(['status', '--json', '--control-socket', ws.control]);
  t.equal(json.code, 0);
  const s = JSON.parse(json.stdout) as Record<string, unknown>;
  t.match(s, {
    state: 'healthy',
    degraded: [],
    pid: d.pid,
    version: String,
    startedAt: String,
    policyDir: ws.policy,
    output: ws.output,
    stateDir: ws.state,
    base: { source: 'none' },
    fragments: [{ file: '10-a.toml', state: 'valid', errors: [] }],
    lastRender: { at: String, ms: Number, sha256: /^[0-9a-f]{64}$/, changed: Boolean, fragments: 1, tables: Number, mirrors: 1 },
    drift: [],
    shadowing: [],
    renders: Number,
    renderErrors: 0,
  });

  writeFileSync(join(ws.policy, '20-bad.toml'), fragment('quay.io/b', ['BAD.example/B']));
  await d.waitForStatus((x) => x.state === 'degraded', 'degraded');
  const degraded = await runCli(['status', '--control-socket', ws.control]);
  t.equal(degraded.code, 1, 'degraded → 1');
  t.match(degraded.stdout, /: DEGRADED\n {2}degraded: 1 fragment\(s\) left out\n/);
  t.match(degraded.stdout, /invalid 20-bad\.toml\n {10}20-bad\.toml:3:\d+: /);
  const degradedJson = await runCli(['status', '--json', '--control-socket', ws.control]);
  t.equal(degradedJson.code, 1);
  t.match(JSON.parse(degradedJson.stdout), { state: 'degraded', degraded: [/left out/] });

  t.equal(await d.stop(), 0);
  t.notOk(existsSync(ws.control), 'the socket is removed on stop');
  t.notOk(existsSync(join(ws.state, 'daemon.json')), 'and the lock record');
  const gone = await runCli(['status', '--control-socket', ws.control]);
  t.equal(gone.code, 3, 'not running → 3');
  t.match(gone.stderr, /not running/);
  const goneJson = await runCli(['status', '--json', '--control-socket', ws.control]);
  t.equal(goneJson.code, 3);
  t.same(JSON.parse(goneJson.stdout), { state: 'not running', controlSocket: ws.control });
});

t.test('single instance; render refuses a managed output unless --force', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws);
  const ours = await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

  // Same state dir, another control socket: refused by the lock record.
  const second = await runCli(['run', ...runArgs({ ...ws, control: join(ws.dir, 'other.sock') })], { env: cleanEnv() });
  t.equal(second.code, 1, 'a second daemon with the same state dir exits 1');
  t.match(second.stdout + second.stderr, new RegExp(`another mirror-policyd \\(pid ${d.pid}\\) is running with state directory`));
  t.notOk(existsSync(join(ws.dir, 'other.sock')), 'it leaves no socket behind');

  // Same control socket, another state dir: refused by the live socket, which stays the first one's.
  const third = await runCli(['run', ...runArgs({ ...ws, state: join(ws.dir, 'state2') })], { env: cleanEnv() });
  t.equal(third.code, 1, 'a second daemon on the same control socket exits 1');
  t.match(third.stdout + third.stderr, /another mirror-policyd is running \(control socket .* answers\)/);
  const s = await d.status();
  t.equal(s.pid, d.pid, 'the first daemon still answers on its socket');
  t.equal(s.state, 'healthy');
  t.equal(readFileSync(ws.output, 'utf8'), ours, 'and its output is untouched');

  // render --output O --state-dir S: refused while the daemon manages O.
  const other = join(ws.dir, 'other.d');
  mkdirSync(other);
  writeFileSync(join(other, '10-z.toml'), fragment('quay.io/z', ['mirror-z.example/z']));
  const renderArgs = ['render', '--policy-dir', other, '--allow-unsafe-fragments', '--output', ws.output, '--state-dir', ws.state];
  const refused = await runCli(renderArgs);
  t.equal(refused.code, 1, 'render refuses');
  t.match(refused.stderr, new RegExp(`is managed by the running mirror-policyd \\(pid ${d.pid}\\).*--force`));
  t.equal(readFileSync(ws.output, 'utf8'), ours, 'nothing written');

  const forced = await runCli([...renderArgs, '--force']);
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stderr, /rendered .*registries\.conf: 1 fragment,/, 'render --force wrote');
  // The daemon still manages the file: its own render comes back.
  await d.waitForOutput((o) => o === ours, 'the daemon render restored');
  t.equal(await d.stop(), 0);

  // Once the daemon has stopped, render writes without --force.
  const after = await runCli(renderArgs);
  t.equal(after.code, 0, after.stderr);
  t.match(readFileSync(ws.output, 'utf8'), /mirror-z\.example\/z/);
});

t.test("render of an output the stopped daemon managed renders on the host's file it adopted, not on nothing", async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  mkdirSync(join(ws.dir, 'out'));
  writeFileSync(ws.output, 'unqualified-search-registries = ["registry.host.example"]\n');
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render, on the adopted file');
  t.equal(await d.stop(), 0);
  writeFileSync(join(ws.policy, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']));
  const r = await runCli(['render', '--policy-dir', ws.policy, '--allow-unsafe-fragments', '--output', ws.output, '--state-dir', ws.state]);
  t.equal(r.code, 0, r.stderr);
  const text = readFileSync(ws.output, 'utf8');
  t.match(text, /mirror-b\.example\/b/, 'rendered');
  t.match(text, /unqualified-search-registries = \["registry\.host\.example"\]/, "the host's own settings kept");
  t.match(text, /# base: base\.conf/, "on the daemon's adopted base");
});

t.test('daemons started at once with one state dir: exactly one runs', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const all = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => startDaemon(t, { ...ws, control: join(ws.dir, `c${i}.sock`) }, { notify: false })));
  await all[0]!.waitFor(() => all.filter((d) => d.hasExited()).length === all.length - 1, 'all but one to exit', 30_000); // six starts at once on a small machine
  const running = all.filter((d) => !d.hasExited());
  t.equal(running.length, 1, 'one survivor');
  for (const d of all.filter((x) => x.hasExited())) {
    t.equal(await d.exited, 1, 'the others exit 1');
    t.match(d.log(), /cannot start: another mirror-policyd \(pid \d+\) is running with state directory/);
  }
  const survivor = running[0]!;
  const s = await survivor.status();
  t.equal(s.pid, survivor.pid);
  t.equal((JSON.parse(readFileSync(join(ws.state, 'daemon.json'), 'utf8')) as { pid: number }).pid, survivor.pid, "the lock record is the survivor's");
  t.equal(await survivor.stop(), 0);
});

t.test('usage errors exit 2; an unusable state dir exits 1', async (t) => {
  const ws = workspace(t);
  const env = cleanEnv();
  const bad = await runCli(['run', ...runArgs(ws), '--no-such-flag'], { env });
  t.equal(bad.code, 2, 'unknown flag');
  t.match(bad.stderr, /--no-such-flag/);

  const flag = await runCli(['run', ...runArgs(ws), '--debounce-ms', 'soon'], { env });
  t.equal(flag.code, 2, 'invalid flag value');
  t.match(flag.stderr, /--debounce-ms: "debounce-ms" must be a whole number/);

  const config = join(ws.dir, 'config.toml');
  writeFileSync(config, '# settings\ndebounce-ms = "soon"\nafter-render = "systemctl reload crio"\n');
  const cfg = await runCli(['run', '--config', config, '--state-dir', ws.state, '--control-socket', ws.control], { env });
  t.equal(cfg.code, 2, 'invalid config file value');
  t.match(cfg.stderr, new RegExp(`^${config}:2:\\d+: "debounce-ms" must be a whole number`, 'm'), 'FILE:LINE in the message');
  t.match(cfg.stderr, new RegExp(`^${config}:3:\\d+: "after-render" must be an array of commands`, 'm'), 'every problem');

  writeFileSync(config, 'policy-dir = "/x"\nno-such-key = 1\n');
  const unknown = await runCli(['run', '--config', config, '--state-dir', ws.state, '--control-socket', ws.control], { env });
  t.equal(unknown.code, 2, 'unknown config key');
  t.match(unknown.stderr, new RegExp(`^${config}:2:\\d+: .*no-such-key`, 'm'));

  const missing = await runCli(['run', '--config', join(ws.dir, 'missing.toml'), ...runArgs(ws).slice(2)], { env });
  t.equal(missing.code, 2, 'a named config file that does not exist');
  t.match(missing.stderr, /missing\.toml: cannot read config file/);

  writeFileSync(config, Buffer.from('# \xc4nderung\n', 'latin1'));
  const latin1 = await runCli(['run', '--config', config, '--state-dir', ws.state, '--control-socket', ws.control], { env });
  t.equal(latin1.code, 2, 'a config file that is not UTF-8: invalid configuration, not a failed system call');
  t.match(latin1.stderr, new RegExp(`${config}:1: invalid UTF-8`));
  t.notOk(existsSync(ws.state), 'no usage error touched the state dir');

  const file = join(ws.dir, 'a-file');
  writeFileSync(file, 'not a directory\n');
  const unusable = await runCli(['run', ...runArgs({ ...ws, state: join(file, 'state') })], { env });
  t.equal(unusable.code, 1, 'state dir under a regular file');
  t.match(unusable.stdout + unusable.stderr, /cannot start: state directory .* is not usable/);
  t.notOk(existsSync(ws.control), 'no control socket left behind');
  t.notOk(existsSync(ws.output), 'nothing rendered');
});

t.test(
  'a config file the daemon may not read: exit 1 (a failed system call, not a usage error), one line naming it',
  { skip: process.getuid?.() !== 0 ? 'needs root to run the CLI as another user' : false },
  async (t) => {
    const ws = workspace(t);
    chmodSync(ws.dir, 0o755);
    const config = join(ws.dir, 'config.toml');
    writeFileSync(config, 'debounce-ms = 10\n', { mode: 0o600 }); // root's, unreadable by nobody
    const r = await runAs(NOBODY, ['run', '--config', config, ...runArgs(ws).slice(2)]);
    t.equal(r.code, 1, r.stderr);
    t.match(r.stderr, new RegExp(`^${config}: cannot read config file: EACCES: permission denied, .* \\(run as root\\?\\)$`, 'm'));
    t.notMatch(r.stderr, /Try 'mirror-policyd/, 'not presented as a usage error');
    t.notOk(existsSync(ws.state), 'the state dir is not touched');
  },
);

t.test('a start-up lock left by a daemon killed inside its claim is taken over at once: its holder is gone', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  // A pid that is surely not running: a child that has exited (and been reaped).
  const { spawnSync } = await import('node:child_process');
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  mkdirSync(join(ws.state, '.claim.lock'), { recursive: true, mode: 0o700 });
  writeFileSync(join(ws.state, '.claim.lock', 'pid'), `${gone}\n`);
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');
  await d.waitForLog(new RegExp(`removing a stale start-up lock .*\\.claim\\.lock of pid ${gone} \\(not running\\)`)); // a log line may land a moment after the effect it reports
  t.match(d.log(), new RegExp(`removing a stale start-up lock .*\\.claim\\.lock of pid ${gone} \\(not running\\)`), 'says whose lock it took over');
  t.notOk(existsSync(join(ws.state, '.claim.lock')), 'and leaves no lock behind');
});

t.test('temp files that a killed run left beside the output, its registries.d drop-in and in the state dir are removed at start', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const { spawnSync } = await import('node:child_process');
  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  mkdirSync(join(ws.output, '..'), { recursive: true });
  mkdirSync(join(ws.state, 'last-good'), { recursive: true, mode: 0o700 });
  const besideOutput = join(ws.output, '..', `.registries.conf.${gone}.deadbeef.tmp`);
  const inState = join(ws.state, 'last-good', `.10-a.toml.${gone}.deadbeef.tmp`);
  const someoneElses = join(ws.output, '..', `.other.conf.${gone}.deadbeef.tmp`);
  mkdirSync(join(ws.output, '..', 'registries.d'));
  const inRegistriesD = join(ws.output, '..', 'registries.d', `.mirror-policyd-local-mirror.yaml.${gone}.deadbeef.tmp`);
  const othersInRegistriesD = join(ws.output, '..', 'registries.d', `.default.yaml.${gone}.deadbeef.tmp`);
  for (const f of [besideOutput, inState, someoneElses, inRegistriesD, othersInRegistriesD]) writeFileSync(f, 'half a write');
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');
  t.notOk(existsSync(besideOutput), 'the temp beside the output is gone');
  t.notOk(existsSync(inState), 'the temp in the state dir is gone');
  t.ok(existsSync(someoneElses), 'a temp of another file beside the output is not ours to remove');
  t.notOk(existsSync(inRegistriesD), "the temp of the local mirror's registries.d drop-in is gone");
  t.ok(existsSync(othersInRegistriesD), 'a temp of another registries.d file stays');
  await d.waitForLog(/removed 1 temp file\(s\) left by an interrupted write in .*out: \.registries\.conf\./); // a log line may land a moment after the effect it reports
  t.match(d.log(), /removed 1 temp file\(s\) left by an interrupted write in .*out: \.registries\.conf\./);
});

t.test('a base that does not parse: "not rendered" logged once at error, each rescan that fails again at debug; rendered once it is fixed', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const base = join(ws.dir, 'base.conf');
  writeFileSync(base, '[[registry]]\nlocation = "x\n');
  const d = await startDaemon(t, ws, { args: ['--base', base, '--rescan-interval-ms', '200', '--log-level', 'debug'] });
  await d.waitFor(() => (d.stdout().match(/^DEBUG: still not rendered: /gm) ?? []).length >= 2, 'two rescans that fail again');
  const errors = d.stdout().match(/^ERROR: not rendered: .*/gm) ?? [];
  t.equal(errors.length, 1, 'one error line');
  t.match(errors[0], /base\.conf:2:\d+: invalid TOML/);
  writeFileSync(base, '[[registry]]\nlocation = "x.example"\n');
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'rendered once the base parses');
  await d.waitForLog(/^INFO: rendered /m); // the line may land a moment after the file
  t.equal(await d.stop(), 0);
});

t.test('a --base someone else could have written is refused as a fragment would be: degraded, the output left as it was, rendered once fixed', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const base = join(ws.dir, 'base.conf');
  writeFileSync(base, 'unqualified-search-registries = ["from-base.example"]\n');
  chmodSync(base, 0o666);
  // Without --allow-unsafe-fragments (the test's files are root's, or the running user's, and not writable by others).
  const argv = runArgs(ws).filter((a) => a !== '--allow-unsafe-fragments');
  const d = await startDaemon(t, ws, { argv: [...argv, '--base', base, '--rescan-interval-ms', '200'] });
  await d.waitForLog(/cannot read the base: .*base\.conf: not read: writable by group and others \(mode 0666\).*fix: chmod go-w /);
  t.equal((await d.status()).state, 'degraded');
  t.notOk(existsSync(ws.output), 'nothing written from it');
  chmodSync(base, 0o644);
  await d.waitForOutput((o) => o.includes('from-base.example') && o.includes('mirror-a.example/a'), 'rendered once the base is trusted');
  t.equal(await d.stop(), 0);
});

t.test('a --base that is not UTF-8 is a render problem at its line (degraded, output left as it was), as containers/image refuses it', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const base = join(ws.dir, 'base.conf');
  writeFileSync(base, Buffer.concat([Buffer.from('# Jos'), Buffer.from([0xf3]), Buffer.from('\nunqualified-search-registries = ["from-base.example"]\n')]));
  const d = await startDaemon(t, ws, { args: ['--base', base, '--rescan-interval-ms', '200'] });
  await d.waitForLog(/cannot read the base: .*base\.conf:1: invalid UTF-8/);
  t.notOk(existsSync(ws.output), 'nothing written');
  writeFileSync(base, '# José\nunqualified-search-registries = ["from-base.example"]\n');
  await d.waitForOutput((o) => o.includes('from-base.example'), 'rendered once the base is UTF-8');
  t.equal(await d.stop(), 0);
});
