/**
 * A registry request's failures: the error the client raises, and what a network error
 * (undici's, Node's, OpenSSL's) says about the endpoint's health. Apart from the client so
 * that the probes, which reach a direct endpoint over node:http, do not load undici.
 */
import type { FailureClass } from '../health/health.js';

/** What went wrong, and whether it says the endpoint is unhealthy (a 404 does not). */
export class RegistryError extends Error {
  constructor(
    message: string,
    readonly kind: 'absent' | 'forbidden' | 'unhealthy' | 'invalid',
    readonly failureClass?: FailureClass,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface ErrWithCode {
  code?: string;
  cause?: unknown;
  message?: string;
}

export function errorCodes(e: unknown): string[] {
  const codes: string[] = [];
  for (let x: unknown = e, i = 0; x && i < 5; x = (x as ErrWithCode).cause, i++) {
    const c = (x as ErrWithCode).code;
    if (typeof c === 'string') codes.push(c);
  }
  return codes;
}

/** Maps a network error (undici's, Node's, OpenSSL's) to a health failure class. */
export function classifyNetworkError(e: unknown): FailureClass {
  const codes = errorCodes(e);
  const has = (re: RegExp): boolean => codes.some((c) => re.test(c));
  if (has(/^ECONNREFUSED$/)) return 'refused';
  if (has(/^UND_ERR_CONNECT_TIMEOUT$|^ETIMEDOUT$/)) return 'connect-timeout';
  if (has(/^UND_ERR_HEADERS_TIMEOUT$/)) return 'headers-timeout';
  if (has(/^UND_ERR_BODY_TIMEOUT$/)) return 'body-timeout';
  if (has(/^ENOTFOUND$|^EAI_AGAIN$/)) return 'dns';
  if (has(/^ERR_TLS|^ERR_SSL|^CERT_|^UNABLE_TO|SELF_SIGNED|^EPROTO$|^ERR_OSSL/)) return 'tls';
  if (has(/^ECONNRESET$|^UND_ERR_SOCKET$|^EPIPE$/)) return 'reset';
  return 'protocol';
}

/**
 * undici's deadline errors carry only their class's name as message: said as what happened.
 * Keyed by that message, not by the code, which direct-get.ts's own errors share with a fuller
 * message (`HOST: no response headers within N ms`) that stays as it is.
 */
const UNDICI_WORDS: Readonly<Record<string, string>> = {
  'Headers Timeout Error': 'no response headers in time (headers deadline)',
  'Body Timeout Error': 'the body stalled (body idle deadline)',
};

export function describeError(e: unknown): string {
  const parts: string[] = [];
  for (let x: unknown = e, i = 0; x && i < 3; x = (x as ErrWithCode).cause, i++) {
    // Node's happy-eyeballs connect fails with an AggregateError whose own message is
    // empty: what each address answered is in .errors ("connect ECONNREFUSED ::1:9", ...).
    const inner = x instanceof AggregateError ? (x.errors as unknown[]).map((y) => (y as ErrWithCode).message).filter(Boolean) : [];
    const own = (x as ErrWithCode).message ?? '';
    const m = (Object.hasOwn(UNDICI_WORDS, own) ? UNDICI_WORDS[own] : undefined) ?? (own || inner.join(', '));
    if (m && !parts.includes(m)) parts.push(m);
  }
  return parts.join(': ') || String(e);
}
