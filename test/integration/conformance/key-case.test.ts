/**
 * A host file whose keys are spelled in another case: skopeo 1.9.3 (BurntSushi/toml matches struct
 * fields in any case) reads `Location` and `Insecure` as location and insecure, and so do we, when
 * resolving and when the file is the base of a render. Nothing listens on 127.0.0.1:1: the rewritten
 * reference skopeo tries and the scheme it dials are the witnesses.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRegistriesConf } from '../../../src/pipeline/strict.js';
import { loadRegistriesConf } from '../../../src/registries-conf/load.js';
import { pullSources } from '../../../src/sources/sources.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-key-case-'));
const REF = 'example.com/ns/app:latest';
const BASE = '[[Registry]]\nPrefix = "example.com/ns"\nLocation = "127.0.0.1:1/other"\nInsecure = true\n';
const READ = /Trying to access "127\.0\.0\.1:1\/other\/app:latest"[\s\S]*Get "http:\/\/127\.0\.0\.1:1\/v2\/"/;

async function skopeoReads(file: string): Promise<string> {
  const r = await skopeoInspectRaw(`docker://${REF}`, { registriesConf: file, timeoutMs: 30_000 });
  return r.stderr.replaceAll('\\"', '"');
}

t.test('keys in another case mean what skopeo reads them as', async (t) => {
  const base = join(work, 'base.conf');
  writeFileSync(base, BASE);
  t.match(await skopeoReads(base), READ, 'skopeo: rewritten to the location, insecure (http tried)');
  const { conf } = await loadRegistriesConf({ path: base, dropInDirs: [] });
  t.same(
    pullSources(conf, REF).sources.map((s) => [s.reference, s.endpoint.insecure]),
    [['127.0.0.1:1/other/app:latest', true]],
    'resolve: the same source, insecure',
  );
  const built = buildRegistriesConf({ base: { file: base, text: BASE }, fragments: [] });
  t.same(
    built.diagnostics.filter((d) => d.severity === 'error'),
    [],
    'render accepts it as a base',
  );
  const out = join(work, 'rendered.conf');
  writeFileSync(out, built.text ?? '');
  t.match(built.text, /location = "127\.0\.0\.1:1\/other"\ninsecure = true/, 'rendered in the keys we write');
  t.match(await skopeoReads(out), READ, 'and skopeo reads our output the same way');
});
