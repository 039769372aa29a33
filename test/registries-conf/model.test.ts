import t from 'tap';
import { cloneTable, sameTableContent, type RegistryTable } from '../../src/registries-conf/model.js';

t.test('sameTableContent: every field a table is rendered, parsed back or rewrite-checked from tells tables apart', async (t) => {
  const base: RegistryTable = { prefix: 'docker.io', location: 'docker.io', mirrors: [{ location: 'a.example/hub' }], origin: { file: 'a.toml' } };
  const variants: RegistryTable[] = [
    base,
    { ...base, prefix: undefined },
    { ...base, prefix: '' },
    { ...base, location: 'docker.io/x' },
    { ...base, insecure: true },
    { ...base, blocked: true },
    { ...base, mirrorByDigestOnly: true },
    { ...base, mirrors: [] },
    { ...base, mirrors: [{ location: 'a.example/hub', insecure: true }] },
    { ...base, mirrors: [{ location: 'a.example/hub', pullFromMirror: 'digest-only' }] },
    { ...base, mirrors: [{ location: 'a.example/hub', pullFromMirror: '' }] },
    { ...base, mirrors: [{ location: 'a.example/hub' }, { location: 'b.example' }] },
  ];
  variants.forEach((a, i) => variants.forEach((b, j) => t.equal(sameTableContent(a, b), i === j, `variant ${i} against ${j}`)));
  t.ok(sameTableContent({ ...base, origin: { file: 'b.toml', line: 3 } }, base), 'the origin (only for messages) does not count');
  t.ok(sameTableContent({ ...base, insecure: false, mirrors: [{ location: 'a.example/hub', insecure: false }] }, base), 'false flags are absent ones');
  t.ok(sameTableContent(cloneTable(base), base), 'a copy is the same');
});
