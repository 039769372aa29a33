/**
 * A SOCKS5 tunnel (RFC 1928, username/password auth of RFC 1929) as an undici connector:
 * `socks5://[user:pass@]host:port` in HTTPS_PROXY/HTTP_PROXY, as Go's net/http dials it
 * (CONNECT command, host names sent to the proxy to resolve, TLS to the registry inside the
 * tunnel for https).
 *
 * Ours rather than undici's Socks5ProxyAgent (experimental in undici 7, a warning on stderr
 * at first use): through ProxyAgent it speaks TLS to the SOCKS server itself once proxyTls is
 * given (where ProxyAgent takes the connect deadline); on its own it leaves the TLS handshake
 * to the registry without any deadline (a registry that accepts and stays silent held a pull
 * forever), applies no header or body deadline, and sends an IPv6 host with its brackets.
 * IPv6 destinations go here as names (ATYP 3) for the proxy to parse, not as 16 bytes.
 * Here one deadline covers the whole connect: TCP to the proxy, the SOCKS exchange and the
 * TLS handshake. The header and body deadlines are the Agent's, as for a direct connection.
 */
import { connect as tcpConnect, isIP, isIPv4, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { buildConnector } from 'undici';
import { errors } from './undici-parts.js';

const VERSION = 0x05;
const NO_AUTH = 0x00;
const USER_PASS = 0x02;
const NO_ACCEPTABLE = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

/** RFC 1928 §6 reply codes. */
const REPLIES: Record<number, string> = {
  1: 'general SOCKS server failure',
  2: 'connection not allowed by ruleset',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

export class Socks5Error extends Error {
  constructor(
    message: string,
    readonly code = 'ERR_SOCKS5',
  ) {
    super(message);
  }
}

/** Reads exact byte counts from a socket during the handshake; whatever follows stays in the socket. */
class HandshakeReader {
  private buffered = Buffer.alloc(0);
  private waiting?: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void };
  private failed?: Error;

  constructor(private readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  read(n: number): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting = { n, resolve, reject };
      this.deliver();
    });
  }

  /** The handshake is over: the socket is the tunnel from here on, with any early bytes put back. */
  release(): void {
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    if (this.buffered.length > 0) this.socket.unshift(this.buffered);
  }

  private readonly onError = (e: Error): void => this.fail(e);
  private readonly onClose = (): void => this.fail(new Socks5Error('the SOCKS5 proxy closed the connection during the handshake', 'ECONNRESET'));

  private readonly onData = (chunk: Buffer): void => {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    this.deliver();
  };

  private deliver(): void {
    const w = this.waiting;
    if (!w || this.buffered.length < w.n) return;
    this.waiting = undefined;
    const out = this.buffered.subarray(0, w.n);
    this.buffered = this.buffered.subarray(w.n);
    w.resolve(out);
  }

  private fail(e: Error): void {
    this.failed ??= e;
    this.waiting?.reject(this.failed);
    this.waiting = undefined;
  }
}

/** DST.ADDR as RFC 1928 §5 writes it: IPv4 as 4 bytes, anything else (names, IPv6) as a name for the proxy to resolve. */
function destination(host: string): Buffer {
  if (isIPv4(host)) return Buffer.from([ATYP_IPV4, ...host.split('.').map(Number)]);
  const name = Buffer.from(host, 'utf8');
  if (name.length > 255) throw new Socks5Error('the host name is longer than SOCKS5 allows (255 bytes)');
  return Buffer.concat([Buffer.from([ATYP_DOMAIN, name.length]), name]);
}

