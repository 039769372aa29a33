import t from 'tap';
import { createLogger } from '../../src/core/log.js';
import { emptyStats } from '../../src/local-mirror/counters.js';
import { healthBook, Upstream } from '../../src/local-mirror/upstream.js';

async function upstream(maxConcurrent: number): Promise<Upstream> {
  const log = createLogger({ level: 'silent' });
  return new Upstream({ credentials: false, maxConcurrent, health: await healthBook(undefined, log), stats: emptyStats(), log });
}

t.test('the slot bound: a waiter gets the slot a release gives back, and a release counts once', async (t) => {
  const up = await upstream(1);
  const first = await up.slot();
  let second: (() => void) | undefined;
  const waiting = up.slot().then((r) => (second = r));
  await new Promise((r) => setImmediate(r));
  t.equal(second, undefined, 'the second waits while the only slot is held');
  first();
  first(); // a second call must not free a slot it no longer holds
  await waiting;
  t.type(second, 'function', 'the released slot passed on');
  let third: (() => void) | undefined;
  const waitingThird = up.slot().then((r) => (third = r));
  await new Promise((r) => setImmediate(r));
  t.equal(third, undefined, 'the double release did not make a second slot');
  second?.();
  await waitingThird;
  third?.();
  const again = await up.slot(); // all given back: one is free at once
  again();
  await up.close();
});
