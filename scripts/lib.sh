# Shared shell helpers for pinwb's scripts (sourced, not run).
# shellcheck shell=bash

PINWB_TOP=${PINWB_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
PINWB_BUILD=${PINWB_BUILD:-$PINWB_TOP/build}

die() { echo "pinwb: error: $*" >&2; exit 1; }
note() { echo "pinwb: $*" >&2; }

# base_get KEY: a value from patches/BASE.
base_get() { sed -n "s/^$1=//p" "$PINWB_TOP/patches/BASE"; }

# series_patches: the patch files named in patches/series, in order.
series_patches() { grep -v -e '^#' -e '^[[:space:]]*$' "$PINWB_TOP/patches/series" || true; }

# series_stamp PKG_VERSION: a hash of everything that decides the patched tree.
series_stamp() {
	{ echo "$1 upto=${UPTO:-all}"; cat "$PINWB_TOP/patches/series"
	  for p in $(series_patches); do cat "$PINWB_TOP/patches/$p" 2>/dev/null || echo "missing $p"; done
	} | sha256sum | cut -d' ' -f1
}
