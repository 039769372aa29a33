/**
 * A deprecated v1 main file with trailing slashes: skopeo 1.9.3 trims them (the host is insecure,
 * or blocked, there), and so do we, when resolving and when the file is the base of a render.
 * Nothing listens on 127.0.0.1:1: the scheme skopeo dials, or its "blocked" refusal, is the witness.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRegistriesConf } from '../../../src/pipeline/strict.js';
import { loadRegistriesConf } from '../../../src/registries-conf/load.js';
import { findRegistry } from '../../../src/sources/sources.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-v1-'));
const REF = '127.0.0.1:1/ns/app:latest';

async function skopeoReads(file: string): Promise<string> {
  const r = await skopeoInspectRaw(`docker://${REF}`, { registriesConf: file, timeoutMs: 30_000 });
  return r.stderr.replaceAll('\\"', '"');
}

for (const c of [
  { what: 'insecure', v1: '[registries.insecure]\nregistries = ["127.0.0.1:1////"]\n', skopeo: /Get "http:\/\/127\.0\.0\.1:1\/v2\/"/ },
  { what: 'blocked', v1: '[registries.block]\nregistries = ["127.0.0.1:1/"]\n', skopeo: /registry 127\.0\.0\.1:1 is blocked/ },
] as const) {
  t.test(`a v1 ${c.what} entry with trailing slashes`, async (t) => {
    const v1 = join(work, `${c.what}-v1.conf`);
    writeFileSync(v1, c.v1);
    t.match(await skopeoReads(v1), c.skopeo, `skopeo: the host is ${c.what}`);
    const { conf } = await loadRegistriesConf({ path: v1, dropInDirs: [] });
    t.equal(findRegistry(conf, REF).table[c.what === 'insecure' ? 'insecure' : 'blocked'], true, `resolve: ${c.what}`);
    const built = buildRegistriesConf({ base: { file: v1, text: c.v1 }, fragments: [] });
    t.same(
      built.diagnostics.filter((d) => d.severity === 'error'),
      [],
      'render accepts it as a base',
    );
    const out = join(work, `${c.what}-rendered.conf`);
    writeFileSync(out, built.text ?? '');
    t.match(await skopeoReads(out), c.skopeo, 'and skopeo reads our output the same way');
  });
}
