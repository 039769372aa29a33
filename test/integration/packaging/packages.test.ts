/**
 * The packages (issue 6): one staged tree (packaging/stage.sh: the program as the pretest
 * built it, STAGE_ENV, with its production dependencies) is packaged both ways, then
 *  - the .deb: its control data, `lintian` without errors, its file list, and the extracted
 *    program run for real (`--version`, `check`, `render`, the daemon up to READY=1 with no
 *    capabilities), with the extracted /usr/lib tree put in place in a private mount
 *    namespace, since the launcher runs /usr/lib/mirror-policyd/launcher.js by its absolute
 *    path (root only: skipped otherwise, saying so);
 *  - the launcher's refusals: no `node`, a Node.js of another ABI;
 *  - the .rpm (rpmbuild from Debian's `rpm` package): its file list, requirements, scripts.
 *
 * Needs (CI installs them): dpkg-dev (dpkg-shlibdeps), lintian, rpm, util-linux (unshare,
 * setpriv), g++/make/python3 for the addon, and the npm registry or its cache.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { startNotifyListener } from '../../helpers/notify-listener.js';
import { debContents, PACKAGES_TESTED_ELSEWHERE, policyFixture, run, STAGE_ENV, type Ran } from '../../helpers/packages.js';
import { REPO_ROOT } from '../../helpers/repo.js';
import { untracked } from '../../helpers/untracked.js';
import { orAfter } from '../../helpers/or-after.js';

// Building takes ~20 s here (npm ci --omit=dev, the addon, tsc); lintian ~7 s.
t.setTimeout(300_000);

const ROOT = REPO_ROOT;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const IS_ROOT = process.getuid?.() === 0;

const work = mkdtempSync(join('/tmp', 'mpd-pkg-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
const stage = join(work, 'stage');
const outDir = join(work, 'out');
const env = { ...process.env, OUT_DIR: outDir, MPD_STAGE_DIR: stage, LC_ALL: 'C' };

/** A test's skip: the whole file's (PACKAGES_TESTED_ELSEWHERE), else `why` unless `ok`. */
const unless = (ok: boolean, why: string): string | false => PACKAGES_TESTED_ELSEWHERE || (!ok && why);

const staged: Ran = PACKAGES_TESTED_ELSEWHERE
  ? { status: null, stdout: '', stderr: PACKAGES_TESTED_ELSEWHERE }
  : run('bash', [join(ROOT, 'packaging/stage.sh'), stage], { env: STAGE_ENV, timeout: 240_000 });
const debBuild = staged.status === 0 ? run('bash', [join(ROOT, 'packaging/deb/build.sh')], { env, timeout: 120_000 }) : undefined;
const deb = debBuild?.status === 0 ? debBuild.stdout.trim() : '';
const arch = run('dpkg', ['--print-architecture']).stdout.trim();

t.test('packaging/stage.sh and packaging/deb/build.sh build the .deb', { skip: PACKAGES_TESTED_ELSEWHERE }, async (t) => {
  t.equal(staged.status, 0, 'stage.sh succeeds', { stderr: staged.stderr.slice(-3000) });
  t.equal(debBuild?.status, 0, 'deb/build.sh succeeds', { stderr: debBuild?.stderr.slice(-3000) });
  t.equal(deb, join(outDir, `mirror-policyd_${VERSION}-1_${arch}.deb`), 'prints the path of mirror-policyd_VERSION-1_ARCH.deb');
  t.ok(deb && existsSync(deb), 'the .deb exists');
});

const control = (field: string): string => {
  const r = run('dpkg-deb', ['--field', deb, field]);
  return r.stdout.trim();
};

