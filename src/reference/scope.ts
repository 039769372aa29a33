/**
 * registries.conf scope helpers, mirroring openshift/runtime-utils (pkg/registries),
 * openshift/machine-config-operator (container-runtime-config validation regexes) and
 * containers/image (pkg/sysregistriesv2 prefix matching).
 *
 * Pure functions, no I/O. See docs/registries-semantics.md §2.2, §2.3, §3.2, §3.5.
 *
 * Lengths and indices are JavaScript string (UTF-16) positions; Go uses bytes. They agree for ASCII,
 * which is all a valid registry name can contain.
 */

/** runtime-utils IsValidRegistriesConfScope (V18).
 * Only wildcards are really validated: non-empty strings without `*` are accepted as they are (even with spaces);
 * a `*` is only allowed as a leading `*.` with no `/`, `@`, `:` or further `*` after it. Note `*.` alone is accepted. */
export function isValidRegistriesConfScope(s: string): boolean {
  if (s === '') return false;
  if (!s.includes('*')) return true;
  return s.startsWith('*.') && !/[/@:*]/.test(s.slice(2));
}

/** runtime-utils ScopeIsNestedInsideScope (V17): true iff `sub` equals `sup`, or `sub` is `sup` followed by `/...`,
 * or `sup` is `*.d` and the host part of `sub` ends with `.d`.
 *
 * Faithful quirk: for the wildcard case upstream takes the host as the text before the first `:` if `sub` contains
 * a `:` anywhere (and then rejects it if that text contains `/`), otherwise the text before the first `/`.
 * So `foo.example.com/ns/repo:tag` is NOT nested in `*.example.com`, while `foo.example.com/ns/repo` is. */
export function scopeIsNestedInsideScope(sub: string, sup: string): boolean {
  if (sub === sup) return true;
  if (sub.length > sup.length && sub.startsWith(sup) && sub[sup.length] === '/') return true;
  if (!sup.startsWith('*.')) return false;
  const suffix = sup.slice(1); // ".d"
  const colon = sub.indexOf(':');
  if (colon !== -1) {
    const beforeColon = sub.slice(0, colon);
    return beforeColon.endsWith(suffix) && !beforeColon.includes('/');
  }
  const slash = sub.indexOf('/');
  return (slash === -1 ? sub : sub.slice(0, slash)).endsWith(suffix);
}

/** The host part of a scope: the text before the first `:` or `/` (the whole scope if it has neither). */
export function scopeHost(scope: string): string {
  const i = scope.search(/[:/]/);
  return i === -1 ? scope : scope.slice(0, i);
}

