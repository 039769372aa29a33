/**
 * A policy directory the daemon cannot take at its word changes nothing: one that is missing
 * (deleted, moved away, the gap of a `mv policy.d policy.d.old; mv policy.d.new policy.d` swap)
 * keeps the last render and every fragment's last valid content until one is back, and one
 * refused as a whole (writable by others) keeps every fragment, deletions and renames included.
 * An existing, empty directory is a valid, empty policy.
 */
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon } from '../../../src/daemon/daemon.js';
import { DEFAULTS } from '../../../src/daemon/config.js';
import { createLogger } from '../../../src/core/log.js';
import { createNotifier } from '../../../src/systemd/notify.js';
import { error } from '../../../src/core/diagnostic.js';
import { holdUnlisted } from '../../../src/daemon/policy-dir-presence.js';
import { Backoff } from '../../../src/daemon/retry.js';
import { EMPTY_SETTLE_MS } from '../../../src/daemon/render-scheduler.js';
import { exists, fragment, idms, recordingConfig, snapshots, sleep, startDaemon, workspace } from '../../helpers/daemon.js';

/** One plain mirror set and one NeverContactSource set, the mirror of the first named by `tag`. */
function writePolicy(dir: string, tag: string): void {
  writeFileSync(join(dir, '10-a.toml'), fragment('quay.io/a', [`mirror-${tag}.example/a`]));
  writeFileSync(join(dir, '20-never.yaml'), idms('never', 'quay.io/never', ['mirror-n.example/never'], true));
}

/** The parts of the output that must never go away while a policy is being swapped. */
function complete(out: string): boolean {
  return /mirror-[\w-]+\.example\/a/.test(out) && out.includes('mirror-n.example/never') && /location = "quay\.io\/never"\nblocked = true/.test(out);
}

/**
 * A daemon on the "first" policy with a recording after-render command (and no rescan in the
 * test's time), once its first render is out and the command has run for it.
 */
/** The last-good copies in a state dir, by name (none before the directory is made). */
function lastGoodCopies(state: string): string[] {
  if (!existsSync(join(state, 'last-good'))) return [];
  return readdirSync(join(state, 'last-good'))
    .filter((n) => !n.startsWith('.'))
    .sort();
}

async function firstRendered(t: Parameters<typeof workspace>[0]) {
  const ws = workspace(t);
  writePolicy(ws.policy, 'first');
  const { config, seen } = recordingConfig(ws);
  const d = await startDaemon(t, ws, { config, args: ['--rescan-interval-ms', '600000'] });
  const before = await d.waitForOutput((o) => o.includes('mirror-first.example/a') && complete(o), 'the first render');
  await d.waitFor(() => snapshots(seen).length === 1, 'the after-render command for the first render');
  return { ws, d, seen, before, renders: (await d.status()).renders };
}

t.test('a swapped policy directory: never an empty render in between, the after-render command sees only whole policies', async (t) => {
  const ws = workspace(t);
  writePolicy(ws.policy, 'start');
  const { config, seen } = recordingConfig(ws);
  const d = await startDaemon(t, ws, { config });
  await d.waitForOutput((o) => o.includes('mirror-start.example/a') && complete(o), 'the first render');

  for (let i = 0; i < 5; i++) {
    const next = `${ws.policy}.new`;
    mkdirSync(next, { mode: 0o755 });
    writePolicy(next, `swap${i}`);
    renameSync(ws.policy, `${ws.policy}.old${i}`);
    // The gap between the two renames, widened so that the daemon surely looks into it.
    await sleep(i % 2 === 0 ? 300 : 0);
    renameSync(next, ws.policy);
    await d.waitForOutput((o) => o.includes(`mirror-swap${i}.example/a`), `the policy of swap ${i}`);
  }
  await d.waitForStatus((s) => s.state === 'healthy', 'healthy once the last swap is in');
  await d.waitFor(() => snapshots(seen).length >= 6, 'the after-render command for the first render and each swap');
  const outputs = snapshots(seen);
  t.same(
    outputs.filter((o) => !complete(o)),
    [],
    'every render the after-render command saw had every mirror and the NeverContactSource block',
  );
  t.equal(await d.stop(), 0);
});

