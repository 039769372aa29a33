/**
 * docker.io's API is reached at registry-1.docker.io, as containers/image reaches it
 * (src/registry/api-host.ts): the registry client (the local mirror's upstream, `pull`) and the
 * health probe ask that host, every other host is asked as named. Seen through a recording
 * proxy on 127.0.0.1, which dials nothing outside loopback: the requests fail, the proxy has
 * seen where they were going.
 */
import t from 'tap';
import { EndpointClient } from '../../../src/registry/client.js';
import { pingEndpoint } from '../../../src/registry/probe.js';
import { startRecordingProxy } from '../../helpers/http-proxy.js';

const timeouts = { connectMs: 5000, headersMs: 5000, bodyIdleMs: 5000 };

t.test('the registry client and the probe ask docker.io at registry-1.docker.io; other hosts as named', async (t) => {
  const proxy = await startRecordingProxy();
  t.teardown(() => proxy.close());
  const env = { HTTPS_PROXY: proxy.url };
  const asked = (): string[] => proxy.requests.map((r) => r.line);
  for (const host of ['docker.io', 'quay.io']) {
    const client = new EndpointClient(host, false, { tls: {}, env, timeouts, credentials: () => Promise.resolve(undefined) });
    await t.rejects(client.get('/v2/library/app/manifests/latest', 'library/app'), `${host}: nothing reachable behind the proxy`);
    await client.close();
  }
  await t.rejects(pingEndpoint('docker.io', false, { tls: {}, timeouts, env }), 'the probe too');
  t.ok(asked().includes('CONNECT registry-1.docker.io:443'), `docker.io asked at registry-1.docker.io (${JSON.stringify(asked())})`);
  t.ok(asked().includes('CONNECT quay.io:443'), 'quay.io asked as named');
  t.notOk(asked().includes('CONNECT docker.io:443'), 'docker.io itself never asked');
  t.equal(asked().filter((l) => l === 'CONNECT registry-1.docker.io:443').length >= 2, true, 'by the client and by the probe');
});
