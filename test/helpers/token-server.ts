/**
 * A token service for docker-registry's `auth: token` (the Docker registry token
 * protocol): GET /token?service=S&scope=repository:NAME:ACTIONS, optionally with basic
 * auth, answers {"token": JWT}. The JWT is ES256-signed by a key whose certificate is
 * issued by a test CA; the registry's `rootcertbundle` is that CA.
 *
 * What distribution 2.8's token access controller accepts (registry/auth/token/token.go):
 * a header with `x5c` (the signing certificate chain, standard base64 DER, verified up to
 * the rootcertbundle with any key usage), else `jwk`, else `kid` as a libtrust key ID of a
 * bundle certificate's key; we send `x5c`. libtrust verifies ES256 as the raw r||s pair
 * (JWS), so the signature is made with dsaEncoding 'ieee-p1363'. Claims checked: `iss` =
 * the configured issuer, `aud` = the service (a string), `exp`/`nbf` (60 s leeway), and
 * `access` must cover the request.
 *
 * An OAuth2 refresh-token grant (POST /token, a form with grant_type=refresh_token, the
 * refresh_token, service and scope; what containers/image sends for an identity token) is
 * answered for the tokens in `refreshTokens`.
 *
 * Each request is recorded (service, scopes, the user name if any, the grant of a POST, the
 * answer) — never the password or the refresh token.
 */
import { createPrivateKey, sign, X509Certificate, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { listenLocal } from './local-server.js';
import { issue, makeCa } from './test-ca.js';

export interface TokenRequest {
  readonly service: string | null;
  readonly scopes: string[];
  readonly user?: string; // from basic auth; the password is never kept
  /** a POST's grant_type */
  readonly grant?: string;
  readonly status: number;
}

export interface TokenServerOptions {
  /** the tokens' issuer (the registry's auth.token.issuer) */
  issuer?: string;
  /** users and their passwords; a request with wrong credentials gets 401 */
  users?: Record<string, string>;
  /** OAuth2 refresh tokens and the user each stands for (POST /token, grant_type=refresh_token) */
  refreshTokens?: Record<string, string>;
  /** anonymous requests get pull access (otherwise 401) */
  anonymousPull?: boolean;
  /** serve https with this certificate (e.g. the registry's own, so one CA trusts both) */
  tls?: { certFile: string; keyFile: string };
}

export interface TokenServer {
  readonly realm: string; // http(s)://127.0.0.1:PORT/token
  readonly issuer: string;
  /** PEM file for the registry's auth.token.rootcertbundle */
  readonly rootCertBundle: string;
  readonly requests: TokenRequest[];
  /** Set: a trickling token service, each 200's body sent one byte every this many ms (each byte well within an idle timeout). */
  trickleMs?: number;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** scope: repository:NAME:ACTION[,ACTION]; anonymous callers get pull only. */
function scopesAccess(scopes: readonly string[], user: string | undefined): Array<{ type: string; name: string; actions: string[] }> {
  return scopes.map((s) => {
    const [type = '', ...rest] = s.split(':');
    const actions = (rest.pop() ?? '').split(',').filter((a) => user !== undefined || a === 'pull');
    return { type, name: rest.join(':'), actions };
  });
}

export async function startTokenServer(dir: string, opts: TokenServerOptions = {}): Promise<TokenServer> {
  const ca = await makeCa(join(dir, 'token-ca'), 'token CA');
  const signer = await issue(ca, 'token-signer', 'client');
  const key = createPrivateKey(await readFile(signer.keyFile));
  const certDer = new X509Certificate(await readFile(signer.certFile)).raw;
  const issuer = opts.issuer ?? 'test-token-issuer';
  const requests: TokenRequest[] = [];

  const jwt = (service: string, sub: string, access: Array<{ type: string; name: string; actions: string[] }>): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'ES256', x5c: [certDer.toString('base64')] };
    const claims = { iss: issuer, sub, aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${b64url(sig)}`;
  };

  /** A refresh-token grant: the form's service and scopes, its token's user. */
  const refreshGrant = (form: URLSearchParams, res: ServerResponse): void => {
    const service = form.get('service');
    const scopes = form.getAll('scope');
    const user = opts.refreshTokens?.[form.get('refresh_token') ?? ''];
    const grant = form.get('grant_type') ?? '';
    const ok = grant === 'refresh_token' && user !== undefined;
    requests.push({ service, scopes, ...(user !== undefined ? { user } : {}), grant, status: ok ? 200 : 401 });
    if (!ok) return void res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_grant' }));
    const token = jwt(service ?? '', user, scopesAccess(scopes, user));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_in: 300 }));
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://token');
    if (req.method === 'POST' && url.pathname === '/token') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => refreshGrant(new URLSearchParams(Buffer.concat(chunks).toString('utf8')), res));
      return;
    }
    const service = url.searchParams.get('service');
    const scopes = url.searchParams.getAll('scope');
    const answer = (status: number, body: unknown, user?: string): void => {
      requests.push({ service, scopes, user, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      const text = Buffer.from(JSON.stringify(body));
      const trickleMs = server.trickleMs;
      if (status !== 200 || trickleMs === undefined) return void res.end(text);
      let sent = 0;
      const drip = setInterval(() => {
        if (res.destroyed || sent >= text.length) return void (clearInterval(drip), res.end());
        res.write(text.subarray(sent, ++sent));
      }, trickleMs);
      res.on('close', () => clearInterval(drip));
    };
    if (url.pathname !== '/token') return answer(404, { errors: [{ code: 'NOT_FOUND' }] });
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth) {
      const m = /^Basic (.+)$/i.exec(auth);
      const [u, ...rest] = Buffer.from(m?.[1] ?? '', 'base64')
        .toString('utf8')
        .split(':');
      if (!m || u === undefined || opts.users?.[u] === undefined || opts.users[u] !== rest.join(':')) {
        return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid username or password' }] }, u);
      }
      user = u;
    } else if (!opts.anonymousPull) {
      res.setHeader('www-authenticate', 'Basic realm="token"');
      return answer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    }
    const token = jwt(service ?? '', user ?? '', scopesAccess(scopes, user));
    answer(200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }, user);
  };

  const { port, close } = await listenLocal(handler, opts.tls ? { cert: await readFile(opts.tls.certFile), key: await readFile(opts.tls.keyFile) } : undefined);
  const server: TokenServer = {
    realm: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}/token`,
    issuer,
    rootCertBundle: ca.certFile,
    requests,
    close,
  };
  return server;
}
