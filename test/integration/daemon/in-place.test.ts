/**
 * An in-place write (truncate, then write) can be read in between, when the fragment is
 * empty: the daemon must not take that moment as the new content (an empty fragment is
 * valid and would drop its mirrors and become its last good). A fragment emptied on
 * purpose still takes effect, a moment later.
 */
import { performance } from 'node:perf_hooks';
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EMPTY_SETTLE_MS } from '../../../src/daemon/render-scheduler.js';
import { fragment, pollUntil, recordingConfig, sleep, snapshots, startDaemon, workspace } from '../../helpers/daemon.js';

t.test('a fragment read empty keeps its content until it is still empty a moment later', async (t) => {
  // The rewrite must come within EMPTY_SETTLE_MS of the truncation for the case to be made; a
  // machine that stalled the test longer has not made it: that attempt is set aside, not judged.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const ws = workspace(t);
    const file = join(ws.policy, '10-a.toml');
    writeFileSync(file, fragment('quay.io/a', ['mirror-a.example/a']));
    const { config, seen } = recordingConfig(ws);
    const d = await startDaemon(t, ws, { config });
    await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

    // The truncation alone, as the first half of an in-place write: the mirrors must not vanish.
    // Read empty twice (as when the rewrite's own truncating open is caught before its write):
    // still not the new content.
    const truncatedAt = performance.now();
    writeFileSync(file, '');
    await sleep(100);
    writeFileSync(file, '');
    await sleep(100);
    writeFileSync(file, fragment('quay.io/a', ['mirror-b.example/a']));
    const gap = performance.now() - truncatedAt;
    if (gap >= EMPTY_SETTLE_MS) {
      t.comment(`attempt ${attempt}: the rewrite came ${Math.round(gap)} ms after the truncation, past the settle time; again`);
      t.equal(await d.stop(), 0);
      continue;
    }
    await d.waitForOutput((o) => o.includes('mirror-b.example/a'), 'the rewritten content');
    // Every output written, as the after-render command saw it: none without the fragment's mirror.
    await pollUntil(() => snapshots(seen).some((o) => o.includes('mirror-b.example/a')), 'the after-render command for the rewrite');
    t.same(
      snapshots(seen).filter((o) => !/mirror-[ab]\.example\/a/.test(o)),
      [],
      'no output without the fragment',
    );
    // The last-good copy is saved after the output, in the background (issue #15): wait for it.
    const lastGood = join(ws.state, 'last-good', '10-a.toml');
    await pollUntil(() => readFileSync(lastGood, 'utf8') === fragment('quay.io/a', ['mirror-b.example/a']), 'the last-good copy of the new content');

    // Emptied on purpose: it takes effect after the settle time.
    writeFileSync(file, '');
    await pollUntil(() => !readFileSync(ws.output, 'utf8').includes('mirror-b.example/a'), 'the emptied fragment in effect');
    await pollUntil(() => readFileSync(lastGood, 'utf8') === '', 'the last-good copy of the emptied fragment');
    return;
  }
  t.fail(`in 3 attempts the rewrite never came within ${EMPTY_SETTLE_MS} ms of the truncation`);
});

t.test('SIGHUP while a fragment is read empty: its last valid content stays in effect and is kept', async (t) => {
  // After SIGHUP every fragment is read as for the first time, so the guard cannot lean on the
  // previous read: it leans on the last valid content. The rewrite here is broken (held at its
  // last good), so a moment taken as empty would show: the mirror gone, the last good emptied.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const ws = workspace(t);
    const file = join(ws.policy, '10-a.toml');
    const good = fragment('quay.io/a', ['mirror-a.example/a']);
    writeFileSync(file, good);
    const { config, seen } = recordingConfig(ws);
    const d = await startDaemon(t, ws, { config });
    await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');
    const lastGood = join(ws.state, 'last-good', '10-a.toml');
    await pollUntil(() => readFileSync(lastGood, 'utf8') === good, 'the last-good copy');

    const truncatedAt = performance.now();
    writeFileSync(file, '');
    const from = d.log().length;
    d.child.kill('SIGHUP');
    await d.waitForLog(/reloaded: settings re-read/, from);
    writeFileSync(file, '[[registry]]\nlocation = "quay.io/a"\n[[registry.mirror]\n');
    const gap = performance.now() - truncatedAt;
    if (gap >= EMPTY_SETTLE_MS) {
      t.comment(`attempt ${attempt}: the broken rewrite came ${Math.round(gap)} ms after the truncation, past the settle time; again`);
      t.equal(await d.stop(), 0);
      continue;
    }
    await d.waitForLog(/10-a\.toml:\d+/, from);
    // Past the settle time: whatever the daemon did with the empty read is done by now.
    await sleep(2 * EMPTY_SETTLE_MS);
    t.ok(readFileSync(ws.output, 'utf8').includes('mirror-a.example/a'), 'the mirror is still in the output');
    t.same(
      snapshots(seen).filter((o) => !o.includes('mirror-a.example/a')),
      [],
      'no output without the fragment',
    );
    t.equal(readFileSync(lastGood, 'utf8'), good, 'the last-good copy is the valid content');
    return;
  }
  t.fail(`in 3 attempts the rewrite never came within ${EMPTY_SETTLE_MS} ms of the truncation`);
});