t.test('control data', { skip: unless(deb !== '', 'no .deb was built') }, async (t) => {
  t.equal(control('Package'), 'mirror-policyd');
  t.equal(control('Version'), `${VERSION}-1`);
  t.equal(control('Architecture'), arch, 'Architecture: dpkg --print-architecture (a native addon inside)');
  const depends = control('Depends');
  t.match(depends, /(^|, )nodejs \(>= 20\.19\)(,|$)/, 'Depends: nodejs (>= 20.19)');
  t.match(depends, /\blibc6 \(>= [^)]+\)/, "the addon's libc6 dependency (dpkg-shlibdeps)");
  t.notMatch(depends, /procps/, "no procps: the unit's ExecReload= runs mirror-policyd reload, not /bin/kill");
  t.equal(control('Conflicts'), 'mirror-policyd-bundled', 'Conflicts: mirror-policyd-bundled (the self-contained package)');
  t.equal(control('Replaces'), 'mirror-policyd-bundled', 'Replaces: mirror-policyd-bundled (dpkg -i switches back from it)');
  const info = run('dpkg-deb', ['--info', deb, 'conffiles']);
  t.same(info.stdout.trim().split('\n').sort(), ['/etc/mirror-policy.d/README', '/etc/mirror-policyd/config.toml'], 'conffiles');
  for (const script of ['postinst', 'prerm', 'postrm']) {
    const s = run('dpkg-deb', ['--info', deb, script]);
    t.equal(s.stdout, readFileSync(join(ROOT, 'packaging/deb', script), 'utf8'), `${script} is packaging/deb/${script}`);
  }
});

t.test('lintian: no errors', { skip: unless(deb !== '', 'no .deb was built') }, async (t) => {
  const r = run('lintian', ['--tag-display-limit', '0', deb], { timeout: 180_000 });
  t.notOk(r.error, `lintian runs (apt-get install lintian): ${r.error?.message ?? ''}`);
  const tags = r.stdout.split('\n').filter((l) => /^[EWIXPO]: /.test(l));
  t.same(
    tags.filter((l) => l.startsWith('E: ')),
    [],
    'no E: tags',
    { warnings: tags.filter((l) => l.startsWith('W: ')) },
  );
  t.equal(r.status, 0, 'lintian exits 0', { stderr: r.stderr });
});

/** `dpkg-deb -c` as path -> "mode owner" (directories without the trailing /). */

t.test('file list (dpkg-deb -c)', { skip: unless(deb !== '', 'no .deb was built') }, async (t) => {
  const files = debContents(deb);
  const expect: Record<string, string> = {
    '/usr/bin/mirror-policyd': '-rwxr-xr-x root/root',
    '/usr/lib/mirror-policyd/launcher.js': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/node-abi.json': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/package.json': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/bin/mirror-policyd': '-rwxr-xr-x root/root',
    '/usr/lib/mirror-policyd/dist/cli/main.js': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/node_modules/unix-dgram/build/Release/unix_dgram.node': '-rw-r--r-- root/root',
    '/usr/lib/mirror-policyd/node_modules/smol-toml/package.json': '-rw-r--r-- root/root',
    '/usr/lib/systemd/system/mirror-policyd.service': '-rw-r--r-- root/root',
    '/usr/lib/tmpfiles.d/mirror-policyd.conf': '-rw-r--r-- root/root',
    '/etc/mirror-policyd/config.toml': '-rw-r--r-- root/root',
    '/etc/mirror-policy.d': 'drwxr-xr-x root/root',
    '/etc/mirror-policy.d/README': '-rw-r--r-- root/root',
    '/usr/share/man/man8/mirror-policyd.8.gz': '-rw-r--r-- root/root',
    '/usr/share/man/man5/mirror-policy.d.5.gz': '-rw-r--r-- root/root',
    '/usr/share/doc/mirror-policyd/copyright': '-rw-r--r-- root/root',
    '/usr/share/doc/mirror-policyd/changelog.Debian.gz': '-rw-r--r-- root/root',
  };
  for (const [path, modeOwner] of Object.entries(expect)) t.equal(files.get(path), modeOwner, path);
  const paths = [...files.keys()];
  t.same(
    paths.filter((p) => !p.startsWith('/usr/') && !p.startsWith('/etc/') && !['/', '/usr', '/etc'].includes(p)),
    [],
    'only /usr and /etc',
  );
  t.same(
    paths.filter((p) => [...(files.get(p) ?? '').split(' ')].pop() !== 'root/root'),
    [],
    'everything owned by root',
  );
  // Production dependencies only, no sources, maps, tests or the daemon's run-time dirs.
  const dev = ['typescript', 'tap', 'fast-check', '@types', '@tapjs', 'nan'];
  t.same(
    paths.filter((p) => dev.some((d) => p.startsWith(`/usr/lib/mirror-policyd/node_modules/${d}/`))),
    [],
    'no dev dependencies',
  );
  t.same(
    paths.filter((p) => p.endsWith('.ts') || p.endsWith('.map')),
    [],
    'no TypeScript sources or source maps',
  );
  t.same(
    paths.filter((p) => p.startsWith('/usr/lib/mirror-policyd/dist/') && !p.startsWith('/usr/lib/mirror-policyd/dist/cli')),
    [],
    'dist/cli only (the bundle: no dist/src, no bench)',
  );
  t.same(
    paths.filter((p) => p.startsWith('/var/') || p.startsWith('/run/')),
    [],
    'state and runtime dirs come from tmpfiles.d',
  );
  for (const dep of Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies)) {
    t.ok(files.has(`/usr/lib/mirror-policyd/node_modules/${dep}/package.json`), `dependency ${dep} is shipped`);
  }
});

