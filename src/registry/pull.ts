/**
 * Pulling an image through its ordered sources, with what containers/image lacks: the
 * health cache (a down endpoint is skipped, so a dead or hung mirror costs its timeout
 * once), digest verification of everything fetched, and blob-level fallback (a blob that
 * fails from one source comes from the next that has it).
 */
import { endpointKey as endpointKeyOf, orderByHealth, recordSuccess, type EndpointHealth, type FailureClass, type HealthMap } from '../health/health.js';
import { parseNamed, type ImageReference } from '../reference/reference.js';
import type { Logger } from '../core/log.js';
import { findCredentials } from './auth-file.js';
import { tlsFor } from './certs.js';
import { EndpointClient, bodyDeadline, blobDeadlineMs, discard, readLimitedBuffer, RegistryError, classifyNetworkError, type Timeouts } from './client.js';
import { describeError } from './errors.js';
import { afterRequestFailure, asRegistryError } from './failure.js';
import { isManifestFor, manifestDigestOf } from './manifest-digest.js';
import type { ProxyEnv } from './proxy.js';
import {
  ensureBlobDir,
  haveBlob,
  initLayout,
  splitDigest,
  writeBlobBytes,
  writeBlobStream,
  writeIndex,
  DigestMismatch,
  LocalStoreError,
  WrongContent,
  type Descriptor,
} from './oci-layout.js';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
};
const ACCEPTED_TYPES: ReadonlySet<string> = new Set([MT.ociManifest, MT.ociIndex, MT.dockerManifest, MT.dockerList]);
export const ACCEPT = [...ACCEPTED_TYPES].join(', ');
const INDEX_TYPES = new Set([MT.ociIndex, MT.dockerList]);
/** Failures that say the endpoint as a whole did not answer, whatever the repository asked. */
const UNREACHABLE: ReadonlySet<FailureClass> = new Set<FailureClass>(['refused', 'connect-timeout', 'tls', 'headers-timeout', 'dns', 'reset']);

/** One candidate, as the source order gives it. */
export interface PullSource {
  readonly reference: string;
  readonly endpoint: { readonly host: string; readonly insecure: boolean };
  readonly role: 'mirror' | 'primary';
  readonly blocked: boolean;
  /**
   * Why containers/image's attempt at it fails before any request (a reference with both a tag
   * and a digest, no registry host): passed over in its place, as a blocked one is, with this reason.
   */
  readonly unusable?: string;
}

/** Why a source is passed over uncontacted (blocked, or unusable), or undefined when it may be asked. */
function notContacted(s: PullSource): string | undefined {
  if (s.unusable !== undefined) return `${s.unusable}: not contacted`;
  return s.blocked ? 'blocked in registries.conf: not contacted' : undefined;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: process.platform === 'win32' ? 'windows' : process.platform, architecture: arch[process.arch] ?? process.arch };
}

