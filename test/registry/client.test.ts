/**
 * EndpointClient errors as an operator reads them in `status` and the logs.
 */
import t from 'tap';
import { EndpointClient, RegistryError, describeError } from '../../src/registry/client.js';
import { freePort } from '../helpers/registry.js';

t.test('a refused ping is classified and says what the address answered', async (t) => {
  const port = await freePort();
  const client = new EndpointClient(`localhost:${port}`, false, { tls: {}, credentials: async () => undefined, timeouts: { connectMs: 2000, headersMs: 2000, bodyIdleMs: 2000 } });
  const err = await client.ping().then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof RegistryError, 'a RegistryError');
  t.equal((err as RegistryError).failureClass, 'refused');
  t.match((err as RegistryError).message, /ECONNREFUSED/);
});

t.test("Node's happy-eyeballs AggregateError (empty message) is described by what each address answered", async (t) => {
  // What net.connect gives when localhost is both ::1 and 127.0.0.1 and both refuse
  // (seen under systemd-nspawn; this machine's localhost has one address, so built here).
  const refused = (addr: string): Error => Object.assign(new Error(`connect ECONNREFUSED ${addr}`), { code: 'ECONNREFUSED' });
  const agg = Object.assign(new AggregateError([refused('::1:9'), refused('127.0.0.1:9')]), { code: 'ECONNREFUSED' });
  const wrapped = Object.assign(new TypeError('fetch failed'), { cause: agg });
  t.equal(describeError(agg), 'connect ECONNREFUSED ::1:9, connect ECONNREFUSED 127.0.0.1:9');
  t.equal(describeError(wrapped), 'fetch failed: connect ECONNREFUSED ::1:9, connect ECONNREFUSED 127.0.0.1:9');
  t.equal(describeError(new Error('plain')), 'plain');
});
