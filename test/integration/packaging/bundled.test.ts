/**
 * The self-contained package (issue 8): `packaging/deb/build.sh --bundled` builds
 * mirror-policyd-bundled_VERSION-1_ARCH.deb with its own Node.js 24 runtime (from the npm
 * registry, packaging/node-runtime.sh) under /usr/lib/mirror-policyd/node and the addon built
 * for that runtime's ABI, whatever `node` runs this test (CI runs the suite on Node 20 and on
 * Node 24). Then: its control data, lintian without errors, its file list, and the extracted
 * program run for real — `--version`, `check`, `render`, the daemon up to READY=1 — in a
 * private mount namespace where /usr/lib/mirror-policyd is the extracted tree and there is no
 * `node` in PATH at all (root only: skipped otherwise, saying so).
 *
 * Also the launcher's refusals (a Node.js older than 20.19; another ABI), and the .rpm
 * (rpmbuild --with bundled) from the same staged tree.
 *
 * Time here (2 shared cores): fetching Node 24 (npm's cache after the first time) ≈5 s,
 * staging ≈15-20 s, dpkg-deb at gzip level 1 ≈5 s, lintian ≈12 s (the 108 MB binary),
 * rpmbuild ≈3 s, the rest ≈5 s.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startNotifyListener } from '../../helpers/notify-listener.js';
import { debContents, PACKAGES_TESTED_ELSEWHERE, policyFixture, run, STAGE_ENV, type Ran } from '../../helpers/packages.js';
import { REPO_ROOT } from '../../helpers/repo.js';
import { untracked } from '../../helpers/untracked.js';
import { orAfter } from '../../helpers/or-after.js';

t.setTimeout(300_000);

const ROOT = REPO_ROOT;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const IS_ROOT = process.getuid?.() === 0;
const NODE_MAJOR = '24';
const BUNDLED_NODE = '/usr/lib/mirror-policyd/node/bin/node';

const work = mkdtempSync(join('/tmp', 'mpd-bundled-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const outDir = join(work, 'out');
const arch = run('dpkg', ['--print-architecture']).stdout.trim();

// What `npm run package:deb -- --bundled` does (build.sh fetches the runtime and stages with
// MPD_NODE), done once here and shared by the .deb and the .rpm as packages.test.ts shares
// its staging. dpkg-deb with gzip at level 1 (the default xz 6 takes ~2 min of CPU for the
// runtime, xz 1 ~10 s, gzip 1 ~5 s; only the compression differs, and the default's is
// packages.test.ts's).
const ENV_BUILD = { ...process.env, OUT_DIR: outDir, LC_ALL: 'C' };
const runtimeDir = join(work, 'node24');
const stageDir = join(work, 'stage');
const SKIP_ALL = PACKAGES_TESTED_ELSEWHERE;
const fetched = SKIP_ALL
  ? { status: null, stdout: '', stderr: SKIP_ALL }
  : run('bash', [join(ROOT, 'packaging/node-runtime.sh'), NODE_MAJOR, runtimeDir], { timeout: 180_000 });
const staged =
  fetched.status === 0
    ? run('bash', [join(ROOT, 'packaging/stage.sh'), stageDir], { env: { ...STAGE_ENV, MPD_NODE: runtimeDir }, timeout: 240_000 })
    : undefined;
const build =
  staged?.status === 0
    ? run('bash', [join(ROOT, 'packaging/deb/build.sh'), '--bundled'], {
        env: { ...ENV_BUILD, MPD_STAGE_DIR: stageDir, MPD_DEB_COMPRESSION: 'gzip', MPD_DEB_LEVEL: '1' },
        timeout: 240_000,
      })
    : { status: null, stdout: '', stderr: `node-runtime.sh: ${fetched.stderr.slice(-2000)}\nstage.sh: ${staged?.stderr.slice(-2000) ?? ''}` };
const deb = build.status === 0 ? build.stdout.trim() : '';

t.test('deb/build.sh --bundled builds mirror-policyd-bundled', { skip: SKIP_ALL }, async (t) => {
  t.equal(fetched.status, 0, `node-runtime.sh ${NODE_MAJOR} fetches the runtime from the npm registry`, { stderr: fetched.stderr.slice(-2000) });
  t.equal(staged?.status, 0, 'stage.sh with MPD_NODE succeeds', { stderr: staged?.stderr.slice(-3000) });
  t.equal(build.status, 0, 'build.sh --bundled succeeds', { stderr: build.stderr.slice(-3000) });
  t.equal(deb, join(outDir, `mirror-policyd-bundled_${VERSION}-1_${arch}.deb`), 'prints the path of mirror-policyd-bundled_VERSION-1_ARCH.deb');
  t.ok(deb && existsSync(deb), 'the .deb exists');
});

const control = (field: string): string => run('dpkg-deb', ['--field', deb, field]).stdout.trim();

t.test('control data: no nodejs, one of the two packages installed', { skip: SKIP_ALL || (!deb && 'no .deb was built') }, async (t) => {
  t.equal(control('Package'), 'mirror-policyd-bundled');
  t.equal(control('Version'), `${VERSION}-1`);
  t.equal(control('Architecture'), arch);
  const depends = control('Depends');
  t.notMatch(depends, /nodejs/, 'no Depends: nodejs');
  t.notMatch(depends, /procps/, 'no procps (ExecReload= needs no /bin/kill)');
  t.match(depends, /\blibc6 \(>= [^)]+\)/, 'libc6 (dpkg-shlibdeps of the runtime and the addon)');
  t.match(depends, /\blibstdc\+\+6 \(>= [^)]+\)/, 'libstdc++6');
  t.equal(control('Conflicts'), 'mirror-policyd', 'Conflicts: mirror-policyd');
  t.equal(control('Replaces'), 'mirror-policyd', 'Replaces: mirror-policyd');
  t.equal(control('Provides'), `mirror-policyd (= ${VERSION}-1)`, 'Provides: mirror-policyd (= VERSION)');
  t.match(control('Description'), new RegExp(`own Node\\.js runtime \\(v${NODE_MAJOR}\\.`), 'the description names the runtime');
  for (const script of ['postinst', 'prerm', 'postrm']) {
    t.equal(run('dpkg-deb', ['--info', deb, script]).stdout, readFileSync(join(ROOT, 'packaging/deb', script), 'utf8'), `${script} is packaging/deb/${script}`);
  }
});

t.test('lintian: no errors, no warnings; the overrides are the documented ones', { skip: SKIP_ALL || (!deb && 'no .deb was built') }, async (t) => {
  // Not --show-overrides: lintian then exits 2 for an overridden error. binaries/spelling is
  // left out: it tags info only (spelling-error-in-binary), which this test does not read, and
  // spell-checking the strings of the 108 MB runtime was a third of lintian's CPU.
  const r = run('lintian', ['--dont-check-part', 'binaries/spelling', '--tag-display-limit', '0', deb], { timeout: 180_000 });
  t.notOk(r.error, `lintian runs (apt-get install lintian): ${r.error?.message ?? ''}`);
  const lines = r.stdout.split('\n');
  t.same(
    lines.filter((l) => l.startsWith('E: ')),
    [],
    'no E: tags',
    { warnings: lines.filter((l) => l.startsWith('W: ')) },
  );
  t.same(
    lines.filter((l) => l.startsWith('W: ')),
    [],
    'no W: tags',
  );
  t.equal(r.status, 0, 'lintian exits 0', { stderr: r.stderr });
});

/** `dpkg-deb -c` as path -> "mode owner" (directories without the trailing /). */

