#!/bin/bash
# make kernel: prepare build/src + build/obj (prepare.sh) and build bzImage with ccache.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

"$PINWB_TOP/scripts/kernel/prepare.sh"
obj=$PINWB_BUILD/obj
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-3G}
# Fixed build stamps keep init/version.o (and so ccache) stable across rebuilds.
export KBUILD_BUILD_TIMESTAMP="pinwb" KBUILD_BUILD_USER=pinwb KBUILD_BUILD_HOST=pinwb
log=$PINWB_BUILD/kernel-build.log
start=$(date +%s)
if ! make -C "$PINWB_BUILD/src" O="$obj" CC="ccache gcc" -j"$(nproc)" bzImage > "$log" 2>&1; then
  grep -E -B2 -A3 'error:|Error [0-9]' "$log" | head -n 40 >&2
  die "kernel build failed (whole log: $log)"
fi
grep -E 'warning:' "$log" | sort -u | head -n 20 >&2 || true
ln -sf obj/arch/x86/boot/bzImage "$PINWB_BUILD/bzImage"
note "kernel built in $(( $(date +%s) - start )) s: build/bzImage ($(make -s -C "$PINWB_BUILD/src" O="$obj" kernelrelease 2>/dev/null))"