export function parsePlatform(s: string): Platform {
  const [os, architecture, variant] = s.split('/');
  if (!os || !architecture || s.split('/').length > 3) throw new Error(`--platform must be OS/ARCH[/VARIANT], not "${s}"`);
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function platformName(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

export interface PullOptions {
  readonly dest: string;
  readonly platform: Platform;
  readonly authFile?: string;
  /** registries.conf's `credential-helpers` (default: the auth files alone) */
  readonly credentialHelpers?: readonly string[];
  readonly certDir?: string;
  readonly timeouts?: Timeouts;
  /** where HTTPS_PROXY, HTTP_PROXY and NO_PROXY come from (default process.env) */
  readonly env?: ProxyEnv;
  readonly health: HealthMap;
  readonly log: Logger;
  readonly now?: () => number;
  /** Called as each blob's bytes arrive (the CLI shows it on a terminal). */
  readonly progress?: (p: BlobProgress) => void;
  /** Called with a blob's running byte count after each chunk is written (the CLI's memory upkeep). */
  readonly onBlobBytes?: (bytesSoFar: number) => void;
}

export interface BlobProgress {
  readonly digest: string;
  readonly done: number; // bytes so far
  readonly total: number; // as the manifest declares it
  readonly source: string;
}

export interface Attempt {
  readonly source: string;
  readonly endpoint: string;
  readonly error: string;
}

export interface PullReport {
  readonly reference: string;
  readonly digest: string;
  readonly verified: boolean; // false for tag pulls: the digest is whatever the source said
  readonly manifestFrom: string;
  readonly blobs: Array<{ digest: string; size: number; from: string }>;
  readonly skipped: string[]; // sources never contacted because their endpoint is down (tried only as a last resort)
  readonly attempts: Attempt[]; // failures along the way
  readonly health: Record<string, EndpointHealth>; // updates for the cache
}

export class PullError extends Error {
  constructor(
    message: string,
    readonly attempts: Attempt[],
    readonly health: Record<string, EndpointHealth>,
  ) {
    super(message);
  }
}

interface Fetched {
  readonly source: PullSource;
  readonly ref: ImageReference;
  readonly client: EndpointClient;
  readonly bytes: Buffer;
  readonly mediaType: string;
  readonly digest: string;
  readonly manifest: ImageManifest;
}

/** The parts of an image manifest a pull uses, checked. */
interface ImageManifest {
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
}

function endpointKey(s: PullSource): string {
  return endpointKeyOf(s.endpoint.host, s.endpoint.insecure);
}

export function mediaTypeOf(bytes: Buffer, header: string | undefined): string {
  try {
    const j = JSON.parse(bytes.toString('utf8')) as { mediaType?: string; manifests?: unknown };
    if (typeof j.mediaType === 'string') return j.mediaType;
    if (Array.isArray(j.manifests)) return MT.ociIndex;
  } catch {
    // not JSON: the checks below refuse it
  }
  return (header ?? MT.ociManifest).split(';')[0]?.trim() ?? MT.ociManifest;
}

/**
 * What one pull carries from source to source: a client per endpoint (reused, closed at the
 * end), the health updates it makes (on top of the cache it was given) and the failures it
 * met, which every PullError and the report carry.
 */
class PullSession {
  readonly health: Record<string, EndpointHealth> = {};
  readonly attempts: Attempt[] = [];
  private readonly clients = new Map<string, EndpointClient>();

  constructor(readonly opts: PullOptions) {}

  now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The endpoint's health as this pull knows it: its own updates first, then the cache. */
  private healthOf(key: string): EndpointHealth | undefined {
    return this.health[key] ?? this.opts.health[key];
  }

  /** The whole cache as this pull knows it (its own updates over the cache it was given). */
  healthNow(): HealthMap {
    return { ...this.opts.health, ...this.health };
  }

  /** True when the endpoint failed in this very pull (a hung one would cost its deadline again). */
  failedHere(s: PullSource): boolean {
    return (this.health[endpointKey(s)]?.failures ?? 0) > 0;
  }

  /**
   * The endpoint could not be reached or did not answer in this very pull: another repository on
   * it (a second mirror on the same host) would cost the same deadline again. A 500 or a 429 of
   * one repository says less about another's, so those are asked.
   */
  unreachableHere(s: PullSource): boolean {
    const last = this.health[endpointKey(s)]?.lastFailure;
    return this.failedHere(s) && last !== undefined && UNREACHABLE.has(last.class);
  }

  /**
   * Runs `request` against source `s` and records how it went: its endpoint's success (with
   * the time taken, client setup included), or the failure as an attempt and, when the error
   * says something about the endpoint, in its health. Returns undefined when it failed.
   */
  async attempt<T>(s: PullSource, request: (client: EndpointClient) => Promise<T>): Promise<T | undefined> {
    const started = performance.now();
    try {
      const result = await request(await this.clientFor(s));
      this.succeeded(s, performance.now() - started);
      return result;
    } catch (e) {
      // The layout could not be written: nothing to do with this source, and no other source can help.
      if (e instanceof LocalStoreError) throw this.localStoreError(e);
      this.failed(s, e);
      return undefined;
    }
  }

  /** A source passed over without contacting it, as an attempt the report shows. */
  passedOver(s: PullSource, why: string): void {
    this.attempts.push({ source: s.reference, endpoint: endpointKey(s), error: why });
  }

  error(message: string): PullError {
    return new PullError(message, this.attempts, this.health);
  }

  /** The layout could not be written: nothing to do with any source, and no other source can help. */
  localStoreError(e: LocalStoreError): PullError {
    return this.error(`the OCI layout could not be written (${e.message}); no source is to blame`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close().catch(() => undefined)));
  }

  private async clientFor(s: PullSource): Promise<EndpointClient> {
    const key = endpointKey(s);
    let c = this.clients.get(key);
    if (!c) {
      const { certDir, authFile, credentialHelpers, timeouts, env } = this.opts;
      c = new EndpointClient(s.endpoint.host, s.endpoint.insecure, {
        tls: await tlsFor(s.endpoint.host, { ...(certDir ? { certDir } : {}), insecure: s.endpoint.insecure }),
        credentials: (repo) => findCredentials(repo, { ...(authFile ? { authFile } : {}), ...(credentialHelpers ? { credentialHelpers } : {}) }),
        ...(timeouts ? { timeouts } : {}),
        ...(env ? { env } : {}),
      });
      this.clients.set(key, c);
    }
    return c;
  }

  private succeeded(s: PullSource, ms: number): void {
    const key = endpointKey(s);
    this.health[key] = recordSuccess(this.healthOf(key), key, this.now(), Math.round(ms));
  }

  private failed(s: PullSource, e: unknown): void {
    const key = endpointKey(s);
    const { message } = asRegistryError(e);
    this.passedOver(s, message);
    this.opts.log.warn({ source: s.reference, endpoint: key }, `${s.reference}: ${message}`);
    const updated = afterRequestFailure(this.healthOf(key), key, e, this.now());
    if (updated) this.health[key] = updated;
  }
}

export async function pullImage(sources: readonly PullSource[], opts: PullOptions): Promise<PullReport> {
  const session = new PullSession(opts);
  try {
    const { got, skipped } = await resolveManifest(sources, session);
    await initLayout(opts.dest);
    const blobs = await fetchBlobs(got, sources, session);
    await writeImage(opts.dest, got);
    return {
      reference: requestedReference(sources) ?? '',
      digest: got.digest,
      verified: got.ref.digest !== undefined,
      manifestFrom: got.source.reference,
      blobs,
      skipped: skipped.map((s) => s.reference),
      attempts: session.attempts,
      health: session.health,
    };
  } catch (e) {
    // The layout's own files (its directory, index.json) as the blobs': this pull's health updates still count.
    if (e instanceof LocalStoreError) throw session.localStoreError(e);
    throw e;
  } finally {
    await session.close();
  }
}

/** The reference asked for: the source order ends with it (the primary). */
function requestedReference(sources: readonly PullSource[]): string | undefined {
  return sources[sources.length - 1]?.reference;
}

/**
 * The manifest from the first source that serves it (verified when pulled by digest); the
 * sources whose endpoint the cache marks down only after every other one failed. Also
 * returns the down sources never contacted.
 */
async function resolveManifest(sources: readonly PullSource[], session: PullSession): Promise<{ got: Fetched; skipped: PullSource[] }> {
  const { log, health, platform } = session.opts;
  const { ordered, down } = orderByHealth(sources, endpointKey, health, session.now());
  const contacted = new Set<PullSource>();
  let got: Fetched | undefined;
  for (const s of ordered) {
    const why = notContacted(s);
    if (why !== undefined) {
      session.passedOver(s, why);
      continue;
    }
    if (session.unreachableHere(s)) {
      session.passedOver(s, `not asked: ${endpointKey(s)} did not answer earlier in this pull`);
      continue;
    }
    if (down.includes(s)) log.info({ source: s.reference }, `trying ${s.reference} as a last resort: ${endpointKey(s)} is down (health cache)`);
    contacted.add(s);
    got = await session.attempt(s, (client) => fetchManifest(s, client, platform));
    if (got) break;
  }
  const skipped = down.filter((s) => notContacted(s) === undefined && !contacted.has(s));
  for (const s of skipped) log.info({ source: s.reference }, `skipped ${s.reference}: ${endpointKey(s)} is down (health cache)`);
  if (!got) throw session.error(`no source served ${requestedReference(sources) ?? 'the image'}`);
  log.info({ source: got.source.reference, digest: got.digest }, `manifest ${got.digest} from ${got.source.reference}`);
  return { got, skipped };
}

/**
 * Where a blob is asked for, in order: the manifest's source first, then the others in
 * order, those marked down last; an endpoint other than the manifest's that failed in this
 * very pull is not asked again (a hung one would cost its deadline once more for each blob).
 * Taken afresh for each blob, with this pull's own health updates: a manifest's source that
 * served a wrong blob is marked down, so it comes last for the next (asked first, its success
 * would clear the mark at once, and the next pull would ask it again).
 */
function blobSourceOrder(got: Fetched, sources: readonly PullSource[], session: PullSession): PullSource[] {
  const others = sources.filter((s) => s !== got.source && notContacted(s) === undefined && !session.failedHere(s));
  return orderByHealth([got.source, ...others], endpointKey, session.healthNow(), session.now()).ordered;
}

/** The config and every layer into the layout, each from the first source that serves it. */
async function fetchBlobs(got: Fetched, sources: readonly PullSource[], session: PullSession): Promise<PullReport['blobs']> {
  const blobs: PullReport['blobs'] = [];
  for (const d of [got.manifest.config, ...got.manifest.layers]) blobs.push(await fetchBlobFromAny(d, blobSourceOrder(got, sources, session), session));
  return blobs;
}

/** Blob-level fallback: one blob from the first of `order` that serves it, unless the layout has it already. */
async function fetchBlobFromAny(d: Descriptor, order: readonly PullSource[], session: PullSession): Promise<PullReport['blobs'][number]> {
  const { dest } = session.opts;
  if (await haveBlob(dest, d.digest)) return { digest: d.digest, size: d.size, from: 'already present' };
  for (const s of order) {
    const size = await session.attempt(s, (client) => fetchBlob(s, client, d, dest, blobObserver(s, d, session.opts)));
    if (size !== undefined) return { digest: d.digest, size, from: s.reference };
  }
  throw session.error(`no source served blob ${d.digest}`);
}

/** The manifest and the index naming it (with the tag pulled, if any): the blobs are in place by now. */
async function writeImage(dest: string, got: Fetched): Promise<void> {
  await writeBlobBytes(dest, got.digest, got.bytes);
  const tag = got.ref.tag;
  await writeIndex(dest, [
    { mediaType: got.mediaType, digest: got.digest, size: got.bytes.length, ...(tag ? { annotations: { 'org.opencontainers.image.ref.name': tag } } : {}) },
  ]);
}

/** What is told of a blob's bytes from source `s` as they are written: the progress, and the caller's own hook. */
function blobObserver(s: PullSource, d: Descriptor, opts: PullOptions): ((done: number) => void) | undefined {
  const { progress, onBlobBytes } = opts;
  if (!progress) return onBlobBytes;
  return (done) => {
    progress({ digest: d.digest, done, total: d.size, source: s.reference });
    onBlobBytes?.(done);
  };
}

/** One blob from one source, streamed into the layout, verified; returns its size. */
async function fetchBlob(s: PullSource, client: EndpointClient, d: Descriptor, dest: string, onBytes?: (done: number) => void): Promise<number> {
  const ref = parseNamed(s.reference);
  // Everything that awaits happens before the request: once the answer is there, its body is read at once.
  await ensureBlobDir(dest, d.digest);
  const res = await client.get(`/v2/${ref.path}/blobs/${d.digest}`, ref.path);
  if (res.status !== 200) {
    await discard(res, client.timeouts.bodyIdleMs);
    throw new RegistryError(
      `blob ${d.digest}: HTTP ${res.status}`,
      res.status === 404 ? 'absent' : res.status >= 500 ? 'unhealthy' : 'forbidden',
      res.status >= 500 ? 'server-error' : undefined,
      res.status,
    );
  }
  const disarm = bodyDeadline(res.body, blobDeadlineMs(client.timeouts, d.size), `blob ${d.digest}`);
  return writeBlobStream(dest, d.digest, d.size, res.body, onBytes)
    .catch((e: unknown) => {
      if (e instanceof RegistryError || e instanceof DigestMismatch || e instanceof LocalStoreError) throw e;
      // A transfer cut short (a reset, an idle body): which blob, in the words the rest of the report uses
      // (the body deadline's own error names it already).
      const why = describeError(e);
      throw new RegistryError(why.includes(d.digest) ? why : `blob ${d.digest}: ${why}`, 'unhealthy', classifyNetworkError(e));
    })
    .finally(disarm);
}

/** A manifest request's answer other than 200, as the error it is (404 absent, 401/403 forbidden, 5xx unhealthy). */
function manifestStatusError(ref: string, status: number): RegistryError {
  const kind = status === 404 ? 'absent' : status === 401 || status === 403 ? 'forbidden' : status >= 500 ? 'unhealthy' : 'invalid';
  return new RegistryError(`manifest ${ref}: HTTP ${status}`, kind, status >= 500 ? 'server-error' : undefined, status);
}

/**
 * What a HEAD of manifest `ref` says of it: its type, digest and size; undefined when the
 * answer lacks one, names a generic type, or the registry takes no HEAD (405, 501): the
 * manifest must then be fetched to know them. Throws as getManifestBytes for another answer
 * than 200.
 */
export async function headManifest(
  client: EndpointClient,
  repo: string,
  ref: string,
): Promise<{ mediaType: string; digest: string; size: number } | undefined> {
  const res = await client.get(`/v2/${repo}/manifests/${ref}`, repo, ACCEPT, 'HEAD');
  await discard(res, client.timeouts.bodyIdleMs);
  if (res.status === 405 || res.status === 501) return undefined; // no HEAD there: a GET tells
  if (res.status !== 200) throw manifestStatusError(ref, res.status);
  const header = (name: string): string | undefined => (typeof res.headers[name] === 'string' ? res.headers[name] : undefined);
  const digest = header('docker-content-digest');
  const mediaType = header('content-type')?.split(';')[0]?.trim();
  const size = Number(header('content-length'));
  // A generic type (a static or object-store registry's application/json): the body says, as for a GET.
  if (!digest || !/^sha256:[a-f0-9]{64}$/.test(digest) || !mediaType || !ACCEPTED_TYPES.has(mediaType)) return undefined;
  if (!Number.isSafeInteger(size) || size <= 0 || size > MAX_MANIFEST_BYTES) return undefined;
  return { mediaType, digest, size };
}

export async function getManifestBytes(client: EndpointClient, repo: string, ref: string): Promise<{ bytes: Buffer; header?: string }> {
  const res = await client.get(`/v2/${repo}/manifests/${ref}`, repo, ACCEPT);
  if (res.status !== 200) {
    await discard(res, client.timeouts.bodyIdleMs);
    throw manifestStatusError(ref, res.status);
  }
  const len = Number(res.headers['content-length']);
  if (Number.isFinite(len) && len > MAX_MANIFEST_BYTES) {
    res.body.destroy();
    throw new RegistryError(`manifest of ${len} bytes is larger than the ${MAX_MANIFEST_BYTES} allowed`, 'invalid', 'protocol');
  }
  let bytes: Buffer;
  // A manifest is small: the whole of it within the body deadline, not just each piece.
  const disarm = bodyDeadline(res.body, client.timeouts.bodyIdleMs, 'the manifest');
  try {
    bytes = await readLimitedBuffer(res.body, MAX_MANIFEST_BYTES, 'manifest');
  } catch (e) {
    if (e instanceof RegistryError) throw e;
    throw new RegistryError(`reading manifest: ${(e as Error).message}`, 'unhealthy', classifyNetworkError(e));
  } finally {
    disarm();
  }
  const ct = res.headers['content-type'];
  return { bytes, ...(typeof ct === 'string' ? { header: ct } : {}) };
}

/**
 * A manifest asked for by `digest` must be that manifest (its hash, or a signed schema1's
 * payload's: manifest-digest.ts); other bytes are their source's wrong content (it is marked down).
 */
export function verify(bytes: Buffer, digest: string, what: string): void {
  const { alg } = splitDigest(digest);
  if (!isManifestFor(bytes, digest, alg)) throw new WrongContent(`${what}: content is ${manifestDigestOf(bytes, alg)}, not ${digest}`);
}

/** A source's JSON, or that source's content error. */
function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (e) {
    throw new DigestMismatch(`${what} is not JSON (${(e as Error).message})`);
  }
}