t.test('file list: the runtime is bin/node and its LICENSE only', { skip: SKIP_ALL || (!deb && 'no .deb was built') }, async (t) => {
  const files = debContents(deb);
  const expect: Record<string, string> = {
    '/usr/bin/mirror-policyd': '-rwxr-xr-x root/root',
    [BUNDLED_NODE]: '-rwxr-xr-x root/root',
    '/usr/lib/mirror-policyd/node/LICENSE': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/launcher.js': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/node-abi.json': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/dist/cli/main.js': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/node_modules/unix-dgram/build/Release/unix_dgram.node': '-rw-r--r-- root/root',
    '/usr/lib/systemd/system/mirror-policyd.service': '-rw-r--r-- root/root',
    '/etc/mirror-policyd/config.toml': '-rw-r--r-- root/root',
    '/usr/share/doc/mirror-policyd-bundled/copyright': '-rw-r--r-- root/root',
    '/usr/share/doc/mirror-policyd-bundled/changelog.Debian.gz': '-rw-r--r-- root/root',
    '/usr/share/lintian/overrides/mirror-policyd-bundled': '-rw-r--r-- root/root',
  };
  for (const [path, modeOwner] of Object.entries(expect)) t.equal(files.get(path), modeOwner, path);
  const runtime = [...files.keys()].filter((p) => p.startsWith('/usr/lib/mirror-policyd/node/')).sort();
  t.same(runtime, ['/usr/lib/mirror-policyd/node/LICENSE', '/usr/lib/mirror-policyd/node/bin', BUNDLED_NODE], 'no headers, npm or man pages of the runtime');
  t.notOk(files.has('/usr/share/doc/mirror-policyd/copyright'), 'its own doc directory');
  t.same(
    [...files.keys()].filter((p) => p.endsWith('.ts') || p.endsWith('.map')),
    [],
    'no TypeScript sources or maps',
  );
});

