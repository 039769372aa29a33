#!/usr/bin/env bash
# Builds the installed file tree of mirror-policyd into DESTDIR, shared by the .deb and the
# .rpm: the compiled program with its production dependencies (the native unix-dgram
# addon built for this machine's Node.js ABI, which is recorded) under
# /usr/lib/mirror-policyd, the /usr/bin launcher, the unit, tmpfiles.d, /etc files and
# the man pages.
#
#   packaging/stage.sh DESTDIR
#
# The program is built from the committed HEAD (`git archive`), so uncommitted edits in
# the checkout never land in a package; MPD_FROM_WORKTREE=1 takes the working tree
# instead (also the fallback outside git). The packaging files themselves (this
# directory, systemd/) are always the checkout's own.
#
# MPD_BUILT_CLI=DIR takes the program as already compiled and bundled (a dist/cli that `npm run
# build` or `npm run build:test` made in this checkout) instead of compiling HEAD's: the tests
# set it, their pretest having just built it (~12 s of CPU a staging, two stagings a CI run).
#
# MPD_NODE=DIR (a runtime packaging/node-runtime.sh fetched: DIR/bin/node, DIR/include/node,
# DIR/LICENSE) makes the self-contained tree: the addon is built against DIR's headers
# (npm_config_nodedir) for DIR's ABI, and DIR/bin/node (stripped) and DIR/LICENSE are
# installed as /usr/lib/mirror-policyd/node/, which the /usr/bin launcher prefers.
# Needs: node + npm (the npm registry or its cache for `npm ci`), g++/make/python3 for
# the addon, git, gzip, strip (binutils).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PKG="$ROOT/packaging"
DEST=${1:?usage: stage.sh DESTDIR}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
LIB="$DEST/usr/lib/mirror-policyd"
# The runtime the addon is built for: the bundled one, else the `node` on PATH.
RUNTIME=${MPD_NODE:-}
if [ -n "$RUNTIME" ]; then
  RUNTIME=$(cd "$RUNTIME" && pwd)
  [ -x "$RUNTIME/bin/node" ] && [ -d "$RUNTIME/include/node" ] ||
    { echo "stage.sh: MPD_NODE=$RUNTIME has no bin/node and include/node (packaging/node-runtime.sh MAJOR DIR)" >&2; exit 1; }
  NODE="$RUNTIME/bin/node"
else
  NODE=$(command -v node)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mpd-stage.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/src"
mkdir -p "$src"

paths=(bin src tools package.json package-lock.json tsconfig.json tsconfig.build.json)
if [ -z "${MPD_FROM_WORKTREE:-}" ] && git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  git -C "$ROOT" archive --format=tar HEAD -- "${paths[@]}" | tar -x -C "$src"
  epoch=$(git -C "$ROOT" log -1 --format=%ct HEAD)
else
  (cd "$ROOT" && tar -c "${paths[@]}") | tar -x -C "$src"
  epoch=$(date +%s)
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$epoch}

# 1. Compile and bundle (tools/bundle.js: dist/src -> dist/cli). The checkout's own dev
#    dependencies (typescript, @types/node, esbuild) when it has them, else a throw-away
#    `npm ci` (scripts off: only tsc and esbuild are needed here).
if [ -n "${MPD_BUILT_CLI:-}" ]; then
  [ -f "$MPD_BUILT_CLI/main.js" ] || { echo "stage.sh: MPD_BUILT_CLI=$MPD_BUILT_CLI has no main.js (npm run build)" >&2; exit 1; }
  mkdir -p "$src/dist" && cp -r "$MPD_BUILT_CLI" "$src/dist/cli"