/**
 * A descriptor as the layout may use it: a digest that names a supported algorithm and a
 * hex of its length (it becomes a file name and a URL path), a size that is a whole
 * number of bytes. Anything else is the source's content error.
 */
function checkedDescriptor(d: unknown, what: string): Descriptor {
  const o = (typeof d === 'object' && d !== null ? d : {}) as Partial<Record<keyof Descriptor, unknown>>;
  if (typeof o.digest !== 'string') throw new DigestMismatch(`${what} has no digest`);
  splitDigest(o.digest);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    throw new DigestMismatch(`${what} ${o.digest}: size ${JSON.stringify(o.size)} is not a whole number of bytes`);
  return { mediaType: typeof o.mediaType === 'string' ? o.mediaType : '', digest: o.digest, size: o.size };
}

/**
 * A document with the fields of both an image manifest and an image index is refused, whichever
 * it is taken for (containers/image's ValidateUnambiguousManifestFormat; CVE-2021-41190): one
 * digest must not name two images, one to a client reading it as a manifest, another to one
 * reading it as an index.
 */
function refuseAmbiguous(j: Record<string, unknown>, as: 'manifest' | 'index'): void {
  // The fields of the other kind (and schema1's); keys as Go's decoder matches them, case-insensitively, a null one absent.
  const other = new Set(as === 'manifest' ? ['manifests', 'fslayers', 'history'] : ['config', 'layers', 'fslayers', 'history']);
  const found = Object.keys(j).filter((k) => j[k] !== null && j[k] !== undefined && other.has(k.toLowerCase()));
  if (found.length > 0)
    throw new DigestMismatch(
      `the ${as === 'manifest' ? 'manifest' : 'image index'} also has ${found.join(', ')}: refused as ambiguous (an image manifest and an index at once)`,
    );
}

