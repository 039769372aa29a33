/**
 * Fault makers for the faults a real registry cannot produce on demand (the only mocks
 * we allow): an HTTP proxy in front of a real docker-registry that answers 5xx, corrupts
 * bytes or hangs for chosen paths; a port that refuses; a listener that accepts and never
 * answers (also a TLS handshake that never completes).
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { freePort } from './registry.js';

export type Fault = 'status-500' | 'status-404' | 'corrupt' | 'hang' | 'endless' | 'redirect-loop' | 'status-429-once' | 'status-429-far' | 'status-429-always';

export interface FaultRule {
  readonly path: RegExp;
  readonly fault: Fault;
  /** only for requests whose User-Agent matches (e.g. the local mirror's, while skopeo is answered) */
  readonly userAgent?: RegExp;
}

export interface FaultProxy {
  readonly host: string; // 127.0.0.1:PORT
  rules: FaultRule[];
  readonly hits: string[]; // "METHOD path fault|pass"
  close(): Promise<void>;
}

function closeServer(s: Server | NetServer, sockets: Set<Socket>): Promise<void> {
  for (const so of sockets) so.destroy();
  return new Promise((r) => s.close(() => r()));
}

function track(s: Server | NetServer): Set<Socket> {
  const sockets = new Set<Socket>();
  s.on('connection', (so: Socket) => {
    sockets.add(so);
    so.on('close', () => sockets.delete(so));
  });
  return sockets;
}

