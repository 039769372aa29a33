import t from 'tap';
import { parse } from 'yaml';
import { localMirrorLocation } from '../../src/local-mirror/mapping.js';
import { endpointAttachmentScopes, policyNamespaces, renderRegistriesD, sigstoreSettings } from '../../src/local-mirror/registries-d.js';
import { classifyText } from '../../src/output/managed-file.js';
import { mergeRegistriesConfs } from '../../src/registries-conf/layer.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';
import { parseRegistriesConf } from '../../src/registries-conf/parse.js';

const ADDR = '127.0.0.1:5999';
const QUAY = localMirrorLocation(ADDR, 'quay.io/org');
const HUB = localMirrorLocation(ADDR, 'docker.io/library');

function conf(): RegistriesConf {
  const text = `unqualified-search-registries = []
[[registry]]
prefix = "quay.io/org"
location = "quay.io/org"
[[registry.mirror]]
location = "${QUAY}"
insecure = true
[[registry.mirror]]
location = "mirror.example:5000/org"
[[registry]]
prefix = "docker.io/library"
location = "docker.io/library"
[[registry.mirror]]
location = "${HUB}"
insecure = true
[[registry.mirror]]
location = "hub-mirror.example/library"
[[registry]]
prefix = "other.example"
location = "other.example"
[[registry.mirror]]
location = "mirror.example:5000/other"
`;
  const parsed = parseRegistriesConf(text, 'rendered.conf');
  if (!parsed.conf) throw new Error('the test conf does not parse');
  return mergeRegistriesConfs(parsed.conf);
}

const scopesFor = (...texts: string[]): string[] =>
  endpointAttachmentScopes(conf(), ADDR, sigstoreSettings(texts.map((text, i) => ({ file: `f${i}.yaml`, text }))));

t.test("containers/image's namespaces of a name: itself, its parents, the host, then its domains", async (t) => {
  t.same(policyNamespaces('a.b.example.com:5000/ns/app'), [
    'a.b.example.com:5000/ns/app',
    'a.b.example.com:5000/ns',
    'a.b.example.com:5000',
    '*.b.example.com',
    '*.example.com',
    '*.com',
  ]);
});

t.test('a table gets its endpoint namespace when its source or another mirror reads sigstore attachments', async (t) => {
  t.same(scopesFor(''), [], 'no settings: nothing');
  t.same(scopesFor('docker:\n  mirror.example:5000:\n    use-sigstore-attachments: true\n'), [QUAY], "the mirror's host; other.example has no endpoint");
  t.same(scopesFor('docker:\n  quay.io/org:\n    use-sigstore-attachments: true\n'), [QUAY], "the source's namespace (as an image policy's scope)");
  t.same(scopesFor('docker:\n  mirror.example:5000/org/app:\n    use-sigstore-attachments: true\n'), [QUAY], 'one repository under the mirror');
  t.same(scopesFor('docker:\n  "*.example":\n    use-sigstore-attachments: true\n'), [QUAY, HUB].sort(), 'a wildcard domain');
  t.same(
    scopesFor('docker:\n  mirror.example:5000:\n    use-sigstore-attachments: true\n  mirror.example:5000/org:\n    use-sigstore-attachments: false\n'),
    [],
    'the most specific key decides',
  );
  t.same(scopesFor('docker:\n  mirror.example:5000:\n    lookaside: https://sigs.example\n'), [], 'a lookaside alone is not attachments');
  t.same(scopesFor('docker:\n  mirror.example:5000:\n    use-sigstore-attachments: "yes"\n'), [], 'not a boolean: not a setting');
  t.same(scopesFor('docker:\n  mirror.example:5000:\n    use-sigstore-attachments: yes\n'), [QUAY], 'YAML 1.1, as go-yaml reads it: yes is true');
});

t.test("the operator's own settings for the endpoint win, and no key is defined twice", async (t) => {
  const mirror = 'docker:\n  mirror.example:5000:\n    use-sigstore-attachments: true\n';
  t.same(scopesFor(mirror, 'default-docker:\n  use-sigstore-attachments: true\n'), [], 'default-docker already reads them everywhere');
  t.same(scopesFor(mirror, 'default-docker:\n  use-sigstore-attachments: false\n'), [QUAY], "a default of false: their mirror's key is more specific");
  t.same(scopesFor(mirror, `docker:\n  ${ADDR}/mirror-policyd:\n    use-sigstore-attachments: false\n`), [], "a key above the endpoint's namespaces");
  t.same(scopesFor(mirror, `docker:\n  ${QUAY}:\n    lookaside: https://x\n`), [], 'the very key ours would be, for anything: never twice');
  t.same(scopesFor(mirror, 'default-docker:\n  lookaside: file:///x\n'), [QUAY], 'a default without the setting covers nothing');
  t.same(scopesFor(mirror, 'not: [valid'), [QUAY], 'a file that does not parse is left out');
});

t.test('the drop-in: our header and digest, one namespace each, as YAML reads it', async (t) => {
  t.equal(renderRegistriesD([]), undefined);
  const text = renderRegistriesD([HUB, QUAY], '9.9.9') ?? '';
  t.equal(classifyText(text), 'ours');
  t.same(parse(text), { docker: { [HUB]: { 'use-sigstore-attachments': true }, [QUAY]: { 'use-sigstore-attachments': true } } });
  t.equal(classifyText(text.replace('true', 'false')), 'edited');
});