t.test('a policy directory deleted file by file (rm -rf, here slowed down): no render drops the files that go first', async (t) => {
  // The case is made when the directory goes before the look again the render for the first
  // file gone asked for: that look comes EMPTY_SETTLE_MS after a render that began after the
  // file went, so a directory gone within EMPTY_SETTLE_MS of the file surely makes it. A machine
  // that stalled the test longer has not made the case: that attempt is set aside, not judged.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const { ws, d, seen, before, renders } = await firstRendered(t);
    const fileGoneAt = performance.now();
    rmSync(join(ws.policy, '10-a.toml'));
    await d.waitForStatus((x) => x.renders > renders, 'the render for the first file gone');
    rmSync(ws.policy, { recursive: true });
    const gap = performance.now() - fileGoneAt;
    if (gap >= EMPTY_SETTLE_MS) {
      t.comment(`attempt ${attempt}: the directory went ${Math.round(gap)} ms after the file, past the look; again`);
      t.equal(await d.stop(), 0);
      continue;
    }
    await d.waitForStatus((x) => x.degraded.some((r) => /policy directory .* does not exist/.test(r)), 'degraded: no policy directory');
    await sleep(EMPTY_SETTLE_MS + 200); // past the look again the first render asked for
    t.equal(readFileSync(ws.output, 'utf8'), before, 'the output is untouched');
    t.equal(snapshots(seen).length, 1, 'the after-render command did not run');
    t.same(
      (await d.status()).fragments.map((f) => f.file),
      ['10-a.toml', '20-never.yaml'],
      'both fragments still in effect',
    );
    t.equal(await d.stop(), 0);
    return;
  }
  t.fail(`in 3 attempts the directory never went within ${EMPTY_SETTLE_MS} ms of its first file`);
});

