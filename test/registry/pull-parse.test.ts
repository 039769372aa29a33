/**
 * The manifest and index parsing of a pull (src/registry/pull.ts): a document with the fields of
 * both is refused whichever it is read as (containers/image's ValidateUnambiguousManifestFormat),
 * so one digest cannot name one image to a client reading it as a manifest and another to one
 * reading it as an index. A real registry refuses such a push, so these are unit tests.
 */
import t from 'tap';
import { parseImageManifest, parseIndexEntries } from '../../src/registry/pull.js';
import { DigestMismatch } from '../../src/registry/oci-layout.js';

const desc = (c: string): string => `{"mediaType":"application/octet-stream","digest":"sha256:${c.repeat(64)}","size":10}`;
const entry = `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${'b'.repeat(64)}","size":10,"platform":{"os":"linux","architecture":"amd64"}}`;
const both = Buffer.from(`{"schemaVersion":2,"config":${desc('c')},"layers":[${desc('d')}],"manifests":[${entry}]}`);

t.test('a document with both an image manifest’s and an index’s fields is refused as either', async (t) => {
  t.throws(
    () => parseImageManifest(both),
    new DigestMismatch('the manifest also has manifests: refused as ambiguous (an image manifest and an index at once)'),
  );
  t.throws(() => parseIndexEntries(both), /the image index also has config, layers: refused as ambiguous/);
  t.throws(() => parseIndexEntries(Buffer.from(`{"schemaVersion":1,"fsLayers":[],"manifests":[${entry}]}`)), /also has fsLayers/);
  t.throws(
    () => parseImageManifest(Buffer.from(`{"schemaVersion":2,"config":${desc('c')},"layers":[],"Manifests":[${entry}]}`)),
    /also has Manifests/,
    'a key in another case, as Go reads it',
  );
  t.throws(() => parseImageManifest(Buffer.from(`{"schemaVersion":2,"config":${desc('c')},"layers":[],"history":[]}`)), /also has history/);
  t.same(parseImageManifest(Buffer.from(`{"schemaVersion":2,"config":${desc('c')},"layers":[],"manifests":null}`)).layers, [], 'a null field is an absent one');
});

t.test('a plain image manifest and a plain index are read', async (t) => {
  t.same(parseImageManifest(Buffer.from(`{"schemaVersion":2,"config":${desc('c')},"layers":[${desc('d')}]}`)).layers.length, 1);
  t.same(parseIndexEntries(Buffer.from(`{"schemaVersion":2,"manifests":[${entry}]}`)), [JSON.parse(entry)]);
});