/** An HTTP proxy to `target` (a registry's 127.0.0.1:PORT) applying the first matching rule. */
export async function startFaultProxy(target: string, rules: FaultRule[] = []): Promise<FaultProxy> {
  const [thost, tport] = target.split(':') as [string, string];
  const hits: string[] = [];
  const proxy: { rules: FaultRule[] } = { rules };
  const throttled = new Set<string>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const rule = proxy.rules.find((r) => r.path.test(path) && (r.userAgent?.test(req.headers['user-agent'] ?? '') ?? true));
    hits.push(`${req.method} ${path} ${rule?.fault ?? 'pass'}`);
    if (rule?.fault === 'status-500') return void res.writeHead(500, { 'content-type': 'text/plain' }).end('injected failure');
    if (rule?.fault === 'status-404') return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    if (rule?.fault === 'hang') return; // never answer
    if (rule?.fault === 'status-429-once' && !throttled.has(path)) {
      throttled.add(path);
      return void res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' }).end('slow down');
    }
    // 429 asking for a wait of 11.6 days; 429 without Retry-After, every time
    if (rule?.fault === 'status-429-far') return void res.writeHead(429, { 'retry-after': '999999', 'content-type': 'text/plain' }).end('slow down');
    if (rule?.fault === 'status-429-always') return void res.writeHead(429, { 'content-type': 'text/plain' }).end('slow down');
    if (rule?.fault === 'redirect-loop') return void res.writeHead(307, { location: path }).end();
    if (rule?.fault === 'endless') {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      const chunk = Buffer.alloc(64 * 1024, 0x7b);
      const pump = (): void => {
        while (res.write(chunk)) if (res.destroyed) return;
        res.once('drain', pump);
      };
      return pump();
    }
    const upstream = httpRequest({ host: thost, port: Number(tport), method: req.method, path, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (rule?.fault === 'corrupt') {
        let first = true;
        up.on('data', (b: Buffer) => {
          if (first && b.length > 0) {
            b = Buffer.from(b);
            b[b.length - 1] = (b[b.length - 1] ?? 0) ^ 0xff; // same length, wrong content
            first = false;
          }
          res.write(b);
        });
        up.on('end', () => res.end());
      } else up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const sockets = track(server);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${port}`,
    get rules() {
      return proxy.rules;
    },
    set rules(v: FaultRule[]) {
      proxy.rules = v;
    },
    hits,
    close: () => closeServer(server, sockets),
  };
}

/** A TCP listener that accepts and never says a word: a hung application, or a TLS handshake that stalls. */
export async function startSilentListener(): Promise<{ host: string; connections: () => number; close(): Promise<void> }> {
  let n = 0;
  const server = createNetServer(() => void n++);
  const sockets = track(server);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { host: `127.0.0.1:${port}`, connections: () => n, close: () => closeServer(server, sockets) };
}

/**
 * A black-holed address on loopback: a listener whose accept queue is full (backlog 0, filled
 * by its own connections, never accepted), so the kernel drops every further SYN and a connect
 * never completes, as toward a host that has vanished from the network. Node accepts every
 * connection itself, so the listener is a python3 process (ended by close()).
 */
export async function startBlackHole(): Promise<{ host: string; close(): Promise<void> }> {
  const { spawn } = await import('node:child_process');
  const script = [
    'import socket, sys',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'port = s.getsockname()[1]; fill = []',
    'for _ in range(3):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(("127.0.0.1", port))',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'print(port, flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('black hole: python3 printed no port within 5 s')), 5000);
    child.stdout.once('data', (b: Buffer) => {
      clearTimeout(timer);
      resolve(b.toString().trim());
    });
    child.once('error', reject);
  });
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.once('exit', () => r());
        child.stdin.end(); // python3 reads stdin to its end, then exits
      }),
  };
}

/** A port nothing listens on: connections are refused. */
export async function refusingHost(): Promise<string> {
  return `127.0.0.1:${await freePort()}`;
}

// ------------------------------------------------ hostile mirrors (test/registry/hostile.test.ts) ----

export type HostileFault =
  /** 200 with a Content-Length over the manifest cap; a few bytes, then silence. */
  | 'oversized-declared'
  /** The status line, then one header byte every 100 ms, never the end of the headers. */
  | 'slow-headers'
  /** 200, then one body byte every 100 ms, forever: never idle, never done. */
  | 'trickle-body'
  /** 200 without a length, then bytes as fast as the client takes them, forever (for blobs). */
  | 'endless-blob'
  /** 307 to `rule.location(path)`. */
  | 'redirect-to'
  /** The real answer's headers with `Connection: close`, half its body, then the connection closed (a mirror dying mid-body). */
  | 'truncate-close'
  /** The same, its first byte flipped: a mirror sending corrupt bytes, then dying mid-body. */
  | 'corrupt-truncate-close'
  /** The real answer without a length: its body ends where the connection closes (as an HTTP/1.0 server may send it). */
  | 'close-delimited'
  /**
   * An HTTP/1.0 answer without a length, half its body, then a clean close (FIN): a
   * close-delimited body cut short, which the framing cannot tell from a whole one.
   */
  | 'close-delimited-cut'
  /** An HTTP/1.0 answer without a length, the whole body, its first byte flipped: wrong content the framing says is whole. */
  | 'close-delimited-corrupt'
  /** The real answer, its body in 16 KiB pieces 50 ms apart: a slow but working mirror. */
  | 'slow-body'
  /** The same, chunked (no Content-Length): a slow but working mirror that does not say the size. */
  | 'slow-chunked-body'
  /** The real answer; to a Range request, its first byte flipped: whole blobs right, ranges wrong (a broken caching proxy's). */
  | 'range-corrupt';

export interface HostileRule {
  readonly path: RegExp;
  readonly fault: HostileFault;
  readonly location?: (path: string) => string;
}

/** Like startFaultProxy (everything else passes to `target`), with the faults of a mirror that attacks its client. */
export async function startHostileProxy(target: string, rules: HostileRule[]): Promise<FaultProxy> {
  const [thost, tport] = target.split(':') as [string, string];
  const hits: string[] = [];
  const proxy: { rules: HostileRule[] } = { rules };
  const timers = new Set<NodeJS.Timeout>();
  /** Calls `write()` every `ms` until the socket closes (or 10 minutes pass: a bound, far beyond any test). */
  const trickle = (so: Socket, write: () => void, ms: number): void => {
    let n = 0;
    const timer = setInterval(() => {
      if (so.destroyed || ++n > (10 * 60 * 1000) / ms) {
        clearInterval(timer);
        timers.delete(timer);
        return;
      }
      write();
    }, ms);
    timers.add(timer);
    so.on('close', () => {
      clearInterval(timer);
      timers.delete(timer);
    });
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const rule = proxy.rules.find((r) => r.path.test(path));
    hits.push(`${req.method} ${path} ${rule?.fault ?? 'pass'}`);
    if (rule?.fault === 'oversized-declared') {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(64 * 1024 * 1024) });
      res.write('{"schemaVersion":2,');
      return; // the rest never comes
    }
    if (rule?.fault === 'slow-headers') {
      const so = req.socket;
      so.write('HTTP/1.1 200 OK\r\nX-Slow: ');
      trickle(so, () => so.write('a'), 100);
      return;
    }
    if (rule?.fault === 'trickle-body') {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
      res.write('{');
      trickle(req.socket, () => res.write(' '), 100);
      return;
    }
    if (rule?.fault === 'endless-blob') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      let sent = 0;
      const pump = (): void => {
        // Bounded: 1 GiB is far past any blob of the tests.
        while (sent < 1024 * 1024 * 1024 && !res.destroyed && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed && sent < 1024 * 1024 * 1024) res.once('drain', pump);
      };
      return pump();
    }
    if (rule?.fault === 'redirect-to') return void res.writeHead(307, { location: rule.location?.(path) ?? path }).end();
    const upstream = httpRequest({ host: thost, port: Number(tport), method: req.method, path, headers: req.headers }, (up) => {
      if (rule?.fault === 'truncate-close' || rule?.fault === 'corrupt-truncate-close') {
        res.writeHead(up.statusCode ?? 502, { ...up.headers, connection: 'close' });
        let left = Math.floor(Number(up.headers['content-length'] ?? 0) / 2);
        const corrupt = flipFirstByte(rule.fault === 'corrupt-truncate-close');
        up.on('data', (b: Buffer) => {
          if (left <= 0) return;
          b = corrupt(b);
          res.write(b.subarray(0, left));
          left -= b.length;
          if (left <= 0) res.socket?.end(); // FIN after what was written, the rest never sent
        });
        return;
      }
      if (rule?.fault === 'close-delimited-cut' || rule?.fault === 'close-delimited-corrupt') return http10CloseDelimited(req.socket, up, rule.fault);
      if (rule?.fault === 'slow-body' || rule?.fault === 'slow-chunked-body') {
        const { 'content-length': length, ...headers } = up.headers;
        res.writeHead(up.statusCode ?? 502, rule.fault === 'slow-body' ? { ...headers, 'content-length': length } : headers);
        const chunks: Buffer[] = [];
        up.on('data', (b: Buffer) => chunks.push(b));
        up.on('end', () => {
          const all = Buffer.concat(chunks);
          let at = 0;
          const step = (): void => {
            if (res.destroyed) return;
            const piece = all.subarray(at, at + 16 * 1024);
            at += piece.length;
            if (at >= all.length) return void res.end(piece);
            res.write(piece);
            const timer = setTimeout(() => {
              timers.delete(timer);
              step();
            }, 50);
            timers.add(timer);
          };
          step();
        });
        return;
      }
      if (rule?.fault === 'range-corrupt') {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const corrupt = flipFirstByte(req.headers.range !== undefined);
        up.on('data', (b: Buffer) => res.write(corrupt(b)));
        up.on('end', () => res.end());
        return;
      }
      if (rule?.fault === 'close-delimited') {
        const { 'content-length': _length, ...headers } = up.headers;
        res.useChunkedEncodingByDefault = false; // no length, no chunks: Node closes the connection at the end
        res.writeHead(up.statusCode ?? 502, { ...headers, connection: 'close' });
        up.pipe(res);
        return;
      }
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const sockets = track(server);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${port}`,
    get rules() {
      return proxy.rules as unknown as FaultRule[];
    },
    set rules(v: FaultRule[]) {
      proxy.rules = v as unknown as HostileRule[];
    },
    hits,
    close: () => {
      for (const timer of timers) clearInterval(timer); // clears timeouts too
      return closeServer(server, sockets);
    },
  };
}

/** A body's chunks, the first byte of the first non-empty one flipped when `on` (same length, wrong content); a copy, never the chunk given. */
function flipFirstByte(on: boolean): (chunk: Buffer) => Buffer {
  let pending = on;
  return (chunk) => {
    if (!pending || chunk.length === 0) return chunk;
    pending = false;
    const b = Buffer.from(chunk);
    b[0] = (b[0] ?? 0) ^ 0xff;
    return b;
  };
}

/**
 * `up` re-sent on `so` as an HTTP/1.0 answer without Content-Length (its end is the close), written
 * on the socket by hand: Node's server answers in HTTP/1.1. 'close-delimited-cut' sends half the
 * body, 'close-delimited-corrupt' all of it with its first byte flipped; then a clean close.
 */
function http10CloseDelimited(so: Socket, up: IncomingMessage, fault: 'close-delimited-cut' | 'close-delimited-corrupt'): void {
  const skip = new Set(['content-length', 'connection', 'keep-alive', 'transfer-encoding']);
  const lines = Object.entries(up.headers)
    .filter(([k]) => !skip.has(k))
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v ?? '']).map((x) => `${k}: ${x}\r\n`));
  so.write(`HTTP/1.0 ${up.statusCode ?? 502} ${up.statusMessage ?? ''}\r\n${lines.join('')}\r\n`);
  let left = fault === 'close-delimited-cut' ? Math.floor(Number(up.headers['content-length'] ?? 0) / 2) : Infinity;
  const corrupt = flipFirstByte(fault === 'close-delimited-corrupt');
  up.on('data', (b: Buffer) => {
    if (left <= 0) return;
    b = corrupt(b);
    so.write(b.subarray(0, Math.min(b.length, left)));
    left -= b.length;
    if (left <= 0) so.end(); // FIN after what was written: to the client, the body's end
  });
  up.on('end', () => so.end());
}

/** An HTTPS endpoint (certificate `tls`) that answers /v2/ and redirects everything else to `location(path)`. */
export async function startTlsRedirector(
  tls: { certFile: string; keyFile: string },
  location: (path: string) => string,
): Promise<{ host: string; hits: string[]; close(): Promise<void> }> {
  const { createServer: createHttpsServer } = await import('node:https');
  const { readFileSync } = await import('node:fs');
  const hits: string[] = [];
  const server = createHttpsServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
    const path = req.url ?? '/';
    hits.push(`${req.method} ${path}`);
    if (path === '/v2/' || path === '/v2')
      return void res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
    res.writeHead(307, { location: location(path) }).end();
  });
  const sockets = track(server);
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { host: `127.0.0.1:${port}`, hits, close: () => closeServer(server, sockets) };
}
