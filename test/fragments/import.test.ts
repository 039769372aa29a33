/**
 * fragmentToToml (src/fragments/import.ts): what `import` writes is a native fragment that says
 * the same, whatever the name of the file it came from.
 */
import t from 'tap';
import { fragmentToToml } from '../../src/fragments/import.js';
import { parseOpenShiftFragment } from '../../src/fragments/openshift.js';
import { parseTomlFragment } from '../../src/fragments/toml.js';

const IDMS = `apiVersion: config.openshift.io/v1
kind: ImageDigestMirrorSet
metadata:
  name: x
spec:
  imageDigestMirrors:
    - source: quay.io/a
      mirrors: [mirror.example/a]
`;

t.test('a file name holding a newline cannot add TOML: it is escaped in every comment', async (t) => {
  const parsed = parseOpenShiftFragment(IDMS, 'x.yaml');
  if (!parsed.fragment) return t.fail(JSON.stringify(parsed.diagnostics));
  const from = 'idms\nblocked-registries = ["quay.io"]\n#.yaml';
  const text = fragmentToToml(parsed.fragment, from);
  const back = parseTomlFragment(text, 'imported.toml');
  t.same(back.fragment?.blocked ?? [], [], 'nothing blocked');
  t.same(
    back.fragment?.mirrorSets.map((s) => [s.source, s.mirrors]),
    [['quay.io/a', ['mirror.example/a']]],
  );
  t.notMatch(text, /^blocked-registries/m);
});
