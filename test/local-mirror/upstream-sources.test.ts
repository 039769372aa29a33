import t from 'tap';
import { isSelf } from '../../src/local-mirror/upstream-sources.js';

t.test('the endpoint under another loopback spelling is itself: never a source', async (t) => {
  t.ok(isSelf('127.0.0.1:5000', '127.0.0.1:5000'));
  t.ok(isSelf('localhost:5000', '127.0.0.1:5000'));
  t.ok(isSelf('LOCALHOST:5000', '[::1]:5000'));
  t.ok(isSelf('[::1]:5000', '127.0.0.1:5000'));
  t.notOk(isSelf('localhost:5001', '127.0.0.1:5000'), 'another port is another service');
  t.notOk(isSelf('mirror.example:5000', '127.0.0.1:5000'), 'a real mirror on the same port number');
  t.notOk(isSelf('127.0.0.2:5000', '127.0.0.1:5000'), 'another loopback address may be another service');
});
