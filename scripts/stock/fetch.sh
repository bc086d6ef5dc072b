#!/bin/bash
# make stock: Debian's own binary kernel for the source version in the series' BASE, extracted (not
# installed) under build/stock, plus a minimal busybox initramfs that loads the 9p/virtio modules
# and hands over to scripts/vm/guest-init exactly as our built-in kernel does.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

ver=$(sed -n 's/^version=//p' "$PINWB_BUILD/base-used" 2>/dev/null || true)
ver=${ver:-$(base_get version)}
dir=$PINWB_BUILD/stock
[ -f "$dir/.done" ] && [ "$(cat "$dir/.done")" = "$ver" ] && exit 0

# The image of exactly that version, by its own name (scripts/lib.sh deb_kernel_image); the
# package lists are refreshed once if they do not have it.
re=$(base_get image)
[ -n "$re" ] || die "${PINWB_PATCHES#"$PINWB_TOP"/}/BASE has no image= line (the pattern of the stock image's package name)"
if ! img=$(deb_kernel_image "$ver" "$re" 2>/dev/null); then
  note "no image of $ver in the package lists; apt-get update"
  apt-get update >/dev/null 2>&1 || note "apt-get update failed (network?); using the lists as they are"
  if ! img=$(deb_kernel_image "$ver" "$re" 2>"$PINWB_BUILD/stock-lookup.err"); then
    cat "$PINWB_BUILD/stock-lookup.err" >&2
    if [ "$ver" = "$(base_get version)" ]; then
      die "no stock kernel image of $ver, the version in ${PINWB_PATCHES#"$PINWB_TOP"/}/BASE. The stock kernel must be the
  binary of the source the series is built on. Either move the base to a version Debian offers
  (docs/rig.md, \"Moving the base\"), or run with BASE_OK=1 to build on the newest linux-source-6.1 and
  compare with its image."
    fi
    die "no stock kernel image of $ver, the linux-source version installed (BASE_OK=1). Install a
  linux-source version that has an image (above), or move the base (docs/rig.md, \"Moving the base\")."
  fi
fi
kver=${img#linux-image-}

rm -rf "$dir"; mkdir -p "$dir/deb"
note "fetching $img $ver (stock kernel, extracted, not installed)"
(cd "$dir/deb" && apt-get download "$img=$ver" >/dev/null 2>&1) || die "apt-get download $img=$ver failed; check the network and 'apt-get update'"
dpkg-deb -x "$dir"/deb/*.deb "$dir/root"
rm -rf "$dir/deb"
depmod -b "$dir/root" "$kver"
ln -sf "root/boot/vmlinuz-$kver" "$dir/vmlinuz"

"$PINWB_TOP/scripts/stock/initramfs.sh" "$dir" "$kver"
echo "$kver" > "$dir/kernelrelease"
echo "$ver" > "$dir/.done"
note "stock kernel $kver ($ver) ready in ${dir#"$PINWB_TOP"/}"
