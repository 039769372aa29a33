#!/usr/bin/env bash
# npm run package:deb: builds mirror-policyd_VERSION-1_ARCH.deb with dpkg-deb.
#
#   packaging/deb/build.sh            # -> dist/packages/ (or $OUT_DIR)
#   MPD_STAGE_DIR=DIR packaging/deb/build.sh   # package a tree packaging/stage.sh made
#   packaging/deb/build.sh --bundled  # (or MPD_BUNDLED=1) mirror-policyd-bundled_VERSION-1_ARCH.deb
#
# --bundled: the self-contained package. It carries its own Node.js runtime (major
# $MPD_NODE_MAJOR, default 24, fetched from the npm registry by packaging/node-runtime.sh,
# or the runtime in MPD_NODE_RUNTIME=DIR) under /usr/lib/mirror-policyd/node, the addon
# built against that runtime's headers; no Depends: nodejs. It Conflicts/Replaces/Provides
# mirror-policyd, so one of the two is installed. With MPD_STAGE_DIR, the tree must have
# been staged with MPD_NODE=DIR. MPD_DEB_COMPRESSION and MPD_DEB_LEVEL set dpkg-deb's
# compressor and level (default xz 6; the 108 MB runtime takes ~2 min at xz 6 on 2 cores, ~12 s
# at xz 1; the tests take gzip 1, half that again: only the compression differs).
#
# Architecture-specific: the native unix-dgram addon is compiled for this machine's
# architecture and Node.js ABI (recorded in /usr/lib/mirror-policyd/node-abi.json, checked
# by the launcher). Needs dpkg-deb, dpkg-shlibdeps (dpkg-dev) for the addon's library
# dependencies, gzip; no fakeroot (dpkg-deb --root-owner-group). Prints the .deb's path.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEB="$ROOT/packaging/deb"
OUT_DIR=${OUT_DIR:-$ROOT/dist/packages}
MAINTAINER=${MAINTAINER:-mirror-policyd developers <mirror-policyd@example.org>}
BUNDLED=${MPD_BUNDLED:-}
for arg in "$@"; do
  case "$arg" in
    --bundled) BUNDLED=1 ;;
    *) echo "usage: deb/build.sh [--bundled]" >&2; exit 2 ;;
  esac
done
[ "$BUNDLED" != 0 ] || BUNDLED=
name=mirror-policyd${BUNDLED:+-bundled}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/mpd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg="$work/root"
if [ -n "${MPD_STAGE_DIR:-}" ]; then
  mkdir -p "$pkg" && cp -a "$MPD_STAGE_DIR/." "$pkg/"
elif [ -n "$BUNDLED" ]; then
  runtime=${MPD_NODE_RUNTIME:-}
  if [ -z "$runtime" ]; then
    runtime="$work/node"
    "$ROOT/packaging/node-runtime.sh" "${MPD_NODE_MAJOR:-24}" "$runtime" >&2
  fi
  MPD_NODE="$runtime" "$ROOT/packaging/stage.sh" "$pkg" >&2
else
  "$ROOT/packaging/stage.sh" "$pkg" >&2
fi
bundled_node="$pkg/usr/lib/mirror-policyd/node/bin/node"
if [ -n "$BUNDLED" ] && [ ! -x "$bundled_node" ]; then
  echo "deb/build.sh: --bundled, but the staged tree has no usr/lib/mirror-policyd/node/bin/node (stage with MPD_NODE=DIR)" >&2
  exit 1
elif [ -z "$BUNDLED" ] && [ -e "$bundled_node" ]; then
  echo "deb/build.sh: the staged tree carries a Node.js runtime: build it with --bundled" >&2
  exit 1
fi
epoch=$(stat -c %Y "$pkg/usr/bin/mirror-policyd")
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$epoch}

upstream=$(node -p 'require(process.argv[1]).version' "$pkg/usr/lib/mirror-policyd/package.json")
version="$upstream-1"
arch=$(dpkg --print-architecture)

