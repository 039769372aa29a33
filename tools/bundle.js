// Bundles the compiled program (dist/src, from tsc) into dist/cli, the code bin/mirror-policyd
// and the packages run. Why: Node's ES module loader resolves, reads and compiles each of our
// ~90 modules on its own; one file per lazily loaded part (each command's modules stay a chunk
// of their own, loaded when that command runs) takes ~20 % off the daemon's start → READY=1
// and a small pull's whole process, and ~1 MB off the idle daemon (issue #15; measured in
// docs/performance.md). The dependencies stay in node_modules (`packages: 'external'`): some
// are loaded by path at run time (createRequire), and a second copy of undici inside the
// bundle would not share its symbols with them. Nothing is minified: stack traces keep our
// function names, and the source maps lead back to src/.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/cli/main.js'],
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  packages: 'external',
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
});
