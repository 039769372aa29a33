/**
 * A manifest through the local mirror: the first source (in health order) that serves it,
 * fetched whole with the resolver's own request (deadlines, size cap); by digest it must hash
 * to that digest before a byte is sent. By tag it is what that source says, as `pull` takes it.
 */
import type { ServerResponse } from 'node:http';
import { parseNamed } from '../reference/reference.js';
import { manifestDigestOf } from '../registry/manifest-digest.js';
import { getManifestBytes, headManifest, mediaTypeOf, verify, type PullSource } from '../registry/pull.js';
import { countResponse, type LocalMirrorStats } from './counters.js';
import { API_VERSION_HEADER, type AnswerDeadline } from './reply.js';
import type { Upstream } from './upstream.js';
import { attachedDigest } from './upstream-sources.js';

export interface FoundManifest {
  /** Absent: what a HEAD of the tag said (type, digest, size), for a HEAD by tag. */
  readonly bytes?: Buffer;
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

/** The manifest from the first source that serves it; `absent` when every source said 404 or forbidden (none failed). */
export async function findManifest(
  up: Upstream,
  sources: readonly PullSource[],
  reference: string,
  deadline: AnswerDeadline,
  head = false,
): Promise<FoundManifest | { absent: boolean }> {
  // A HEAD by tag (containerd resolves tags so) is asked as a HEAD: a GET of a manifest counts
  // against Docker Hub's pull limit, a HEAD does not. By digest the manifest is fetched, to be
  // verified; an attachment tag's answer decides, below, as a GET.
  const byDigest = reference.includes(':');
  const asHead = head && !byDigest && attachedDigest(reference) === undefined;
  // An image's attachment (its signatures) by tag: the first source that answers decides, as
  // containers/image asks only the registry that served the image. "None" can only make a
  // policy refuse the image; a 502 after a source that cannot be reached would fail every pull
  // of an unsigned image while its source is out of reach.
  const found = await up.firstAnswer(
    sources,
    deadline,
    async (s, client) => {
      const said = asHead ? await headManifest(client, parseNamed(s.reference).path, reference) : undefined;
      if (said) return said;
      const got = await getManifestBytes(client, parseNamed(s.reference).path, reference);
      // One that does not hash to it is its source's wrong content, as for pull (failure.ts): the
      // source is marked down, and when no source serves it the client is told the sources failed
      // (502), not that the manifest is unknown (404).
      if (byDigest) verify(got.bytes, reference, s.reference);
      return {
        bytes: got.bytes,
        mediaType: mediaTypeOf(got.bytes, got.header),
        digest: byDigest ? reference : manifestDigestOf(got.bytes),
        size: got.bytes.length,
      };
    },
    attachedDigest(reference) !== undefined,
  );
  return 'answer' in found ? found.answer : found;
}

export function sendManifest(res: ServerResponse, head: boolean, m: FoundManifest, stats: LocalMirrorStats): void {
  countResponse(stats, 200);
  res.writeHead(200, { ...API_VERSION_HEADER, 'content-type': m.mediaType, 'content-length': String(m.size), 'docker-content-digest': m.digest });
  if (!head && m.bytes) stats.bytesSent += m.bytes.length;
  res.end(head ? undefined : m.bytes);
}
