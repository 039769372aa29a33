/** An HTTP(S) server of a test on 127.0.0.1 and a free port, whose close() also drops the connections it still has. */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { freePort } from './registry.js';

export async function listenLocal(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  tls?: { cert: Buffer; key: Buffer },
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
