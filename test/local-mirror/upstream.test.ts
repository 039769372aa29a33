import t from 'tap';
import { createLogger } from '../../src/core/log.js';
import { healthState } from '../../src/health/health.js';
import { emptyStats, type LocalMirrorStats } from '../../src/local-mirror/counters.js';
import { healthBook, Upstream, type HealthBook } from '../../src/local-mirror/upstream.js';
import { DigestMismatch } from '../../src/registry/oci-layout.js';
import type { PullSource } from '../../src/registry/pull.js';

async function upstream(maxConcurrent: number, health?: HealthBook, stats: LocalMirrorStats = emptyStats()): Promise<Upstream> {
  const log = createLogger({ level: 'silent' });
  return new Upstream({ credentials: false, maxConcurrent, health: health ?? (await healthBook(undefined, log)), stats, log });
}

t.test('wrong content found after a blob streamed marks its source down as a pull would (failure.ts); other content errors do not', async (t) => {
  const health = await healthBook(undefined, createLogger({ level: 'silent' }));
  const stats = emptyStats();
  const up = await upstream(1, health, stats);
  const s: PullSource = {
    reference: 'm.example:5000/app@sha256:' + 'a'.repeat(64),
    endpoint: { host: 'm.example:5000', insecure: true },
    role: 'mirror',
    blocked: false,
  };
  up.servedWrongContent(s, 'blob sha256:a: the content served does not match its digest');
  const h = health.view()['insecure://m.example:5000'];
  t.match(h, { failures: 1, lastFailure: { class: 'protocol', message: 'blob sha256:a: the content served does not match its digest' } });
  t.equal(healthState(h, Date.now()), 'down');
  t.same(stats.sources['insecure://m.example:5000'], { ok: 0, absent: 0, failed: 1 });
  const o: PullSource = { ...s, endpoint: { host: 'o.example:5000', insecure: true } };
  t.equal(up.failed(o, new DigestMismatch('blob sha256:a: 10 bytes here, 12 from the source before')), false, 'sizes two sources disagree on blame neither');
  t.equal(health.view()['insecure://o.example:5000'], undefined);
  await up.close();
});

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
