/**
 * A signed schema1 manifest's digest is its payload's (manifest-digest.ts). The payload is cut
 * by numbers the document itself gives: the digest vouches for the document only when the
 * payload is that document, its signatures aside. The real registry's schema1 manifests are in
 * test/integration/registry/pull-schema1.test.ts.
 */
import t from 'tap';
import { isManifestFor, manifestDigestOf } from '../../src/registry/manifest-digest.js';
import { digestOf } from '../../src/registry/oci-layout.js';

const b64url = (s: string): string => Buffer.from(s).toString('base64url');

/** Signed as libtrust's pretty signature does: the payload cut before its last `}`, the signatures put there. */
function signed(payload: string): Buffer {
  const cut = payload.lastIndexOf('}') - 1;
  const protectedHeader = b64url(JSON.stringify({ formatLength: cut, formatTail: b64url(payload.slice(cut)), time: '2026-12-08T00:00:00Z' }));
  const signatures = `,\n   "signatures": [{"header": {"alg": "ES256"}, "signature": "c2ln", "protected": "${protectedHeader}"}]`;
  return Buffer.from(payload.slice(0, cut) + signatures + payload.slice(cut));
}

const schema1 = '{\n   "schemaVersion": 1,\n   "name": "app",\n   "tag": "v1",\n   "fsLayers": [{"blobSum": "sha256:' + 'a'.repeat(64) + '"}]\n}';
const D = digestOf(Buffer.from(schema1));

t.test('a signed schema1 manifest is the manifest its payload hashes to', async (t) => {
  const bytes = signed(schema1);
  t.not(digestOf(bytes), D, '(its bytes do not hash to it)');
  t.ok(isManifestFor(bytes, D, 'sha256'));
  t.equal(manifestDigestOf(bytes), D);
});

t.test('a document whose own cut names another manifest is not that manifest: what is used is the whole document', async (t) => {
  const wanted = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}');
  const W = digestOf(wanted);
  const evil = (fields: string): Buffer =>
    Buffer.from(
      `{"schemaVersion":1,${fields}"signatures":[{"protected":"${b64url(JSON.stringify({ formatLength: 0, formatTail: b64url(wanted.toString()) }))}"}]}`,
    );
  const otherIndex = evil(
    `"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${'b'.repeat(64)}","size":10,"platform":{"os":"linux","architecture":"amd64"}}],`,
  );
  t.notOk(isManifestFor(otherIndex, W, 'sha256'), 'an index of the sender’s choosing, cut to hash as the one asked for');
  t.equal(manifestDigestOf(otherIndex), digestOf(otherIndex), 'its digest is its bytes’');
  t.notOk(isManifestFor(evil(`"config":{"digest":"sha256:${'c'.repeat(64)}"},"layers":[],`), W, 'sha256'), 'an image manifest so cut');
  const tail = signed(schema1).toString().replace('"tag": "v1"', '"tag": "v2"');
  t.notOk(isManifestFor(Buffer.from(tail), D, 'sha256'), 'a field changed outside the signed cut');
});
