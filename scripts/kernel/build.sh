#!/bin/bash
# make kernel: prepare build/src (prepare.sh) and build bzImage in it with ccache.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

"$PINWB_TOP/scripts/kernel/prepare.sh"
src=$PINWB_BUILD/src
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-3G}
# Fixed build stamps keep init/version.o (and so ccache) stable across rebuilds.
export KBUILD_BUILD_TIMESTAMP="pinwb" KBUILD_BUILD_USER=pinwb KBUILD_BUILD_HOST=pinwb
log=$PINWB_BUILD/kernel-build.log
start=$(date +%s)
# PINWB_LOCALVERSION (make control: -control) is appended to the release string.
if ! make -C "$src" CC="ccache gcc" LOCALVERSION="${PINWB_LOCALVERSION:-}" -j"$(nproc)" bzImage > "$log" 2>&1; then
  grep -E -B2 -A3 'error:|Error [0-9]' "$log" | head -n 40 >&2
  die "kernel build failed (whole log: $log)"
fi
grep -E 'warning:' "$log" | sort -u | head -n 20 >&2 || true
ln -sf src/arch/x86/boot/bzImage "$PINWB_BUILD/bzImage"
note "kernel built in $(( $(date +%s) - start )) s: ${PINWB_BUILD#"$PINWB_TOP"/}/bzImage ($(make -s -C "$src" LOCALVERSION="${PINWB_LOCALVERSION:-}" kernelrelease 2>/dev/null))"
