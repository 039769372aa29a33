import t from 'tap';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { ClientWaits } from '../../src/local-mirror/client-waits.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
