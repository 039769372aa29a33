/**
 * The daemon's read-only control socket: a unix socket that answers `status`, `reloads` and `ping`
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
import { untrustedAncestor } from '../core/trust.js';
import { MAX_REQUEST_BYTES, encodeLine, parseRequestLine, type Response } from './protocol.js';

export interface ControlServer {
  readonly path: string;
  /** Stops accepting, drops open connections and removes the socket file (if it is still ours). Idempotent. */
  close(): Promise<void>;
}

export type ControlHandlers = Record<string, () => unknown>;

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
  await unlinkIfSameFile(path, st);
}

/** Removes `path` only if it is still the file `was` describes (same inode); gone already is fine. */
async function unlinkIfSameFile(path: string, was: { ino: number; dev: number }): Promise<void> {
  try {
    const now = await fs.lstat(path);
    if (now.ino === was.ino && now.dev === was.dev) await fs.unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * Refuses a socket directory that someone else than root or us may write (or owns), itself or a
 * directory above it: whoever may could remove our socket and bind their own at its name, and
 * `status` (what monitoring believes) would ask them. A sticky one of ours (/tmp) is fine: others
 * cannot remove what is ours in it. Bounded by the path's depth.
 */
async function refuseUntrustedDir(socket: string): Promise<void> {
  const dir = dirname(socket);
  const found = await untrustedAncestor(dir, process.getuid?.() ?? 0, (p) => fs.stat(p));
  if (found === undefined) return;
  const what = found.at === dir ? `its directory ${found.at}` : `${found.at}, above its directory`;
  throw errorWithCode(`refusing control socket ${socket}: ${what} is ${found.problem}; another user could put their own socket in its place`, 'EPERM');
}

/** The options with their defaults filled in, plus what every connection needs to know. */
interface ServeContext {
  readonly path: string;
  readonly handlers: ControlHandlers;
  readonly log: ControlLog | undefined;
  readonly requestTimeoutMs: number;
  readonly handlerTimeoutMs: number;
  /** Open connections, so close() can drop them. */
  readonly open: Set<Socket>;
}

interface BindPaths {
  /** Where the socket ends up. */
  readonly abs: string;
  readonly dir: string;
  /** The private directory the socket is first bound in (see bindPrivately). */
  readonly tmpDir: string;
  readonly tmpSock: string;
}

/** Where the socket is bound first and where it ends up; refuses a path too long to bind. */
function bindPaths(path: string): BindPaths {
  const abs = resolve(path);
  const dir = dirname(abs);
  const tmpDir = join(dir, `.ctl-${randomBytes(4).toString('hex')}`);
  const tmpSock = join(tmpDir, 's');
  if (Buffer.byteLength(tmpSock) > MAX_SOCKET_PATH_BYTES) {
    throw errorWithCode(
      `control socket path ${path} is too long: its directory must be at most ${MAX_SOCKET_PATH_BYTES - (Buffer.byteLength(tmpSock) - Buffer.byteLength(dir))} bytes`,
      'ENAMETOOLONG',
    );
  }
  return { abs, dir, tmpDir, tmpSock };
}

/** Logs connections refused over `maxConnections`: a flood of them must not become a flood of log lines, so at most one warning per 10 s. */
function warnOnDroppedConnections(server: Server, path: string, maxConnections: number, log: ControlLog | undefined): void {
  let dropped = 0;
  let lastDropWarning = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - lastDropWarning < 10_000) return;
    lastDropWarning = now;
    log?.warn(
      { path, maxConnections, dropped },
      `control socket ${path}: too many connections (over ${maxConnections}); dropping new ones (${dropped} since the last such line, logged at most every 10 s)`,
    );
    dropped = 0;
  });
}

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
async function bindPrivately(server: Server, path: string, p: BindPaths): Promise<void> {
  try {
    await fs.mkdir(p.tmpDir, { mode: 0o700 });
    await fs.chmod(p.tmpDir, 0o700); // mkdir's mode is masked by the umask; a umask of 077 or more would lock us out too
    await listen(server, p.tmpSock);
    await fs.chmod(p.tmpSock, 0o600);
    try {
      await fs.link(p.tmpSock, p.abs);
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
    await fs.rm(p.tmpDir, { recursive: true, force: true }).catch(() => {});
  }
}

/** The handler for `cmd`: own properties only ("constructor", "__proto__" or "toString" are unknown commands); `ping` answers "pong" by default. */
function findHandler(handlers: ControlHandlers, cmd: string): (() => unknown) | undefined {
  const handler = Object.hasOwn(handlers, cmd) ? handlers[cmd] : cmd === 'ping' ? () => 'pong' : undefined;
  return typeof handler === 'function' ? handler : undefined;
}

/** Runs the request `line` and returns its answer; a handler that fails or overruns handlerTimeoutMs becomes an error answer. */
async function answerRequest(line: string, ctx: ServeContext): Promise<Response> {
  const req = parseRequestLine(line);
  if ('error' in req) return { ok: false, error: req.error };
  const { cmd } = req;
  const handler = findHandler(ctx.handlers, cmd);
  if (!handler) return { ok: false, error: `unknown command: ${JSON.stringify(cmd)}` };
  let deadline: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      Promise.resolve().then(handler),
      new Promise<never>((_, reject) => {
        deadline = setTimeout(() => reject(new Error(`command ${JSON.stringify(cmd)} did not finish within ${ctx.handlerTimeoutMs} ms`)), ctx.handlerTimeoutMs);
      }),
    ]);
    return { ok: true, result: result === undefined ? null : result };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    ctx.log?.warn({ path: ctx.path, cmd, err: message }, `control socket: command ${JSON.stringify(cmd)} failed: ${message}`);
    return { ok: false, error: message };
  } finally {
    clearTimeout(deadline);
  }
}

