/** bodyDeadline (src/registry/client.ts): an overall deadline on a body, less the time that is not the source's. */
import t from 'tap';
import { PassThrough } from 'node:stream';
import { bodyDeadline } from '../../src/registry/client.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test("a source's deadline does not run while the client is being waited for", async (t) => {
  const body = new PassThrough();
  let waitingSince: number | undefined = performance.now();
  let waitedBefore = 0;
  const waited = (): number => waitedBefore + (waitingSince === undefined ? 0 : performance.now() - waitingSince);
  let error: (Error & { code?: string }) | undefined;
  body.on('error', (e) => (error = e));
  const disarm = bodyDeadline(body, 100, 'blob x', waited);
  await sleep(400);
  t.notOk(body.destroyed, 'four times the deadline spent waiting for the client: the body is not cut');
  waitedBefore = waited();
  waitingSince = undefined;
  for (let k = 0; k < 100 && !body.destroyed; k++) await sleep(20);
  t.ok(body.destroyed, "the source's own time runs out: cut");
  t.equal(error?.code, 'UND_ERR_BODY_TIMEOUT', 'as a trickling source');
  disarm();
});

t.test('disarmed, the deadline cuts nothing', async (t) => {
  const body = new PassThrough();
  bodyDeadline(body, 30, 'blob x', () => 0)();
  await sleep(100);
  t.notOk(body.destroyed);
});

t.test("the client waits before this body began (while an earlier source sent) are not taken off this body's time", async (t) => {
  const body = new PassThrough();
  body.on('error', () => undefined);
  const waitedBefore = 60_000; // a minute waiting for the client while the first source sent, then that source died
  const disarm = bodyDeadline(body, 100, 'blob x', () => waitedBefore);
  for (let k = 0; k < 100 && !body.destroyed; k++) await sleep(20);
  t.ok(body.destroyed, 'this source gets its own deadline, not that minute besides');
  disarm();
});
