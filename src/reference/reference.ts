/**
 * Container image reference parsing and normalisation.
 *
 * Follows the grammar and behaviour of Go's github.com/distribution/reference
 * v0.6, together with the digest checks of github.com/opencontainers/go-digest
 * (sha256/sha384/sha512 registered). Pure: no I/O, no global state.
 *
 * Note: containers/image parses with its own older fork of this package
 * (containers/image/v5/docker/reference), which has no IPv6 hosts, does not
 * treat an uppercase first component as a domain, and counts the domain in
 * the 255 limit. The functions below follow distribution/reference on all three; everything
 * that judges a value containers/image will read (validate.ts, the resolver) uses the
 * *ContainersImage variants at the end of this file instead.
 *
 * Grammar (upstream reference.go):
 *
 *   reference        := name [ ":" tag ] [ "@" digest ]
 *   name             := [domain '/'] remote-name
 *   domain           := host [':' port-number]
 *   host             := domain-name | IPv4address | '[' IPv6address ']'
 *   domain-name      := domain-component ['.' domain-component]*
 *   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
 *   port-number      := /[0-9]+/
 *   remote-name      := path-component ['/' path-component]*
 *   path-component   := /[a-z0-9]+/ [separator /[a-z0-9]+/]*
 *   separator        := /[_.]|__|[-]+/
 *   tag              := /[\w][\w.-]{0,127}/
 *   digest           := algorithm ":" /[0-9a-fA-F]{32,}/      (at least 128 bits)
 *   algorithm        := algo-component [/[+._-]/ algo-component]*
 *   algo-component   := [A-Za-z][A-Za-z0-9]*
 *
 * Upstream matches whole strings with RE2 regexps. We instead split on the
 * delimiters and check each piece with a small anchored regexp. This accepts
 * exactly the same language (argued at each split below) while keeping every
 * regexp free of nested ambiguous quantifiers, so V8's backtracking engine
 * stays linear on hostile input.
 */

export interface ImageReference {
  /** e.g. "docker.io", "[::1]:5000", "localhost:5000". See parseNormalizedNamed for the one case where it is "". */
  readonly domain: string;
  /** e.g. "library/busybox" */
  readonly path: string;
  readonly tag?: string;
  /** "algorithm:hex" */
  readonly digest?: string;
}

export class InvalidReferenceError extends Error {
  override name = 'InvalidReferenceError';
}

const DEFAULT_DOMAIN = 'docker.io';
// Docker Hub's old "index" host; normalised to DEFAULT_DOMAIN.
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const LOCALHOST = 'localhost';
// Since distribution/reference v0.6.0 (PR #9) this bounds the path only, not domain + path.
const REPOSITORY_NAME_MAX_LENGTH = 255;

// Error texts are upstream's. For uppercase, v0.6 says "repository name (<name>)
// must be lowercase" in one path and "repository name must be lowercase" in the
// other; we use the single wording of older upstream and of containers/image.
const ERR_FORMAT = 'invalid reference format';
const ERR_UPPERCASE = 'invalid reference format: repository name must be lowercase';
const ERR_NAME_TOO_LONG = `repository name must not be more than ${REPOSITORY_NAME_MAX_LENGTH} characters`;
export const ERR_NOT_CANONICAL = 'repository name must be canonical';
const ERR_DIGEST_FORMAT = 'invalid checksum digest format';
const ERR_DIGEST_LENGTH = 'invalid checksum digest length';
const ERR_DIGEST_UNSUPPORTED = 'unsupported digest algorithm';

// Separators never overlap [a-z0-9], so every split of a component is unique (no backtracking blow-up).
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
// Domains, unlike paths, may contain uppercase letters.
const DOMAIN_COMPONENT = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
// Only plain hex and colons: zone ids ("%eth0") and IPv4-mapped ("::1.2.3.4") forms are rejected.
// The address itself is not validated further ("[fd00123123123]" passes), as upstream.
const IPV6_BODY = /^[a-fA-F0-9:]+$/;
// Any digit count: upstream leaves port range checks to later validation.
const PORT = /^[0-9]+$/;
// Go's \w is ASCII-only, as is JS \w without the u flag.
const TAG = /^\w[\w.-]{0,127}$/;
// The reference grammar accepts uppercase hex; go-digest then rejects it for known algorithms.
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
// go-digest's DigestRegexp: decides "unsupported" vs "invalid format" for unknown algorithms.
const GO_DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
// An image ID; a bare one is refused as a name so it cannot be confused with an ID.
const IDENTIFIER = /^[a-f0-9]{64}$/;
/** Algorithms go-digest knows (sha384 comes with crypto/sha512), with their hex lengths: the ones a pull verifies. */
export const DIGEST_HEX_LENGTH: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
]);
const LOWER_HEX = /^[a-f0-9]+$/;

