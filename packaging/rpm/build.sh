#!/usr/bin/env bash
# npm run package:rpm: builds mirror-policyd-VERSION-1.ARCH.rpm with rpmbuild (Fedora's or
# Debian's `rpm` package) from the tree packaging/stage.sh makes.
#
#   packaging/rpm/build.sh            # -> dist/packages/ (or $OUT_DIR)
#   MPD_STAGE_DIR=DIR packaging/rpm/build.sh   # package a tree stage.sh made already
#   packaging/rpm/build.sh --bundled  # (or MPD_BUNDLED=1) mirror-policyd-bundled-VERSION-1.ARCH.rpm
#
# --bundled: rpmbuild --with bundled, the self-contained package with its own Node.js
# (major $MPD_NODE_MAJOR, default 24, from packaging/node-runtime.sh, or MPD_NODE_RUNTIME=DIR);
# see packaging/deb/build.sh. With MPD_STAGE_DIR, stage with MPD_NODE=DIR.
# MPD_RPM_PAYLOAD sets rpm's payload compression (_binary_payload, e.g. w1.gzdio; default rpm's).
#
# Prints the .rpm's path.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR=${OUT_DIR:-$ROOT/dist/packages}
BUNDLED=${MPD_BUNDLED:-}
for arg in "$@"; do
  case "$arg" in
    --bundled) BUNDLED=1 ;;
    *) echo "usage: rpm/build.sh [--bundled]" >&2; exit 2 ;;
  esac
done
[ "$BUNDLED" != 0 ] || BUNDLED=
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/mpd-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=${MPD_STAGE_DIR:-}
if [ -z "$stage" ]; then
  stage="$work/stage"
  if [ -n "$BUNDLED" ]; then
    runtime=${MPD_NODE_RUNTIME:-}
    if [ -z "$runtime" ]; then
      runtime="$work/node"
      "$ROOT/packaging/node-runtime.sh" "${MPD_NODE_MAJOR:-24}" "$runtime" >&2
    fi
    MPD_NODE="$runtime" "$ROOT/packaging/stage.sh" "$stage" >&2
  else
    "$ROOT/packaging/stage.sh" "$stage" >&2
  fi
fi
stage=$(cd "$stage" && pwd)
version=$(node -p 'require(process.argv[1]).version' "$stage/usr/lib/mirror-policyd/package.json")
epoch=$(stat -c %Y "$stage/usr/bin/mirror-policyd")
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$epoch}

rpmbuild -bb --quiet \
  --define "_topdir $work/top" \
  --define "_tmppath $work/tmp" \
  --define "stagedir $stage" \
  --define "pkgversion $version" \
  --define "use_source_date_epoch_as_buildtime 1" \
  --define "clamp_mtime_to_source_date_epoch 1" \
  ${MPD_RPM_PAYLOAD:+--define "_binary_payload $MPD_RPM_PAYLOAD"} \
  ${BUNDLED:+--with bundled} \
  "$ROOT/packaging/rpm/mirror-policyd.spec" >&2
name=mirror-policyd${BUNDLED:+-bundled}
rpm=$(find "$work/top/RPMS" -name "$name-[0-9]*.rpm" | head -n 1)
[ -n "$rpm" ] || { echo "rpm/build.sh: rpmbuild produced no package" >&2; exit 1; }
cp "$rpm" "$OUT_DIR/"
echo "$OUT_DIR/$(basename "$rpm")"
