/**
 * The sizes of the blobs (config and layers) that the manifests the endpoint served list, by
 * digest. A source may send a blob without its length (an HTTP/1.0 server: the close ends the
 * body); a clean close then looks like the end even when the source died mid-body. With the
 * size its manifest gives, a body ending short of it is known to be cut (blob.ts). Only a
 * hint: the digest stays the judge of the bytes. Bounded: the oldest entries go first.
 */

export const MAX_BLOB_SIZES = 10_000;
/** sha512:HEX is 135 characters: a longer "digest" names no blob we serve. */
const MAX_DIGEST_LENGTH = 135;

interface Descriptor {
  readonly digest?: unknown;
  readonly size?: unknown;
}

export class BlobSizes {
  private readonly sizes = new Map<string, number>();

  constructor(private readonly max = MAX_BLOB_SIZES) {}

  /** The sizes a manifest's descriptors give; anything that is not an image manifest (an index, a malformed one) adds nothing. */
  learn(manifest: Buffer): void {
    let m: { config?: Descriptor; layers?: unknown };
    try {
      m = JSON.parse(manifest.toString('utf8')) as typeof m;
    } catch {
      return; // not ours to judge here: the client sees the manifest as it is
    }
    if (typeof m !== 'object' || m === null) return;
    const layers = Array.isArray(m.layers) ? (m.layers as unknown[]).slice(0, this.max) : [];
    for (const d of [m.config, ...layers]) this.add(d as Descriptor | undefined);
  }

  get(digest: string): number | undefined {
    return this.sizes.get(digest);
  }

  private add(d: Descriptor | undefined): void {
    if (typeof d?.digest !== 'string' || d.digest.length > MAX_DIGEST_LENGTH || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
      return;
    this.sizes.delete(d.digest); // a renewed entry goes to the back of the eviction order
    this.sizes.set(d.digest, d.size);
    if (this.sizes.size > this.max) this.sizes.delete(this.sizes.keys().next().value as string);
  }
}