function fail(message: string): never {
  throw new InvalidReferenceError(message);
}

/** Anchored domain check: host[:port], host being a DNS-ish name, IPv4, or bracketed IPv6. */
export function isDomain(s: string): boolean {
  let host = s;
  let port: string | undefined;
  if (s.startsWith('[')) {
    // IPv6 bodies cannot contain ']', so the first ']' closes the literal.
    const close = s.indexOf(']');
    if (close < 0 || !IPV6_BODY.test(s.slice(1, close))) return false;
    const rest = s.slice(close + 1);
    return rest === '' || (rest.startsWith(':') && PORT.test(rest.slice(1)));
  }
  // Domain names contain no ':', so the first one starts the port.
  const colon = s.indexOf(':');
  if (colon >= 0) {
    host = s.slice(0, colon);
    port = s.slice(colon + 1);
    if (!PORT.test(port)) return false;
  }
  return host.split('.').every((label) => DOMAIN_COMPONENT.test(label));
}

/**
 * containers/image's DomainRegexp (its docker/reference fork, as in skopeo 1.9.3): host[:port]
 * with no bracketed IPv6 form. It decides unqualified-search-registries entries there.
 */
export function isDomainContainersImage(s: string): boolean {
  return !s.startsWith('[') && isDomain(s);
}

function isRemoteName(s: string): boolean {
  return s.split('/').every((component) => PATH_COMPONENT.test(component));
}

/**
 * Upstream's anchoredNameRegexp: `^(?:(domain)/)?(remote-name)$` with Go's
 * leftmost-first preference for taking the optional domain. A domain holds no
 * '/', so it can only be the text before the first '/'; when that is not a
 * domain (e.g. "foo_bar.com"), the whole name is tried as a path.
 */
function splitName(name: string): { domain: string; path: string } | undefined {
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const domain = name.slice(0, slash);
    const path = name.slice(slash + 1);
    if (isDomain(domain) && isRemoteName(path)) return { domain, path };
  }
  return isRemoteName(name) ? { domain: '', path: name } : undefined;
}

