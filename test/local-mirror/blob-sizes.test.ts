import t from 'tap';
import { BlobSizes } from '../../src/local-mirror/blob-sizes.js';

const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;
const manifest = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

t.test("an image manifest's config and layer sizes are learnt, by digest", async (t) => {
  const sizes = new BlobSizes();
  sizes.learn(
    manifest({
      schemaVersion: 2,
      config: { digest: d(1), size: 10 },
      layers: [
        { digest: d(2), size: 2000 },
        { digest: d(3), size: 0 },
      ],
    }),
  );
  t.equal(sizes.get(d(1)), 10);
  t.equal(sizes.get(d(2)), 2000);
  t.equal(sizes.get(d(3)), 0);
  t.equal(sizes.get(d(4)), undefined);
});

t.test('what is no descriptor with a size adds nothing; nothing throws', async (t) => {
  const sizes = new BlobSizes();
  for (const text of ['not json', 'null', '7', '[]', '{"layers":"x"}'].map((x) => Buffer.from(x))) sizes.learn(text);
  sizes.learn(manifest({ manifests: [{ digest: d(1), size: 5 }] })); // an index: its children are manifests, not blobs
  sizes.learn(
    manifest({ config: { digest: d(2), size: -1 }, layers: [{ digest: d(3), size: 1.5 }, { digest: d(4), size: '9' }, { digest: 5, size: 9 }, null] }),
  );
  sizes.learn(manifest({ layers: [{ digest: `sha256:${'a'.repeat(500)}`, size: 1 }] }));
  t.equal(sizes.get(d(1)), undefined);
  t.equal(sizes.get(d(2)), undefined);
  t.equal(sizes.get(d(3)), undefined);
  t.equal(sizes.get(d(4)), undefined);
  t.equal(sizes.get(`sha256:${'a'.repeat(500)}`), undefined);
});

t.test('bounded: past its cap the entry learnt longest ago goes; one learnt again is renewed', async (t) => {
  const sizes = new BlobSizes(3);
  const learn = (n: number): void => sizes.learn(manifest({ layers: [{ digest: d(n), size: n }] }));
  learn(1);
  learn(2);
  learn(3);
  learn(1); // renewed: 2 is now the oldest
  learn(4);
  t.equal(sizes.get(d(2)), undefined, 'the oldest went');
  t.same(
    [1, 3, 4].map((n) => sizes.get(d(n))),
    [1, 3, 4],
  );
});
