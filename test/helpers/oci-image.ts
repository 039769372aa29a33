// Build a tiny, real OCI image without any container engine, and push it to
// a registry with the real skopeo.
//
// The image has one gzip'ed layer holding a single small file whose content
// is chosen by the caller, so different `content` values give different
// layer, config and manifest digests, while the same content always gives
// the same digests (the tar has fixed mtime/uid/gid, the config has no
// "created" timestamp, the gzip header carries mtime 0).
//
// Layout written (OCI image layout spec):
//   DIR/oci-layout              {"imageLayoutVersion":"1.0.0"}
//   DIR/index.json              one entry per tag (ref.name annotation)
//   DIR/blobs/sha256/<hex>      layer, config, manifest
//
// Pushing: `skopeo copy --preserve-digests oci:DIR:TAG docker://DEST`.
// skopeo 1.9.3 has --preserve-digests (checked with `skopeo copy --help`);
// with it skopeo refuses any conversion that would change the manifest, so
// the manifest bytes in the registry are exactly `img.manifest` and its
// digest is `img.manifestDigest` (the smoke test verifies this with
// `skopeo inspect --raw` + sha256). An OCI manifest pushed to
// docker/distribution 2.8.2 is stored as-is (no conversion to v2s2).

import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { skopeo } from './skopeo.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface BuiltImage {
  layoutDir: string;
  /** "sha256:<hex>" of `manifest` */
  manifestDigest: string;
  /** exact manifest bytes, as stored in the layout and (after push) in the registry */
  manifest: Buffer;
  configDigest: string;
  layerDigest: string;
  /** tag under which the manifest is recorded in index.json */
  tag: string;
}

export interface BuildOptions {
  /** content of the single file in the layer; distinct content => distinct digests */
  content: string;
  /** tag in index.json (org.opencontainers.image.ref.name), default "latest" */
  tag?: string;
  /** file name inside the layer, default "hello.txt" */
  fileName?: string;
  /** platform written into the config; default this host's (GOOS/GOARCH names) */
  os?: string;
  architecture?: string;
  variant?: string;
}

export function sha256(data: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

/** Node's process.arch -> GOARCH as used in OCI configs. */
export function ociArch(arch: string = process.arch): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    ia32: '386',
    arm64: 'arm64',
    arm: 'arm',
    ppc64: 'ppc64le', // node on linux/ppc64 is little-endian
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips: 'mips',
    mipsel: 'mipsle',
  };
  return map[arch] ?? arch;
}

/** Node's process.platform -> GOOS. */
export function ociOs(platform: string = process.platform): string {
  return platform === 'win32' ? 'windows' : platform;
}

// ---------------------------------------------------------------- tar ------

