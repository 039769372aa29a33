import t from 'tap';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { ClientWaits, sourceDeadline } from '../../src/local-mirror/client-waits.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test("a source's deadline does not run while the client is being waited for", async (t) => {
  const body = new PassThrough();
  let waitingSince: number | undefined = performance.now();
  let waitedBefore = 0;
  const waited = (): number => waitedBefore + (waitingSince === undefined ? 0 : performance.now() - waitingSince);
  let error: (Error & { code?: string }) | undefined;
  body.on('error', (e) => (error = e));
  const disarm = sourceDeadline(body, 100, 'blob x', waited);
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
  sourceDeadline(body, 30, 'blob x', () => 0)();
  await sleep(100);
  t.notOk(body.destroyed);
});

/** A real response, on a socket that never connects: ClientWaits cuts it with destroy(). */
function response(): ServerResponse {
  return new ServerResponse(new IncomingMessage(new Socket()));
}

t.test('a wait for the client: timed, and the client cut once it passes the stall bound', async (t) => {
  const res = response();
  const waits = new ClientWaits(res, 150);
  t.equal(waits.bound(undefined), undefined, 'nothing to wait for');
  await waits.bound(sleep(60));
  t.ok(waits.waited() >= 50, `the wait is counted (${Math.round(waits.waited())} ms)`);
  t.notOk(res.destroyed, 'a wait within the bound cuts nothing');
  void waits.bound(new Promise<void>(() => undefined)); // a client that never reads again
  for (let k = 0; k < 100 && !res.destroyed; k++) await sleep(20);
  t.ok(res.destroyed, 'past the bound, the client is cut');
  t.ok(waits.stalled);
  t.ok(waits.waited() >= 200, 'the wait under way counts too');
});