# Documentation, as Debian wants it.
doc="$pkg/usr/share/doc/$name"
mkdir -p "$doc" "$pkg/usr/share/lintian/overrides"
install -m 0644 "$DEB/copyright" "$doc/copyright"
[ -z "$BUNDLED" ] || cat "$DEB/copyright-node" >>"$doc/copyright"
{
  printf '%s (%s) unstable; urgency=medium\n\n' "$name" "$version"
  printf '  * Built from mirror-policyd %s.\n\n' "$upstream"
  printf ' -- %s  %s\n' "$MAINTAINER" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"
if [ -n "$BUNDLED" ]; then
  { sed -e 's/^mirror-policyd:/mirror-policyd-bundled:/' -e 's|usr/share/doc/mirror-policyd/|usr/share/doc/mirror-policyd-bundled/|' "$DEB/lintian-overrides"
    cat "$DEB/lintian-overrides-bundled"; } >"$pkg/usr/share/lintian/overrides/$name"
  chmod 0644 "$pkg/usr/share/lintian/overrides/$name"
else
  install -m 0644 "$DEB/lintian-overrides" "$pkg/usr/share/lintian/overrides/$name"
fi

# The addon's shared-library dependencies (libc6, libstdc++6, ...), as dh_shlibdeps finds them.
mkdir -p "$work/shlibs/debian"
printf 'Source: mirror-policyd\n\nPackage: %s\nArchitecture: any\n' "$name" >"$work/shlibs/debian/control"
# The addon's and, bundled, the runtime's.
shlibs=$(cd "$work/shlibs" && find "$pkg/usr/lib/mirror-policyd" \( -name '*.node' -o -path '*/node/bin/node' \) -print0 | xargs -0 -I{} printf -- '-e%s\n' {} |
  xargs dpkg-shlibdeps -O 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "deb/build.sh: dpkg-shlibdeps found no library dependencies for the addon" >&2; exit 1; }

mkdir -p "$pkg/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
if [ -n "$BUNDLED" ]; then
  node_version=$("$bundled_node" --version)
  relations="Depends: $shlibs
Provides: mirror-policyd (= $version)
Conflicts: mirror-policyd
Replaces: mirror-policyd"
  about=" This self-contained package carries its own Node.js runtime ($node_version,
 /usr/lib/mirror-policyd/node), which the program uses; it needs no nodejs
 package and replaces the mirror-policyd package that uses the system's one."
else
  # Switching back from the bundled package with dpkg -i needs these on this side too.
  relations="Depends: nodejs (>= 20.19), $shlibs
Conflicts: mirror-policyd-bundled
Replaces: mirror-policyd-bundled"
  about=" The package contains a native Node.js addon built for one Node.js ABI
 (/usr/lib/mirror-policyd/node-abi.json); the program refuses to run under
 a Node.js with another ABI."
fi
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $size
$relations
Section: admin
Priority: optional
Homepage: https://example.org/mirror-policyd
Description: container image mirror policy agent (renders registries.conf)
 mirror-policyd reads mirror policies dropped into /etc/mirror-policy.d
 (OpenShift ImageContentSourcePolicy, ImageDigestMirrorSet and
 ImageTagMirrorSet objects, or a small native TOML format), merges them the
 way OpenShift does and keeps /etc/containers/registries.conf, read by
 podman, skopeo, buildah and CRI-O, up to date as a systemd service.
 .
$about
CONTROL
printf '/etc/mirror-policyd/config.toml\n/etc/mirror-policy.d/README\n' >"$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$DEB/$script" "$pkg/DEBIAN/$script"
done
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles"
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

out="$OUT_DIR/${name}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${MPD_DEB_COMPRESSION:-xz}" -z"${MPD_DEB_LEVEL:-6}" --build "$pkg" "$out" >/dev/null
echo "$out"
