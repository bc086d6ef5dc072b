#!/bin/bash
# scripts/stock/initramfs.sh DIR KVER: DIR/initrd.img for a kernel extracted from a Debian
# package under DIR/root (make stock, make deb): busybox, the modules the 9p root mount needs (in
# dependency order) and scripts/vm/initramfs-init, which hands over to scripts/vm/guest-init
# exactly as our built-in kernel does.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
dir=$1 kver=$2
[ -d "$dir/root/lib/modules/$kver" ] || die "no modules of $kver under ${dir#"$PINWB_TOP"/}/root"
ird=$(mktemp -d)
trap 'rm -rf "$ird"' EXIT
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
