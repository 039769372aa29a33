/**
 * A small recording HTTP proxy, as corporate proxies behave: CONNECT tunnels (for https
 * targets) and absolute-form forwarding (`GET http://host/path`, for http targets), with
 * optional basic Proxy-Authorization. It resolves names from its own `hosts` map, so a
 * registry reachable only by a made-up name (registry.test) proves a request went through
 * it. Only 127.0.0.1 and 0.0.0.0 (which Linux connects to loopback) are ever dialled:
 * anything else gets 502, nothing leaves the machine.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { freePort } from './registry.js';

export interface ProxiedRequest {
  /** "CONNECT host:port" or "GET http://host:port/path" */
  readonly line: string;
  readonly proxyAuthorized: boolean;
}

export interface RecordingProxy {
  readonly url: string; // http://[user:pass@]127.0.0.1:PORT
  readonly requests: ProxiedRequest[];
  close(): Promise<void>;
}

const DIALLABLE = new Set(['127.0.0.1', '0.0.0.0']);

export async function startRecordingProxy(opts: { hosts?: Record<string, string>; auth?: { user: string; password: string } } = {}): Promise<RecordingProxy> {
  const requests: ProxiedRequest[] = [];
  const expected = opts.auth ? `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}` : undefined;
  const resolve = (host: string): string | undefined => {
    const ip = opts.hosts?.[host.toLowerCase()] ?? host;
    return DIALLABLE.has(ip) ? ip : undefined;
  };
  const authorized = (req: IncomingMessage): boolean => expected === undefined || req.headers['proxy-authorization'] === expected;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const ok = authorized(req);
    requests.push({ line: `${req.method} ${req.url}`, proxyAuthorized: ok });
    if (!ok) return void res.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end();
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      return void res.writeHead(400).end('absolute-form URL expected');
    }
    const ip = resolve(target.hostname);
    if (!ip || target.protocol !== 'http:') return void res.writeHead(502).end('not reachable from this proxy');
    const { 'proxy-authorization': _pa, 'proxy-connection': _pc, ...headers } = req.headers;
    const up = httpRequest({ host: ip, port: Number(target.port || 80), method: req.method, path: `${target.pathname}${target.search}`, headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const ok = authorized(req);
    requests.push({ line: `CONNECT ${req.url}`, proxyAuthorized: ok });
    if (!ok) return void client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\n\r\n');
    const m = /^(.+):(\d+)$/.exec(req.url ?? '');
    const ip = m?.[1] ? resolve(m[1]) : undefined;
    if (!m || !ip) return void client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    const upstream = connect(Number(m[2]), ip, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const cred = opts.auth ? `${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.password)}@` : '';
  return {
    url: `http://${cred}127.0.0.1:${port}`,
    requests,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
