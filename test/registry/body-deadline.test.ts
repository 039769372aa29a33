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