t.test('a deleted policy directory: degraded, the output and the last-good copies kept; a recreated one is the new policy', async (t) => {
  const { ws, d, seen, before, renders } = await firstRendered(t);
  const from = d.log().length;
  const lastGood = (): string[] => lastGoodCopies(ws.state);
  // The first start saves its last-good copies in the background, after the output: waited for.
  await d.waitFor(() => lastGood().length === 2, 'the first last-good copies saved');

  rmSync(ws.policy, { recursive: true });
  const s = await d.waitForStatus(
    (x) => x.degraded.some((r) => /policy directory .* does not exist/.test(r)) && x.renders > renders,
    'degraded: no policy directory',
  );
  t.equal(s.state, 'degraded');
  t.match(s.degraded.join('\n'), /the last render stays in effect until it is back/);
  t.same(
    s.fragments.map((f) => [f.file, f.state]),
    [
      ['10-a.toml', 'valid'],
      ['20-never.yaml', 'valid'],
    ],
    'status still lists the fragments in effect',
  );
  await d.waitForLog(
    /does not exist; waiting for it \(the last render \(2 fragments\) and every fragment's last valid content stay in effect until it is back\)/,
    from,
  );
  t.equal(readFileSync(ws.output, 'utf8'), before, 'the output is untouched');
  t.equal(snapshots(seen).length, 1, 'the after-render command did not run');
  t.same(lastGood(), ['10-a.toml', '20-never.yaml'], 'the last-good copies are kept');

  // Back, with other contents: that is the policy now (the old fragments are gone with the old directory).
  mkdirSync(ws.policy, { mode: 0o755 });
  writeFileSync(join(ws.policy, '30-c.toml'), fragment('quay.io/c', ['mirror-c.example/c']));
  const out = await d.waitForOutput((o) => o.includes('mirror-c.example/c'), 'the recreated directory rendered');
  t.notMatch(out, /mirror-first\.example/);
  await d.waitForLog(/is there again; rendering it/, from);
  await d.waitForStatus((x) => x.state === 'healthy', 'healthy again');

  // An existing, empty directory is a valid, empty policy.
  rmSync(join(ws.policy, '30-c.toml'));
  const empty = await d.waitForOutput((o) => !o.includes('mirror-c.example/c'), 'the emptied directory rendered');
  t.match(empty, /# fragments: \(none\)\n/);
  t.equal((await d.status()).state, 'healthy');
  t.equal(await d.stop(), 0);
});

t.test('a first start with a fresh state and no policy directory leaves an existing output alone', async (t) => {
  const ws = workspace(t, { policy: false });
  const host = '# the host\'s own file\nunqualified-search-registries = ["docker.io"]\n';
  mkdirSync(join(ws.dir, 'out'));
  writeFileSync(ws.output, host);
  const d = await startDaemon(t, ws); // after READY=1: the first render (attempt) is done
  const s = await d.status();
  t.equal(s.state, 'degraded');
  t.match(s.degraded.join('\n'), /does not exist; .*registries\.conf is left as it is until it is back/);
  t.match(s.degraded.join('\n'), /not rendered yet/);
  t.notOk(s.lastRender);
  t.equal(readFileSync(ws.output, 'utf8'), host, 'the output is untouched');
  t.notOk(exists(join(ws.state, 'base.conf')), 'nothing adopted yet');

  mkdirSync(ws.policy, { mode: 0o755 });
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const out = await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the render once the directory appears');
  t.match(out, /unqualified-search-registries = \["docker\.io"\]/, 'rendered on the adopted base');
  await d.waitForStatus((x) => x.state === 'healthy', 'healthy');
  t.equal(await d.stop(), 0);
});

t.test('a policy directory whose parent is missing too is found when it appears (no watcher can see it; a bounded poll does)', async (t) => {
  const ws = workspace(t, { policy: false });
  const policy = join(ws.dir, 'etc', 'policy.d');
  const d = await startDaemon(t, ws, {
    argv: [
      '--config',
      '/dev/null',
      '--policy-dir',
      policy,
      '--output',
      ws.output,
      '--state-dir',
      ws.state,
      '--control-socket',
      ws.control,
      '--allow-unsafe-fragments',
      '--debounce-ms',
      '50',
      '--probe-interval-ms',
      '0',
      '--rescan-interval-ms',
      '600000',
    ],
  });
  t.equal((await d.status()).state, 'degraded');
  mkdirSync(join(ws.dir, 'etc.tmp', 'policy.d'), { recursive: true, mode: 0o755 });
  writeFileSync(join(ws.dir, 'etc.tmp', 'policy.d', '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  renameSync(join(ws.dir, 'etc.tmp'), join(ws.dir, 'etc'));
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the render once the directory appears');
  t.equal(await d.stop(), 0);
});

t.test('a policy directory made writable by others: a deletion or a rename there changes nothing until it is fixed', async (t) => {
  const ws = workspace(t);
  writePolicy(ws.policy, 'trusted');
  for (const f of readdirSync(ws.policy)) chmodSync(join(ws.policy, f), 0o644);
  const strict = [
    '--config',
    '/dev/null',
    '--policy-dir',
    ws.policy,
    '--output',
    ws.output,
    '--state-dir',
    ws.state,
    '--control-socket',
    ws.control,
    '--debounce-ms',
    '20',
    '--probe-interval-ms',
    '0',
  ];
  const d = await startDaemon(t, ws, { argv: strict });
  const before = await d.waitForOutput((o) => o.includes('mirror-trusted.example/a') && complete(o), 'the first render');
  const from = d.log().length;
  const lastGood = (): string[] => lastGoodCopies(ws.state);
  await d.waitFor(() => lastGood().length === 2, 'the first last-good copies saved (in the background, after the output)');

  chmodSync(ws.policy, 0o777);
  await d.waitForLog(/refusing policy directory: writable by group and others \(mode 0777\).*; every fragment is held at its last valid content/, from);
  rmSync(join(ws.policy, '20-never.yaml')); // what an unprivileged user can now do
  renameSync(join(ws.policy, '10-a.toml'), join(ws.policy, '11-a.toml'));
  const s = await d.waitForStatus((x) => x.fragments.some((f) => f.file === '11-a.toml'), 'the renamed fragment seen');
  t.same(
    s.fragments.map((f) => [f.file, f.state]),
    [
      ['10-a.toml', 'held'],
      ['11-a.toml', 'invalid'],
      ['20-never.yaml', 'held'],
    ],
  );
  t.match(s.fragments.find((f) => f.file === '20-never.yaml')?.errors.join('\n') ?? '', /removed or renamed while the policy directory is refused/);
  t.ok(
    s.degraded.some((r) => /refusing policy directory/.test(r)),
    'degraded, with the reason',
  );
  t.equal(readFileSync(ws.output, 'utf8'), before, 'the output is exactly as before: the NeverContactSource block and the mirrors stay');
  t.same(lastGood(), ['10-a.toml', '20-never.yaml'], 'the last-good copies are kept');

  // Fixed: now what the directory holds is the policy.
  chmodSync(ws.policy, 0o755);
  const after = await d.waitForOutput((o) => !o.includes('mirror-n.example/never'), 'the directory as it is now');
  t.match(after, /# fragments: 11-a\.toml\n/);
  t.match(after, /mirror-trusted\.example\/a/);
  await d.waitForStatus((x) => x.state === 'healthy', 'healthy');
  await d.waitForLog(/is usable again/, from);
  t.equal(await d.stop(), 0);
});

t.test('status is not healthy before the first render', async (t) => {
  const daemon = new Daemon({ ...DEFAULTS, stateDir: join(workspace(t).dir, 'state') }, createLogger({ level: 'silent' }), createNotifier({}));
  const s = daemon.status();
  t.equal(s.state, 'degraded');
  t.same(s.degraded, ['not rendered yet']);
  t.match(daemon.statusLine(), /^degraded: .*not rendered yet/);
});

t.test('holdUnlisted: every known fragment a refused directory no longer lists is held, nothing else', async (t) => {
  const refusedDir = error({ file: '/etc/mirror-policy.d' }, 'refusing policy directory: writable by others');
  const contents = {
    exists: true,
    fragments: [],
    ignored: [],
    dirProblem: refusedDir,
    diagnostics: [refusedDir, error({ file: '11-renamed.toml' }, 'refusing fragment: the policy directory is writable by others')],
    identity: 'refused',
  };
  const held = holdUnlisted(['10-a.toml', '11-renamed.toml', '20-gone.yaml', '10-a.toml'], contents);
  t.same(
    held.map((d) => d.file),
    ['10-a.toml', '20-gone.yaml'],
  );
  t.ok(
    held.every((d) => d.severity === 'error'),
    'held as refused: the forgiving render keeps their last good content',
  );
});

t.test('Backoff: 1 s doubling to a minute, reset by a success', async (t) => {
  const b = new Backoff();
  t.same([b.failed(), b.failed(), b.failed()], [1000, 2000, 4000]);
  for (let i = 0; i < 10; i++) b.failed();
  t.equal(b.failed(), 60_000);
  b.succeeded();
  t.equal(b.failed(), 1000);
});
