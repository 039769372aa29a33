/**
 * The policy directory as the tools operators use write it, against the real daemon, trust
 * checks on (no --allow-unsafe-fragments: the test runs as root, so its files are root's):
 * a Kubernetes ConfigMap/Secret volume (kubelet's AtomicWriter, reproduced here call by call).
 * The rescan is an hour away: what is seen is seen through the watcher.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import {
  chmodSync,
  chownSync,
  closeSync,
  fchmodSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { EMPTY_SETTLE_MS } from '../../../src/daemon/render-scheduler.js';
import {
  fragment,
  recordingConfig,
  runArgs,
  sleep,
  snapshots,
  startDaemon,
  workspace,
  type DaemonProcess,
  type Teardown,
  type Workspace,
} from '../../helpers/daemon.js';

/** The standard flags, trust checks on, the rescan out of the way. */
function strictArgs(ws: Workspace): string[] {
  return [...runArgs(ws).filter((a) => a !== '--allow-unsafe-fragments'), '--rescan-interval-ms', '3600000'];
}

function startStrict(t: Teardown, ws: Workspace, config?: string): Promise<DaemonProcess> {
  const argv = strictArgs(ws);
  if (config !== undefined) argv.splice(argv.indexOf('--config') + 1, 1, config);
  return startDaemon(t, ws, { argv });
}

/** `n` mirror sets, each `quay.io/nsI` mirrored at `m-TAG.example/nsI`: a policy whose every line counts. */
function manySets(n: number, tag: string): string {
  return Array.from({ length: n }, (_, i) => fragment(`quay.io/ns${i}`, [`m-${tag}.example/ns${i}`])).join('');
}

/**
 * kubelet's AtomicWriter.Write (pkg/volume/util/atomic_writer.go, 1.24 and later), in its
 * order: a new `..<UTC time>.<random>` directory (MkdirTemp, chmod 0755) holding the payload
 * (files 0644, defaultMode), a `..data_tmp` link to it renamed over `..data`, then a
 * `KEY -> ..data/KEY` link for each key not linked yet, the links of keys gone removed, and the
 * previous timestamped directory removed.
 */
