/**
 * A client for one registry endpoint (host[:port], secure or insecure), on undici 7.
 * The distribution protocol as containers/image speaks it: /v2/ ping, bearer tokens
 * from WWW-Authenticate (anonymous or with credentials), basic auth, redirects to blob
 * storage without credentials for another origin, 429 honoured with a bounded wait.
 * Every attempt is bounded: connect, response headers, body idle; nothing can hang.
 */
import type { Readable } from 'node:stream';
import type { Agent as AgentInstance, Dispatcher, ProxyAgent } from 'undici';
import { credentialsShown, type Credentials } from './auth-file.js';
import type { TlsMaterial } from './certs.js';
import { parseProxyEnv, proxyFor, type ProxyConfig, type ProxyEnv } from './proxy.js';
import { socks5Connector } from './socks5.js';
import { endSafe } from './end-safe.js';
import { RegistryError, classifyNetworkError, describeError } from './errors.js';
import { DEFAULT_TIMEOUTS, type Timeouts } from './timeouts.js';
import { pickScheme } from './scheme.js';
import { Agent, loadProxyAgent, request } from './undici-parts.js';
import { parseWwwAuthenticate } from './www-authenticate.js';
import { apiHost } from './api-host.js';
import { TokenCache } from './token-cache.js';

const MAX_REDIRECTS = 5;
/**
 * A throttling answer (429) is retried at most MAX_429_RETRIES times, each after at most
 * MAX_429_WAIT_MS (never beyond the headers deadline): a pull waits seconds for a busy
 * mirror, not the minutes or days its Retry-After may ask. One asking for longer than that
 * is given up at once; either way it counts as unhealthy ('throttled'), so later pulls try
 * the others first.
 */
const MAX_429_WAIT_MS = 3_000;
const MAX_429_RETRIES = 2;

/** Retry-After (RFC 9110: delay-seconds or an HTTP-date) in ms from `now`; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** How long to wait before retry number `retry` (0-based) of a 429, or undefined to give up on this endpoint now. */
export function throttleWaitMs(retryAfter: number | undefined, retry: number, capMs: number): number | undefined {
  if (retry >= MAX_429_RETRIES) return undefined;
  const cap = Math.min(MAX_429_WAIT_MS, capMs);
  if (retryAfter !== undefined) return retryAfter <= cap ? retryAfter : undefined;
  return Math.min(cap, 1000 * 2 ** retry);
}

export { RegistryError, classifyNetworkError, describeError } from './errors.js';
export { DEFAULT_TIMEOUTS, type Timeouts } from './timeouts.js';

export interface ClientOptions {
  readonly tls: TlsMaterial;
  /** where HTTPS_PROXY, HTTP_PROXY and NO_PROXY are read (default process.env) */
  readonly env?: ProxyEnv;
  readonly credentials: (repository: string) => Promise<Credentials | undefined>;
  readonly timeouts?: Timeouts;
}

export interface Response {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable & { dump(opts?: { limit: number; signal?: AbortSignal }): Promise<void> };
}

/** The most of an unwanted body (an error page, a redirect's, a challenge's) read so that its connection can be reused. */
const DISCARD_LIMIT = 64 * 1024;

/**
 * Every response body is read or destroyed, on every path: one left unread holds its
 * connection, and under undici 7 a paused parser meeting the server's close crashes the
 * process (see end-safe.ts). An unwanted body is read up to DISCARD_LIMIT (then destroyed)
 * within `ms`, so a trickling error page cannot hold the pull either. Never throws.
 */
export async function discard(res: Response, ms: number): Promise<void> {
  try {
    await res.body.dump({ limit: DISCARD_LIMIT, signal: AbortSignal.timeout(ms) });
  } catch {
    res.body.destroy();
  }
}

/** undici's answer in the shape we use. */
async function call(url: URL, method: 'GET' | 'HEAD' | 'POST', headers: Record<string, string>, routes: Routes, body?: string): Promise<Response> {
  const r = await request(url, { method, headers, dispatcher: routes.for(url), ...(body !== undefined ? { body } : {}) });
  return { status: r.statusCode, headers: r.headers, body: r.body as unknown as Response['body'] };
}

/**
 * The OAuth2 form that trades a refresh (identity) token for an access token, as containers/image
 * posts it to the realm as the challenge gave it: the service and scope asked for, the token.
 */
function refreshGrant(asked: URLSearchParams, identityToken: string): string {
  return new URLSearchParams([['grant_type', 'refresh_token'], ['refresh_token', identityToken], ['client_id', 'mirror-policyd'], ...asked]).toString();
}