// MCO's sourceRegex / mirrorRegex (kept in sync with the openshift/api IDMS/ITMS CRD patterns), rewritten into an
// equivalent form that cannot backtrack catastrophically in a JS engine (Go's RE2 is linear, V8 is not):
//   label          [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//   path component [a-z0-9]+ ( ([._] | __ | -*) [a-z0-9]+ )*   ==  [a-z0-9]+ ( (\. | _{1,2} | -+) [a-z0-9]+ )*
//                  (the "-*" alternative may be empty, which only re-splits an alphanumeric run)
// Both are anchored at start and end of the whole string (Go `$` without (?m) matches only at the very end, as in JS).
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const HOST_PORT = `${LABEL}(?:\\.${LABEL})*(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:\\.|_{1,2}|-+)[a-z0-9]+)*';
const LOCATION = `${HOST_PORT}(?:/${PATH_COMPONENT})*`;
const WILDCARD_DOMAIN = `\\*(?:\\.${LABEL})+`;
const MIRROR_RE = new RegExp(`^${LOCATION}$`);
const SOURCE_RE = new RegExp(`^(?:${WILDCARD_DOMAIN}|${LOCATION})$`);

/** MCO's regex for a source: `*.label(.label)*` (no port, no path), or host[:port](/path-component)* with lowercase
 * path components. Host labels may contain uppercase; no tag, digest, trailing `/` or whitespace. */
export function isValidMirrorSource(s: string): boolean {
  return SOURCE_RE.test(s);
}

/** MCO's regex for a mirror: host[:port](/path-component)* with lowercase path components, no wildcards. */
export function isValidMirrorLocation(s: string): boolean {
  return MIRROR_RE.test(s);
}

/** runtime-utils mirrorsAdjustedForNestedScope: mirrors for nested scope `sub` of mirrored scope `sup`: append the suffix sub.slice(sup.length) to each mirror; throws Error for a wildcard sup or when sub is not nested in sup.
 * Checks run in upstream order (nesting first, then wildcard). `sub === sup` is accepted and returns the mirrors unchanged. */
export function mirrorsAdjustedForNestedScope(sup: string, sub: string, mirrors: readonly string[]): string[] {
  if (!scopeIsNestedInsideScope(sub, sup)) {
    throw new Error(`internal error: mirrorsAdjustedForNestedScope for ${JSON.stringify(sup)} and non-subscope ${JSON.stringify(sub)}`);
  }
  if (sup.startsWith('*.')) {
    throw new Error(`internal error: mirrorsAdjustedForNestedScope for a wildcard scope ${JSON.stringify(sup)}`);
  }
  // For a non-wildcard sup, nesting implies sub === sup or sub === sup + "/...".
  if (!sub.startsWith(sup)) {
    throw new Error(`internal error: mirrorsAdjustedForNestedScope with unexpected scopes ${JSON.stringify(sup)} and ${JSON.stringify(sub)}`);
  }
  const suffix = sub.slice(sup.length);
  return mirrors.map((m) => m + suffix);
}

/** containers/image refMatchingPrefix (literal prefix, boundary chars '/', ':', '@').
 * Returns the match length (= prefix length) or -1. As upstream, a prefix starting with `*.` is delegated to
 * refMatchingSubdomainPrefix. The ':' boundary lets `example.com` match `example.com:5000`; upstream calls that
 * unintended ("DON'T RELY"). */
export function refMatchingPrefix(name: string, prefix: string): number {
  if (prefix.startsWith('*.')) return refMatchingSubdomainPrefix(name, prefix);
  if (name.length < prefix.length) return -1;
  if (name.length === prefix.length) return name === prefix ? prefix.length : -1;
  if (!name.startsWith(prefix)) return -1;
  const c = name[prefix.length];
  return c === '/' || c === ':' || c === '@' ? prefix.length : -1;
}

/** containers/image refMatchingSubdomainPrefix for "*.domain" prefixes.
 * Finds the FIRST occurrence of `.domain` (prefix without the `*`) in `name`; there must be no `/` before it and it
 * must be followed by end of string, ':', '/' or '@'. Returns the index just past `.domain` in `name` (the length of the
 * matched host, port excluded) or -1. Only the first occurrence is tried, so `a.example.com.example.com` does not
 * match `*.example.com`. The bare domain never matches. */
export function refMatchingSubdomainPrefix(name: string, prefix: string): number {
  const domain = prefix.slice(1);
  let index = name.indexOf(domain);
  if (index === -1) return -1;
  if (name.slice(0, index).includes('/')) return -1;
  index += domain.length;
  if (index === name.length) return index;
  const c = name[index];
  return c === ':' || c === '/' || c === '@' ? index : -1;
}

/**
 * A set of scopes that answers "which of them is `sub` nested inside" (scopeIsNestedInsideScope)
 * without comparing `sub` with every member: it builds only the few scopes `sub` can be nested
 * inside (itself, each path prefix, `*` + each `.`-suffix of its host) and looks them up. One
 * insecure list of 90 000 entries against 90 000 tables was 8·10⁹ comparisons.
 */
export class ScopeSet {
  private readonly scopes: ReadonlySet<string>;
  /** Lengths of the members: a candidate of another length is never built (a hostile 500 KB name has as many candidates as characters). */
  private readonly lengths: ReadonlySet<number>;

  constructor(scopes: Iterable<string>) {
    this.scopes = new Set(scopes);
    this.lengths = new Set([...this.scopes].map((s) => s.length));
  }

  get size(): number {
    return this.scopes.size;
  }

  /** The members `sub` is nested inside, `sub` itself included when it is one; no duplicates, in no particular order. */
  enclosing(sub: string): string[] {
    const out: string[] = [];
    if (this.scopes.size === 0) return out;
    const take = (length: number, build: () => string): void => {
      if (!this.lengths.has(length)) return;
      const candidate = build();
      if (this.scopes.has(candidate) && !out.includes(candidate)) out.push(candidate);
    };
    take(sub.length, () => sub);
    for (let slash = sub.indexOf('/'); slash >= 0; slash = sub.indexOf('/', slash + 1)) take(slash, () => sub.slice(0, slash));
    const host = wildcardHost(sub);
    if (host !== undefined) {
      for (let dot = host.indexOf('.'); dot >= 0; dot = host.indexOf('.', dot + 1)) take(1 + host.length - dot, () => `*${host.slice(dot)}`);
    }
    return out;
  }

  /** Whether `sub` is nested inside any member. */
  encloses(sub: string): boolean {
    return this.enclosing(sub).length > 0;
  }
}

/** The host part scopeIsNestedInsideScope compares with a `*.d` scope, with its quirk; undefined when no wildcard can match. */
function wildcardHost(sub: string): string | undefined {
  const colon = sub.indexOf(':');
  if (colon !== -1) {
    const beforeColon = sub.slice(0, colon);
    return beforeColon.includes('/') ? undefined : beforeColon;
  }
  const slash = sub.indexOf('/');
  return slash === -1 ? sub : sub.slice(0, slash);
}

/**
 * The registry host (host[:port]) of a table's prefix or a name: what containerd keys its hosts
 * directory by, and what a credential helper is asked for.
 */
export function registryHostOf(prefixOrName: string): string {
  return prefixOrName.split('/')[0] ?? prefixOrName;
}

/**
 * A repository name and the namespaces above it, most specific first: host/a/b, host/a, host.
 * The keys an auth file is searched by, and the first of registries.d's namespaces.
 */
export function nameAndParents(name: string): string[] {
  const parts = name.split('/');
  const out: string[] = [];
  for (let n = parts.length; n >= 1; n--) out.push(parts.slice(0, n).join('/'));
  return out;
}