/** The one answer as a line; a result that cannot be encoded becomes an error answer. */
function encodeAnswer(res: Response): string {
  try {
    return encodeLine(res);
  } catch (e) {
    return encodeLine({ ok: false, error: `result cannot be sent: ${(e as Error).message}` });
  }
}

/** What readRequestLine reports, once: the line, a request over the limit, or nothing sent. */
interface RequestLineEvents {
  line(line: Buffer): void;
  tooLarge(): void;
  nothing(): void;
}

/**
 * Reads the one request line of `sock`: up to its newline or, without one, up to the
 * client's EOF (allowHalfOpen: a client may shut down its side after sending, as `socat`
 * and `nc -N` do, and still get the answer). More than MAX_REQUEST_BYTES without a newline is
 * refused as soon as it arrives. Reports one event; returns a function that stops it from
 * reporting any (an answer is on its way). Bytes after that are read and dropped, so the
 * client's EOF is seen and the socket closes.
 */
function readRequestLine(sock: Socket, on: RequestLineEvents): () => void {
  let buf = Buffer.alloc(0);
  let done = false;
  sock.on('data', (b: Buffer) => {
    if (done) return;
    const nl = b.indexOf(0x0a);
    if (nl >= 0) {
      done = true;
      return on.line(Buffer.concat([buf, b.subarray(0, nl)]));
    }
    buf = Buffer.concat([buf, b]);
    if (buf.length > MAX_REQUEST_BYTES) {
      done = true;
      on.tooLarge();
    }
  });
  sock.on('end', () => {
    if (done) return;
    done = true;
    if (buf.length > 0) on.line(buf);
    else on.nothing();
  });
  return () => {
    done = true;
  };
}

/** Serves one connection: reads one request line (capped at MAX_REQUEST_BYTES, within requestTimeoutMs), answers it, closes. */
function serveConnection(sock: Socket, ctx: ServeContext): void {
  const { path, log, requestTimeoutMs } = ctx;
  ctx.open.add(sock);
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    log?.warn({ path }, `control socket: client sent no request within ${requestTimeoutMs} ms; dropped`);
    reply({ ok: false, error: `no request within ${requestTimeoutMs} ms` });
  }, requestTimeoutMs);

  const clear = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };

  const stopReading = readRequestLine(sock, {
    line(line) {
      clear();
      if (line.length > MAX_REQUEST_BYTES) return refuseOversize();
      // A handler failure is turned into an error answer inside answerRequest(); this catch is only a backstop.
      answerRequest(line.toString('utf8').replace(/\r$/, ''), ctx)
        .then((res) => reply(res))
        .catch(() => sock.destroy());
    },
    tooLarge: () => refuseOversize(),
    nothing() {
      clear();
      sock.end();
    },
  });

  // Writes the one answer and closes; a client that does not read it is destroyed after
  // requestTimeoutMs, so a connection slot is never held for long.
  function reply(res: Response, thenDestroy = false): void {
    if (sock.destroyed) return;
    stopReading();
    clear();
    sock.end(encodeAnswer(res));
    if (thenDestroy) sock.once('finish', () => sock.destroy());
    timer = setTimeout(() => sock.destroy(), requestTimeoutMs);
  }

  function refuseOversize(): void {
    log?.warn({ path, limit: MAX_REQUEST_BYTES }, 'control socket: request too large; refused');
    // Closed as soon as the refusal is written: no point reading the rest of it.
    reply({ ok: false, error: `request too large (limit ${MAX_REQUEST_BYTES} bytes)` }, true);
  }

  sock.on('error', () => {
    // EPIPE/ECONNRESET from a client that went away: nothing to do but forget it.
  });
  sock.on('close', () => {
    clear();
    ctx.open.delete(sock);
  });
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
export async function startControlServer(path: string, handlers: ControlHandlers, log?: ControlLog, opts: ControlServerOptions = {}): Promise<ControlServer> {
  const maxConnections = opts.maxConnections ?? 16;
  const ctx: ServeContext = {
    path,
    handlers,
    log,
    requestTimeoutMs: opts.requestTimeoutMs ?? 2000,
    handlerTimeoutMs: opts.handlerTimeoutMs ?? 10_000,
    open: new Set<Socket>(),
  };
  const paths = bindPaths(path);
  await fs.mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await refuseUntrustedDir(paths.abs);
  await clearStaleSocket(paths.abs, opts.probeTimeoutMs ?? 2000);

  const server = createServer({ allowHalfOpen: true }, (sock) => serveConnection(sock, ctx));
  server.maxConnections = maxConnections;
  warnOnDroppedConnections(server, path, maxConnections, log);
  await bindPrivately(server, path, paths);
  // Remember which inode is ours so close() never removes a successor's socket.
  const ours = await fs.lstat(paths.abs);
  server.on('error', (e) => log?.warn({ path, err: e.message }, `control socket ${path}: ${e.message}`));

  let closing: Promise<void> | undefined;
  return {
    path,
    close(): Promise<void> {
      closing ??= (async () => {
        const closed = closeServer(server);
        for (const s of ctx.open) s.destroy();
        await closed;
        await unlinkIfSameFile(paths.abs, ours);
      })();
      return closing;
    },
  };
}
