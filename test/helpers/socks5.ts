/**
 * A real SOCKS5 server for tests: Debian's microsocks (1.0.3, `apt-get install microsocks`),
 * on 127.0.0.1 and a free port, optionally with username/password authentication.
 *
 * Facts found by running microsocks 1.0.3 here:
 * - It logs one line per tunnel it opened, on stderr, as `client[FD] CLIENT_IP: connected to
 *   HOST:PORT`, HOST as the client sent it (a name or an address); a refused or failed
 *   handshake logs nothing.
 * - It resolves names itself (getaddrinfo), so it cannot be given private names as the HTTP
 *   proxy of http-proxy.ts is; tests reach the registries as 0.0.0.0, which Go's rules proxy
 *   (it is not loopback) and Linux connects to 127.0.0.1.
 * - It has no readiness line: ready is when its port accepts a connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './registry.js';

export const MICROSOCKS_BIN = process.env.TEST_MICROSOCKS_BIN ?? '/usr/bin/microsocks';

export interface Socks5Server {
  /** socks5://[user:pass@]127.0.0.1:PORT */
  readonly url: string;
  /** "HOST:PORT" of every tunnel opened so far, in order */
  readonly tunnels: string[];
  close(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function waitReady(child: ChildProcess, port: number, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`microsocks exited with ${child.exitCode}: ${stderr()}`);
    if (await accepts(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`microsocks did not accept connections on 127.0.0.1:${port} within 5 s: ${stderr()}`);
}

export async function startSocks5(opts: { auth?: { user: string; password: string } } = {}): Promise<Socks5Server> {
  const port = await freePort();
  const args = ['-i', '127.0.0.1', '-p', String(port), ...(opts.auth ? ['-u', opts.auth.user, '-P', opts.auth.password] : [])];
  const child = spawn(MICROSOCKS_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new Error(`cannot run ${MICROSOCKS_BIN} (apt-get install microsocks): ${e.message}`)));
  });
  let log = '';
  let parsedUpTo = 0; // lines are read whole: a chunk may end inside one
  const tunnels: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    log += chunk;
    const end = log.lastIndexOf('\n') + 1;
    for (const m of log.slice(parsedUpTo, end).matchAll(/: connected to (\S+)$/gm)) tunnels.push(m[1] as string);
    parsedUpTo = Math.max(parsedUpTo, end);
  });
  await spawned;
  try {
    await waitReady(child, port, () => log);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  const auth = opts.auth ? `${encodeURIComponent(opts.auth.user)}:${encodeURIComponent(opts.auth.password)}@` : '';
  return {
    url: `socks5://${auth}127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
