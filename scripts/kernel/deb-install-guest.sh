#!/bin/bash
# scripts/kernel/deb-install-guest.sh DEBDIR: run inside a guest booted from Debian's stock kernel
# (scripts/kernel/deb-row.sh install boots it). Installs make deb's packages the way a user would,
# with dpkg -i into the guest's root (the rig's tmpfs overlay over the host's root: nothing
# reaches the host), and checks what a real host relies on. TAP on stdout; the exit status is the
# verdict.
#   1 dpkg -i of linux-image and linux-headers succeeds, maintainer scripts included (with
#     the initramfs hook, as on a real host)
#   2 dpkg records both as installed, at make deb's version
#   3 the installed kernel image is the one make check KERNEL=deb boots
#   4 the modules are indexed: rdma_rxe's dependencies resolve to files that are there, and its
#     vermagic names the release
#   5 the initramfs hook (initramfs-tools, or dracut) made one with the release's modules
#   6 the headers build an out-of-tree module whose vermagic is the release's
#   7 dpkg --purge removes both, and their modules, image, initramfs and headers
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin # dpkg wants ldconfig
debdir=$1
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }

# make deb's own record: release=, version=, flavour=
built() { sed -n "s/^$1=//p" "$debdir/built"; }
release=$(built release) version=$(built version) flavour=$(built flavour)
img=$(find "$debdir" -maxdepth 1 -name "linux-image-${release}_${version}_*.deb" | head -n 1)
hdr=$(find "$debdir" -maxdepth 1 -name "linux-headers-${release}_${version}_*.deb" | head -n 1)
echo "# release $release, version $version, flavour ${flavour:-amd64}; booted on $(uname -r)"
if [ -z "$img" ] || [ -z "$hdr" ]; then
	echo "not ok 1 - no linux-image/linux-headers package of $release $version in $debdir"
	echo "1..1"; exit 1
fi

s=$(date +%s)
if dpkg -i "$img" "$hdr" > /tmp/dpkg-i.log 2>&1; then
	ok "dpkg -i ${img##*/} ${hdr##*/} ($(( $(date +%s) - s )) s)"
else
	notok "dpkg -i failed:"; sed 's/^/#   /' /tmp/dpkg-i.log | tail -n 30; df -h / /tmp | sed 's/^/#   /'
fi
sed 's/^/# dpkg: /' /tmp/dpkg-i.log | tail -n 12

for p in "linux-image-$release" "linux-headers-$release"; do
	st=$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null)
	check "$p is '$st', wants 'install ok installed $version'" [ "$st" = "install ok installed $version" ]
done

check "/boot/vmlinuz-$release is the image make check KERNEL=deb boots ($debdir/vmlinuz)" cmp -s "/boot/vmlinuz-$release" "$debdir/vmlinuz"

# modules.dep comes in the package: --show-depends resolves from the index alone, so each module
# it names must also be there.
if deps=$(modprobe -S "$release" --show-depends rdma_rxe 2>&1); then
	gone=$(awk '$1 == "insmod" { print $2 }' <<< "$deps" | while read -r ko; do [ -f "$ko" ] || printf '%s ' "$ko"; done)
	check "modprobe -S $release --show-depends rdma_rxe: $(awk '{ n = split($2, a, "/"); printf "%s ", a[n] }' <<< "$deps")${gone:+; missing: $gone}" [ -z "$gone" ]
else
	notok "modprobe -S $release --show-depends rdma_rxe: $deps"
fi
vm=$(modinfo -k "$release" -F vermagic rdma_rxe 2>&1)
check "rdma_rxe's vermagic '$vm' starts with $release" [ "${vm%% *}" = "$release" ]

# The hook a real host has: initramfs-tools (make check KERNEL=deb installs it unless dracut is
# there); either makes /boot/initrd.img-RELEASE from the package's modules.
ird=/boot/initrd.img-$release
if [ -x /etc/kernel/postinst.d/initramfs-tools ]; then
	lister=lsinitramfs
elif [ -x /etc/kernel/postinst.d/dracut ]; then
	lister=lsinitrd
else
	lister=
fi
if [ -z "$lister" ]; then
	notok "no initramfs hook in /etc/kernel/postinst.d (install initramfs-tools: scripts/deps.sh deb-install)"
elif [ ! -s "$ird" ]; then
	notok "$ird was not made by the package's hook ($lister)"
elif ! "$lister" "$ird" > /tmp/initrd.list 2>&1; then
	notok "$lister $ird failed: $(tail -n 1 /tmp/initrd.list)"
else
	k=$(grep -c "lib/modules/$release/.*\.ko" /tmp/initrd.list)
	if grep -q "lib/modules/$release/modules.dep" /tmp/initrd.list && grep -q "lib/modules/$release/.*/virtio_blk\.ko" /tmp/initrd.list; then
		ok "$ird made by the package's hook ($(du -h "$ird" | cut -f1)): modules.dep and $k modules of $release, virtio_blk among them"
	else
		notok "$ird has no modules.dep or no virtio_blk.ko of $release ($k modules)"
	fi
fi

mod=$(mktemp -d)
cat > "$mod/pinwb_hello.c" <<'EOF'
// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/mm.h>

static int __init pinwb_hello_init(void)
{
	return 0;
}
module_init(pinwb_hello_init);
MODULE_LICENSE("GPL");
EOF
echo 'obj-m := pinwb_hello.o' > "$mod/Kbuild"
s=$(date +%s)
if make -C "/lib/modules/$release/build" M="$mod" modules > "$mod/build.log" 2>&1 && [ -f "$mod/pinwb_hello.ko" ]; then
	vm=$(modinfo -F vermagic "$mod/pinwb_hello.ko")
	check "an out-of-tree module builds against linux-headers-$release ($(( $(date +%s) - s )) s), vermagic '$vm'" [ "${vm%% *}" = "$release" ]
else
	notok "an out-of-tree module does not build against /lib/modules/$release/build:"
	tail -n 20 "$mod/build.log" | sed 's/^/#   /'
fi
rm -rf "$mod"

if dpkg --purge "linux-image-$release" "linux-headers-$release" > /tmp/dpkg-r.log 2>&1; then
	left=$(dpkg-query -W -f='${Package} ${Status}\n' "linux-image-$release" "linux-headers-$release" 2>/dev/null | grep -v ' not-installed$')
	for f in "/lib/modules/$release" "/boot/vmlinuz-$release" "/boot/initrd.img-$release" "/usr/src/linux-headers-$release"; do
		[ -e "$f" ] && left+=" $f"
	done
	check "dpkg --purge removes both packages, their modules, image, initramfs and headers${left:+; left: $left}" [ -z "$left" ]
else
	notok "dpkg --purge failed:"; tail -n 20 /tmp/dpkg-r.log | sed 's/^/#   /'
fi
echo "1..$n"
exit $failed