/** The realm with the service and scope asked for set in its query (a token GET). */
function withQuery(realm: URL, asked: URLSearchParams): URL {
  const url = new URL(realm);
  for (const [k, v] of asked) url.searchParams.set(k, v);
  return url;
}

function header(r: Response, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A list-valued header's values, however many lines they came in, as one comma-separated list (RFC 9110 §5.3). */
function headerValues(r: Response, name: string): string | undefined {
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * One dispatcher per route: direct, or through the proxy containers/image would use for
 * that URL (see proxy.ts). Chosen per request, so a redirect to storage or a token realm
 * on another host gets its own route.
 */
class Routes {
  private readonly direct: AgentInstance;
  private readonly proxied = new Map<string, Dispatcher>();
  private readonly proxies: ProxyConfig | RegistryError;

  constructor(
    env: ProxyEnv,
    private readonly common: { headersTimeout: number; bodyTimeout: number; connect: Record<string, unknown> },
  ) {
    this.direct = endSafe(new Agent(common));
    try {
      this.proxies = parseProxyEnv(env);
    } catch (e) {
      // our configuration, not the endpoint's health; raised at the first request
      this.proxies = new RegistryError((e as Error).message, 'invalid');
    }
  }

  private proxyFor(url: URL): URL | undefined {
    if (this.proxies instanceof RegistryError) throw this.proxies;
    return proxyFor(this.proxies, url);
  }

  isDirect(url: URL): boolean {
    return this.proxyFor(url) === undefined;
  }

  /** For an error's message: ` through the proxy HOST:PORT` when `url` goes through one (its host only: its URL may hold a password). */
  via(url: URL): string {
    try {
      const proxy = this.proxyFor(url);
      return proxy ? ` through the proxy ${proxy.host}` : '';
    } catch {
      return '';
    }
  }

  for(url: URL): Dispatcher {
    const proxy = this.proxyFor(url);
    if (!proxy) return this.direct;
    let agent = this.proxied.get(proxy.href);
    if (!agent) {
      agent = endSafe(proxy.protocol === 'socks5:' ? this.socks5Agent(proxy) : this.httpProxyAgent(proxy));
      this.proxied.set(proxy.href, agent);
    }
    return agent;
  }

  /**
   * Go sends plain-http requests to an http proxy in absolute form (no CONNECT), and
   * tunnels https with CONNECT; connect deadlines apply to the proxy and the registry.
   */
  private httpProxyAgent(proxy: URL): Dispatcher {
    const { timeout } = this.common.connect;
    const { ProxyAgent: ProxyAgentClass, Pool } = loadProxyAgent();
    const deadlines = { headersTimeout: this.common.headersTimeout, bodyTimeout: this.common.bodyTimeout };
    // undici makes its connections to the proxy itself (the CONNECT of a tunnel, a plain-http
    // request in absolute form) with the connect options alone, so undici's own 300 s headers
    // deadline held a request to a proxy that accepts and never answers: ours, given here.
    const toProxy = (origin: string | URL, opts: object): Dispatcher => new Pool(origin, { ...opts, ...deadlines });
    return new ProxyAgentClass({
      uri: proxy.href,
      proxyTunnel: false,
      ...deadlines,
      proxyTls: { timeout } as ProxyAgent.Options['proxyTls'],
      requestTls: this.common.connect as ProxyAgent.Options['requestTls'],
      clientFactory: toProxy,
      factory: toProxy,
    });
  }

  /**
   * A SOCKS5 tunnel per connection (socks5.ts), TLS to the registry inside it for https, as
   * Go does; the same header and body deadlines as a direct connection, and the connect
   * deadline over the whole tunnel and handshake.
   */
  private socks5Agent(proxy: URL): Dispatcher {
    const { timeout, ...tls } = this.common.connect;
    return new Agent({
      headersTimeout: this.common.headersTimeout,
      bodyTimeout: this.common.bodyTimeout,
      connect: socks5Connector(proxy, tls, Number(timeout)),
    });
  }

  async close(): Promise<void> {
    await Promise.all([this.direct.close(), ...[...this.proxied.values()].map((a) => a.close())]);
  }

  /** Closes at once: requests still in flight fail. */
  async destroy(): Promise<void> {
    await Promise.all([this.direct.destroy(), ...[...this.proxied.values()].map((a) => a.destroy())]);
  }
}

export class EndpointClient {
  private readonly routes: Routes;
  /** Where requests go: `host`, but docker.io's at registry-1.docker.io (api-host.ts); `host` names it for credentials. */
  private readonly apiHost: string;
  readonly timeouts: Timeouts;
  private scheme: 'https' | 'http' | undefined;
  private readonly tokens = new TokenCache(); // scope → Authorization value, bounded

  constructor(
    readonly host: string,
    readonly insecure: boolean,
    private readonly opts: ClientOptions,
  ) {
    this.timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
    this.apiHost = apiHost(host);
    const connect = { timeout: this.timeouts.connectMs, rejectUnauthorized: !insecure, ...opts.tls };
    const common = { headersTimeout: this.timeouts.headersMs, bodyTimeout: this.timeouts.bodyIdleMs, connect };
    this.routes = new Routes(opts.env ?? process.env, common);
  }

  get endpoint(): string {
    return `${this.scheme ?? 'https'}://${this.host}`;
  }

  close(): Promise<void> {
    return this.routes.close();
  }

  /** Closes at once: requests still in flight (a hung mirror's) fail instead of being waited for. */
  destroy(): Promise<void> {
    return this.routes.destroy();
  }

  /**
   * One HTTP request with redirects followed by hand: credentials never go to another origin,
   * https never downgrades. Also returns the URL that answered.
   */
  private async send(url: URL, headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET'): Promise<{ res: Response; answered: URL }> {
    let current = url;
    let hdrs = headers;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await call(current, method, hdrs, this.routes);
      const location = header(res, 'location');
      if (res.status < 300 || res.status >= 400 || res.status === 304 || !location) return { res, answered: current };
      await discard(res, this.timeouts.bodyIdleMs);
      const next = new URL(location, current);
      if (current.protocol === 'https:' && next.protocol !== 'https:') {
        throw new RegistryError(`redirect from ${current.origin} to ${next.origin} refused: it would leave TLS`, 'unhealthy', 'protocol', res.status);
      }
      if (next.origin !== current.origin) {
        const { authorization: _dropped, ...rest } = hdrs;
        hdrs = rest;
      }
      current = next;
    }
    throw new RegistryError(`more than ${MAX_REDIRECTS} redirects from ${url.origin}`, 'unhealthy', 'protocol');
  }

  /**
   * A request to this endpoint, with its auth dance and 429 handling; network errors become
   * RegistryErrors. `extra` adds request headers (the local mirror's Range for a blob's rest).
   */
  async get(
    path: string,
    repository: string | undefined,
    accept?: string,
    method: 'GET' | 'HEAD' = 'GET',
    extra: Readonly<Record<string, string>> = {},
  ): Promise<Response> {
    const scheme = await this.pickScheme();
    const url = new URL(`${scheme}://${this.apiHost}${path}`);
    const base: Record<string, string> = { ...extra, 'user-agent': 'mirror-policyd', ...(accept ? { accept } : {}) };
    const scope = repository ? `repository:${repository}:pull` : '';
    let challenged = false;
    for (let retry429 = 0; ;) {
      const auth = this.tokens.get(scope);
      let res: Response;
      let answered: URL;
      try {
        ({ res, answered } = await this.send(url, auth ? { ...base, authorization: auth } : base, method));
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        throw new RegistryError(`${url.origin}${this.routes.via(url)}: ${describeError(e)}`, 'unhealthy', classifyNetworkError(e));
      }
      if (res.status === 401 && answered.origin !== url.origin) {
        // Another origin's challenge (a redirect's target): answering it would send this
        // registry's credentials to a token service that origin names. containers/image does not either.
        await discard(res, this.timeouts.bodyIdleMs);
        throw new RegistryError(
          `${answered.origin} (redirected to from ${url.origin}${path}): 401 unauthorized; not answered with ${this.host}'s credentials`,
          'forbidden',
          undefined,
          401,
        );
      }
      if (res.status === 401 && !challenged) {
        challenged = true;
        // Every challenge, in whichever header line it came: a registry may send `Basic` and
        // `Bearer` as two headers (containers/image's parseAuthHeader reads each).
        const challenge = headerValues(res, 'www-authenticate');
        await discard(res, this.timeouts.bodyIdleMs);
        if (challenge && (await this.authenticate(challenge, scope, repository))) continue;
        throw new RegistryError(`${url.origin}${path}: 401 unauthorized`, 'forbidden', undefined, 401);
      }
      if (res.status === 429) {
        const retryAfter = header(res, 'retry-after');
        await discard(res, this.timeouts.bodyIdleMs);
        const wait = throttleWaitMs(retryAfterMs(retryAfter, Date.now()), retry429++, this.timeouts.headersMs);
        if (wait === undefined) {
          const asked = retryAfter !== undefined ? ` (Retry-After: ${retryAfter.slice(0, 40)})` : '';
          throw new RegistryError(`${url.origin}${path}: 429 too many requests${asked}; not waiting longer`, 'unhealthy', 'throttled', 429);
        }
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      return res;
    }
  }

  private async authenticate(challengeHeader: string, scope: string, repository: string | undefined): Promise<boolean> {
    const challenges = parseWwwAuthenticate(challengeHeader);
    let creds: Credentials | undefined;
    try {
      creds = await this.opts.credentials(repository ? `${this.host}/${repository}` : this.host);
    } catch (e) {
      throw new RegistryError((e as Error).message, 'forbidden'); // our side's problem: says nothing about the endpoint's health
    }
    // A Basic challenge gets the user and password even beside an identity token (Docker keeps
    // the user in `auth` with it), as containers/image sends them; only a bearer realm trades the token.
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` : undefined;
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer?.params.realm) {
      const realm = this.tokenRealm(bearer.params.realm, creds);
      const asked = new URLSearchParams();
      if (bearer.params.service) asked.set('service', bearer.params.service);
      if (scope) asked.set('scope', scope);
      let res: Response;
      try {
        res =
          creds?.identityToken !== undefined
            ? await call(
                realm,
                'POST',
                { 'user-agent': 'mirror-policyd', 'content-type': 'application/x-www-form-urlencoded' },
                this.routes,
                refreshGrant(asked, creds.identityToken),
              )
            : await call(withQuery(realm, asked), 'GET', { 'user-agent': 'mirror-policyd', ...(basic ? { authorization: basic } : {}) }, this.routes);
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        throw new RegistryError(`token service ${realm.origin}${this.routes.via(realm)}: ${describeError(e)}`, 'unhealthy', classifyNetworkError(e));
      }
      if (res.status !== 200) {
        await discard(res, this.timeouts.bodyIdleMs);
        if (res.status === 401 || res.status === 403) {
          // the user name helps; the password never appears
          const who = creds ? credentialsShown(creds) : 'anonymous access';
          throw new RegistryError(
            `token service ${realm.origin} refused ${who} for ${scope || 'the registry'} (HTTP ${res.status})`,
            'forbidden',
            undefined,
            res.status,
          );
        }
        throw new RegistryError(
          `token service ${realm.origin}: HTTP ${res.status}`,
          res.status >= 500 ? 'unhealthy' : 'forbidden',
          res.status >= 500 ? 'server-error' : undefined,
          res.status,
        );
      }
      let json: { token?: unknown; access_token?: unknown } | null;
      // Small: the whole of it within the body deadline, not just each piece (a trickling token service).
      const disarm = bodyDeadline(res.body, this.timeouts.bodyIdleMs, 'the token response');
      try {
        json = JSON.parse(await readLimited(res.body, 1024 * 1024, 'token response')) as typeof json;
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        throw new RegistryError(
          `token service ${realm.origin}: ${e instanceof SyntaxError ? 'the answer is not JSON' : describeError(e)}`,
          'unhealthy',
          e instanceof SyntaxError ? 'protocol' : classifyNetworkError(e),
        );
      } finally {
        disarm();
      }
      const token = json?.token ?? json?.access_token;
      if (typeof token !== 'string' || !token) throw new RegistryError(`token service ${realm.origin}: no token in the answer`, 'unhealthy', 'protocol');
      this.tokens.set(scope, `Bearer ${token}`);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && basic) {
      this.tokens.set(scope, basic);
      return true;
    }
    return false;
  }

  /**
   * The token service a bearer challenge names, if we may ask it. An https registry's
   * credentials never go over plain http: a challenge naming an http realm (a
   * misconfiguration, or someone downgrading the exchange) is refused when we would send
   * credentials. An anonymous token request there is allowed: it carries no secret, and a
   * forged answer only gets a token the registry rejects.
   */
  private tokenRealm(value: string, creds: Credentials | undefined): URL {
    const shown = JSON.stringify(value.slice(0, 200));
    let realm: URL;
    try {
      realm = new URL(value);
    } catch {
      throw new RegistryError(`${this.endpoint}: the bearer challenge's realm ${shown} is not a URL`, 'unhealthy', 'protocol');
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:')
      throw new RegistryError(`${this.endpoint}: the bearer challenge's realm ${shown} is neither https nor http`, 'unhealthy', 'protocol');
    if (creds && this.scheme === 'https' && realm.protocol !== 'https:') {
      throw new RegistryError(
        `${this.endpoint}: refusing to send ${credentialsShown(creds)} to the token service ${realm.origin} over plain http (the registry itself is https; its token realm must be too)`,
        'forbidden',
      );
    }
    return realm;
  }

  /** https first; an insecure endpoint falls back to plain http (scheme.ts). */
  private async pickScheme(): Promise<'https' | 'http'> {
    if (this.scheme) return this.scheme;
    const check = {
      host: this.apiHost,
      insecure: this.insecure,
      tls: this.opts.tls,
      connectMs: this.timeouts.connectMs,
      direct: () => this.routes.isDirect(new URL(`https://${this.apiHost}/`)),
      via: (url: URL) => this.routes.via(url),
    };
    this.scheme = await pickScheme(check, async (url) => {
      const res = await call(url, 'GET', { 'user-agent': 'mirror-policyd' }, this.routes);
      await discard(res, this.timeouts.bodyIdleMs);
      return res.status;
    });
    return this.scheme;
  }

  /** GET /v2/ as a health probe: resolves on 200 or 401. */
  async ping(): Promise<void> {
    this.scheme = undefined;
    await this.pickScheme();
  }
}

/** Reads a body into memory, refusing more than `max` bytes (a hostile endless body stops there). */
export async function readLimited(body: Readable, max: number, what: string): Promise<string> {
  return (await readLimitedBuffer(body, max, what)).toString('utf8');
}

/**
 * An overall deadline on reading one response body. undici's body timeout is an idle
 * timeout: a mirror that trickles a byte every few seconds never trips it, and would hold
 * the pull for as long as the size cap allows (days for a 4 MiB manifest). On expiry the
 * body is destroyed with an error classified as a body timeout. Returns the disarm function.
 * `waited`: time that is not the source's (the local mirror's wait for its client, while the
 * body is paused by backpressure), taken out of the time passed; counted from now, as the time
 * passed is (it may count a whole blob's waits, an earlier source's among them).
 */
export function bodyDeadline(
  body: Readable,
  ms: number,
  what: string,
  waited: () => number = () => 0,
  now: () => number = () => performance.now(),
): () => void {
  const started = now();
  const waitedBefore = waited();
  let timer: NodeJS.Timeout | undefined;
  const arm = (wait: number): void => {
    timer = setTimeout(check, Math.min(Math.max(wait, 1), MAX_TIMER_MS));
    timer.unref();
  };
  const check = (): void => {
    const left = ms - (now() - started - (waited() - waitedBefore));
    if (left > 0) arm(left);
    else body.destroy(tricklingError(what, ms));
  };
  arm(ms);
  return () => clearTimeout(timer);
}

/** The failure of a body too slow in all, classified as a body timeout (as undici's own idle one). */
function tricklingError(what: string, ms: number): Error {
  return Object.assign(new Error(`${what} not complete after ${Math.round(ms / 1000)} s in all (a trickling source)`), { code: 'UND_ERR_BODY_TIMEOUT' });
}

/**
 * blobDeadlineMs's bound for a body of unknown size (chunked, or close-delimited): no deadline
 * can be set ahead, so at each chunk the time so far is held against the bytes so far. A body
 * that sends nothing at all is undici's idle timeout's case. Returns the check, which throws.
 */
export function trickleGuard(timeouts: Timeouts, what: string, now: () => number = () => performance.now()): (bytes: number) => void {
  const started = now();
  let got = 0;
  return (bytes) => {
    got += bytes;
    const ms = now() - started;
    if (ms > blobDeadlineMs(timeouts, got)) throw tricklingError(what, ms);
  };
}

/**
 * The slowest average rate a blob may arrive at before the next source is tried: 32 KiB/s
 * (256 kbit/s), low enough for a genuinely slow restricted link, high enough that a
 * trickling mirror cannot hold a pull for days.
 */
export const MIN_BLOB_BYTES_PER_S = 32 * 1024;

/**
 * The longest a timer can wait: setTimeout takes a signed 32-bit count of ms (~24.8 days);
 * beyond it Node warns (TimeoutOverflowWarning) and fires after 1 ms instead.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The overall deadline for a blob of `size` bytes: the idle timeout plus its size at the
 * minimum rate, at most MAX_TIMER_MS (reached from ~70 GB on: such a blob is still bounded
 * by its size and the idle timeout). Never under the idle timeout: a size of bytes still to
 * come worked out wrong (below 0, or NaN) must not cut a working source at once.
 */
export function blobDeadlineMs(timeouts: Timeouts, size: number | undefined): number {
  const bytes = size !== undefined && size > 0 ? size : 0;
  return Math.min(MAX_TIMER_MS, timeouts.bodyIdleMs + Math.ceil((bytes / MIN_BLOB_BYTES_PER_S) * 1000));
}

export async function readLimitedBuffer(body: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += (chunk as Buffer).length;
    if (n > max) {
      body.destroy();
      throw new RegistryError(`${what} larger than ${max} bytes`, 'invalid', 'protocol');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