const extracted = join(work, 'root');
const extractedOk = deb !== '' && run('dpkg-deb', ['-x', deb, extracted]).status === 0;

t.test(
  'extracted: the runtime and the addon are of one ABI; copyright, overrides',
  { skip: SKIP_ALL || (!extractedOk && 'the .deb was not extracted') },
  async (t) => {
    const node = join(extracted, BUNDLED_NODE.slice(1));
    const v = run(node, ['-p', 'JSON.stringify(process.versions)']);
    t.equal(v.status, 0, 'the bundled node runs', { stderr: v.stderr });
    const versions = JSON.parse(v.stdout || '{}') as Record<string, string>;
    t.equal(versions.node?.split('.')[0], NODE_MAJOR, `Node ${NODE_MAJOR}`);
    const abi = JSON.parse(readFileSync(join(extracted, 'usr/lib/mirror-policyd/node-abi.json'), 'utf8')) as Record<string, string>;
    t.equal(abi.node, versions.node, 'node-abi.json: the bundled runtime');
    t.equal(abi.modules, versions.modules, "node-abi.json: the bundled runtime's ABI");
    const addon = run(node, ['-e', 'require(process.argv[1])', join(extracted, 'usr/lib/mirror-policyd/node_modules/unix-dgram')]);
    t.equal(addon.status, 0, 'the addon loads in the bundled runtime', { stderr: addon.stderr });
    t.ok(statSync(node).size < statSync(join(runtimeDir, 'bin/node')).size - 5_000_000, 'stripped (the release binary carries its debug symbols)');
    const copyright = readFileSync(join(extracted, 'usr/share/doc/mirror-policyd-bundled/copyright'), 'utf8');
    t.match(copyright, /^Files: usr\/lib\/mirror-policyd\/node\/\*$/m, 'debian/copyright: a paragraph for the runtime');
    t.match(readFileSync(join(extracted, 'usr/lib/mirror-policyd/node/LICENSE'), 'utf8'), /Node\.js is licensed/, "the runtime's LICENSE");
    // Each lintian override has its reason, a comment right above it.
    const rules = readFileSync(join(extracted, 'usr/share/lintian/overrides/mirror-policyd-bundled'), 'utf8').split('\n');
    const tags = rules.filter((l) => l.startsWith('mirror-policyd-bundled: ')).map((l) => l.split(' ')[1]);
    t.same(tags.sort(), ['embedded-library', 'hardening-no-pie', 'initial-upload-closes-no-bugs', 'script-not-executable'], 'lintian overrides: only these');
    rules.forEach((l, i) => {
      if (l.startsWith('mirror-policyd-bundled: ')) t.ok(rules[i - 1]?.startsWith('#'), `override ${l.split(' ')[1]}: its reason above it`);
    });
  },
);

// ---- the extracted program, in place, without any system node (root only) ----

const NS_SKIP = SKIP_ALL
  ? SKIP_ALL
  : !IS_ROOT
    ? 'needs root: unshare -m and mount put the extracted tree in place and hide the system node'
    : !extractedOk
      ? 'the .deb was not extracted'
      : false;
