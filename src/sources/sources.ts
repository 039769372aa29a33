/**
 * Which sources a pull of an image reference tries, in which order: containers/image's
 * `FindRegistry` (choose the table), `Endpoint.rewriteReference` (rewrite) and
 * `PullSourcesFromReference` (order), plus the per-attempt blocked check of its docker
 * transport. Pure: no I/O. See docs/registries-semantics.md §2.
 *
 * The reference is parsed as skopeo's `docker://REF` is (containers/image 5.23's own
 * reference parser): familiar names are normalised ("busybox" → docker.io/library/busybox),
 * a name without tag or digest gets ":latest". Short-name aliases and
 * unqualified-search-registries are NOT consulted: skopeo's docker transport does not use
 * them either (podman's short-name resolution would; that is not implemented here).
 */
import {
  InvalidReferenceError,
  parseNamedContainersImage,
  parseNormalizedNamedContainersImage,
  referenceName,
  referenceString,
  type ImageReference,
} from '../reference/reference.js';
import { mirrorServes, type Endpoint, type RegistriesConf, type RegistryTable } from '../registries-conf/model.js';
import { tableFinder } from '../registries-conf/governing-table.js';
import { refMatchingPrefix } from '../reference/scope.js';

export type SourceRole = 'mirror' | 'primary';

export interface SourceEndpoint {
  /** host[:port] of the physical reference, as containers/image names it (docker.io, not registry-1.docker.io). */
  readonly host: string;
  /** The endpoint's own `insecure` (a mirror's, or the table's for the primary), as containers/image uses it. */
  readonly insecure: boolean;
}

export interface Source {
  /** The rewritten (physical) reference, canonical: host/path:tag or host/path@digest. */
  readonly reference: string;
  readonly endpoint: SourceEndpoint;
  readonly role: SourceRole;
  /** The table the physical reference falls under is blocked: containers/image refuses this attempt. */
  readonly blocked: boolean;
  /** The prefix of that blocked table. */
  readonly blockedBy?: string;
  /**
   * Why containers/image's attempt at this source fails before any request, besides a block: a
   * mirror location with a tag gives a physical reference with both a tag and a digest; a first
   * component that is no host name but a path component ("a_b.example/x") leaves the name without
   * a registry host. The source is still listed (and tried, and fails), as skopeo does.
   */
  readonly unusable?: string;
}

export interface FoundRegistry {
  /** The winning table's prefix (its location when it has none); the name itself for the implicit table. */
  readonly prefix: string;
  readonly table: RegistryTable;
  /** No table matched: containers/image then pulls the reference as it is, no mirrors, not blocked, not insecure. */
  readonly implicit: boolean;
}

export interface PullSources {
  /** The normalised logical reference (docker.io/library/busybox:latest). */
  readonly reference: string;
  /** The table that decided the sources. */
  readonly registry: FoundRegistry;
  /** In the order containers/image tries them: kept mirrors in file order, then the primary, always last. */
  readonly sources: readonly Source[];
}

export type ResolveErrorKind = 'invalid-reference' | 'tag-and-digest' | 'rewrite';

/** A reference containers/image refuses to pull at all (nothing would be tried). Messages follow containers/image's. */
export class ResolveError extends Error {
  override name = 'ResolveError';
  constructor(
    readonly kind: ResolveErrorKind,
    message: string,
    /** The reference as given. */
    readonly input: string,
  ) {
    super(message);
  }
}

const DEFAULT_TAG = 'latest';
const TAG_AND_DIGEST = 'Docker references with both a tag and digest are currently not supported';

/**
 * containers/image FindRegistry for a repository name (`host[:port]/path`, no tag or digest):
 * registries-conf/governing-table.ts (longest prefix text, ties to the prefix that sorts first).
 * No match gives the implicit table.
 */
export function findRegistry(conf: RegistriesConf, name: string): FoundRegistry {
  const found = tableFinder(conf)(name);
  if (found !== undefined) return { ...found, implicit: false };
  return { prefix: name, table: { prefix: name, location: name, mirrors: [] }, implicit: true };
}

/**
 * The logical reference as skopeo's `docker://REF` parses it: normalised, `:latest` added to a bare
 * name, both tag and digest refused.
 */
