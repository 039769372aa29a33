/**
 * The alert codes that mean "the server wants (another) client certificate", as each
 * runtime's OpenSSL spells them: CI runs Node 20 (OpenSSL 3.0) and Node 24 (OpenSSL 3.5).
 */
import t from 'tap';
import { isClientCertAlert } from '../../src/registry/tls-diagnose.js';

const rows: Array<[string | undefined, boolean]> = [
  ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', true], // OpenSSL 3.0, no certificate sent
  ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', true], // OpenSSL 3.0, a stranger's certificate
  ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', true],
  ['ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE', true], // OpenSSL 3.5 (Node 24)
  ['ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_REQUIRED', true],
  ['ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', false], // a TLS problem, not our certificate
  ['ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE', false],
  ['ECONNRESET', false],
  [undefined, false],
];
for (const [code, want] of rows) {
  t.equal(isClientCertAlert(code), want, `${code ?? 'no code'} → ${want}`);
}
