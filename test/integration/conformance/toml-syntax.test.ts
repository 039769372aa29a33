/**
 * TOML 1.1 syntax in a host registries.conf: skopeo 1.9.3 (BurntSushi/toml 1.2.0, TOML 1.0) refuses
 * the whole file before any request, and so does `resolve` (loadRegistriesConf); a render refuses it
 * as a base. Nothing listens on 127.0.0.1:1: reaching it is the witness that a file loaded.
 */
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistriesConf, RegistriesLoadError } from '../../../src/registries-conf/load.js';
import { skopeoInspectRaw } from '../../helpers/skopeo.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-toml-syntax-'));
const TABLE = '[[registry]]\nlocation = "127.0.0.1:1/ns"\ninsecure = true\n';

for (const [what, line, skopeoSays] of [
  ['an \\e escape', 'mirror = [{ location = "127.0.0.1:1/m\\e" }]', /invalid escape in string '\\\\e'/],
  ['a trailing comma in an inline table', 'mirror = [{ location = "127.0.0.1:1/m", }]', /trailing comma not allowed/],
  ['a time without seconds', 'written = 2024-05-01T10:30Z', /Invalid TOML Datetime/],
  ['a TOML 1.0 inline table (the control)', 'mirror = [{ location = "127.0.0.1:1/m", insecure = true }]', undefined],
] as const) {
  t.test(what, async (t) => {
    const file = join(work, `${what.replace(/\W+/g, '-')}.conf`);
    writeFileSync(file, `${TABLE}${line}\n`);
    const r = await skopeoInspectRaw('docker://127.0.0.1:1/ns/app:latest', { registriesConf: file, timeoutMs: 30_000 });
    const loaded = await loadRegistriesConf({ path: file, dropInDirs: [] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (skopeoSays === undefined) {
      t.match(r.stderr, /pinging container registry 127\.0\.0\.1:1|connection refused/, 'skopeo loads it (and dials)');
      t.equal(loaded, undefined, 'and so does resolve');
    } else {
      t.match(r.stderr, skopeoSays, 'skopeo refuses the file');
      t.ok(loaded instanceof RegistriesLoadError && /TOML 1\.1/.test(loaded.message), 'and so does resolve');
    }
  });
}
