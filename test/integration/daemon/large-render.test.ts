/**
 * A render of a huge set yields to the event loop (issue #15): while the REAL daemon renders
 * 10 000 fragments for the first time (read, then parse in slices: src/daemon/daemon.ts
 * parseInSlices), `status` answers. The first render comes before READY=1, so an answer that
 * arrives before READY=1 and names no render yet was given while that render was under way.
 * Bounded in count and time; asserts the order of events, never how fast they came.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { controlRequest } from '../../../src/control/client.js';
import { makeFragments } from '../../../bench/render.js';
import { makeDirs, removeDirs, startDaemon, startNotifyListener, stopDaemon, writeFragment } from '../../../bench/daemon-harness.js';

const FRAGMENTS = 10_000;
const MAX_POLLS = 2_000;

t.setTimeout(180_000);

t.test(`status answers while the first render of ${FRAGMENTS} fragments is under way`, async (t) => {
  const dirs = makeDirs('mpd-large-');
  t.teardown(() => removeDirs(dirs));
  for (const f of makeFragments(FRAGMENTS)) writeFragment(dirs.policy, f.file, f.text);
  const notify = await startNotifyListener();
  t.teardown(() => notify.close());
  const d = startDaemon(dirs, { notify, readyTimeoutMs: 150_000 });
  t.teardown(() => stopDaemon(d));
  let ready = false;
  void d.ready.then(() => (ready = true));

  let answeredDuringRender = 0;
  for (let i = 0; i < MAX_POLLS && !ready; i++) {
    if (!existsSync(dirs.control)) {
      await new Promise((r) => setTimeout(r, 5));
      continue;
    }
    const res = await controlRequest(dirs.control, { cmd: 'status' }, 30_000).catch(() => undefined);
    if (!res?.ok || ready) continue;
    const status = res.result as { lastRender?: unknown; degraded?: string[] };
    if (status.lastRender === undefined) answeredDuringRender++;
  }
  await d.ready;
  t.ok(answeredDuringRender > 0, `status answered ${answeredDuringRender} times before READY=1, with no render finished yet`);
  const after = await controlRequest(dirs.control, { cmd: 'status' });
  if (!after.ok) throw new Error(`status failed: ${after.error}`);
  t.equal((after.result as { lastRender?: { fragments: number } }).lastRender?.fragments, FRAGMENTS, 'then the render is done');
  const { code } = await stopDaemon(d);
  t.equal(code, 0);
});