function atomicWrite(dir: string, payload: Readonly<Record<string, string>>, owner?: number): void {
  const ts = mkdtempSync(join(dir, '..2026_12_06_05_00_00.'));
  chmodSync(ts, 0o755);
  for (const [key, text] of Object.entries(payload)) {
    writeFileSync(join(ts, key), text, { mode: 0o644 });
    chmodSync(join(ts, key), 0o644);
    if (owner !== undefined) chownSync(join(ts, key), owner, owner);
  }
  let old: string | undefined;
  try {
    old = readlinkSync(join(dir, '..data'));
  } catch {
    old = undefined;
  }
  symlinkSync(basename(ts), join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  const visible = readdirSync(dir).filter((n) => !n.startsWith('..'));
  for (const key of Object.keys(payload)) if (!visible.includes(key)) symlinkSync(join('..data', key), join(dir, key));
  for (const name of visible) if (!(name in payload)) rmSync(join(dir, name));
  if (old !== undefined) rmSync(join(dir, old), { recursive: true });
}

t.test('a Kubernetes ConfigMap volume (kubelet AtomicWriter): the new content renders without a rescan', async (t) => {
  const ws = workspace(t);
  atomicWrite(ws.policy, { '10-a.toml': fragment('quay.io/a', ['mirror-a1.example/a']) });
  const d = await startStrict(t, ws);
  const first = await d.waitForOutput((o) => o.includes('mirror-a1.example/a'), 'the first render, through ..data');
  t.match(first, /# fragments: 10-a\.toml\n/, 'the dot-named entries are no fragments');
  t.equal((await d.status()).state, 'healthy', 'links into a root-owned dot directory inside the policy directory are trusted');

  // An update: only ..data changes (a dot name); the fragment's own link stays as it is.
  atomicWrite(ws.policy, { '10-a.toml': fragment('quay.io/a', ['mirror-a2.example/a']) });
  const out = await d.waitForOutput((o) => o.includes('mirror-a2.example/a'), 'the update, seen by the watcher');
  t.notMatch(out, /mirror-a1\.example/, 'the old content is gone');

  // A projected volume: one key removed, one added.
  atomicWrite(ws.policy, { '20-b.toml': fragment('quay.io/b', ['mirror-b.example/b']) });
  const swapped = await d.waitForOutput((o) => o.includes('mirror-b.example/b') && !o.includes('mirror-a2.example'), 'a key removed, another added');
  t.match(swapped, /# fragments: 20-b\.toml\n/);
  const s = await d.waitForStatus((x) => x.state === 'healthy', 'healthy after the updates');
  t.same(
    s.fragments.map((f) => [f.file, f.state]),
    [['20-b.toml', 'valid']],
  );
  t.equal(await d.stop(), 0);
});

t.test('a Kubernetes volume whose data an unprivileged user owns is refused', async (t) => {
  const ws = workspace(t);
  atomicWrite(ws.policy, { '10-a.toml': fragment('quay.io/a', ['mirror-a1.example/a']) }, 65534);
  const d = await startStrict(t, ws);
  const s = await d.waitForStatus((x) => x.fragments.some((f) => f.file === '10-a.toml' && f.state !== 'valid'), 'the fragment refused');
  t.equal(s.state, 'degraded');
  await d.waitForLog(/10-a\.toml: refusing fragment: owned by uid 65534/); // a log line may land a moment after the effect it reports
  t.match(d.log(), /10-a\.toml: refusing fragment: owned by uid 65534/);
  t.equal(await d.stop(), 0);
});

t.test('a fragment rewritten in place by a writer that pauses between its writes: its first half is never rendered', async (t) => {
  // The pause must stay within EMPTY_SETTLE_MS for the case to be made (past it, the daemon takes
  // what it reads, by design): a machine that stalled the test longer sets that attempt aside.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const ws = workspace(t);
    const file = join(ws.policy, '10-a.toml');
    writeFileSync(file, manySets(40, 'a'), { mode: 0o644 });
    const { config, seen } = recordingConfig(ws);
    const d = await startStrict(t, ws, config);
    await d.waitForOutput((o) => o.includes('m-a.example/ns39'), 'the first render');

    // As `ssh host cat x.toml > x.toml` or a download does: truncate, a first part (ending at a
    // line: valid TOML on its own, 20 sets of 40), a pause, the rest.
    const next = manySets(40, 'b');
    const cut = next.indexOf('[[mirror-set]]\nsource = "quay.io/ns20"');
    const fd = openSync(file, 'w');
    const began = performance.now();
    writeSync(fd, next.slice(0, cut));
    await sleep(60);
    fchmodSync(fd, 0o644); // one more event while it is half written: the first part read a second time
    await sleep(60);
    writeSync(fd, next.slice(cut));
    const gap = performance.now() - began;
    closeSync(fd);
    await d.waitForOutput((o) => o.includes('m-b.example/ns39'), 'the whole new content');
    if (gap >= EMPTY_SETTLE_MS) {
      t.comment(`attempt ${attempt}: the pause lasted ${Math.round(gap)} ms, past the settle time; again`);
      t.equal(await d.stop(), 0);
      continue;
    }
    await sleep(EMPTY_SETTLE_MS * 2);
    const renders = snapshots(seen);
    const halves = renders.filter((r) => !r.includes('m-a.example/ns39') && !r.includes('m-b.example/ns39'));
    t.same(halves, [], `every render has all 40 sets, never the first half alone (pause ${Math.round(gap)} ms)${halves.length > 0 ? d.log() : ''}`);
    t.notOk(/ERROR/.test(d.log()), 'no error logged');
    t.equal(await d.stop(), 0);
    return;
  }
  t.fail('every attempt stalled past the settle time');
});

/** Runs a tool of the host (its real system calls), failing the test with its stderr. */
function tool(cmd: string, args: readonly string[], cwd?: string): void {
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: cwd ?? '/nonexistent' } });
}

