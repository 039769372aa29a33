/**
 * Sigstore attachments in a test registry: a signature pushed as cosign writes one (an OCI
 * manifest under the tag `sha256-<hex>.sig` whose layer is the signed payload), through the
 * distribution API. The signature is not a real one: copying it is what the tests look at.
 */
import { request } from 'undici';
import { OCI_CONFIG, OCI_MANIFEST, uploadBlob } from './oci-image.js';

/** The tag containers/image reads an image's sigstore signatures from. */
export function signatureTag(manifestDigest: string): string {
  return `${manifestDigest.replace(':', '-')}.sig`;
}

/** Pushes a signature of `manifestDigest` to `host/repo` (plain http); returns its manifest. */
export async function pushSignature(host: string, repo: string, manifestDigest: string): Promise<Buffer> {
  const payload = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': manifestDigest }, type: 'cosign container image signature' } }));
  const config = Buffer.from('{}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: await uploadBlob(host, repo, config), size: config.length },
      layers: [
        {
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          digest: await uploadBlob(host, repo, payload),
          size: payload.length,
          annotations: { 'dev.cosignproject.cosign/signature': Buffer.from('not a real signature').toString('base64') },
        },
      ],
    }),
  );
  const put = await request(`http://${host}/v2/${repo}/manifests/${signatureTag(manifestDigest)}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': OCI_MANIFEST },
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`manifest upload: HTTP ${put.statusCode}`);
  return manifest;
}
