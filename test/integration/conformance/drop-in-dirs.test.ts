/**
 * Which drop-in directories skopeo 1.9.3 walks: $HOME/.config/containers/registries.conf.d is read
 * when it is a directory, and not at all when it is a symbolic link to one (Go's filepath.WalkDir
 * Lstats its root). `resolve` reads the same set. Nothing listens on 127.0.0.1:1: skopeo's
 * "blocked" refusal, or its dial, is the witness.
 */
import t from 'tap';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadRegistriesConf } from '../../../src/registries-conf/load.js';
import { pullSources } from '../../../src/sources/sources.js';
import { skopeo } from '../../helpers/skopeo.js';

const work = mkdtempSync(join(tmpdir(), 'mpd-drop-in-dirs-'));
const REF = '127.0.0.1:1/ns/app:latest';
const main = join(work, 'main.conf');
writeFileSync(main, '');
const real = join(work, 'real');
mkdirSync(real);
writeFileSync(join(real, '50-block.conf'), '[[registry]]\nlocation = "127.0.0.1:1"\nblocked = true\n');

/** A home whose user drop-in directory is `real` itself (a link to it) or a directory with a copy. */
function home(link: boolean): string {
  const h = join(work, link ? 'home-link' : 'home-dir');
  mkdirSync(join(h, '.config', 'containers'), { recursive: true });
  const dir = join(h, '.config', 'containers', 'registries.conf.d');
  if (link) symlinkSync(real, dir);
  else {
    mkdirSync(dir);
    writeFileSync(join(dir, '50-block.conf'), '[[registry]]\nlocation = "127.0.0.1:1"\nblocked = true\n');
  }
  return h;
}

for (const link of [false, true]) {
  t.test(`a user drop-in directory that is ${link ? 'a symbolic link to a directory' : 'a directory'}`, async (t) => {
    const h = home(link);
    const r = await skopeo(['--registries-conf', main, 'inspect', '--raw', '--retry-times', '0', `docker://${REF}`], { timeoutMs: 30_000, env: { HOME: h } });
    const blockedBySkopeo = /registry 127\.0\.0\.1:1 is blocked/.test(r.stderr);
    t.equal(blockedBySkopeo, !link, `skopeo: ${link ? 'not read' : 'read'}`);
    // The system directory is left out: skopeo's is /etc's, which only holds aliases here.
    const { conf } = await loadRegistriesConf({ path: main, home: h, dropInDirs: [join(h, '.config', 'containers', 'registries.conf.d')] });
    t.equal(pullSources(conf, REF).sources.at(-1)?.blocked, !link, 'resolve agrees');
  });
}