const extracted = join(work, 'root');
const extractedOk = deb !== '' && run('dpkg-deb', ['-x', deb, extracted]).status === 0;

t.test('extracted files', { skip: unless(extractedOk, 'the .deb was not extracted') }, async (t) => {
  t.equal(
    readFileSync(join(extracted, 'usr/lib/systemd/system/mirror-policyd.service'), 'utf8'),
    readFileSync(join(ROOT, 'systemd/mirror-policyd.service'), 'utf8'),
    'the unit is systemd/mirror-policyd.service',
  );
  const abi = JSON.parse(readFileSync(join(extracted, 'usr/lib/mirror-policyd/node-abi.json'), 'utf8')) as Record<string, string>;
  t.equal(abi.modules, process.versions.modules, 'node-abi.json records the ABI the addon was built for');
  t.equal(abi.arch, process.arch);
  for (const page of ['usr/share/man/man8/mirror-policyd.8.gz', 'usr/share/man/man5/mirror-policy.d.5.gz']) {
    const gz = readFileSync(join(extracted, page));
    t.equal(gz.readUInt32LE(4), 0, `${page}: no time stamp (gzip -n)`);
    t.equal(gz[3]! & 0x08, 0, `${page}: no file name (gzip -n)`);
    t.equal(gz[8], 2, `${page}: maximum compression (gzip -9)`);
    const man = run('man', ['--warnings', '-l', '-Tutf8', join(extracted, page)], { env: { ...process.env, MANWIDTH: '80', LC_ALL: 'C.UTF-8' } });
    if (man.error) t.comment(`man not available: ${man.error.message}`);
    else {
      t.equal(man.status, 0, `${page} formats`);
      t.equal(man.stderr.trim(), '', `${page}: no groff warnings`);
    }
  }
  const unit = readFileSync(join(extracted, 'usr/lib/systemd/system/mirror-policyd.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/bin\/mirror-policyd run$/m);
  const tmpfiles = readFileSync(join(extracted, 'usr/lib/tmpfiles.d/mirror-policyd.conf'), 'utf8');
  t.match(tmpfiles, /^d \/var\/lib\/mirror-policyd 0700 root root -$/m);
  t.match(tmpfiles, /^d \/run\/mirror-policyd 0700 root root -$/m);
  // Every setting of the example config is commented out (test/packaging/files.test.ts checks the keys).
  const config = readFileSync(join(extracted, 'etc/mirror-policyd/config.toml'), 'utf8');
  t.same(
    config.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')),
    [],
    'config.toml: only comments',
  );
});

t.test('the launcher without node says so', { skip: unless(extractedOk, 'the .deb was not extracted') }, async (t) => {
  const r = run('/bin/sh', [join(extracted, 'usr/bin/mirror-policyd'), '--version'], { env: { PATH: '/nonexistent' } });
  t.equal(r.status, 1);
  t.match(r.stderr, /Node\.js not found .*install the nodejs package \(>= 20\.19/);
  t.equal(r.stdout, '');
});

// ---- the extracted program, run with its /usr/lib tree in place (root only) ----

const NS_SKIP =
  unless(IS_ROOT, 'needs root: unshare -m and mount put the extracted /usr/lib/mirror-policyd in place') || unless(extractedOk, 'the .deb was not extracted');

/**
 * argv run in a private mount namespace where /usr/lib/mirror-policyd is `root`'s: a bind
 * mount when that directory exists on this host, else (nothing to bind onto, and nothing
 * may be created under /usr) a read-only overlay of the extracted usr/lib over /usr/lib.
 * Nothing of it is visible outside the namespace, and it goes with the process.
 */
function inPlace(root: string, argv: string[]): [string, string[], NodeJS.ProcessEnv] {
  const script = [
    'set -e',
    'if [ -d /usr/lib/mirror-policyd ]; then mount --bind "$MPD_ROOT/usr/lib/mirror-policyd" /usr/lib/mirror-policyd',
    'else mount -t overlay mpd-test -o "lowerdir=$MPD_ROOT/usr/lib:/usr/lib" /usr/lib; fi',
    'exec "$@"',
  ].join('\n');
  return ['unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', ...argv], { ...process.env, MPD_ROOT: root }];
}

function runInPlace(root: string, argv: string[], extraEnv: NodeJS.ProcessEnv = {}): Ran {
  const [cmd, args, e] = inPlace(root, argv);
  return run(cmd, args, { env: { ...e, ...extraEnv }, timeout: 60_000 });
}

const launcher = join(extracted, 'usr/bin/mirror-policyd');

t.test('extracted: --version', { skip: NS_SKIP }, async (t) => {
  const r = runInPlace(extracted, [launcher, '--version']);
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  t.match(r.stdout, new RegExp(`^mirror-policyd ${VERSION.replace(/\./g, '\\.')}\\b`), 'prints the version of package.json');
  // Outside the namespace the launcher finds no /usr/lib/mirror-policyd: the test is not vacuous.
  if (!existsSync('/usr/lib/mirror-policyd')) t.not(run(launcher, ['--version']).status, 0, 'without the mount it cannot run');
});

t.test('extracted: check', { skip: NS_SKIP }, async (t) => {
  const f = policyFixture(join(work, 'check'));
  const good = runInPlace(extracted, [launcher, 'check', '--policy-dir', f.policy, '--base', f.base]);
  t.equal(good.status, 0, 'valid fragments: exit 0', { stderr: good.stderr });
  writeFileSync(join(f.policy, '30-bad.toml'), '[[mirror-set]]\nsource = "docker.io"\nmirrors = 42\n', { mode: 0o644 });
  const bad = runInPlace(extracted, [launcher, 'check', '--policy-dir', f.policy, '--base', f.base]);
  t.equal(bad.status, 1, 'an invalid fragment: exit 1');
  t.match(bad.stderr, /30-bad\.toml:\d+:\d+: /, 'the problem is located as FILE:LINE:COL');
});

t.test('extracted: render', { skip: NS_SKIP }, async (t) => {
  const f = policyFixture(join(work, 'render'));
  const output = join(f.out, 'registries.conf');
  const r = runInPlace(extracted, [launcher, 'render', '--policy-dir', f.policy, '--base', f.base, '--output', output, '--state-dir', f.state]);
  t.equal(r.status, 0, 'exit 0', { stderr: r.stderr });
  const text = readFileSync(output, 'utf8');
  t.ok(text.startsWith('# Generated by mirror-policyd'), 'our header');
  t.match(text, /location = "mirror\.example\/dockerhub"/, 'the TOML fragment is rendered');
  t.match(text, /location = "mirror\.example\/openshift"/, 'the ICSP is rendered');
  t.match(text, /unqualified-search-registries = \["docker\.io"\]/, 'on the base');
  t.equal(statSync(output).mode & 0o777, 0o644, 'world-readable');
});

t.test('extracted: the daemon reaches READY=1 as root without any capability', { skip: NS_SKIP }, async (t) => {
  // What the unit's CapabilityBoundingSet= and NoNewPrivileges= leave: uid 0, no capabilities.
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
    t.pass('READY=1 through the packaged unix-dgram addon');
  } catch (err) {
    t.fail(`no READY=1: ${(err as Error).message}`, { log });
  }
  t.ok(existsSync(output) && readFileSync(output, 'utf8').startsWith('# Generated by mirror-policyd'), 'rendered before READY');
  child.kill('SIGTERM');
  const code = await orAfter(exited, 20_000, 'timeout');
  t.equal(code, 0, 'SIGTERM: exit 0', { log });
});

t.test('extracted: a Node.js of another ABI is refused', { skip: NS_SKIP }, async (t) => {
  const other = join(work, 'other-abi');
  cpSync(join(extracted, 'usr'), join(other, 'usr'), { recursive: true });
  const abiFile = join(other, 'usr/lib/mirror-policyd/node-abi.json');
  const abi = JSON.parse(readFileSync(abiFile, 'utf8')) as Record<string, string>;
  writeFileSync(abiFile, JSON.stringify({ ...abi, modules: '1', node: '0.10.48' }));
  chmodSync(abiFile, 0o644);
  const r = runInPlace(other, [join(other, 'usr/bin/mirror-policyd'), '--version']);
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, /built for Node\.js 0\.10\.48 \(ABI 1, /, 'says what it was built for');
  t.match(r.stderr, new RegExp(`is Node\\.js ${process.versions.node.replace(/\./g, '\\.')} \\(ABI ${process.versions.modules}, `), 'and what it found');
  t.equal(r.stdout, '', 'runs nothing');
});

// ---- the RPM ----

const rpmBuild = staged.status === 0 ? run('bash', [join(ROOT, 'packaging/rpm/build.sh')], { env, timeout: 120_000 }) : undefined;
const rpm = rpmBuild?.status === 0 ? rpmBuild.stdout.trim() : '';

t.test('packaging/rpm/build.sh builds the .rpm', { skip: unless(staged.status === 0, 'staging failed') }, async (t) => {
  t.notOk(rpmBuild?.error, `rpmbuild runs (apt-get install rpm): ${rpmBuild?.error?.message ?? ''}`);
  t.equal(rpmBuild?.status, 0, 'rpm/build.sh succeeds', { stderr: rpmBuild?.stderr.slice(-3000) });
  t.match(rpm, new RegExp(`/mirror-policyd-${VERSION.replace(/\./g, '\\.')}-1\\.[a-z0-9_]+\\.rpm$`));
});

t.test('rpm: file list, requirements, scripts (rpm -qp)', { skip: unless(rpm !== '', 'no .rpm was built') }, async (t) => {
  const list = run('rpm', ['-qlp', rpm]).stdout.trim().split('\n');
  for (const path of [
    '/usr/bin/mirror-policyd',
    '/usr/lib/mirror-policyd/launcher.js',
    '/usr/lib/mirror-policyd/node-abi.json',
    '/usr/lib/mirror-policyd/dist/cli/main.js',
    '/usr/lib/mirror-policyd/node_modules/unix-dgram/build/Release/unix_dgram.node',
    '/usr/lib/systemd/system/mirror-policyd.service',
    '/usr/lib/tmpfiles.d/mirror-policyd.conf',
    '/etc/mirror-policyd/config.toml',
    '/etc/mirror-policy.d',
    '/etc/mirror-policy.d/README',
    '/usr/share/man/man8/mirror-policyd.8.gz',
    '/usr/share/man/man5/mirror-policy.d.5.gz',
  ]) {
    t.ok(list.includes(path), path);
  }
  // The same program as the .deb: identical /usr/lib/mirror-policyd file lists.
  if (deb) {
    const debLib = [...debContents(deb).keys()].filter((p) => p.startsWith('/usr/lib/mirror-policyd')).sort();
    t.same(list.filter((p) => p.startsWith('/usr/lib/mirror-policyd')).sort(), debLib, '/usr/lib/mirror-policyd as in the .deb');
  }
  t.same(run('rpm', ['-qpc', rpm]).stdout.trim().split('\n').sort(), ['/etc/mirror-policy.d/README', '/etc/mirror-policyd/config.toml'], 'config files');
  const requires = run('rpm', ['-qp', '--requires', rpm]).stdout;
  t.match(requires, /^nodejs >= 20\.19$/m, 'Requires: nodejs >= 20.19');
  t.match(requires, /^libc\.so\.6/m, "the addon's libc");
  const scripts = run('rpm', ['-qp', '--scripts', rpm]).stdout;
  t.match(scripts, /systemd-tmpfiles --create mirror-policyd\.conf/, '%post: tmpfiles');
  t.match(scripts, /systemctl --no-reload preset mirror-policyd\.service/, '%post: preset (our %systemd_post)');
  t.match(scripts, /systemctl --no-reload disable --now mirror-policyd\.service/, '%preun: stop on erase (our %systemd_preun)');
  t.match(scripts, /\/usr\/bin\/mirror-policyd restore/, '%preun: the adopted registries.conf is put back on erase');
  t.match(
    scripts,
    /\|\|\s+\/usr\/bin\/mirror-policyd restore --config \/dev\/null --output "\$\{output:-\/etc\/containers\/registries\.conf\}" --state-dir "\$\{state:-\/var\/lib\/mirror-policyd\}"/,
    '%preun: again without the config file when restore cannot use it',
  );
  t.match(scripts, /systemctl try-restart mirror-policyd\.service/, '%postun: restart on upgrade');
  t.notMatch(scripts, /%\{|%systemd|%tmpfiles/, 'every macro expanded');
});

/** `rpm -qp --scripts`: each scriptlet's body by its name ("postinstall", "preuninstall", ...). */
function scriptlets(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\w+) scriptlet \(using \/bin\/sh\):$/.exec(line);
    if (head) name = head[1];
    else if (name !== undefined) out.set(name, `${out.get(name) ?? ''}${line}\n`);
  }
  return out;
}

