/**
 * BatchedBody (src/local-mirror/batched-body.ts) on a real loopback HTTP connection: pieces
 * pushed in one turn go out together at its end, whole and in order; a client that stops
 * reading makes a push return a promise (the source is paused); a client gone is ClientGone.
 */
import t from 'tap';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BatchedBody, SEND_BATCH_BYTES } from '../../src/local-mirror/batched-body.js';
import { emptyStats } from '../../src/local-mirror/counters.js';
import { ClientGone } from '../../src/local-mirror/reply.js';
import { pollUntil } from '../helpers/daemon.js';

/** A server whose one answer `answer` writes; the client's response, not yet read. */
async function exchange(t: { teardown(fn: () => unknown): void }, answer: (res: ServerResponse) => void): Promise<IncomingMessage> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    answer(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  return new Promise((resolve, reject) => request({ host: '127.0.0.1', port, path: '/' }, resolve).on('error', reject).end());
}

const readAll = async (res: IncomingMessage): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const c of res) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

const pieces = Array.from({ length: 12 }, (_, i) => Buffer.alloc(1000 + i, i));

t.test('pieces pushed in one turn are written at its end, whole and in order', async (t) => {
  const stats = emptyStats();
  const sentInTurn: number[] = [];
  const res = await exchange(t, (r) => {
    const out = new BatchedBody(r, stats);
    for (const p of pieces) t.equal(out.push(p), undefined, 'nothing to wait for');
    sentInTurn.push(stats.bytesSent);
    setImmediate(() => {
      sentInTurn.push(stats.bytesSent);
      void out.flush();
      r.end();
    });
  });
  t.same(await readAll(res), Buffer.concat(pieces), 'the bytes, in order');
  t.same(sentInTurn, [0, Buffer.concat(pieces).length], 'nothing written during the turn, everything at its end');
});

t.test('a batch is written at once when it reaches SEND_BATCH_BYTES', async (t) => {
  const stats = emptyStats();
  const big = Buffer.alloc(SEND_BATCH_BYTES / 2, 7);
  let afterTwo = -1;
  const res = await exchange(t, (r) => {
    const out = new BatchedBody(r, stats);
    void out.push(big);
    void out.push(big);
    afterTwo = stats.bytesSent;
    void out.flush();
    r.end();
  });
  await readAll(res);
  t.equal(afterTwo, SEND_BATCH_BYTES, 'written in the same turn');
});

t.test('a client that stops reading: push returns a promise, settled once it reads again', async (t) => {
  const stats = emptyStats();
  let waited: Promise<void> | undefined;
  let pushed = 0;
  const chunk = Buffer.alloc(64 * 1024, 1);
  const res = await exchange(t, (r) => {
    const out = new BatchedBody(r, stats);
    // bounded: loopback buffers hold a few MB at most
    for (let i = 0; i < 4096 && !waited; i++) {
      waited = out.push(chunk);
      pushed += chunk.length;
    }
    void waited?.then(() => {
      void out.flush();
      r.end();
    });
  });
  res.pause();
  await new Promise((r) => setTimeout(r, 100));
  t.ok(waited, `a push asked to wait after ${pushed} bytes`);
  res.resume();
  t.equal((await readAll(res)).length, pushed, 'everything pushed arrived once the client read');
});

t.test('the client gone: the next push throws ClientGone', async (t) => {
  const stats = emptyStats();
  let thrown: unknown;
  const res = await exchange(t, (r) => {
    const out = new BatchedBody(r, stats);
    r.on('close', () => {
      try {
        void out.push(Buffer.from('late'));
        void out.flush();
      } catch (e) {
        thrown = e;
      }
    });
    void out.push(Buffer.from('early'));
  });
  res.destroy();
  await pollUntil(() => thrown !== undefined, 'the push after the close to throw');
  t.type(thrown, ClientGone);
});