else
  if [ -x "$ROOT/node_modules/.bin/tsc" ]; then
    ln -s "$ROOT/node_modules" "$src/node_modules"
  else
    (cd "$src" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  fi
  (cd "$src" && node node_modules/typescript/bin/tsc -p tsconfig.build.json && node tools/bundle.js)
  rm -rf "$src/node_modules"  # a symlink to the checkout's, or the throw-away install
fi
[ -f "$src/dist/cli/main.js" ] || { echo "stage.sh: the build produced no dist/cli/main.js" >&2; exit 1; }

# 2. Production dependencies only, in a directory of their own. Lifecycle scripts are
#    off (the root `prepare` would need tsc); the one native addon is then built on
#    purpose. `npm rebuild` uses npm's bundled node-gyp with this node's headers.
app="$work/app"
mkdir -p "$app"
cp "$src/package.json" "$src/package-lock.json" "$app/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
# node-gyp builds against the headers of the runtime's own installation (DIR/include/node,
# e.g. /usr/include/node of the nodejs package or a node-runtime.sh tree): it would otherwise
# download them from nodejs.org. Unbundled, a caller's npm_config_nodedir is used when its
# headers are of this node's major (npm exports ~/.npmrc's nodedir to the scripts it runs,
# e.g. nodedir=/usr set for the machine's Node 20, which would be wrong for Node 24).
major=$("$NODE" -p 'process.versions.node.split(".")[0]')
headers_match() { grep -qs "^#define NODE_MAJOR_VERSION $major\$" "$1/include/node/node_version.h"; }
nodedir=
if [ -n "$RUNTIME" ]; then
  nodedir=$RUNTIME
else
  for candidate in "${npm_config_nodedir:-}" "$(dirname "$(dirname "$(readlink -f "$NODE")")")"; do
    if [ -n "$candidate" ] && headers_match "$candidate"; then nodedir=$candidate; break; fi
  done
  [ -n "$nodedir" ] || echo "stage.sh: no Node.js $major headers beside $NODE or in npm_config_nodedir: node-gyp will look for them itself" >&2
fi
# npm (and its node-gyp) run by that node (first on PATH), with its headers: its ABI.
(
  cd "$app"
  export PATH="$(dirname "$NODE"):$PATH"
  if [ -n "$nodedir" ]; then export npm_config_nodedir="$nodedir"; else unset npm_config_nodedir; fi
  npm rebuild unix-dgram --loglevel=error >/dev/null
)
addon="$app/node_modules/unix-dgram/build/Release/unix_dgram.node"
[ -f "$addon" ] || { echo "stage.sh: the unix-dgram addon was not built" >&2; exit 1; }
# Smoke test of the addon with the node it was built for.
(cd "$app" && "$NODE" -e 'require("unix-dgram")') || { echo "stage.sh: the unix-dgram addon does not load in $NODE" >&2; exit 1; }

# Keep only what runs: the addon's build tree, sources and tests, docs tools, bin links go.
ud="$app/node_modules/unix-dgram"
rm -rf "$ud/src" "$ud/test" "$ud/binding.gyp" "$app/node_modules/.bin"
find "$ud/build" -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} +
find "$ud/build/Release" -mindepth 1 -maxdepth 1 ! -name unix_dgram.node -exec rm -rf {} +
strip --strip-unneeded "$addon"
# nan only provides C++ headers for that build.
rm -rf "$app/node_modules/nan"
find "$app/node_modules" -mindepth 2 \( -name test -o -name tests -o -name docs -o -name benchmarks -o -name '.husky' -o -name '.github' \
  -o -name '*.map' -o -name '*.ts' -o -name '*.html' -o -name '*.md' -o -name '.npmignore' -o -name '.gitattributes' -o -name '.eslintrc*' \
  -o -name '.travis.yml' -o -name '.editorconfig' -o -name '.taprc' -o -name '.prettierrc*' -o -name 'tsconfig*.json' \) \
  ! -iname 'LICENSE*' -prune -exec rm -rf {} +

# 3. The tree.
rm -rf "$LIB"
mkdir -p "$LIB/dist" "$LIB/bin"
cp -r "$src/dist/cli" "$LIB/dist/cli"  # the bundle is what runs; dist/src is only its input
find "$LIB/dist" -name '*.map' -delete
cp "$src/bin/mirror-policyd" "$LIB/bin/mirror-policyd"
cp "$src/package.json" "$LIB/package.json"
cp -r "$app/node_modules" "$LIB/node_modules"
cp "$PKG/files/launcher.js" "$LIB/launcher.js"
"$NODE" -e 'process.stdout.write(JSON.stringify({ modules: process.versions.modules, node: process.versions.node, arch: process.arch, platform: process.platform }) + "\n")' >"$LIB/node-abi.json"
if [ -n "$RUNTIME" ]; then
  # The runtime itself: the binary (its debug symbols stripped: 121 MB -> 108 MB) and its
  # license; no headers, npm, man pages.
  install -D -m 0755 "$RUNTIME/bin/node" "$LIB/node/bin/node"
  strip --strip-unneeded "$LIB/node/bin/node"
  install -m 0644 "$RUNTIME/LICENSE" "$LIB/node/LICENSE"
  "$LIB/node/bin/node" --version >/dev/null || { echo "stage.sh: the stripped bundled node does not run" >&2; exit 1; }
fi

install -D -m 0755 "$PKG/files/mirror-policyd.sh" "$DEST/usr/bin/mirror-policyd"
install -D -m 0644 "$ROOT/systemd/mirror-policyd.service" "$DEST/usr/lib/systemd/system/mirror-policyd.service"
install -D -m 0644 "$PKG/files/tmpfiles.conf" "$DEST/usr/lib/tmpfiles.d/mirror-policyd.conf"
install -D -m 0644 "$PKG/files/config.toml" "$DEST/etc/mirror-policyd/config.toml"
install -D -m 0644 "$PKG/files/policy.d-README" "$DEST/etc/mirror-policy.d/README"
for page in "$PKG"/man/*.[1-8]; do
  section=${page##*.}
  mkdir -p "$DEST/usr/share/man/man$section"
  gzip -9n <"$page" >"$DEST/usr/share/man/man$section/$(basename "$page").gz"
done

# Ownership is set by the package builders (dpkg-deb --root-owner-group, %defattr);
# modes and times are made uniform here, so the package does not depend on the umask
# or on when it was built.
find "$DEST" -type d -exec chmod 0755 {} +
find "$DEST" -type f ! -path "$DEST/usr/bin/*" -exec chmod 0644 {} +
chmod 0755 "$DEST/usr/bin/mirror-policyd" "$LIB/bin/mirror-policyd"
[ -z "$RUNTIME" ] || chmod 0755 "$LIB/node/bin/node"
# Scripts the modules ship (their CLIs) keep their #! and get to be executable.
find "$LIB/node_modules" -type f -print0 | while IFS= read -r -d '' f; do
  [ "$(head -c 2 "$f" | tr -d '\000')" = '#!' ] && chmod 0755 "$f"
  true
done
# Bundled, nothing runs `#!/usr/bin/env node` scripts (the launcher imports bin/mirror-policyd
# with the bundled runtime; the modules' CLIs are not used), and the host may have no `node`
# for them to find: they are not made executable.
if [ -n "$RUNTIME" ]; then
  grep -rlZ -m1 '^#!/usr/bin/env node' "$LIB/bin" "$LIB/node_modules" | xargs -0 -r chmod 0644
fi
find "$DEST" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
