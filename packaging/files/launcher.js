// Entry of the packaged mirror-policyd (/usr/lib/mirror-policyd/launcher.js, started by
// /usr/bin/mirror-policyd with the bundled runtime, /usr/lib/mirror-policyd/node/bin/node,
// when the package has one, else the system's `node`). The package contains a native addon
// (unix-dgram, for sd_notify) compiled for one Node.js ABI, recorded in node-abi.json when
// the package was built. An older Node.js or another ABI would fail later and obscurely
// (a syntax or API error, or only when the daemon first notifies systemd): refuse them at
// once, saying what is needed.
// Plain syntax on purpose (no top-level await): an old Node.js must get as far as the message.
import { readFileSync } from 'node:fs';

const built = JSON.parse(readFileSync(new URL('./node-abi.json', import.meta.url), 'utf8'));
const bundled = process.execPath === new URL('./node/bin/node', import.meta.url).pathname;
const builtMajor = built.node.split('.')[0];
const reinstall = 'The bundled runtime does not match the package: reinstall mirror-policyd-bundled.';
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  process.stderr.write(
    `mirror-policyd: ${process.execPath} is Node.js ${process.versions.node}, but mirror-policyd needs Node.js >= 20.19 ` +
      `(this package was built for ${built.node}, ABI ${built.modules}). ` +
      (bundled ? reinstall : `Install a Node.js ${builtMajor}.x (>= 20.19), or the self-contained mirror-policyd-bundled package.`) +
      '\n',
  );
  process.exit(1);
}
const fix = bundled
  ? reinstall
  : `Install a Node.js ${builtMajor}.x (ABI ${built.modules}), or the self-contained mirror-policyd-bundled package, ` +
    'or rebuild the package with this Node.js (npm run package:deb / package:rpm).';
if (process.versions.modules !== built.modules || process.arch !== built.arch) {
  process.stderr.write(
    `mirror-policyd: this package was built for Node.js ${built.node} (ABI ${built.modules}, ${built.arch}), ` +
      `but ${process.execPath} is Node.js ${process.versions.node} (ABI ${process.versions.modules}, ${process.arch}): ` +
      `its native addon would not load. ${fix}\n`,
  );
  process.exit(1);
}
import('./bin/mirror-policyd').catch((e) => {
  process.stderr.write(`mirror-policyd: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
