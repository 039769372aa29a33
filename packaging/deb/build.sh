#!/usr/bin/env bash
# npm run package:deb: builds mirror-policyd_VERSION-1_ARCH.deb with dpkg-deb.
#
#   packaging/deb/build.sh            # -> dist/packages/ (or $OUT_DIR)
#   MPD_STAGE_DIR=DIR packaging/deb/build.sh   # package a tree packaging/stage.sh made
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
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/mpd-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
pkg="$work/root"
if [ -n "${MPD_STAGE_DIR:-}" ]; then
  mkdir -p "$pkg" && cp -a "$MPD_STAGE_DIR/." "$pkg/"
else
  "$ROOT/packaging/stage.sh" "$pkg" >&2
fi
epoch=$(stat -c %Y "$pkg/usr/bin/mirror-policyd")
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$epoch}

upstream=$(node -p 'require(process.argv[1]).version' "$pkg/usr/lib/mirror-policyd/package.json")
version="$upstream-1"
arch=$(dpkg --print-architecture)

# Documentation, as Debian wants it.
doc="$pkg/usr/share/doc/mirror-policyd"
mkdir -p "$doc" "$pkg/usr/share/lintian/overrides"
install -m 0644 "$DEB/copyright" "$doc/copyright"
{
  printf 'mirror-policyd (%s) unstable; urgency=medium\n\n' "$version"
  printf '  * Built from mirror-policyd %s.\n\n' "$upstream"
  printf ' -- %s  %s\n' "$MAINTAINER" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"
install -m 0644 "$DEB/lintian-overrides" "$pkg/usr/share/lintian/overrides/mirror-policyd"

# procps: /bin/kill, which the unit's ExecReload= runs (not in a minimal Debian).
# The addon's shared-library dependencies (libc6, libstdc++6, ...), as dh_shlibdeps finds them.
mkdir -p "$work/shlibs/debian"
printf 'Source: mirror-policyd\n\nPackage: mirror-policyd\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && find "$pkg/usr/lib/mirror-policyd" -name '*.node' -print0 | xargs -0 -I{} printf -- '-e%s\n' {} |
  xargs dpkg-shlibdeps -O 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "deb/build.sh: dpkg-shlibdeps found no library dependencies for the addon" >&2; exit 1; }

mkdir -p "$pkg/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: mirror-policyd
Version: $version
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: nodejs (>= 20.19), procps, $shlibs
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
 The package contains a native Node.js addon built for one Node.js ABI
 (/usr/lib/mirror-policyd/node-abi.json); the program refuses to run under
 a Node.js with another ABI.
CONTROL
printf '/etc/mirror-policyd/config.toml\n/etc/mirror-policy.d/README\n' >"$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$DEB/$script" "$pkg/DEBIAN/$script"
done
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles"
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

out="$OUT_DIR/mirror-policyd_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out" >/dev/null
echo "$out"
