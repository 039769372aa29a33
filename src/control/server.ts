/**
 * The daemon's read-only control socket: a unix socket that answers `status` and `ping`
 * with newline-delimited JSON (see protocol.ts), one request per connection.
 *
 * Nothing a client sends can crash the daemon or tie it up: requests are capped at
 * MAX_REQUEST_BYTES, a client gets `requestTimeoutMs` to send its line, a handler gets
 * `handlerTimeoutMs` to answer, a client that does not read the answer is dropped after
 * `requestTimeoutMs` more, and at most `maxConnections` connections are open at once
 * (further ones are closed on accept).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { probeControlSocket } from './client.js';
import { MAX_REQUEST_BYTES, encodeLine, parseRequestLine, type Response } from './protocol.js';

export interface ControlServer {
  readonly path: string;
  /** Stops accepting, drops open connections and removes the socket file (if it is still ours). Idempotent. */
  close(): Promise<void>;
}

export type ControlHandlers = Record<string, () => unknown | Promise<unknown>>;

export interface ControlLog {
  warn(o: object, m: string): void;
}

export interface ControlServerOptions {
  /** Time a client has, from connecting, to send its request line; also the time it has to read the answer. Default 2000. */
  readonly requestTimeoutMs?: number;
  /** Time a handler has to produce its result before the client gets an error. Default 10000. */
  readonly handlerTimeoutMs?: number;
  /** Connections open at once; more are closed on accept. Default 16. */
  readonly maxConnections?: number;
  /** How long to wait for an answer when checking whether a socket already at `path` is live. Default 2000. */
  readonly probeTimeoutMs?: number;
}

/** Longest path a unix socket can be bound at (sun_path is 108 bytes on Linux, NUL included). */
const MAX_SOCKET_PATH_BYTES = 107;

function errorWithCode(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolveListen, reject) => {
    const onError = (e: Error): void => {
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolveListen();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(path);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolveClose) => {
    if (!server.listening) return resolveClose();
    server.close(() => resolveClose());
  });
}

/**
 * Makes `path` free to bind: nothing there, or a stale socket (removed). Throws with code
 * 'EADDRINUSE' when something live is there, and refuses to remove anything that is not a
 * socket.
 */
