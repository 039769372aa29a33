#!/usr/bin/env bash
# Fetch an official Node.js runtime of one major version from the npm registry (the
# `node-linux-ARCH` packages carry the release tarball's bin/, include/ and lib/), unpacked
# into DEST. Used by CI to run the suite on a second runtime and by the self-contained
# package build. No download outside the npm registry.
#
#   packaging/node-runtime.sh MAJOR DEST      e.g. packaging/node-runtime.sh 24 /opt/node24
#
# Native addons are then built against DEST's headers: npm_config_nodedir=DEST npm rebuild.
set -euo pipefail
major=${1:?usage: node-runtime.sh MAJOR DEST}
dest=${2:?usage: node-runtime.sh MAJOR DEST}

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  ppc64le) arch=ppc64le ;;
  s390x) arch=s390x ;;
  *) echo "node-runtime.sh: no Node.js package for $(uname -m)" >&2; exit 1 ;;
esac

if [ -x "$dest/bin/node" ] && [ "$("$dest/bin/node" -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  echo "node-runtime.sh: $dest already has Node $("$dest/bin/node" --version)"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball=$(npm pack --silent --pack-destination "$tmp" "node-linux-$arch@$major" | tail -1)
mkdir -p "$dest"
tar xzf "$tmp/$tarball" -C "$dest" --strip-components=1
# The npm package's own metadata is not part of the runtime.
rm -f "$dest/package.json" "$dest/README.md" "$dest/CHANGELOG.md"
"$dest/bin/node" --version >/dev/null
echo "node-runtime.sh: Node $("$dest/bin/node" --version) in $dest"
