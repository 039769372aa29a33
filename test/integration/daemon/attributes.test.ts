/**
 * A chmod or chown that fixes or breaks a fragment's trust takes effect at once (the watcher
 * reports attribute changes too), not at the next rescan (set 10 minutes away here).
 */
import t from 'tap';
import { chmodSync, chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mattersInPolicyDir } from '../../../src/daemon/watcher.js';
import { fragment, sleep, startDaemon, workspace } from '../../helpers/daemon.js';

const isRoot = process.getuid?.() === 0;

t.test('chmod and chown of a fragment are noticed at once', async (t) => {
  const ws = workspace(t);
  const a = join(ws.policy, '10-a.toml');
  writeFileSync(a, fragment('quay.io/a', ['mirror-a.example/a']));
  chmodSync(a, 0o666);
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
    '--rescan-interval-ms',
    '600000',
  ];
  const d = await startDaemon(t, ws, { argv: strict });
  let s = await d.status();
  t.same(
    s.fragments.map((f) => [f.file, f.state]),
    [['10-a.toml', 'invalid']],
    'writable by others: refused',
  );

  chmodSync(a, 0o644); // fixes its trust
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the fragment rendered once its mode is fixed');
  await d.waitForStatus((x) => x.state === 'healthy', 'healthy');

  chmodSync(a, 0o646); // breaks it
  s = await d.waitForStatus((x) => x.fragments.some((f) => f.file === '10-a.toml' && f.state === 'held'), 'held once writable by others');
  t.match(s.fragments[0]?.errors.join('\n') ?? '', /writable by others/);
  chmodSync(a, 0o644);
  await d.waitForStatus((x) => x.state === 'healthy', 'healthy again');

  if (isRoot) {
    chownSync(a, 4242, 4242); // breaks it
    s = await d.waitForStatus((x) => x.fragments.some((f) => f.file === '10-a.toml' && f.state === 'held'), 'held once owned by another user');
    t.match(s.fragments[0]?.errors.join('\n') ?? '', /owned by uid 4242/);
    chownSync(a, 0, 0);
    await d.waitForStatus((x) => x.state === 'healthy', 'healthy once owned by root again');
  }
  // Attribute events must not feed a loop (reading a file, writing the output): idle is idle.
  const before = (await d.status()).renders;
  await sleep(2500);
  const idle = (await d.status()).renders - before;
  t.ok(idle <= 3, `no render loop: ${idle} render(s) in 2.5 s of quiet`);
  t.equal(await d.stop(), 0);
});

t.test("mattersInPolicyDir: a tool's temp file is no reason to render, a fragment or a misnamed file is", async (t) => {
  t.ok(mattersInPolicyDir('10-a.toml'));
  t.ok(mattersInPolicyDir('notes.txt'), 'not a fragment, but warned about: its coming and going changes the status');
  t.notOk(mattersInPolicyDir('.10-a.toml.writing'));
  t.notOk(mattersInPolicyDir('10-a.toml~'));
});
