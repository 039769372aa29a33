/**
 * Which upstream sources serve a request of the local mirror, pure: the request mapped back to
 * its table and original reference (mapping.ts: the table's own sources in containers/image's
 * order, the endpoint itself left out), without the sources containers/image would refuse
 * (blocked, unusable). Undefined: not a repository the endpoint serves (404).
 */
import type { RegistriesConf } from '../registries-conf/model.js';
import { ResolveError, type Source } from '../sources/sources.js';
import { mapLocalMirrorRequest } from './mapping.js';
import type { Route } from './request.js';

function usable(s: Source): boolean {
  return !s.blocked && s.unusable === undefined;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '0.0.0.0', '[::]']);

/**
 * Whether `host` (a source's HOST:PORT) is the endpoint at `address` under another spelling
 * (mapping.ts leaves out the exact address; `localhost:PORT` for `127.0.0.1:PORT` would still
 * send the endpoint a request for itself, and that one another, until the deadline).
 */
export function isSelf(host: string, address: string): boolean {
  if (host === address) return true;
  const split = (hp: string): [string, string] => {
    const i = hp.lastIndexOf(':');
    return [hp.slice(0, i).toLowerCase(), hp.slice(i + 1)];
  };
  const [h, p] = split(host);
  const [a, q] = split(address);
  return p === q && LOOPBACK_NAMES.has(h) && LOOPBACK_NAMES.has(a);
}

/** The sources of a manifest request (`tagOrDigest` as in the request path). */
export function manifestSources(conf: RegistriesConf, address: string, name: string, tagOrDigest: string): Source[] | undefined {
  try {
    return mapLocalMirrorRequest(conf, address, name, tagOrDigest)?.sources.filter((s) => usable(s) && !isSelf(s.endpoint.host, address));
  } catch (e) {
    if (e instanceof ResolveError) return undefined; // no reference containers/image could have sent
    throw e;
  }
}

/** A source's reference without its tag or digest (`host/path/repo`). */
function repositoryOf(reference: string): string {
  const at = reference.indexOf('@');
  return at >= 0 ? reference.slice(0, at) : reference.slice(0, reference.lastIndexOf(':'));
}

/**
 * A blob's sources, and a manifest's by digest: every mirror of the table, whatever its
 * pull-from-mirror (the manifest list or manifest may have come by tag from a tag-only mirror,
 * and its child manifests and blobs live there), then the primary: the
 * digest pull's sources, with the tag pull's mirrors it lacks before the primary.
 */
export function blobSources(conf: RegistriesConf, address: string, name: string, digest: string): Source[] | undefined {
  const byDigest = manifestSources(conf, address, name, digest);
  if (byDigest === undefined) return undefined;
  // By repository, not host: two mirrors on one registry (digests/org, tags/org) are two sources.
  const repositories = new Set(byDigest.map((s) => repositoryOf(s.reference)));
  const tagOnly = (manifestSources(conf, address, name, 'latest') ?? [])
    .filter((s) => s.role === 'mirror' && !repositories.has(repositoryOf(s.reference)))
    .map((s) => ({ ...s, reference: `${repositoryOf(s.reference)}@${digest}` }));
  return [...byDigest.filter((s) => s.role === 'mirror'), ...tagOnly, ...byDigest.filter((s) => s.role === 'primary')];
}

/**
 * The image digest a tag stands for when the tag is one of that image's attachments: sigstore's
 * signatures `sha256-<hex>.sig` (cosign's `.att` and `.sbom` alike) and the OCI referrers tag
 * schema's `sha256-<hex>`; undefined for any other tag.
 */
export function attachedDigest(tag: string): string | undefined {
  const m = /^sha256-([a-f0-9]{64})(?:\.(?:sig|att|sbom))?$/.exec(tag);
  return m ? `sha256:${m[1] as string}` : undefined;
}

/**
 * An attachment tag's sources: the image's (blobSources). containers/image reads an image's
 * sigstore signatures by that tag from the registry that served the image, a digest-only mirror
 * included, and that is where oc-mirror and `cosign copy` put them; by the ordinary tag rule a
 * digest-only table would send it to the source alone, which a disconnected host cannot reach.
 */
function attachmentSources(conf: RegistriesConf, address: string, name: string, tag: string, digest: string): Source[] | undefined {
  return blobSources(conf, address, name, digest)?.map((s) => ({ ...s, reference: `${s.reference.slice(0, s.reference.lastIndexOf('@'))}:${tag}` }));
}

/**
 * The sources of a manifest or blob request. A manifest by digest is content as a blob is (a tag
 * pull through a tag-only mirror fetches the list's child manifests by digest from the same
 * endpoint): the same sources, checked alike.
 */
export function routeSources(conf: RegistriesConf, address: string, route: Exclude<Route, { kind: 'base' }>): Source[] | undefined {
  if (route.kind === 'blob') return blobSources(conf, address, route.name, route.digest);
  if (route.byDigest) return blobSources(conf, address, route.name, route.reference);
  const digest = attachedDigest(route.reference);
  return digest ? attachmentSources(conf, address, route.name, route.reference, digest) : manifestSources(conf, address, route.name, route.reference);
}
