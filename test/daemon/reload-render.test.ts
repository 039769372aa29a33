/** The render a reload waits for (src/daemon/reload-render.ts): handed on a bounded number of times, ended once. */
import t from 'tap';
import { ReloadRender } from '../../src/daemon/reload-render.js';

t.test('handed on at most five times: a writer racing every render does not hold the reload forever', async (t) => {
  const r = new ReloadRender();
  const answers = Array.from({ length: 7 }, () => r.handOn());
  t.same(answers, [true, true, true, true, true, false, false]);
});

t.test('ended resolves at finish, with what the render reached', async (t) => {
  const r = new ReloadRender();
  let ended = false;
  void r.ended.then(() => (ended = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(ended, 'not before a render finished with it');
  r.reached = true;
  r.finish();
  await r.ended;
  t.ok(ended);
  t.ok(r.reached);
});