const EMPTY = join(work, 'no-node');
writeFileSync(EMPTY, '', { mode: 0o644 });
const BARE_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * argv run in a private mount namespace where /usr/lib/mirror-policyd is `root`'s (a bind
 * mount, or a read-only overlay of the extracted usr/lib when this host has no such
 * directory), every `node`/`nodejs` in the PATH directories is covered by an empty,
 * non-executable file, and PATH is /usr/sbin:/usr/bin:/sbin:/bin. The script checks that
 * `command -v node` finds nothing before it runs argv.
 */
function inPlace(root: string, argv: string[], hideNode = true): [string, string[], NodeJS.ProcessEnv] {
  const script = [
    'set -e',
    'if [ -d /usr/lib/mirror-policyd ]; then mount --bind "$MPD_ROOT/usr/lib/mirror-policyd" /usr/lib/mirror-policyd',
    'else mount -t overlay mpd-test -o "lowerdir=$MPD_ROOT/usr/lib:/usr/lib" /usr/lib; fi',
    ...(hideNode
      ? [
          'for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do',
          '  [ -L "$d" ] && continue',
          '  for n in node nodejs; do if [ -e "$d/$n" ]; then mount --bind "$MPD_EMPTY" "$d/$n"; fi; done',
          'done',
          `export PATH=${BARE_PATH}`,
          'if command -v node >/dev/null 2>&1; then echo "a system node is still in PATH: $(command -v node)" >&2; exit 99; fi',
        ]
      : []),
    'exec "$@"',
  ].join('\n');
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv], { ...process.env, MPD_ROOT: root, MPD_EMPTY: EMPTY }];
}

