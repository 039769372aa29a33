// Entry of the packaged mirror-policyd (/usr/lib/mirror-policyd/launcher.js, started by
// /usr/bin/mirror-policyd). The package contains a native addon (unix-dgram, for
// sd_notify) compiled for one Node.js ABI, recorded in node-abi.json when the package was
// built. Another ABI would fail only when the daemon first notifies systemd; refuse it at
// once, saying what is needed.
import { readFileSync } from 'node:fs';

const built = JSON.parse(readFileSync(new URL('./node-abi.json', import.meta.url), 'utf8'));
if (process.versions.modules !== built.modules || process.arch !== built.arch) {
  process.stderr.write(
    `mirror-policyd: this package was built for Node.js ${built.node} (ABI ${built.modules}, ${built.arch}), ` +
      `but ${process.execPath} is Node.js ${process.versions.node} (ABI ${process.versions.modules}, ${process.arch}): ` +
      `its native addon would not load. Install a Node.js ${built.node.split('.')[0]}.x (ABI ${built.modules}) ` +
      `or rebuild the package with this Node.js (npm run package:deb / package:rpm).\n`,
  );
  process.exit(1);
}
await import('./bin/mirror-policyd');
