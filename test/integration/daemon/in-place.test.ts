/**
 * An in-place write (truncate, then write) can be read in between, when the fragment is
 * empty: the daemon must not take that moment as the new content (an empty fragment is
 * valid and would drop its mirrors and become its last good). A fragment emptied on
 * purpose still takes effect, a moment later.
 */
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fragment, pollUntil, sleep, startDaemon, workspace } from '../../helpers/daemon.js';

t.test('a fragment read empty keeps its content until it is still empty a moment later', async (t) => {
  const ws = workspace(t);
  const file = join(ws.policy, '10-a.toml');
  writeFileSync(file, fragment('quay.io/a', ['mirror-a.example/a']));
  const d = await startDaemon(t, ws);
  await d.waitForOutput((o) => o.includes('mirror-a.example/a'), 'the first render');

  // The truncation alone, as the first half of an in-place write: the mirrors must not vanish.
  writeFileSync(file, '');
  await sleep(150);
  writeFileSync(file, fragment('quay.io/a', ['mirror-b.example/a']));
  await d.waitForOutput((o) => o.includes('mirror-b.example/a'), 'the rewritten content');
  t.notOk(d.stdout().match(/rendered .*: 0 fragments/), 'never rendered without the fragment');
  // The last-good copy is saved after the output, in the background (issue #15): wait for it.
  const lastGood = join(ws.state, 'last-good', '10-a.toml');
  await pollUntil(() => readFileSync(lastGood, 'utf8') === fragment('quay.io/a', ['mirror-b.example/a']), 'the last-good copy of the new content');

  // Emptied on purpose: it takes effect after the settle time.
  writeFileSync(file, '');
  await pollUntil(() => !readFileSync(ws.output, 'utf8').includes('mirror-b.example/a'), 'the emptied fragment in effect');
  await pollUntil(() => readFileSync(lastGood, 'utf8') === '', 'the last-good copy of the emptied fragment');
});