async function authenticate(r: HandshakeReader, socket: Socket, proxy: URL): Promise<void> {
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  socket.write(Buffer.from(user || pass ? [VERSION, 2, NO_AUTH, USER_PASS] : [VERSION, 1, NO_AUTH]));
  const [version, method] = await r.read(2);
  if (version !== VERSION) throw new Socks5Error('the proxy does not speak SOCKS5');
  if (method === NO_ACCEPTABLE)
    throw new Socks5Error(
      user || pass
        ? 'the SOCKS5 proxy accepts none of our authentication methods'
        : 'the SOCKS5 proxy requires a username and password (none in the proxy URL)',
    );
  if (method === NO_AUTH) return;
  if (method !== USER_PASS) throw new Socks5Error(`the SOCKS5 proxy chose an authentication method we did not offer (${method})`);
  const u = Buffer.from(user, 'utf8');
  const p = Buffer.from(pass, 'utf8');
  if (u.length > 255 || p.length > 255) throw new Socks5Error('the SOCKS5 username or password is longer than 255 bytes');
  socket.write(Buffer.concat([Buffer.from([0x01, u.length]), u, Buffer.from([p.length]), p]));
  const [, status] = await r.read(2);
  // never the credentials themselves in a message
  if (status !== 0x00) throw new Socks5Error(`the SOCKS5 proxy refused the username and password of the proxy URL`);
}

async function requestTunnel(r: HandshakeReader, socket: Socket, host: string, port: number): Promise<void> {
  socket.write(Buffer.concat([Buffer.from([VERSION, CMD_CONNECT, 0x00]), destination(host), Buffer.from([port >> 8, port & 0xff])]));
  const [version, reply, , atyp] = await r.read(4);
  if (version !== VERSION) throw new Socks5Error('the proxy does not speak SOCKS5');
  if (reply !== 0x00)
    throw new Socks5Error(
      `the SOCKS5 proxy could not connect to ${host}:${port}: ${REPLIES[reply ?? 1] ?? `reply ${reply}`}`,
      reply === 5 ? 'ECONNREFUSED' : 'ERR_SOCKS5',
    );
  // BND.ADDR and BND.PORT: read to get past them; the tunnel starts after
  const addrLength = atyp === ATYP_IPV4 ? 4 : atyp === ATYP_IPV6 ? 16 : atyp === ATYP_DOMAIN ? ((await r.read(1))[0] ?? 0) : -1;
  if (addrLength < 0) throw new Socks5Error(`the SOCKS5 proxy answered with an unknown address type (${atyp})`);
  await r.read(addrLength + 2);
}

/**
 * An undici connector that reaches every origin through the SOCKS5 proxy `proxy`. `tls` is
 * what a direct connection would use for https (CA, client certificate, verification);
 * `timeoutMs` bounds the whole connect.
 */
export function socks5Connector(proxy: URL, tls: ConnectionOptions, timeoutMs: number): buildConnector.connector {
  return (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    const socket = tcpConnect({ host: proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(proxy.port) || 1080 });
    let done = false;
    let current: Socket = socket;
    const finish = (e: Error | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (e) {
        current.destroy();
        socket.destroy();
        callback(e, null);
      } else callback(null, current);
    };
    const timer = setTimeout(
      () => finish(new errors.ConnectTimeoutError(`connect timeout: ${host}:${port} through the SOCKS5 proxy ${proxy.host}, ${timeoutMs} ms`)),
      timeoutMs,
    );
    const reader = new HandshakeReader(socket); // its error listener also keeps an early error (ECONNREFUSED) from being uncaught
    const handshake = async (): Promise<void> => {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 60_000);
      await authenticate(reader, socket, proxy);
      await requestTunnel(reader, socket, host, port);
      reader.release();
      if (opts.protocol !== 'https:') return finish(null);
      // No SNI for an address (RFC 6066); the certificate is still checked against it.
      const sni = opts.servername ?? (isIP(host) ? undefined : host);
      const secure = tlsConnect({ ...tls, socket, host, ...(sni ? { servername: sni } : {}), ALPNProtocols: ['http/1.1'] });
      current = secure;
      socket.on('error', (e) => secure.destroy(e)); // the tunnel's errors are the TLS socket's, which undici watches
      secure.once('secureConnect', () => finish(null));
      secure.once('error', (e: Error) => finish(e));
    };
    handshake().catch((e: Error) => finish(e));
  };
}
