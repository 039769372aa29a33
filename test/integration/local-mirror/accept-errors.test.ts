/**
 * A failed accept() on the endpoint's listening socket (EMFILE once libuv's spare descriptor is
 * gone, ENOMEM, ENOBUFS) is emitted by Node as 'error' on the server, long after listen(). It
 * must not take the daemon down: logged once per cause, and the endpoint keeps answering.
 * Such a failure cannot be had on demand from a real kernel (libuv's spare descriptor absorbs a
 * plain EMFILE), so it is emitted on the endpoint's real server, the way Node's net.js does.
 */
import t from 'tap';
import { Server } from 'node:net';
import { pino } from 'pino';
import { get } from 'node:http';
import { localMirrorSetup } from '../../helpers/local-mirror.js';

/** The servers that listen while `fn` runs (an http.Server is a net.Server). */
async function serversListening<T>(fn: () => Promise<T>): Promise<{ result: T; servers: Server[] }> {
  const servers: Server[] = [];
  const proto = Server.prototype as unknown as { listen: (...a: unknown[]) => Server };
  const listen = proto.listen;
  proto.listen = function (this: Server, ...args: unknown[]) {
    servers.push(this);
    return listen.apply(this, args);
  };
  try {
    return { result: await fn(), servers };
  } finally {
    proto.listen = listen;
  }
}

/** An accept error as net.js's onconnection makes it. */
function acceptError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`accept ${code}`), { code, errno: -24, syscall: 'accept' });
}

t.test('a failed accept() is logged once per cause and the endpoint keeps answering', async (t) => {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug', base: undefined }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });
  const setup = await localMirrorSetup(t, []);
  const { servers } = await serversListening(() => setup.start({ log }));
  t.equal(servers.length, 1, 'the endpoint listens once');
  const server = servers[0] as Server;
  // A connection of its own each time (no pool): the one after the errors is a new accept, which the log is told of.
  const ping = () =>
    new Promise<number | undefined>((resolve, reject) => {
      get(`http://${setup.address}/v2/`, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject);
    });
  t.equal(await ping(), 200, 'answering before');

  t.doesNotThrow(() => {
    for (let i = 0; i < 3; i++) server.emit('error', acceptError('EMFILE'));
    server.emit('error', acceptError('ENOBUFS'));
  }, 'the errors are handled (unhandled, Node would throw them and the daemon die)');
  const about = (re: RegExp) => lines.filter((l) => re.test(l.msg));
  t.same(
    about(/local mirror: accept/).map((l) => [l.level, l.msg]),
    [
      [50, 'local mirror: accept EMFILE; still listening'],
      [20, 'local mirror: accept EMFILE again (2 since the last connection accepted)'],
      [20, 'local mirror: accept EMFILE again (3 since the last connection accepted)'],
      [50, 'local mirror: accept ENOBUFS; still listening'],
    ],
    'the first of a cause at error, its repeats at debug',
  );
  t.equal(await ping(), 200, 'still answering after');
  t.match(about(/accepting connections again/), [{ level: 30, msg: 'local mirror: accepting connections again (4 failed before)' }]);
});