interface Matched {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

/** Upstream's anchored ReferenceRegexp, returning the captured parts. */
function matchReference(s: string): Matched | undefined {
  let rest = s;
  let digest: string | undefined;
  let tag: string | undefined;
  // No production but the digest follows '@', and none contains '@'.
  const at = s.indexOf('@');
  if (at >= 0) {
    digest = s.slice(at + 1);
    rest = s.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  // A ':' in the name can only sit in the domain, i.e. before some '/'. So a
  // ':' after the last '/' (or in a name with no '/') must start the tag, and
  // a tag (no ':' or '/' in it) can only start after the last ':'.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const name = splitName(rest);
  if (name === undefined) return undefined;
  const m: Matched = { ...name };
  if (tag !== undefined) m.tag = tag;
  if (digest !== undefined) m.digest = digest;
  return m;
}

/** go-digest's Digest.Validate for a string that already matched DIGEST. */
function validateDigest(digest: string): void {
  const sep = digest.indexOf(':');
  const algorithm = digest.slice(0, sep);
  const encoded = digest.slice(sep + 1);
  const hexLength = DIGEST_HEX_LENGTH.get(algorithm);
  if (hexLength === undefined) {
    // e.g. "Sha256:..." is a format error (go-digest wants lowercase algorithms), "md5:..." unsupported.
    fail(GO_DIGEST.test(digest) ? ERR_DIGEST_UNSUPPORTED : ERR_DIGEST_FORMAT);
  }
  if (encoded.length !== hexLength) fail(ERR_DIGEST_LENGTH);
  if (!LOWER_HEX.test(encoded)) fail(ERR_DIGEST_FORMAT);
}

/**
 * Upstream reference.Parse: grammar only, no normalisation. Only ever called
 * with "domain/..." so upstream's empty-input and digest-only branches are moot.
 */
function parseReference(s: string): ImageReference {
  const m = matchReference(s);
  if (m === undefined) {
    // Only blame case when lowercasing would have made the whole string valid.
    const lower = s.toLowerCase();
    fail(lower !== s && matchReference(lower) !== undefined ? ERR_UPPERCASE : ERR_FORMAT);
  }
  if (m.path.length > REPOSITORY_NAME_MAX_LENGTH) fail(ERR_NAME_TOO_LONG);
  if (m.digest !== undefined) validateDigest(m.digest);
  return Object.freeze(m);
}

/**
 * Upstream splitDockerDomain. The first '/'-separated component is the domain
 * iff it is "localhost", contains '.' or ':', or contains an uppercase letter
 * (path components are lowercase-only, so upstream treats such a component as
 * a host, e.g. "Docker/docker" -> domain "Docker"). Otherwise the domain is
 * docker.io. "index.docker.io" becomes docker.io, and single-component Docker
 * Hub paths get "library/". A name without '/' is always a Docker Hub name,
 * even "localhost" or "example.com" (an upstream FIXME). The remainder keeps
 * any ":tag" / "@digest" suffix; nothing is validated here.
 */
export function splitDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash < 0) {
    // Handled apart so that "busybox:1.36" is never read as host:port.
    return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  }
  const first = name.slice(0, slash);
  let domain: string;
  let remainder = name.slice(slash + 1);
  if (first === LEGACY_DEFAULT_DOMAIN) {
    domain = DEFAULT_DOMAIN;
  } else if (first === LOCALHOST || /[.:]/.test(first) || first.toLowerCase() !== first) {
    domain = first;
  } else {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  return { domain, remainder };
}

/**
 * Upstream ParseNormalizedNamed: accepts familiar forms ("busybox",
 * "user/app:tag", "docker.io/busybox", "index.docker.io/x") and returns the
 * fully-qualified reference. Both tag and digest are kept when present.
 *
 * Quirk kept from upstream: a first component containing '.' but not valid as
 * a domain yet valid as a path component (only possible with '_', e.g.
 * "foo_bar.com/app") yields domain "" and path "foo_bar.com/app".
 */
export function parseNormalizedNamed(s: string): ImageReference {
  if (IDENTIFIER.test(s)) {
    fail(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  }
  const { domain, remainder } = splitDomain(s);
  // Upstream cuts at the first ':' (tag or digest algorithm separator) for this check.
  const tagSep = remainder.indexOf(':');
  const remote = tagSep >= 0 ? remainder.slice(0, tagSep) : remainder;
  if (remote.toLowerCase() !== remote) fail(ERR_UPPERCASE);
  return parseReference(`${domain}/${remainder}`);
}

/** Upstream ParseNamed: like parseNormalizedNamed, but `s` must already be in canonical form. */
export function parseNamed(s: string): ImageReference {
  const ref = parseNormalizedNamed(s);
  if (referenceString(ref) !== s) fail(ERR_NOT_CANONICAL);
  return ref;
}

/** domain/path (just path in the domain-less quirk case, as upstream's Name()). */
export function referenceName(r: ImageReference): string {
  return r.domain === '' ? r.path : `${r.domain}/${r.path}`;
}

function withSuffixes(name: string, r: ImageReference): string {
  return name + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** name[:tag][@digest] */
export function referenceString(r: ImageReference): string {
  return withSuffixes(referenceName(r), r);
}

/**
 * Upstream FamiliarString: drops "docker.io/" and, for single-level official
 * images, "library/" ("docker.io/library/busybox:latest" -> "busybox:latest").
 * No default tag is added.
 */
export function familiarString(r: ImageReference): string {
  if (r.domain !== DEFAULT_DOMAIN) return referenceString(r);
  let path = r.path;
  if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
    const rest = path.slice(OFFICIAL_REPO_PREFIX.length);
    // "library/foo/bar" stays as is: it would not read back as the same name.
    if (!rest.includes('/')) path = rest;
  }
  return withSuffixes(path, r);
}

/** True iff `s` is a canonical (parseNamed-accepted) name with no tag and no digest. */
export function isCanonicalRepositoryName(s: string): boolean {
  try {
    const r = parseNamed(s);
    return r.tag === undefined && r.digest === undefined;
  } catch {
    return false; // parseNamed only throws InvalidReferenceError
  }
}

/**
 * ParseNormalizedNamed as containers/image's own fork of the reference package
 * (docker/reference, as vendored by skopeo 1.9.3 / containers/image 5.23) answers it.
 * It refuses three things that distribution/reference v0.6 accepts:
 * - bracketed IPv6 hosts ("[::1]:5000/app"): invalid reference format;
 * - an uppercase first component without '.', ':' or "localhost" ("Docker/app"): it is a
 *   Docker Hub path there, so "repository name must be lowercase";
 * - names (domain + "/" + path) longer than 255 characters.
 * Used where we must accept exactly what containers/image accepts (the resolver).
 */
export function parseNormalizedNamedContainersImage(s: string): ImageReference {
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const first = s.slice(0, slash);
    if (!/[.:]/.test(first) && first !== LOCALHOST && first.toLowerCase() !== first) fail(ERR_UPPERCASE);
  }
  const ref = parseNormalizedNamed(s);
  if (ref.domain.startsWith('[')) fail(ERR_FORMAT);
  if (referenceName(ref).length > REPOSITORY_NAME_MAX_LENGTH) fail(ERR_NAME_TOO_LONG);
  return ref;
}

// The usual canonical name in one anchored test: host[:port] (DOMAIN_COMPONENT labels) then one or
// more PATH_COMPONENTs. Labels are split by '.', components by '/', and no separator of a component
// overlaps [a-z0-9], so the match stays linear (the same argument as for the pieces above).
const LABEL_SOURCE = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const PLAIN_NAME = new RegExp(`^${LABEL_SOURCE}(?:\\.${LABEL_SOURCE})*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+$`);

/**
 * True only when parseNamedContainersImage would accept `s` as it is, with no tag and no digest:
 * a first component that is a domain by splitDomain's rule ('.' or ':' in it, or "localhost"; not
 * docker.io, which adds "library/", nor index.docker.io, which is renamed; no IPv6 brackets), then
 * a lowercase path, 255 characters in all. It builds nothing and throws nothing: the checks of a
 * render ask it first, and only a name it does not vouch for (false) goes through the full parse.
 */
export function isPlainCanonicalName(s: string): boolean {
  if (s.length > REPOSITORY_NAME_MAX_LENGTH || !PLAIN_NAME.test(s)) return false;
  const first = s.slice(0, s.indexOf('/'));
  if (first === DEFAULT_DOMAIN || first === LEGACY_DEFAULT_DOMAIN) return false;
  return first === LOCALHOST || first.includes('.') || first.includes(':');
}

/**
 * containers/image's reference.Parse (its docker/reference fork): the grammar alone, no
 * normalisation, and the whole name (domain and path) at most 255 characters. The domain is what
 * the name grammar takes as one, so "build_server.corp/app" has none (a domain has no '_': the
 * whole name is a path). Short-name aliases are judged by it (sysregistriesv2/shortnames.go).
 */
export function parseContainersImage(s: string): ImageReference {
  const m = matchReference(s);
  if (m === undefined) {
    const lower = s.toLowerCase();
    fail(lower !== s && matchReference(lower) !== undefined ? ERR_UPPERCASE : ERR_FORMAT);
  }
  if (m.domain.startsWith('[')) fail(ERR_FORMAT); // the fork's domain grammar has no bracketed IPv6
  if ((m.domain === '' ? m.path : `${m.domain}/${m.path}`).length > REPOSITORY_NAME_MAX_LENGTH) fail(ERR_NAME_TOO_LONG);
  if (m.digest !== undefined) validateDigest(m.digest);
  return Object.freeze(m);
}

/** ParseNamed (canonical form required) with containers/image's rules, see parseNormalizedNamedContainersImage. */
export function parseNamedContainersImage(s: string): ImageReference {
  const ref = parseNormalizedNamedContainersImage(s);
  if (referenceString(ref) !== s) fail(ERR_NOT_CANONICAL);
  return ref;
}
