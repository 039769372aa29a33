/**
 * Why a TLS endpoint hung up on us. A registry that requires a client certificate
 * (TLS 1.3, Go's RequireAndVerifyClientCert) completes the handshake from the client's
 * side and then closes with an alert; undici reports only "other side closed". One raw
 * TLS connection that sends a request and reads the answer sees the alert itself, so we
 * can say "requires a client certificate" instead of marking a healthy registry down.
 */
import { connect } from 'node:tls';
import type { TlsMaterial } from './certs.js';

/**
 * OpenSSL's codes for alerts a server sends about the client's certificate. OpenSSL 3.0
 * (Node 20) says ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED, OpenSSL 3.5 (Node 24)
 * ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE.
 */
const CLIENT_CERT_ALERT =
  /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13|SSL\/TLS)_ALERT_(?:BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)$/;

export function isClientCertAlert(code: string | undefined): boolean {
  return code !== undefined && CLIENT_CERT_ALERT.test(code);
}

/** The alert code if `host` refuses our client certificate (or its absence); undefined otherwise. Bounded by `timeoutMs`. */
export function clientCertRefusal(host: string, tls: TlsMaterial, rejectUnauthorized: boolean, timeoutMs: number): Promise<string | undefined> {
  const i = host.lastIndexOf(':');
  const hasPort = i > host.lastIndexOf(']');
  const name = (hasPort ? host.slice(0, i) : host).replace(/^\[|\]$/g, '');
  const port = hasPort ? Number(host.slice(i + 1)) : 443;
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: string | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const socket = connect({ host: name, port, servername: /^[\d.]+$|:/.test(name) ? undefined : name, rejectUnauthorized, ...tls }, () => {
      socket.write(`GET /v2/ HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: mirror-policyd\r\nConnection: close\r\n\r\n`);
    });
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) => finish(isClientCertAlert(e.code) ? e.code : undefined));
    socket.on('data', () => finish(undefined)); // it answered: not a certificate problem
    socket.on('close', () => finish(undefined));
  });
}
