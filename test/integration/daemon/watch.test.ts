/**
 * The daemon follows the policy directory however it changes: drop-ins by atomic rename,
 * in-place writes, deletes, the directory deleted and recreated or swapped for another,
 * a directory that does not exist yet, and a storm of 500 files at once.
 */
import t from 'tap';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../../helpers/cli.js';
import { fragment, replaceFile, sleep, startDaemon, workspace } from '../../helpers/daemon.js';

t.test('drop-ins by atomic rename, in-place write and delete', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

  // Atomic rename from a name the daemon ignores (dotfile, *.tmp) into a fragment name.
  const tmp = join(ws.policy, '.20-b.toml.tmp');
  writeFileSync(tmp, fragment('quay.io/b', ['mirror-b.example/b']));
  renameSync(tmp, join(ws.policy, '20-b.toml'));
  let out = await d.waitForOutput((o) => o.includes('mirror-b.example/b'), 'the renamed drop-in');
  t.match(out, /# fragments: 10-a\.toml, 20-b\.toml\n/, 'the temp name never appears as a fragment');
  t.notMatch(out, /\.tmp/);

  // In-place rewrite of an existing fragment.
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a2.example/a']));
  out = await d.waitForOutput((o) => o.includes('mirror-a2.example/a'), 'the in-place write');
  t.notMatch(out, /mirror-a\.example\/a/, 'the old mirror is gone');

  // Delete.
  rmSync(join(ws.policy, '20-b.toml'));
  out = await d.waitForOutput((o) => !o.includes('mirror-b.example/b'), 'the delete');
  t.match(out, /# fragments: 10-a\.toml\n/);

  const s = await d.status();
  t.equal(s.state, 'healthy');
  t.same(
    s.fragments.map((f) => [f.file, f.state]),
    [['10-a.toml', 'valid']],
  );
  t.equal(await d.stop(), 0);
});

t.test('the policy directory deleted and recreated, then swapped for another', async (t) => {
  const ws = workspace(t);
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

  rmSync(ws.policy, { recursive: true });
  await d.waitForStatus((s) => s.degraded.some((r) => /does not exist/.test(r)), 'degraded: no policy directory');
  t.match(
    readFileSync(ws.output, 'utf8'),
    /mirror-a\.example\/a/,
    'the last render stays while the directory is missing (test/daemon/policy-dir-presence.test.ts)',
  );

  mkdirSync(ws.policy, { mode: 0o755 });
  writeFileSync(join(ws.policy, '30-c.toml'), fragment('quay.io/c', ['mirror-c.example/c']));
  await d.waitForOutput((o) => o.includes('mirror-c.example/c'), 'a fragment in the recreated directory');
  // Still watching the new directory (not the deleted inode): a later change is seen too.
  writeFileSync(join(ws.policy, '31-c.toml'), fragment('quay.io/c2', ['mirror-c2.example/c']));
  await d.waitForOutput((o) => o.includes('mirror-c2.example/c'), 'a second fragment in the recreated directory');
  t.equal((await d.status()).state, 'healthy');

  // Swap: build a new directory beside it, move the old one away, rename the new one into place.
  const next = `${ws.policy}.new`;
  mkdirSync(next, { mode: 0o755 });
  writeFileSync(join(next, '40-d.toml'), fragment('quay.io/d', ['mirror-d.example/d']));
  renameSync(ws.policy, `${ws.policy}.old`);
  renameSync(next, ws.policy);
  const swapped = await d.waitForOutput((o) => o.includes('mirror-d.example/d') && !o.includes('mirror-c.example/c'), 'the swapped-in directory');
  t.match(swapped, /# fragments: 40-d\.toml\n/);
  writeFileSync(join(ws.policy, '41-e.toml'), fragment('quay.io/e', ['mirror-e.example/e']));
  await d.waitForOutput((o) => o.includes('mirror-e.example/e'), 'a change inside the swapped-in directory');
  // The old directory (now elsewhere) is not watched as the policy.
  writeFileSync(join(`${ws.policy}.old`, '50-old.toml'), fragment('quay.io/old', ['mirror-old.example/x']));
  writeFileSync(join(ws.policy, '42-f.toml'), fragment('quay.io/f', ['mirror-f.example/f']));
  const last = await d.waitForOutput((o) => o.includes('mirror-f.example/f'), 'a later change');
  t.notMatch(last, /mirror-old\.example/);
  t.equal(await d.stop(), 0);
});

t.test('a policy directory missing at start: READY but degraded, renders when it appears', async (t) => {
  const ws = workspace(t, { policy: false });
  const d = await startDaemon(t, ws); // resolves on READY=1
  const ready = d.notify?.messages().find((m) => m.startsWith('READY=1')) ?? '';
  t.match(ready, /STATUS=degraded/, 'READY=1 says degraded');
  const s = await d.status();
  t.equal(s.state, 'degraded');
  t.match(s.degraded.join('\n'), /policy directory .* does not exist/);
  await d.waitForLog(/does not exist; waiting for it/); // a log line may land a moment after the effect it reports
  t.match(d.log(), /does not exist; waiting for it/);
  const st = await runCli(['status', '--control-socket', ws.control]);
  t.equal(st.code, 1, 'status exits 1 while degraded');

  mkdirSync(ws.policy, { mode: 0o755 });
  writeFileSync(join(ws.policy, '10-a.toml'), fragment('quay.io/a', ['mirror-a.example/a']));
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the render once the directory appears');
  await d.waitForStatus((x) => x.state === 'healthy', 'healthy');
  t.equal(await d.stop(), 0);
});

t.test('a storm of 500 fragments converges to exactly the strict render, in far fewer renders', async (t) => {
  const ws = workspace(t);
  const base = join(ws.dir, 'base.conf');
  writeFileSync(base, 'unqualified-search-registries = ["registry.example"]\n');
  const d = await startDaemon(t, ws, { debounceMs: 200, args: ['--base', base] });
  await d.waitForOutput((o) => o.includes('# base: base.conf'), 'the first (empty) render');
  const before = (await d.status()).renders;

  const N = 500;
  for (let i = 0; i < N; i++) {
    const n = String(i).padStart(3, '0');
    // Every other one through the atomic-rename path, the rest written in place.
    const text = fragment(`storm.example/ns${n}`, [`mirror-${n}.example/ns${n}`]);
    if (i % 2 === 0) {
      writeFileSync(join(ws.policy, `.${n}.toml.tmp`), text);
      renameSync(join(ws.policy, `.${n}.toml.tmp`), join(ws.policy, `${n}-storm.toml`));
    } else {
      writeFileSync(join(ws.policy, `${n}-storm.toml`), text);
    }
  }

  const expected = await runCli(['render', '--policy-dir', ws.policy, '--stdout', '--allow-unsafe-fragments', '--base', base]);
  t.equal(expected.code, 0, expected.stderr);
  t.match(expected.stdout, /mirror-499\.example\/ns499/);
  await d.waitForOutput((o) => o === expected.stdout, 'the output to equal the strict render of all 500 fragments', 20_000);
  const s = await d.waitForStatus((x) => x.fragments.length === N, `${N} fragments in status`);
  t.equal(s.state, 'healthy');
  t.ok(s.fragments.every((f) => f.state === 'valid'));
  const renders = s.renders - before;
  t.ok(renders >= 1 && renders < 50, `the storm was coalesced: ${renders} renders for ${N} files`);
  t.equal(await d.stop(), 0);
});

t.test('a change made right after READY=1 is seen (the watcher is watching before READY)', async (t) => {
  const ws = workspace(t);
  // Many files make the watcher's initial scan take a while: the window in which a change would be missed.
  for (let i = 0; i < 400; i++)
    writeFileSync(join(ws.policy, `${String(i).padStart(3, '0')}-x.toml`), fragment(`early.example/ns${i}`, [`mirror-early.example/ns${i}`]));
  // The safety-net rescan is far beyond the deadline: only the watcher can deliver the change.
  const d = await startDaemon(t, ws, { args: ['--rescan-interval-ms', '600000'] });
  writeFileSync(join(ws.policy, '999-late.toml'), fragment('quay.io/late', ['mirror-late.example/x']));
  await d.waitForOutput((o) => o.includes('mirror-late.example/x'), 'the change made right after READY=1');
  t.equal(await d.stop(), 0);
});

t.test('one fragment replaced twice in quick succession: the second version wins', async (t) => {
  // chokidar drops an event that follows another on the same file within milliseconds;
  // whatever the watcher reports, the output must end at the last version.
  const ws = workspace(t);
  const a = join(ws.policy, '10-a.toml');
  replaceFile(a, fragment('quay.io/a', ['mirror-start.example/a']));
  const d = await startDaemon(t, ws, { args: ['--rescan-interval-ms', '600000'] });
  replaceFile(a, fragment('quay.io/a', ['mirror-warm.example/a']));
  await d.waitForOutput((o) => o.includes('mirror-warm.example/a'), 'a first change');
  for (const [i, delay] of [0, 2, 5, 10, 20, 50, 100, 0, 2, 5, 10, 20, 50, 100].entries()) {
    replaceFile(a, fragment('quay.io/a', [`mirror-first-${i}.example/a`]));
    if (delay > 0) await sleep(delay);
    replaceFile(a, fragment('quay.io/a', [`mirror-second-${i}.example/a`]));
    const out = await d.waitForOutput((o) => o.includes(`mirror-second-${i}.example/a`), `the second version (${delay} ms after the first)`);
    t.notMatch(out, /mirror-first/);
  }
  t.equal(await d.stop(), 0);
});
