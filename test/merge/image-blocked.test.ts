/**
 * An Image's blockedRegistries entry with mirrors under it (src/merge/image-blocked.ts): OpenShift
 * rejects those images by name in policy.json, which we do not write; this host pulls them from
 * the mirrors. Said at the entry; a native TOML block (registries.conf's meaning alone) is not.
 */
import t from 'tap';
import { buildRegistriesConf } from '../../src/pipeline/strict.js';

const IDMS = `apiVersion: config.openshift.io/v1
kind: ImageDigestMirrorSet
metadata: {name: top}
spec:
  imageDigestMirrors:
  - source: primary.com/top
    mirrors: [mirror.com/primary]
`;
const image = (blocked: string): string => `apiVersion: config.openshift.io/v1
kind: Image
metadata: {name: cluster}
spec:
  registrySources:
    blockedRegistries: [${blocked}]
`;
const warnings = (r: ReturnType<typeof buildRegistriesConf>): string[] =>
  r.diagnostics.filter((d) => d.severity === 'warning' && /blockedRegistries/.test(d.message)).map((d) => `${d.file}:${d.line ?? 0}: ${d.message}`);

t.test('a blocked namespace under a mirror set (it inherits the mirrors): warned at the entry, rendered as before', async (t) => {
  const r = buildRegistriesConf({
    fragments: [
      { file: '10-idms.yaml', text: IDMS },
      { file: '20-image.yaml', text: image('primary.com/top/blocked') },
    ],
  });
  t.ok(r.text, 'rendered');
  t.match(r.text, /location = "primary\.com\/top\/blocked"\nblocked = true\n\n {2}\[\[registry\.mirror\]\]\n {2}location = "mirror\.com\/primary\/blocked"/);
  const w = warnings(r);
  t.equal(w.length, 1, w.join('\n'));
  t.match(
    w[0],
    /^20-image\.yaml:6: blockedRegistries "primary\.com\/top\/blocked": "primary\.com\/top\/blocked" has mirrors.*policy\.json.*NeverContactSource/,
  );
});

t.test('a blocked registry enclosing a mirror set: warned once', async (t) => {
  const r = buildRegistriesConf({
    fragments: [
      { file: '10-idms.yaml', text: IDMS },
      { file: '20-image.yaml', text: image('primary.com') },
    ],
  });
  t.match(warnings(r), [/blockedRegistries "primary\.com": "primary\.com\/top" has mirrors/]);
});

t.test('no warning: a blocked entry without mirrors under it, or a native TOML block', async (t) => {
  t.same(
    warnings(
      buildRegistriesConf({
        fragments: [
          { file: '10-idms.yaml', text: IDMS },
          { file: '20-image.yaml', text: image('other.com') },
        ],
      }),
    ),
    [],
  );
  const toml = buildRegistriesConf({
    fragments: [
      { file: '10-idms.yaml', text: IDMS },
      { file: '20-block.toml', text: 'blocked-registries = ["primary.com/top/blocked"]\n' },
    ],
  });
  t.ok(toml.text);
  t.same(warnings(toml), []);
});