t.test('the tools operators use, each as it writes, one after another: each new content renders, no error or warning stays', async (t) => {
  const ws = workspace(t);
  const file = join(ws.policy, '10-a.toml');
  const src = join(ws.dir, 'src.toml'); // a file prepared elsewhere, as an operator's copy
  const version = (n: number): string => fragment('quay.io/a', [`mirror-v${n}.example/a`]);
  writeFileSync(file, version(0), { mode: 0o644 });
  writeFileSync(join(ws.policy, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']), { mode: 0o644 });
  const d = await startStrict(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-v0.example'), 'the first render');
  let n = 0;
  const expectVersion = async (how: string): Promise<void> => {
    const v = n;
    const out = await d.waitForOutput((o) => o.includes(`mirror-v${v}.example`) && !o.includes(`mirror-v${v - 1}.example`), `${how}: version ${v}`);
    t.match(out, /mirror-b\.example\/b/, `${how}: the other fragment stays`);
  };
  const fresh = (): string => {
    writeFileSync(src, version(++n), { mode: 0o644 });
    return src;
  };

  tool('cp', [fresh(), file]); // in place: open(O_TRUNC), write
  await expectVersion('cp over the file');
  tool('install', ['-m', '0644', fresh(), file]); // unlink, a new file, write, fchmod
  await expectVersion('install -m 0644');
  n++;
  tool('sed', ['-i', `s/mirror-v${n - 1}\\./mirror-v${n}./`, file]); // sedXXXXXX, then rename over
  await expectVersion('sed -i');
  n++;
  // vim's default (backupcopy=auto): the file renamed to its backup, a new file written (and, with nobackup, the backup removed).
  tool('vim', ['-u', 'NONE', '-i', 'NONE', '-N', '-n', '-es', '-c', 'set writebackup', '-c', `%s/mirror-v${n - 1}\\./mirror-v${n}./`, '-c', 'wq', file]);
  await expectVersion('vim (backupcopy=auto)');
  n++;
  tool('vim', ['-u', 'NONE', '-i', 'NONE', '-N', '-n', '-es', '-c', 'set backupcopy=yes', '-c', `%s/mirror-v${n - 1}\\./mirror-v${n}./`, '-c', 'wq', file]); // in place
  await expectVersion('vim (backupcopy=yes)');

  // rsync (not installed here), as it writes: `.NAME.XXXXXX` beside the file, its mode set, renamed over it.
  const rsyncTmp = join(ws.policy, '.10-a.toml.q3ZkT1');
  writeFileSync(rsyncTmp, version(++n), { mode: 0o600 });
  chmodSync(rsyncTmp, 0o644);
  renameSync(rsyncTmp, file);
  await expectVersion('rsync');
  // ansible's copy/template (not installed here): atomic_move falls back to `.ansible_tmpXXXXXXNAME` in the directory, then renames.
  const ansibleTmp = join(ws.policy, '.ansible_tmp7s0x_d2b10-a.toml');
  writeFileSync(ansibleTmp, version(++n), { mode: 0o600 });
  chmodSync(ansibleTmp, 0o644);
  renameSync(ansibleTmp, file);
  await expectVersion('ansible copy');

  // tar -x over it (the archive's mtime set back on the extracted file).
  const stage = mkdtempSync(join(ws.dir, 'tar-'));
  writeFileSync(join(stage, '10-a.toml'), version(++n), { mode: 0o644 });
  tool('touch', ['-d', '2020-01-01', join(stage, '10-a.toml')]);
  tool('tar', ['-cf', join(ws.dir, 'p.tar'), '-C', stage, '10-a.toml']);
  tool('tar', ['-xf', join(ws.dir, 'p.tar'), '-C', ws.policy]);
  await expectVersion('tar -x');

  // Package managers' leftovers beside it: ignored quietly.
  for (const suffix of ['dpkg-new', 'dpkg-old', 'dpkg-dist', 'dpkg-tmp', 'ucf-new', 'ucf-old', 'ucf-dist', 'rpmnew', 'rpmsave'])
    writeFileSync(`${file}.${suffix}`, 'mirrors = ["leftover.example"]\n', { mode: 0o644 });

  // A git work tree: `.git` inside the policy directory; a branch checked out, then a pull.
  tool('git', ['init', '-q', '-b', 'main'], ws.policy);
  tool('git', ['-c', 'user.name=op', '-c', 'user.email=op@example', 'add', '10-a.toml', '20-b.toml'], ws.policy);
  tool('git', ['-c', 'user.name=op', '-c', 'user.email=op@example', 'commit', '-qm', 'v'], ws.policy);
  tool('git', ['checkout', '-qb', 'next'], ws.policy);
  writeFileSync(file, version(++n), { mode: 0o644 });
  await expectVersion('an edit in the work tree');
  tool('git', ['-c', 'user.name=op', '-c', 'user.email=op@example', 'commit', '-qam', 'next'], ws.policy);
  tool('git', ['checkout', '-q', 'main'], ws.policy);
  n--; // main has the tar's version
  const mainText = version(n);
  await d.waitForOutput((o) => o.includes(`mirror-v${n}.example`) && !o.includes(`mirror-v${n + 1}.example`), 'git checkout main');
  n += 2;
  const clone = join(ws.dir, 'clone');
  tool('git', ['clone', '-q', ws.policy, clone]);
  writeFileSync(join(clone, '10-a.toml'), version(n));
  tool('git', ['-c', 'user.name=op', '-c', 'user.email=op@example', 'commit', '-qam', 'upstream'], clone);
  tool('git', ['-c', 'user.name=op', '-c', 'user.email=op@example', 'pull', '-q', '--ff-only', clone, 'main'], ws.policy);
  t.not(mainText, version(n));
  await d.waitForOutput((o) => o.includes(`mirror-v${n}.example`) && !o.includes(`mirror-v${n - 2}.example`), 'git pull');

  const s = await d.waitForStatus((x) => x.state === 'healthy', 'healthy after every writer');
  t.same(s.warnings, [], 'no warning left standing (.git, the leftovers)');
  t.same(
    s.fragments.map((f) => [f.file, f.state, f.errors]),
    [
      ['10-a.toml', 'valid', []],
      ['20-b.toml', 'valid', []],
    ],
  );
  t.notMatch(d.log(), /ERROR|WARN/, 'nothing logged as an error or a warning on the way');
  t.equal(await d.stop(), 0);
});

t.test('the policy directory a symlink repointed with ln -sfn, then a whole new directory moved into place with mv', async (t) => {
  const ws = workspace(t, { policy: false });
  const v1 = join(ws.dir, 'policy.v1');
  const v2 = join(ws.dir, 'policy.v2');
  for (const [dir, mirror] of [
    [v1, 'mirror-v1.example/a'],
    [v2, 'mirror-v2.example/a'],
  ] as const) {
    mkdirSync(dir, { mode: 0o755 });
    writeFileSync(join(dir, '10-a.toml'), fragment('quay.io/a', [mirror]), { mode: 0o644 });
  }
  tool('ln', ['-s', 'policy.v1', ws.policy], ws.dir);
  const d = await startStrict(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-v1.example'), 'the first render, through the link');
  tool('ln', ['-sfn', 'policy.v2', 'policy.d'], ws.dir);
  await d.waitForOutput((o) => o.includes('mirror-v2.example') && !o.includes('mirror-v1.example'), 'the link repointed');
  writeFileSync(join(v2, '20-b.toml'), fragment('quay.io/b', ['mirror-b.example/b']), { mode: 0o644 });
  await d.waitForOutput((o) => o.includes('mirror-b.example'), 'a change in the directory now linked');

  // The atomic recipe for a link: a new link beside it, renamed over it (`mv -T`: rename(2)).
  const v3 = join(ws.dir, 'policy.v3');
  mkdirSync(v3, { mode: 0o755 });
  writeFileSync(join(v3, '10-a.toml'), fragment('quay.io/a', ['mirror-v3.example/a']), { mode: 0o644 });
  tool('ln', ['-s', 'policy.v3', '.policy.d.new'], ws.dir);
  tool('mv', ['-T', '.policy.d.new', 'policy.d'], ws.dir);
  await d.waitForOutput((o) => o.includes('mirror-v3.example') && !o.includes('mirror-b.example'), 'a new link renamed over it');

  // A real directory moved into place: the old one (the link) moved away, the new one moved in.
  const v4 = join(ws.dir, 'policy.v4');
  mkdirSync(v4, { mode: 0o755 });
  writeFileSync(join(v4, '10-a.toml'), fragment('quay.io/a', ['mirror-v4.example/a']), { mode: 0o644 });
  tool('mv', ['policy.d', 'policy.d.old'], ws.dir);
  tool('mv', ['policy.v4', 'policy.d'], ws.dir);
  await d.waitForOutput((o) => o.includes('mirror-v4.example') && !o.includes('mirror-v3.example'), 'the directory moved into place');
  writeFileSync(join(ws.policy, '30-c.toml'), fragment('quay.io/c', ['mirror-c.example/c']), { mode: 0o644 });
  await d.waitForOutput((o) => o.includes('mirror-c.example'), 'a change in the moved directory');
  t.equal((await d.waitForStatus((x) => x.state === 'healthy', 'healthy')).state, 'healthy');
  t.equal(await d.stop(), 0);
});

t.test('a fragment rewritten by a redirect from a slow command (`oc get ... -o yaml > x.yaml`): never rendered empty meanwhile', async (t) => {
  const ws = workspace(t);
  const file = join(ws.policy, '10-a.toml');
  writeFileSync(file, manySets(3, 'a'), { mode: 0o644 });
  const src = join(ws.dir, 'answer.toml');
  writeFileSync(src, manySets(3, 'b'));
  const { config, seen } = recordingConfig(ws);
  const d = await startStrict(t, ws, config);
  await d.waitForOutput((o) => o.includes('m-a.example/ns2'), 'the first render');
  // The shell truncates the file at once; the command answers a second later (an API server's round trip).
  tool('/bin/sh', ['-c', `(sleep 1; cat '${src}') > '${file}'`]);
  await d.waitForOutput((o) => o.includes('m-b.example/ns2'), 'the answer rendered');
  const renders = snapshots(seen);
  t.same(
    renders.filter((r) => !r.includes('m-a.example/ns2') && !r.includes('m-b.example/ns2')),
    [],
    'no render without the fragment while the command ran',
  );
  t.equal(await d.stop(), 0);
});