t.test(
  'rpm: switching builds (dnf swap): the new presets nothing, the old stops, disables and restores nothing, and the daemon restarts on the new program',
  { skip: unless(rpm !== '', 'no .rpm was built') },
  async (t) => {
    // A real rpm database (~/.rpmmacros names it for the scriptlets' own `rpm -q`) holding a package named as the other build.
    const dir = join(work, 'rpm-switch');
    const home = join(dir, 'home');
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, '.rpmmacros'), `%_dbpath ${join(dir, 'db')}\n`);
    const rpmEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, LC_ALL: 'C' };
    const spec = join(dir, 'other.spec');
    writeFileSync(
      spec,
      'Name: mirror-policyd-bundled\nVersion: 1\nRelease: 1\nSummary: the other build\nLicense: MIT\nBuildArch: noarch\n%description\nx\n%files\n',
    );
    t.equal(run('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${join(dir, 'build')}`, spec], { env: rpmEnv }).status, 0, 'rpmbuild');
    t.equal(run('rpm', ['--initdb'], { env: rpmEnv }).status, 0, 'rpm --initdb');
    const other = join(dir, 'build/RPMS/noarch/mirror-policyd-bundled-1-1.noarch.rpm');
    t.equal(run('rpm', ['-i', '--justdb', '--nodeps', '--noscripts', other], { env: rpmEnv }).status, 0, 'the other build recorded as installed');

    // Stand-ins that log what the scriptlets ask of systemd.
    const bin = join(dir, 'bin');
    const log = join(dir, 'calls.log');
    mkdirSync(bin);
    for (const tool of ['systemctl', 'systemd-tmpfiles']) {
      writeFileSync(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >>"${log}"\n`);
      chmodSync(join(bin, tool), 0o755);
    }
    const bodies = scriptlets(run('rpm', ['-qp', '--scripts', rpm]).stdout);
    const scriptlet = (name: string, arg: string): string[] => {
      rmSync(log, { force: true });
      const r = run('sh', ['-c', bodies.get(name) ?? 'exit 99', name, arg], { env: { ...rpmEnv, PATH: `${bin}:${rpmEnv.PATH}` } });
      t.equal(r.status, 0, `${name} ${arg}`, { stderr: r.stderr });
      return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    };

    t.same(scriptlet('postinstall', '1'), ['systemd-tmpfiles --create mirror-policyd.conf'], 'installed beside the other: no preset');
    t.same(scriptlet('preuninstall', '0'), [], 'erased for the other: nothing stopped, disabled or restored');
    t.same(
      scriptlet('postuninstall', '0'),
      ['systemctl daemon-reload', 'systemctl try-restart mirror-policyd.service'],
      "erased for the other: the daemon restarted on the other's program",
    );

    t.equal(run('rpm', ['-e', '--justdb', '--nodeps', '--noscripts', 'mirror-policyd-bundled'], { env: rpmEnv }).status, 0);
    t.same(
      scriptlet('postinstall', '1'),
      ['systemd-tmpfiles --create mirror-policyd.conf', 'systemctl --no-reload preset mirror-policyd.service'],
      'a first install alone: preset',
    );
    t.same(scriptlet('postuninstall', '0'), ['systemctl daemon-reload'], 'an erase alone: nothing restarted');
    // (preuninstall of an erase alone runs /usr/bin/mirror-policyd restore on this machine's files: not run here.)
  },
);
