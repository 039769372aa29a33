/** The parse-back of the rendered file, table by table: what it accepts and what it catches. */
import t from 'tap';
import { tablesParseBackTo } from '../../src/pipeline/strict.js';
import { KeptChecks } from '../../src/pipeline/kept-checks.js';
import { renderRegistriesConf } from '../../src/registries-conf/render.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';

const conf: RegistriesConf = {
  unqualifiedSearchRegistries: ['quay.io'],
  aliases: { app: 'quay.io/ns/app' },
  registries: [
    { location: 'quay.io/ns', mirrors: [{ location: 'm.example.net/ns', pullFromMirror: 'digest-only' }] },
    { prefix: 'docker.io/library', location: 'docker.io/library', blocked: true, mirrors: [] },
    { location: 'r.example.com', insecure: true, mirrors: [{ location: 'a.example.net' }, { location: 'b.example.net', insecure: true }] },
  ],
};
const text = renderRegistriesConf(conf, { fragments: ['10-a.toml'] });

for (const [name, kept] of [
  ['strict', undefined],
  ['with kept parses', new KeptChecks().tablesOf(conf)],
] as const) {
  t.test(`${name}: the honest render reads back; every change to it is caught`, async (t) => {
    t.equal(tablesParseBackTo(text, conf, kept), true, 'the render itself');
    t.equal(tablesParseBackTo(text, conf, kept), true, 'again (kept parses reused)');
    const changed: Array<[string, string]> = [
      ['a key added to a table', text.replace('insecure = true\n', 'insecure = true\nblocked = true\n')],
      ['a value changed', text.replace('"m.example.net/ns"', '"n.example.net/ns"')],
      ['a string become a date', text.replace('location = "r.example.com"', 'location = 1979-05-27')],
      ['a table added', `${text}\n[[registry]]\nlocation = "evil.example.com"\n`],
      ['a table dropped', text.slice(0, text.lastIndexOf('\n[[registry]]\n') + 1)],
      ['a key added to a mirror', text.replace('location = "a.example.net"', 'location = "a.example.net"\n  pull-from-mirror = "tag-only"')],
      ["a mirror's flag dropped", text.replace('location = "b.example.net"\n  insecure = true', 'location = "b.example.net"')],
      ["a mirror's pull-from-mirror changed", text.replace('"digest-only"', '"tag-only"')],
      ['a boolean become a string', text.replace('blocked = true', 'blocked = "true"')],
      ['a mirror dropped', text.replace(/\n\n {2}\[\[registry\.mirror\]\]\n {2}location = "a\.example\.net"/, '')],
      ['a top-level key added', text.replace('unqualified-search-registries', 'short-name-mode = "permissive"\nunqualified-search-registries')],
      ['an alias changed', text.replace('"quay.io/ns/app"', '"quay.io/ns/other"')],
      ["a top-level key after a table (read as the table's)", `${text}credential-helpers = ["x"]\n`],
      ['not TOML', text.replace('[[registry]]\nlocation = "quay.io/ns"', '[[registry]]\nlocation = "quay.io/ns')],
    ];
    for (const [what, bad] of changed) {
      t.not(bad, text, `${what}: the text differs`);
      t.equal(tablesParseBackTo(bad, conf, kept), false, what);
    }
  });
}
