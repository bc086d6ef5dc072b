#!/bin/bash
# make stock: Debian's own binary kernel for the source version in patches/BASE, extracted (not
# installed) under build/stock, plus a minimal busybox initramfs that loads the 9p/virtio modules
# and hands over to scripts/vm/guest-init exactly as our built-in kernel does.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

ver=$(sed -n 's/^version=//p' "$PINWB_BUILD/base-used" 2>/dev/null || true)
ver=${ver:-$(base_get version)}
dir=$PINWB_BUILD/stock
[ -f "$dir/.done" ] && [ "$(cat "$dir/.done")" = "$ver" ] && exit 0

# linux-image-amd64 of version $ver depends on exactly one linux-image-6.1.0-N-amd64.
img=$(apt-cache show "linux-image-amd64=$ver" 2>/dev/null | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n 1)
if [ -z "$img" ]; then
  apt-get update >/dev/null 2>&1 || true
  img=$(apt-cache show "linux-image-amd64=$ver" 2>/dev/null | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n 1)
fi
[ -n "$img" ] || die "Debian offers no linux-image-amd64 $ver (apt-cache policy linux-image-amd64 lists what it offers); the stock kernel must match the source the series is built on"
kver=${img#linux-image-}

rm -rf "$dir"; mkdir -p "$dir/deb"
note "fetching $img $ver (stock kernel, extracted, not installed)"
(cd "$dir/deb" && apt-get download "$img=$ver" >/dev/null 2>&1) || die "apt-get download $img=$ver failed; check the network and 'apt-get update'"
dpkg-deb -x "$dir"/deb/*.deb "$dir/root"
rm -rf "$dir/deb"
depmod -b "$dir/root" "$kver"
ln -sf "root/boot/vmlinuz-$kver" "$dir/vmlinuz"

# The initramfs: busybox, the modules the root mount needs (in dependency order), our init.
ird=$(mktemp -d)
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,lib/modules}
cp /bin/busybox "$ird/bin/busybox"
for m in virtio_pci virtio_blk 9pnet_virtio 9p overlay; do
  modprobe -d "$dir/root" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' | while read -r ko; do
  cp "$ko" "$ird/lib/modules/"
  echo "${ko##*/}" >> "$ird/lib/modules/order"
done
cp "$PINWB_TOP/scripts/vm/initramfs-init" "$ird/init"
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$dir/initrd.img"
rm -rf "$ird"
echo "$kver" > "$dir/kernelrelease"
echo "$ver" > "$dir/.done"
note "stock kernel $kver ($ver) ready in build/stock"
