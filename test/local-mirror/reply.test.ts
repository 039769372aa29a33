import t from 'tap';
import { AnswerDeadline } from '../../src/local-mirror/reply.js';

t.test('AnswerDeadline: time queued for a slot counts for a manifest, not for a blob', async (t) => {
  const expiry = (queueTimeCounts: boolean): Promise<boolean> =>
    new Promise((resolve) => {
      const d = new AnswerDeadline(150, () => resolve(true), queueTimeCounts);
      d.queued();
      setTimeout(() => {
        d.dequeued(); // 400 ms queued: the blob's 150 ms start again from where they stood
        setTimeout(() => {
          d.stop();
          resolve(d.late);
        }, 50);
      }, 400);
    });
  t.equal(await expiry(true), true, 'a manifest: expired while queued');
  t.equal(await expiry(false), false, 'a blob: 50 ms after its wait, not yet expired');
});
