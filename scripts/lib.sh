# Shared shell helpers for pinwb's scripts (sourced, not run).
# shellcheck shell=bash

PINWB_TOP=${PINWB_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# SERIES (make SERIES=6.12): which kernel series. Each has patches/<series>/ (BASE, series, the
# patches, the cover letter); everything else - tests, rig, configs/guest.config - is shared.
# 6.1 builds in build/ and reports in results/, any other series in build/<series>/ and
# results/<series>/.
PINWB_SERIES=${SERIES:-6.1}
PINWB_PATCHES=${PINWB_PATCHES:-$PINWB_TOP/patches/$PINWB_SERIES}
# series_dir SERIES: the subdirectory of build/ and results/ for SERIES (6.1: none).
series_dir() { [ "$1" = 6.1 ] || printf '/%s' "$1"; }
# shellcheck disable=SC2034 # PINWB_BUILD_ROOT and PINWB_RESULTS are for the scripts that source this
PINWB_BUILD_ROOT=$PINWB_TOP/build$(series_dir "$PINWB_SERIES") PINWB_RESULTS=$PINWB_TOP/results$(series_dir "$PINWB_SERIES")
PINWB_BUILD=${PINWB_BUILD:-$PINWB_BUILD_ROOT}

# deb_dir: where make deb [FLAVOUR=...] builds and where --kernel deb boots from. FLAVOUR is one of
# Debian's amd64 image flavours whose config the packages take: amd64 (the default: every driver
# Debian builds) in build[/SERIES]/deb, cloud-amd64 in build[/SERIES]/deb-cloud-amd64.
deb_dir() {
	case ${FLAVOUR:-amd64} in
	amd64) printf '%s/deb' "$PINWB_BUILD_ROOT" ;;
	cloud-amd64) printf '%s/deb-cloud-amd64' "$PINWB_BUILD_ROOT" ;;
	*) echo "pinwb: error: FLAVOUR=$FLAVOUR: make deb knows Debian's flavours amd64 (the default) and cloud-amd64" >&2; return 1 ;;
	esac
}

# deb_flavour_re FLAVOUR: the pattern of the names of Debian's image packages of that flavour
# (amd64, cloud-amd64), made from the series' BASE image= (amd64's, ending in -amd64$).
deb_flavour_re() {
	local re
	re=$(base_get image)
	case $1 in
	amd64) printf '%s\n' "$re" ;;
	*)	[[ $re == *'-amd64$' ]] || { echo "pinwb: error: ${PINWB_PATCHES#"$PINWB_TOP"/}/BASE image=$re does not end in -amd64\$: no $1 pattern can be made from it" >&2; return 1; }
		printf '%s\n' "${re%'-amd64$'}-$1\$" ;;
	esac
}

die() { echo "pinwb: error: $*" >&2; exit 1; }
note() { echo "pinwb: $*" >&2; }

# base_get KEY: a value from the series' BASE (patches/<series>/BASE).
base_get() {
	[ -f "$PINWB_PATCHES/BASE" ] || die "no series ${PINWB_SERIES}: ${PINWB_PATCHES#"$PINWB_TOP"/}/BASE is missing (SERIES is one of:$(for b in "$PINWB_TOP"/patches/*/BASE; do b=${b%/BASE}; printf ' %s' "${b##*/}"; done))"
	sed -n "s/^$1=//p" "$PINWB_PATCHES/BASE"
}

# series_patches: the patch files named in the series file, in order.
series_patches() { grep -v -e '^#' -e '^[[:space:]]*$' "$PINWB_PATCHES/series" || true; }

# series_stamp PKG_VERSION: a hash of everything that decides the patched tree.
series_stamp() {
	{ echo "$1 upto=${UPTO:-all}"; cat "$PINWB_PATCHES/series"
	  for p in $(series_patches); do cat "$PINWB_PATCHES/$p" 2>/dev/null || echo "missing $p"; done
	} | sha256sum | cut -d' ' -f1
}

# deb_offered ERE: "name version" for every image matching ERE that the archive offers (madison
# lines on stdin), newest ABI last.
deb_offered() {
	awk -F'|' -v re="$1" '
		{ n = $1; v = $2; gsub(/^[ \t]+|[ \t]+$/, "", n); gsub(/^[ \t]+|[ \t]+$/, "", v) }
		n ~ re && !seen[n " " v]++ { print n " " v }' | sort -V
}

# deb_kernel_image VERSION ERE: the name of Debian's binary kernel image package of exactly
# VERSION among the packages whose names match ERE (BASE's image=, for 6.1
# ^linux-image-6\.1\.0-[0-9]+-amd64$: the signed image, neither -unsigned, -dbg, cloud nor rt).
# Each Debian upload of the kernel gets a new ABI name, so the image is looked up by its own
# version, never through the linux-image-amd64 metapackage (which only knows the newest).
# Reads the local package lists only (apt-get update is the caller's choice). On failure it
# says on stderr what the archive offers and returns 1: 2 when nothing matches ERE at all.
deb_kernel_image() {
	local ver=$1 re=$2 names madison picks n
	mapfile -t names < <(apt-cache pkgnames linux-image- 2>/dev/null | grep -E -- "$re" | sort -V)
	if [ ${#names[@]} -eq 0 ]; then
		echo "the package lists name no kernel image matching $re (run apt-get update; is this Debian 12 with its main archive and security suite?)" >&2
		return 2
	fi
	madison=$(apt-cache madison "${names[@]}" 2>/dev/null)
	picks=$(printf '%s\n' "$madison" | deb_offered "$re" | awk -v v="$ver" '$2 == v { print $1 }')
	n=$(printf '%s' "$picks" | grep -c .)
	if [ "$n" = 1 ]; then
		echo "$picks"
		return 0
	fi
	if [ "$n" = 0 ]; then
		echo "Debian no longer offers a kernel image of version $ver. Images it offers:" >&2
	else
		echo "more than one image has version $ver ($(echo "$picks" | tr '\n' ' ')); refusing to guess. Offered:" >&2
	fi
	printf '%s\n' "$madison" | deb_offered "$re" | tail -n 8 | sed 's/^/    /' >&2
	return 1
}
