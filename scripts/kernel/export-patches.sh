#!/bin/bash
# make export-patches: the commits in build/src since "pristine" become patches/<series>/NNNN-*.patch
# (git format-patch) and its series file lists them; build/src is then what the series builds.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
src=$PINWB_BUILD/src
[ -d "$src/.git" ] || die "no build/src: run 'make kernel' first"
[ -z "$(git -C "$src" status --porcelain --untracked-files=no)" ] || die "build/src has uncommitted changes: commit them first"
tmp=$(mktemp -d)
git -C "$src" format-patch -q --no-signature --zero-commit -N -o "$tmp" pristine..HEAD
rm -f "$PINWB_PATCHES"/[0-9][0-9][0-9][0-9]-*.patch
{ grep '^#' "$PINWB_PATCHES/series"; } > "$tmp/series.new" || true
for f in "$tmp"/*.patch; do
	[ -e "$f" ] || continue
	cp "$f" "$PINWB_PATCHES/"
	echo "${f##*/}" >> "$tmp/series.new"
done
mv "$tmp/series.new" "$PINWB_PATCHES/series"
rm -rf "$tmp"
ver=$(sed -n 's/^version=//p' "$PINWB_BUILD/base-used")
echo "$(series_stamp "$(base_get package) $ver") $(git -C "$src" rev-parse HEAD)" > "$PINWB_BUILD/series.applied"
note "exported $(series_patches | wc -l) patch(es) to ${PINWB_PATCHES#"$PINWB_TOP"/}/"