/** The entries of an image index (unchecked: the platform's is checked when chosen); an ambiguous document is refused. */
export function parseIndexEntries(bytes: Buffer): Array<{ platform?: Platform } | null> {
  const index = parseJson(bytes, 'the image index') as Record<string, unknown> | null;
  if (typeof index === 'object' && index !== null) refuseAmbiguous(index, 'index');
  return (Array.isArray(index?.manifests) ? index.manifests : []) as Array<{ platform?: Platform } | null>;
}

/** The config and layers of an image manifest, every descriptor checked; a malformed one is the source's content error. */
export function parseImageManifest(bytes: Buffer): ImageManifest {
  const j = parseJson(bytes, 'the manifest') as { config?: unknown; layers?: unknown };
  if (typeof j !== 'object' || j === null || j.config === undefined || !Array.isArray(j.layers))
    throw new DigestMismatch('the manifest has no config or layers');
  refuseAmbiguous(j, 'manifest');
  const config = checkedDescriptor(j.config, 'the config');
  if (config.size > MAX_CONFIG_BYTES) throw new DigestMismatch(`config blob of ${config.size} bytes is larger than the ${MAX_CONFIG_BYTES} allowed`);
  return { config, layers: j.layers.map((l, i) => checkedDescriptor(l, `layer ${i + 1}`)) };
}