function octal(n: number, width: number): string {
  // width includes the trailing NUL
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One 512-byte ustar header. */
function tarHeader(name: string, size: number, mode = 0o644, type = '0'): Buffer {
  const h = Buffer.alloc(512, 0);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long: ${name}`);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii'); // uid
  h.write(octal(0, 8), 116, 8, 'ascii'); // gid
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(0, 12), 136, 12, 'ascii'); // mtime: fixed for reproducible digests
  h.write('        ', 148, 8, 'ascii'); // checksum placeholder: 8 spaces
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii'); // uname
  h.write('root', 297, 32, 'ascii'); // gname
  let sum = 0;
  for (const b of h) sum += b;
  // 6 octal digits, NUL, space (the classic format every reader accepts)
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** A ustar archive of regular files (no directories needed for a flat layer). */
export function makeTar(files: Array<{ name: string; data: Buffer }>): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    parts.push(tarHeader(f.name, f.data.length));
    parts.push(f.data);
    const pad = (512 - (f.data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0)); // end of archive: two zero blocks
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------- layout ---

async function writeBlob(layoutDir: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const dir = join(layoutDir, 'blobs', 'sha256');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, digest.slice('sha256:'.length)), data);
  return digest;
}

interface IndexJson {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Array<{
    mediaType: string;
    digest: string;
    size: number;
    annotations?: Record<string, string>;
  }>;
}

const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * Build an image into the OCI layout at `dir` (created if needed). Calling it
 * again on the same dir with another tag adds to index.json (same tag is
 * replaced), so one layout can hold several images.
 */
export async function buildImage(dir: string, opts: BuildOptions): Promise<BuiltImage> {
  const tag = opts.tag ?? 'latest';
  const fileName = opts.fileName ?? 'hello.txt';
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));

  const tar = makeTar([{ name: fileName, data: Buffer.from(opts.content, 'utf8') }]);
  const diffId = sha256(tar);
  // gzipSync writes mtime 0 in the gzip header -> deterministic output
  const layer = gzipSync(tar, { level: 9 });
  const layerDigest = await writeBlob(dir, layer);

  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? ociArch(),
      os: opts.os ?? ociOs(),
      ...(opts.variant ? { variant: opts.variant } : {}),
      config: { Cmd: ['/' + fileName] },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created_by: 'test/helpers/oci-image.ts' }],
    }),
  );
  const configDigest = await writeBlob(dir, config);

  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: configDigest, size: config.length },
      layers: [{ mediaType: OCI_LAYER_GZIP, digest: layerDigest, size: layer.length }],
    }),
  );
  const manifestDigest = await writeBlob(dir, manifest);

  const indexPath = join(dir, 'index.json');
  let index: IndexJson = { schemaVersion: 2, manifests: [] };
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as IndexJson;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  index.manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
  index.manifests.push({
    mediaType: OCI_MANIFEST,
    digest: manifestDigest,
    size: manifest.length,
    annotations: { [REF_NAME]: tag },
  });
  await writeFile(indexPath, JSON.stringify(index));

  return { layoutDir: dir, manifestDigest, manifest, configDigest, layerDigest, tag };
}

export interface PushOptions {
  /** default false: the harness registries are plain http on 127.0.0.1 */
  tlsVerify?: boolean;
  /** directory with ca.crt etc. (skopeo --dest-cert-dir), for TLS registries */
  certDir?: string;
  /** "user:password" for htpasswd registries */
  creds?: string;
  timeoutMs?: number;
}

/**
 * Push `img` to `dest` ("127.0.0.1:PORT/repo:tag") with the real skopeo.
 * Throws (with skopeo's stderr) on failure. Verifies the digest skopeo
 * reports (--digestfile) equals img.manifestDigest.
 */
export async function pushImage(img: BuiltImage, dest: string, opts: PushOptions = {}): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'skopeo-push-'));
  try {
    const policy = join(tmp, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    // an empty registries.conf so the host's /etc/containers/registries.conf
    // (blocked/insecure/mirror entries) does not affect the push; note that
    // /etc/containers/registries.conf.d/*.conf is still read (see skopeo.ts)
    const regConf = join(tmp, 'registries.conf');
    await writeFile(regConf, 'unqualified-search-registries = []\n');
    const digestFile = join(tmp, 'digest');
    const args = [
      '--policy',
      policy,
      '--registries-conf',
      regConf,
      'copy',
      '--preserve-digests',
      '--retry-times',
      '0',
      `--dest-tls-verify=${opts.tlsVerify ?? false}`,
      '--digestfile',
      digestFile,
    ];
    if (opts.certDir) args.push('--dest-cert-dir', opts.certDir);
    if (opts.creds) args.push('--dest-creds', opts.creds);
    args.push(`oci:${img.layoutDir}:${img.tag}`, `docker://${dest}`);
    const r = await skopeo(args, { timeoutMs: opts.timeoutMs ?? 30_000 });
    if (r.code !== 0) {
      throw new Error(`skopeo copy to ${dest} failed (code ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stderr}`);
    }
    const pushed = (await readFile(digestFile, 'utf8')).trim();
    if (pushed !== img.manifestDigest) {
      throw new Error(`skopeo pushed ${pushed}, expected ${img.manifestDigest} (manifest was rewritten)`);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

export interface IndexPlatform {
  os: string;
  architecture: string;
  variant?: string;
  /** layer content of this platform's image (distinct per platform) */
  content: string;
}

export interface BuiltIndex {
  layoutDir: string;
  tag: string;
  /** "sha256:<hex>" of `index` */
  indexDigest: string;
  index: Buffer;
  /** one image per platform, in the order given */
  images: Array<BuiltImage & { platform: { os: string; architecture: string; variant?: string } }>;
}

/**
 * A multi-platform image: one image per platform (each built as by buildImage,
 * under a scratch tag) and an OCI image index over them, recorded in
 * index.json under `tag`. Push it with pushIndex.
 */
export async function buildIndex(dir: string, tag: string, platforms: IndexPlatform[]): Promise<BuiltIndex> {
  const images: BuiltIndex['images'] = [];
  for (const [i, p] of platforms.entries()) {
    const img = await buildImage(dir, {
      content: p.content,
      tag: `${tag}-platform-${i}`,
      os: p.os,
      architecture: p.architecture,
      ...(p.variant ? { variant: p.variant } : {}),
    });
    images.push({ ...img, platform: { os: p.os, architecture: p.architecture, ...(p.variant ? { variant: p.variant } : {}) } });
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: images.map((m) => ({ mediaType: OCI_MANIFEST, digest: m.manifestDigest, size: m.manifest.length, platform: m.platform })),
    }),
  );
  const indexDigest = await writeBlob(dir, index);
  const indexPath = join(dir, 'index.json');
  const layout = JSON.parse(await readFile(indexPath, 'utf8')) as IndexJson;
  // only the index stays tagged: skopeo copy oci:DIR:TAG then takes the index
  layout.manifests = layout.manifests.filter((m) => !m.annotations?.[REF_NAME]?.startsWith(`${tag}-platform-`) && m.annotations?.[REF_NAME] !== tag);
  layout.manifests.push({ mediaType: OCI_INDEX, digest: indexDigest, size: index.length, annotations: { [REF_NAME]: tag } });
  await writeFile(indexPath, JSON.stringify(layout));
  return { layoutDir: dir, tag, indexDigest, index, images };
}

/** Push an index and every platform's image (`skopeo copy --all --preserve-digests`); checks the pushed digest. */
export async function pushIndex(built: BuiltIndex, dest: string, opts: PushOptions = {}): Promise<void> {
  const tmp = await mkdtemp(join(tmpdir(), 'skopeo-push-'));
  try {
    const policy = join(tmp, 'policy.json');
    await writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const regConf = join(tmp, 'registries.conf');
    await writeFile(regConf, 'unqualified-search-registries = []\n');
    const digestFile = join(tmp, 'digest');
    const args = [
      '--policy',
      policy,
      '--registries-conf',
      regConf,
      'copy',
      '--all',
      '--preserve-digests',
      '--retry-times',
      '0',
      `--dest-tls-verify=${opts.tlsVerify ?? false}`,
      '--digestfile',
      digestFile,
    ];
    if (opts.certDir) args.push('--dest-cert-dir', opts.certDir);
    if (opts.creds) args.push('--dest-creds', opts.creds);
    args.push(`oci:${built.layoutDir}:${built.tag}`, `docker://${dest}`);
    const r = await skopeo(args, { timeoutMs: opts.timeoutMs ?? 30_000 });
    if (r.code !== 0) throw new Error(`skopeo copy --all to ${dest} failed (code ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stderr}`);
    const pushed = (await readFile(digestFile, 'utf8')).trim();
    if (pushed !== built.indexDigest) throw new Error(`skopeo pushed ${pushed}, expected ${built.indexDigest} (index was rewritten)`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Uploads `bytes` as a blob of `repo` on a plain-http registry (monolithic upload: POST, then PUT ?digest=); its digest. */
export async function uploadBlob(host: string, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await request(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  const loc = new URL(String(start.headers.location), `http://${host}`);
  loc.searchParams.set('digest', digest);
  const put = await request(loc, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`blob upload: HTTP ${put.statusCode}`);
  return digest;
}