function runInPlace(root: string, argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Ran {
  const [cmd, args, e] = inPlace(root, argv);
  return run(cmd, args, { env: { ...e, ...extraEnv }, timeout: 60_000 });
}

const launcher = join(extracted, 'usr/bin/mirror-policyd');

t.test('extracted, no system node: --version names the bundled Node 24', { skip: NS_SKIP }, async (t) => {
  const none = runInPlace(extracted, ['sh', '-c', 'command -v node nodejs; echo "PATH=$PATH"']);
  t.equal(none.status, 0, 'the namespace is set up', { stderr: none.stderr });
  t.equal(none.stdout.trim(), `PATH=${BARE_PATH}`, 'no node, no nodejs in PATH');
  const r = runInPlace(extracted, [launcher, '--version']);
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  t.match(
    r.stdout.trim(),
    new RegExp(`^mirror-policyd ${VERSION.replace(/\./g, '\\.')} \\(node ${NODE_MAJOR}\\.\\d+\\.\\d+, ABI \\d+, ${BUNDLED_NODE.replace(/\./g, '\\.')}\\)$`),
    'mirror-policyd VERSION (node 24.x, ABI N, /usr/lib/mirror-policyd/node/bin/node)',
  );
});

t.test('extracted, with a system node in PATH: the bundled runtime is still preferred', { skip: NS_SKIP }, async (t) => {
  const [cmd, args, e] = inPlace(extracted, [launcher, '--version'], false);
  const r = run(cmd, args, { env: { ...e, PATH: `${dirname(process.execPath)}:${e.PATH ?? ''}` }, timeout: 60_000 });
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  t.match(
    r.stdout,
    new RegExp(`\\(node ${NODE_MAJOR}\\.\\d+\\.\\d+, ABI \\d+, ${BUNDLED_NODE.replace(/\./g, '\\.')}\\)$`, 'm'),
    `names ${BUNDLED_NODE}, not ${process.execPath}`,
  );
});

t.test('extracted, no system node: check', { skip: NS_SKIP }, async (t) => {
  const f = policyFixture(join(work, 'check'));
  const good = runInPlace(extracted, [launcher, 'check', '--policy-dir', f.policy, '--base', f.base]);
  t.equal(good.status, 0, 'valid fragments: exit 0', { stderr: good.stderr });
  writeFileSync(join(f.policy, '30-bad.toml'), '[[mirror-set]]\nsource = "docker.io"\nmirrors = 42\n', { mode: 0o644 });
  const bad = runInPlace(extracted, [launcher, 'check', '--policy-dir', f.policy, '--base', f.base]);
  t.equal(bad.status, 1, 'an invalid fragment: exit 1');
  t.match(bad.stderr, /30-bad\.toml:\d+:\d+: /, 'the problem is located as FILE:LINE:COL');
});

t.test('extracted, no system node: render', { skip: NS_SKIP }, async (t) => {
  const f = policyFixture(join(work, 'render'));
  const output = join(f.out, 'registries.conf');
  const r = runInPlace(extracted, [launcher, 'render', '--policy-dir', f.policy, '--base', f.base, '--output', output, '--state-dir', f.state]);
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  const text = existsSync(output) ? readFileSync(output, 'utf8') : '';
  t.ok(text.startsWith('# Generated by mirror-policyd'), 'our header');
  t.match(text, /location = "mirror\.example\/dockerhub"/, 'the TOML fragment is rendered');
  t.match(text, /location = "mirror\.example\/openshift"/, 'the ICSP is rendered');
  t.equal(existsSync(output) && statSync(output).mode & 0o777, 0o644, 'world-readable');
});

t.test('extracted, no system node: the daemon reaches READY=1 (the addon in the bundled runtime)', { skip: NS_SKIP }, async (t) => {
  const f = policyFixture(join(work, 'daemon'));
  const output = join(f.out, 'registries.conf');
  const config = join(work, 'daemon', 'config.toml');
  writeFileSync(config, '# empty\n');
  const listener = await startNotifyListener();
  t.teardown(() => listener.close());
  const [cmd, args, e] = inPlace(extracted, [
    'setpriv',
    '--no-new-privs',
    '--bounding-set=-all',
    '--inh-caps=-all',
    launcher,
    'run',
    '--config',
    config,
    '--policy-dir',
    f.policy,
    '--base',
    f.base,
    '--output',
    output,
    '--state-dir',
    f.state,
    '--control-socket',
    join(work, 'daemon', 'ctl.sock'),
    '--probe-interval-ms',
    '0',
  ]);
  const child = spawn(...untracked(cmd, args), { env: { ...e, NOTIFY_SOCKET: listener.path }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  try {
    await listener.waitFor((m) => m.split('\n').includes('READY=1'), 30_000);
    t.pass('READY=1 through the bundled unix-dgram addon');
  } catch (err) {
    t.fail(`no READY=1: ${(err as Error).message}`, { log });
  }
  t.ok(existsSync(output) && readFileSync(output, 'utf8').startsWith('# Generated by mirror-policyd'), 'rendered before READY');
  child.kill('SIGTERM');
  const code = await orAfter(exited, 20_000, 'timeout');
  t.equal(code, 0, 'SIGTERM: exit 0', { log });
});

// ---- refusals of the launcher (launcher.js as packaged) ----

t.test('a Node.js older than 20.19 is refused, saying what is needed', { skip: SKIP_ALL || (!extractedOk && 'the .deb was not extracted') }, async (t) => {
  // launcher.js is run with this machine's node reporting itself as Debian 12's 18.19.0 (an
  // --import preload), as the system node a plain package would find: the version check comes first.
  const js = join(extracted, 'usr/lib/mirror-policyd/launcher.js');
  const pretend = `--import=data:text/javascript,Object.defineProperty(process.versions,"node",{value:"18.19.0"})`;
  const r = run(process.execPath, [pretend, js, '--version']);
  t.equal(r.status, 1, 'exit 1', { stderr: r.stderr });
  t.match(
    r.stderr,
    new RegExp(`^mirror-policyd: ${process.execPath.replace(/[./]/g, '\\$&')} is Node\\.js 18\\.19\\.0, but mirror-policyd needs Node\\.js >= 20\\.19`),
    'names the runtime and the minimum',
  );
  t.match(r.stderr, /mirror-policyd-bundled package/, 'points to the self-contained package');
  t.equal(r.stdout, '', 'runs nothing');
});

t.test('a Node.js of another ABI than the bundled build is refused', { skip: SKIP_ALL || (!extractedOk && 'the .deb was not extracted') }, async (t) => {
  // This machine's node (20, or 24 of another build in CI's second run: then the same ABI,
  // and the check passes) against the bundled tree's node-abi.json.
  const js = join(extracted, 'usr/lib/mirror-policyd/launcher.js');
  const abi = JSON.parse(readFileSync(join(extracted, 'usr/lib/mirror-policyd/node-abi.json'), 'utf8')) as Record<string, string>;
  const r = run(process.execPath, [js, '--version']);
  if (abi.modules === process.versions.modules) {
    t.equal(r.status, 0, `same ABI ${abi.modules}: runs`, { stderr: r.stderr });
    return;
  }
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, new RegExp(`built for Node\\.js ${abi.node!.replace(/\./g, '\\.')} \\(ABI ${abi.modules}, `), 'says what it was built for');
  t.match(r.stderr, new RegExp(`is Node\\.js ${process.versions.node.replace(/\./g, '\\.')} \\(ABI ${process.versions.modules}, `), 'and what it found');
  t.equal(r.stdout, '');
});

t.test('a tree staged with a runtime is not packaged as the plain package', { skip: SKIP_ALL || (staged?.status !== 0 && 'staging failed') }, async (t) => {
  const r = run('bash', [join(ROOT, 'packaging/deb/build.sh')], { env: { ...ENV_BUILD, OUT_DIR: join(work, 'wrong'), MPD_STAGE_DIR: stageDir } });
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, /carries a Node\.js runtime: build it with --bundled/);
});

// ---- the RPM: rpmbuild --with bundled (gzip level 1 payload: 3 s instead of 13 s) ----

const rpmBuild =
  staged?.status === 0
    ? run('bash', [join(ROOT, 'packaging/rpm/build.sh'), '--bundled'], {
        env: { ...ENV_BUILD, MPD_STAGE_DIR: stageDir, MPD_RPM_PAYLOAD: 'w1.gzdio' },
        timeout: 240_000,
      })
    : undefined;
const rpm = rpmBuild?.status === 0 ? rpmBuild.stdout.trim() : '';

t.test(
  'rpm/build.sh --bundled (rpmbuild --with bundled) builds mirror-policyd-bundled',
  { skip: SKIP_ALL || (staged?.status !== 0 && 'staging failed') },
  async (t) => {
    t.notOk(rpmBuild?.error, `rpmbuild runs (apt-get install rpm): ${rpmBuild?.error?.message ?? ''}`);
    t.equal(rpmBuild?.status, 0, 'rpm/build.sh --bundled succeeds', { stderr: rpmBuild?.stderr.slice(-3000) });
    t.match(rpm, new RegExp(`/mirror-policyd-bundled-${VERSION.replace(/\./g, '\\.')}-1\\.[a-z0-9_]+\\.rpm$`));
  },
);

t.test('rpm: the runtime inside, no nodejs, provides and conflicts with mirror-policyd', { skip: SKIP_ALL || (!rpm && 'no .rpm was built') }, async (t) => {
  const list = run('rpm', ['-qlp', rpm]).stdout.trim().split('\n');
  for (const path of [
    BUNDLED_NODE,
    '/usr/lib/mirror-policyd/node/LICENSE',
    '/usr/lib/mirror-policyd/launcher.js',
    '/usr/lib/mirror-policyd/node_modules/unix-dgram/build/Release/unix_dgram.node',
    '/usr/bin/mirror-policyd',
  ]) {
    t.ok(list.includes(path), path);
  }
  if (deb) {
    const debLib = [...debContents(deb).keys()].filter((p) => p.startsWith('/usr/lib/mirror-policyd')).sort();
    t.same(list.filter((p) => p.startsWith('/usr/lib/mirror-policyd')).sort(), debLib, '/usr/lib/mirror-policyd as in the .deb');
  }
  const requires = run('rpm', ['-qp', '--requires', rpm]).stdout;
  t.notMatch(requires, /nodejs/, 'no Requires: nodejs');
  t.match(requires, /^libstdc\+\+\.so\.6/m, "the runtime's libraries");
  t.match(
    run('rpm', ['-qp', '--provides', rpm]).stdout,
    new RegExp(`^mirror-policyd = ${VERSION.replace(/\./g, '\\.')}-1$`, 'm'),
    'Provides: mirror-policyd = VERSION',
  );
  t.equal(run('rpm', ['-qp', '--conflicts', rpm]).stdout.trim(), 'mirror-policyd', 'Conflicts: mirror-policyd');
  t.match(run('rpm', ['-qp', '--scripts', rpm]).stdout, /\/usr\/bin\/mirror-policyd restore/, 'the same scriptlets');
});
