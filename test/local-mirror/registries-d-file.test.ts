import t from 'tap';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localMirrorLocation } from '../../src/local-mirror/mapping.js';
import { updateRegistriesD } from '../../src/local-mirror/registries-d-file.js';
import type { RegistriesConf } from '../../src/registries-conf/model.js';

const ADDR = '127.0.0.1:5999';
const conf: RegistriesConf = {
  registries: [
    {
      prefix: 'quay.io/org',
      location: 'quay.io/org',
      mirrors: [{ location: localMirrorLocation(ADDR, 'quay.io/org'), insecure: true }, { location: 'mirror.example/org' }],
    },
  ],
};

function dir(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'mpd-registries-d-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return join(d, 'registries.d');
}

t.test('written when a table needs it, unchanged when it is the same, removed when none does', async (t) => {
  const d = dir(t);
  t.same(
    await updateRegistriesD(d, conf, ADDR),
    { path: join(d, 'mirror-policyd-local-mirror.yaml'), scopes: [], change: 'none' },
    'no settings: no file, no directory',
  );
  t.notOk(existsSync(d));
  mkdirSync(d);
  writeFileSync(join(d, 'mirror.yaml'), 'docker:\n  mirror.example:\n    use-sigstore-attachments: true\n');
  const written = await updateRegistriesD(d, conf, ADDR);
  t.equal(written.change, 'written');
  t.same(written.scopes, [localMirrorLocation(ADDR, 'quay.io/org')]);
  t.equal((await updateRegistriesD(d, conf, ADDR)).change, 'none', 'the same again: not rewritten');
  t.equal((await updateRegistriesD(d, conf, undefined)).change, 'removed', 'the endpoint off: taken back');
  t.notOk(existsSync(written.path));
  t.ok(existsSync(join(d, 'mirror.yaml')), 'theirs stays');
});

t.test('a file of our name that is not ours, or ours edited, is left as it is and said', async (t) => {
  const d = dir(t);
  mkdirSync(d);
  writeFileSync(join(d, 'mirror.yaml'), 'docker:\n  mirror.example:\n    use-sigstore-attachments: true\n');
  const path = join(d, 'mirror-policyd-local-mirror.yaml');
  writeFileSync(path, 'docker: {}\n');
  const foreign = await updateRegistriesD(d, conf, ADDR);
  t.equal(foreign.change, 'none');
  t.match(foreign.problem, /is not ours \(written by someone else\): left as it is/);
  t.equal(readFileSync(path, 'utf8'), 'docker: {}\n');
  t.same(await updateRegistriesD(d, conf, undefined), { path, scopes: [], change: 'none' }, 'nothing to write there: theirs, no problem of ours');
  rmSync(path);
  await updateRegistriesD(d, conf, ADDR);
  writeFileSync(path, readFileSync(path, 'utf8').replace('true', 'false'));
  const edited = await updateRegistriesD(d, conf, undefined);
  t.equal(edited.change, 'none');
  t.match(edited.problem, /edited since we wrote it/);
  t.ok(existsSync(path), 'an edited one is not removed');
});
