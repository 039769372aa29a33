#!/usr/bin/env bash
# npm run package:rpm: builds mirror-policyd-VERSION-1.ARCH.rpm with rpmbuild (Fedora's or
# Debian's `rpm` package) from the tree packaging/stage.sh makes.
#
#   packaging/rpm/build.sh            # -> dist/packages/ (or $OUT_DIR)
#   MPD_STAGE_DIR=DIR packaging/rpm/build.sh   # package a tree stage.sh made already
#
# Prints the .rpm's path.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR=${OUT_DIR:-$ROOT/dist/packages}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/mpd-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=${MPD_STAGE_DIR:-}
if [ -z "$stage" ]; then
  stage="$work/stage"
  "$ROOT/packaging/stage.sh" "$stage" >&2
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
  "$ROOT/packaging/rpm/mirror-policyd.spec" >&2
rpm=$(find "$work/top/RPMS" -name 'mirror-policyd-*.rpm' | head -n 1)
[ -n "$rpm" ] || { echo "rpm/build.sh: rpmbuild produced no package" >&2; exit 1; }
cp "$rpm" "$OUT_DIR/"
echo "$OUT_DIR/$(basename "$rpm")"