async function clearStaleSocket(path: string, probeTimeoutMs: number): Promise<void> {
  let st;
  try {
    st = await fs.lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) {
    throw errorWithCode(`control socket path ${path} exists and is not a socket; not replacing it`, 'EEXIST');
  }
  const state = await probeControlSocket(path, probeTimeoutMs);
  if (state === 'serving') {
    throw errorWithCode(`another mirror-policyd is running (control socket ${path} answers)`, 'EADDRINUSE');
  }
  if (state === 'busy') {
    throw errorWithCode(
      `control socket ${path} accepts connections but does not answer; another mirror-policyd may be running (not replacing it)`,
      'EADDRINUSE',
    );
  }
  if (state === 'missing') return;
  // Stale: nobody listens. Remove it only if it is still the file we probed, so a socket
  // another starting daemon has just put there is not removed from under it.
  try {
    const now = await fs.lstat(path);
    if (now.ino === st.ino && now.dev === st.dev) await fs.unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * Binds the control socket at `path` (mode 0600, owned by the daemon's user) and serves
 * `handlers` on it. `handlers[cmd]()` returns the result of command `cmd` (may be async);
 * `ping` is answered with "pong" unless a handler for it is given. Handlers must be
 * read-only. Creates the parent directory (mode 0700) when missing.
 *
 * If a socket already exists at `path`: when something answers there, rejects with an
 * Error whose code is 'EADDRINUSE'; when it is stale (connection refused), it is replaced.
 *
 * The server keeps the event loop alive (it is not unref'd): it is what keeps the daemon up.
 */
export async function startControlServer(
  path: string,
  handlers: ControlHandlers,
  log?: ControlLog,
  opts: ControlServerOptions = {},
): Promise<ControlServer> {
  const requestTimeoutMs = opts.requestTimeoutMs ?? 2000;
  const handlerTimeoutMs = opts.handlerTimeoutMs ?? 10_000;
  const maxConnections = opts.maxConnections ?? 16;
  const probeTimeoutMs = opts.probeTimeoutMs ?? 2000;

  const abs = resolve(path);
  const dir = dirname(abs);
  // The socket is first bound inside a private directory next to `path` (see below).
  const tmpDir = join(dir, `.ctl-${randomBytes(4).toString('hex')}`);
  const tmpSock = join(tmpDir, 's');
  if (Buffer.byteLength(tmpSock) > MAX_SOCKET_PATH_BYTES) {
    throw errorWithCode(
      `control socket path ${path} is too long: its directory must be at most ${MAX_SOCKET_PATH_BYTES - (Buffer.byteLength(tmpSock) - Buffer.byteLength(dir))} bytes`,
      'ENAMETOOLONG',
    );
  }

  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await clearStaleSocket(abs, probeTimeoutMs);

  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (sock) => serve(sock));
  server.maxConnections = maxConnections;
  // A flood of connections must not become a flood of log lines: at most one warning per 10 s.
  let dropped = 0;
  let lastDropWarning = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - lastDropWarning < 10_000) return;
    lastDropWarning = now;
    log?.warn({ path, maxConnections, dropped }, 'control socket: too many connections; dropping new ones');
    dropped = 0;
  });

  /*
   * Mode 0600 without a window in which anyone else can connect.
   *
   * bind() creates the socket file with mode 0777 & ~umask, and connecting needs write
   * permission on it, so chmod after listen() leaves a window in which another local user
   * can connect. Setting the umask to 077 around listen() would close it, but the umask is
   * process-wide: every file the rest of the daemon (or a libuv threadpool thread) creates
   * meanwhile would get it too, and process.umask(mask) throws in worker threads.
   *
   * Instead the socket is bound in a fresh directory next to `path` created with mode 0700
   * (nobody but our uid and root can reach anything inside it, and they could connect to a
   * 0600 socket anyway), chmod'ed to 0600 there, and only then hard-linked to `path`.
   * link() (unlike rename()) fails with EEXIST instead of replacing a socket another
   * starting daemon has just put at `path`. The link shares the socket's inode, so it has
   * mode 0600 from the moment it exists; the temporary name and directory are then removed.
   */
  try {
    await fs.mkdir(tmpDir, { mode: 0o700 });
    await fs.chmod(tmpDir, 0o700); // mkdir's mode is masked by the umask; a umask of 077 or more would lock us out too
    await listen(server, tmpSock);
    await fs.chmod(tmpSock, 0o600);
    try {
      await fs.link(tmpSock, abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw errorWithCode(`another mirror-policyd is starting (control socket ${path} appeared while binding)`, 'EADDRINUSE');
      }
      throw e;
    }
  } catch (e) {
    await closeServer(server);
    throw e;
  } finally {
    await fs.rm(tmpDir, { recursive: true, force: true }).catch(() => {});
  }
  // Remember which inode is ours so close() never removes a successor's socket.
  const ours = await fs.lstat(abs);
  server.on('error', (e) => log?.warn({ path, err: e.message }, 'control socket error'));

  function serve(sock: Socket): void {
    open.add(sock);
    let buf = Buffer.alloc(0);
    let done = false; // a request line was taken (or refused); read nothing more
    let timer: NodeJS.Timeout | undefined = setTimeout(() => {
      log?.warn({ path }, `control socket: client sent no request within ${requestTimeoutMs} ms; dropped`);
      reply({ ok: false, error: `no request within ${requestTimeoutMs} ms` });
    }, requestTimeoutMs);

    const clear = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
    };

    // Writes the one answer and closes; a client that does not read it is destroyed after
    // requestTimeoutMs, so a connection slot is never held for long.
    function reply(res: Response, thenDestroy = false): void {
      if (sock.destroyed) return;
      done = true;
      clear();
      let line: string;
      try {
        line = encodeLine(res);
      } catch (e) {
        line = encodeLine({ ok: false, error: `result cannot be sent: ${(e as Error).message}` });
      }
      // Bytes the client sends from now on are read and dropped (see 'data'), so its EOF is seen and the socket closes.
      sock.end(line);
      if (thenDestroy) sock.once('finish', () => sock.destroy());
      timer = setTimeout(() => sock.destroy(), requestTimeoutMs);
    }

    async function handle(line: string): Promise<void> {
      const req = parseRequestLine(line);
      if ('error' in req) return reply({ ok: false, error: req.error });
      const { cmd } = req;
      // Own properties only: "constructor", "__proto__" or "toString" are unknown commands.
      const handler = Object.hasOwn(handlers, cmd) ? handlers[cmd] : cmd === 'ping' ? () => 'pong' : undefined;
      if (typeof handler !== 'function') return reply({ ok: false, error: `unknown command: ${JSON.stringify(cmd)}` });
      let deadline: NodeJS.Timeout | undefined;
      try {
        const result = await Promise.race([
          Promise.resolve().then(handler),
          new Promise<never>((_, reject) => {
            deadline = setTimeout(
              () => reject(new Error(`command ${JSON.stringify(cmd)} did not finish within ${handlerTimeoutMs} ms`)),
              handlerTimeoutMs,
            );
          }),
        ]);
        reply({ ok: true, result: result === undefined ? null : result });
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        log?.warn({ path, cmd, err: message }, 'control socket: command failed');
        reply({ ok: false, error: message });
      } finally {
        clearTimeout(deadline);
      }
    }

    function take(line: Buffer): void {
      done = true;
      clear();
      if (line.length > MAX_REQUEST_BYTES) return refuseOversize();
      // A handler failure is turned into an error response inside handle(); this catch is only a backstop.
      handle(line.toString('utf8').replace(/\r$/, '')).catch(() => sock.destroy());
    }

    function refuseOversize(): void {
      log?.warn({ path, limit: MAX_REQUEST_BYTES }, 'control socket: request too large; refused');
      // Closed as soon as the refusal is written: no point reading the rest of it.
      reply({ ok: false, error: `request too large (limit ${MAX_REQUEST_BYTES} bytes)` }, true);
    }

    sock.on('data', (b: Buffer) => {
      if (done) return;
      const nl = b.indexOf(0x0a);
      if (nl >= 0) return take(Buffer.concat([buf, b.subarray(0, nl)]));
      buf = Buffer.concat([buf, b]);
      if (buf.length > MAX_REQUEST_BYTES) {
        done = true;
        refuseOversize();
      }
    });
    // allowHalfOpen: a client may shut down its side after sending (`socat`, `nc -N`) and
    // still get the answer; a request without its final newline is taken at EOF.
    sock.on('end', () => {
      if (done) return;
      if (buf.length > 0) take(buf);
      else {
        done = true;
        clear();
        sock.end();
      }
    });
    sock.on('error', () => {
      // EPIPE/ECONNRESET from a client that went away: nothing to do but forget it.
    });
    sock.on('close', () => {
      clear();
      open.delete(sock);
    });
  }

  let closing: Promise<void> | undefined;
  return {
    path,
    close(): Promise<void> {
      closing ??= (async () => {
        const closed = closeServer(server);
        for (const s of open) s.destroy();
        await closed;
        try {
          const now = await fs.lstat(abs);
          if (now.ino === ours.ino && now.dev === ours.dev) await fs.unlink(abs);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      })();
      return closing;
    },
  };
}