/**
 * The manifest for the platform, verified against every digest we know for it: the one pulled
 * by digest, and the index's entry for the platform (even in a tag pull, where the source named
 * it itself, it is asked for by digest, so other bytes are that source's wrong content). A tag's
 * manifest is whatever the source says: there is no digest it could miss.
 */
async function fetchManifest(s: PullSource, client: EndpointClient, platform: Platform): Promise<Fetched> {
  const ref = parseNamed(s.reference);
  const first = await getManifestBytes(client, ref.path, ref.digest ?? ref.tag ?? 'latest');
  if (ref.digest) verify(first.bytes, ref.digest, s.reference);
  let bytes = first.bytes;
  let mediaType = mediaTypeOf(bytes, first.header);
  let digest = ref.digest ?? manifestDigestOf(bytes);
  if (INDEX_TYPES.has(mediaType)) {
    const entries = parseIndexEntries(bytes);
    const match = entries.find(
      (m) =>
        m?.platform?.os === platform.os &&
        m.platform.architecture === platform.architecture &&
        (platform.variant === undefined || m.platform.variant === platform.variant),
    );
    if (!match) {
      const listed = entries.map((m) => (m?.platform ? platformName(m.platform) : 'no platform')).join(', ');
      throw new RegistryError(`no manifest for ${platformName(platform)} in the image index (it has ${listed || 'no manifests'})`, 'absent');
    }
    const child = checkedDescriptor(match, `the image index's ${platformName(platform)} entry`);
    const got = await getManifestBytes(client, ref.path, child.digest);
    verify(got.bytes, child.digest, `${s.reference} (${platformName(platform)})`);
    bytes = got.bytes;
    mediaType = mediaTypeOf(bytes, got.header);
    digest = child.digest;
  }
  return { source: s, ref, client, bytes, mediaType, digest, manifest: parseImageManifest(bytes) };
}
