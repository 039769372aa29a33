/**
 * src/registry/undici-parts.ts loads undici's parts from their own files (undici 7's layout).
 * Each must be the very thing undici's index exports, and request() must send what undici's
 * own request() sends: an upgrade that moves a file or changes the API fails here first.
 */
import t from 'tap';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { Agent, errors, loadProxyAgent, request } from '../../src/registry/undici-parts.js';

t.test('each part is the one undici exports', async (t) => {
  t.equal(Agent, undici.Agent);
  t.equal(errors, undici.errors);
  t.equal(loadProxyAgent().ProxyAgent, undici.ProxyAgent);
  t.equal(loadProxyAgent().Pool, undici.Pool);
});

t.test('request() sends the method, path, query and headers, and gives the answer', async (t) => {
  const seen: Array<Pick<IncomingMessage, 'method' | 'url'> & { ua?: string }> = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, ua: req.headers['user-agent'] });
    res.writeHead(201, { 'x-answer': 'yes' }).end(req.method === 'HEAD' ? undefined : 'body');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = new Agent();
  t.teardown(async () => {
    await agent.close();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const got = await request(new URL(`${base}/v2/a/b?n=1&last=x`), { dispatcher: agent, method: 'GET', headers: { 'user-agent': 'test' } });
  t.equal(got.statusCode, 201);
  t.equal(got.headers['x-answer'], 'yes');
  t.equal(await got.body.text(), 'body');
  const head = await request(new URL(`${base}/v2/`), { dispatcher: agent, method: 'HEAD', headers: {} });
  await head.body.dump();
  t.same(seen, [
    { method: 'GET', url: '/v2/a/b?n=1&last=x', ua: 'test' },
    { method: 'HEAD', url: '/v2/', ua: undefined },
  ]);
});
