/**
 * The local mirror's requests, pure: which of the distribution API's read routes a request
 * is (or why it is refused), its Range, and the distribution error JSON. The raw request
 * target is matched as it came, never decoded: a name is distribution's grammar or nothing,
 * so no path can escape the mapping (no `..`, no `%2f`, no empty component).
 */
import { DIGEST_HEX_LENGTH } from '../reference/reference.js';

/** distribution's repository name: path components of [a-z0-9] runs joined by `.`, `_`, `__` or dashes. */
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = `${COMPONENT}(?:/${COMPONENT})*`;
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST = `(?:${[...DIGEST_HEX_LENGTH].map(([alg, n]) => `${alg}:[a-f0-9]{${n}}`).join('|')})`;
const MANIFEST_RE = new RegExp(`^/v2/(${NAME})/manifests/(${TAG}|${DIGEST})$`);
const BLOB_RE = new RegExp(`^/v2/(${NAME})/blobs/(${DIGEST})$`);
/** Routes of the API we do not serve (uploads, tags, catalog): 405, not 404, so a client knows it is read-only. */
const WRITE_OR_LIST_RE = /^\/v2\/(?:.+\/(?:blobs\/uploads\/?.*|tags\/list)|_catalog)$/;
/**
 * The referrers API, not served: 404, as the OCI distribution spec has a registry without it
 * answer (a client MUST then fall back to the referrers tag schema, a tag we do serve; a 405
 * would fail it).
 */
const REFERRERS_RE = /^\/v2\/.+\/referrers\/[^/]+$/;

/** distribution's limit on a repository name. */
export const MAX_NAME_LENGTH = 255;
/** The longest request target taken (a name, a route and a sha512 digest fit many times over). */
export const MAX_TARGET_LENGTH = 2048;

export type Route =
  | { readonly kind: 'base' }
  | { readonly kind: 'manifest'; readonly name: string; readonly reference: string; readonly byDigest: boolean }
  | { readonly kind: 'blob'; readonly name: string; readonly digest: string };

export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** for a 405: the methods the route allows */
  readonly allow?: string;
}

const READ_METHODS = new Set(['GET', 'HEAD']);

/** The route of `method target` (the request line's target, unparsed), or why it is refused. */
export function routeRequest(method: string, target: string): Route | Refusal {
  if (target.length > MAX_TARGET_LENGTH) return { status: 414, code: 'UNSUPPORTED', message: `request target longer than ${MAX_TARGET_LENGTH} bytes` };
  const path = target.split('?', 1)[0] ?? '';
  const route = matchRoute(path);
  if (!route) {
    if (REFERRERS_RE.test(path)) return { status: 404, code: 'UNSUPPORTED', message: 'the referrers API is not served here: use the referrers tag schema' };
    if (WRITE_OR_LIST_RE.test(path))
      return { status: 405, code: 'UNSUPPORTED', message: 'this endpoint is read-only: manifests and blobs by GET or HEAD only', allow: '' };
    return { status: 404, code: 'NOT_FOUND', message: 'no such route on this endpoint' };
  }
  if (!READ_METHODS.has(method))
    return { status: 405, code: 'UNSUPPORTED', message: `${method.slice(0, 20)} is not served: this endpoint is read-only`, allow: 'GET, HEAD' };
  if (route.kind !== 'base' && route.name.length > MAX_NAME_LENGTH)
    return { status: 400, code: 'NAME_INVALID', message: `repository name longer than ${MAX_NAME_LENGTH}` };
  return route;
}

function matchRoute(path: string): Route | undefined {
  if (path === '/v2/' || path === '/v2') return { kind: 'base' };
  const m = MANIFEST_RE.exec(path);
  if (m) return { kind: 'manifest', name: m[1] as string, reference: m[2] as string, byDigest: (m[2] as string).includes(':') };
  const b = BLOB_RE.exec(path);
  if (b) return { kind: 'blob', name: b[1] as string, digest: b[2] as string };
  return undefined;
}

export function isRefusal(r: Route | Refusal): r is Refusal {
  return 'status' in r;
}

/** The distribution API's error body. */
export function errorBody(code: string, message: string): string {
  return JSON.stringify({ errors: [{ code, message, detail: null }] });
}

/** One byte range of a blob, both ends included. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A Range header's single range against a blob of `size` bytes: the range; 'unsatisfiable'
 * (416); or undefined when the whole blob is to be sent (no header, a form we do not serve —
 * several ranges, another unit —, or an unknown size: ignoring Range is always allowed, RFC
 * 9110 §14.2). A suffix (`bytes=-N`) is the last N bytes, all of them when the blob is shorter.
 */
export function parseRange(header: string | undefined, size: number | undefined): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined || size === undefined) return undefined;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const last = Number(m[2]);
    return last === 0 || size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - last), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== '' && Number(m[2]) < start) return undefined; // not a valid range: ignored
  if (start >= size) return 'unsatisfiable';
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return { start, end };
}

/** How specific a media range of Accept is: `type/subtype` beats `type/*` beats `*\/*` (RFC 9110 §12.5.1). */
function rangeMatch(range: string, mediaType: string): number {
  if (range === mediaType) return 3;
  if (range === '*/*') return 1;
  return range.endsWith('/*') && mediaType.startsWith(range.slice(0, -1)) ? 2 : 0;
}

/**
 * Whether a request's Accept header (all its lines, as node:http joins them) takes `mediaType`:
 * the most specific media range that matches it decides, by its weight (q=0: not acceptable).
 * No Accept, or an empty one: any type (RFC 9110; distribution instead takes that as a schema1-only
 * client, a habit of old docker clients, none of which reach this endpoint).
 */
export function accepts(header: string | undefined, mediaType: string): boolean {
  if (header === undefined || header.trim() === '') return true;
  const wanted = mediaType.toLowerCase();
  let best = { specificity: 0, q: 0 };
  for (const item of header.split(',')) {
    const [range = '', ...params] = item.split(';').map((p) => p.trim().toLowerCase());
    const specificity = rangeMatch(range, wanted);
    if (specificity <= best.specificity) continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    best = { specificity, q: Number.isFinite(q) ? q : 0 };
  }
  return best.q > 0;
}

/** The manifest types clients name in Accept (containers/image's, containerd's): the ones held to it. */
const NEGOTIATED_MANIFEST_TYPES = new Set([
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);

/**
 * Whether a manifest of `mediaType` may be sent to a request with this Accept. A type of its own
 * (application/json, as old registries labelled schema1) is sent whatever the Accept: clients
 * guess such a manifest's type from its content, as they did from the source.
 */
export function acceptsManifest(header: string | undefined, mediaType: string): boolean {
  return !NEGOTIATED_MANIFEST_TYPES.has(mediaType.toLowerCase()) || accepts(header, mediaType);
}