export function parseLogicalReference(input: string): ImageReference {
  let ref: ImageReference;
  try {
    ref = parseNormalizedNamedContainersImage(input);
  } catch (e) {
    if (e instanceof InvalidReferenceError) throw new ResolveError('invalid-reference', e.message, input);
    throw e;
  }
  if (ref.tag !== undefined && ref.digest !== undefined) throw new ResolveError('tag-and-digest', TAG_AND_DIGEST, input);
  if (ref.tag === undefined && ref.digest === undefined) ref = Object.freeze({ ...ref, tag: DEFAULT_TAG });
  return ref;
}

/**
 * containers/image Endpoint.rewriteReference: `location + ref[matchLength(prefix):]` on the FULL
 * reference string (tag or digest included), parsed in canonical form. An empty location (allowed
 * for wildcard prefixes only) keeps the reference unchanged.
 */
export function rewriteReference(refString: string, prefix: string, location: string, input = refString): ImageReference {
  const matchLength = refMatchingPrefix(refString, prefix);
  if (matchLength === -1) throw new ResolveError('rewrite', `invalid prefix '${prefix}' for reference '${refString}'`, input);
  let rewritten = refString;
  if (location === '') {
    if (!prefix.startsWith('*.'))
      throw new ResolveError('rewrite', `invalid prefix '${prefix}' for empty location, should be in the format: *.example.com`, input);
  } else {
    rewritten = location + refString.slice(matchLength);
  }
  try {
    return parseNamedContainersImage(rewritten);
  } catch (e) {
    if (e instanceof InvalidReferenceError) {
      throw new ResolveError(
        'rewrite',
        `rewriting reference: ${e.message} ("${refString}" under prefix "${prefix}" becomes "${rewritten}" at "${location}")`,
        input,
      );
    }
    throw e;
  }
}

/** containers/image PullSourcesFromReference's mirror filter: the mirrors a tag or a digest pull tries. */
export function keptMirrors(table: RegistryTable, digested: boolean): Endpoint[] {
  return table.mirrors.filter((m) => (digested ? mirrorServes(table, m).byDigest : mirrorServes(table, m).byTag));
}

/** Why containers/image's attempt at a physical reference fails before any request (see Source.unusable). */
function unusable(physical: ImageReference): { unusable?: string } {
  if (physical.tag !== undefined && physical.digest !== undefined) return { unusable: TAG_AND_DIGEST };
  // distribution/reference reads "a_b.example/x" as a path ("_" is no host name character): the
  // domain is empty and containers/image's ping fails ("no Host in request URL"); a request to
  // "https:///v2/" would go to a host named "v2".
  if (physical.domain === '')
    return { unusable: `no registry host in "${referenceString(physical)}": its first component is no host name (containers/image: no Host in request URL)` };
  return {};
}

/**
 * The ordered sources a pull of `input` tries, as containers/image (skopeo 1.9.3) builds them:
 * the table of the logical name decides; its mirrors are filtered (mirror-by-digest-only, or each
 * mirror's pull-from-mirror), kept in file order, and the primary comes last, even when blocked.
 * Each physical reference is then checked the way the docker transport checks it at attempt time:
 * blocked iff the table ITS name falls under is blocked (so a mirror under a blocked scope is
 * refused, and a blocked table whose location lies elsewhere may not block its own primary).
 *
 * Throws ResolveError where containers/image fails the whole pull before trying anything: an
 * invalid reference, tag and digest together, a rewrite that is not a canonical reference.
 */
export function pullSources(conf: RegistriesConf, input: string): PullSources {
  const ref = parseLogicalReference(input);
  const refString = referenceString(ref);
  const registry = findRegistry(conf, referenceName(ref));
  const { table, prefix } = registry;
  const digested = ref.digest !== undefined;
  const endpoints: Array<{ endpoint: Endpoint; role: SourceRole }> = keptMirrors(table, digested).map((endpoint) => ({ endpoint, role: 'mirror' }));
  endpoints.push({ endpoint: table, role: 'primary' });
  const sources = endpoints.map(({ endpoint, role }): Source => {
    const physical = rewriteReference(refString, prefix, endpoint.location, input);
    const under = findRegistry(conf, referenceName(physical));
    const blocked = !under.implicit && under.table.blocked === true;
    const source: Source = {
      reference: referenceString(physical),
      endpoint: { host: physical.domain, insecure: endpoint.insecure === true },
      role,
      blocked,
      ...(blocked ? { blockedBy: under.prefix } : {}),
      ...unusable(physical),
    };
    return source;
  });
  return { reference: refString, registry, sources };
}
