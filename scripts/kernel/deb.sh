#!/bin/bash
# make deb [SERIES=6.12] [FLAVOUR=amd64|cloud-amd64]: the series on Debian's kernel source, built
# with the configuration of Debian's own binary image of the same version, as installable
# packages (issue 22), in build[/SERIES]/deb (FLAVOUR=cloud-amd64: deb-cloud-amd64):
#   linux-image-<release>_<version>_amd64.deb, linux-headers-..., and
#   pinwb-tests-<version>.tar.gz (the test binaries and the runner, for a real host).
# <version> is Debian's package version, a "+pinwb" and the series' version (6.1.192-3+pinwb.v8);
# <release> (uname -r) is the kernel version and -pinwb-<flavour>.
# FLAVOUR says which of Debian's images of that version gives the config:
#   amd64 (the default): the stock image that make stock extracts; every driver Debian builds
#     (mlx4/5, irdma, qedr, ...; Debian's 6.1 has no bnxt_re or efa): about 3,850 modules, hours
#     on two cores;
#   cloud-amd64: Debian's cloud image (virtio, Hyper-V, ENA, mlx4/mlx5 with their RDMA drivers),
#     about 1,100 modules, plus what the cloud config leaves out and the rig or an RDMA user needs:
#     soft-RoCE (RDMA_RXE), EFA (INFINIBAND_EFA) and the 9p root of the rig (NET_9P, 9P_FS).
#     It has no MEMORY_FAILURE (it needs X86_MCE, which the cloud config leaves out): the
#     hwpoison test skips there. Built in build[/SERIES]/deb-cloud-amd64.
# Both get three more changes: no debug info (DEBUG_INFO_NONE; BTF goes with it), which would make
# the build several times longer and bigger; CONFIG_GUP_TEST, which the suite needs (the kernel's
# GUP selftest, and the series' debugfs window for the pinrace and journalrace tests); and the
# build salt. Nothing else is trimmed or added.
# The tree is a clone of build/src (the patched tree, prepare.sh) under build/deb/src; ccache
# has a directory of its own (build/deb/ccache), so that this build does not evict the rig's
# kernels from the shared one.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

flavour=${FLAVOUR:-amd64}
dir=$(deb_dir) || exit 1
src=$dir/src
"$PINWB_TOP/scripts/kernel/prepare.sh" >/dev/null
"$PINWB_TOP/scripts/stock/fetch.sh"
debver=$(sed -n 's/^version=//p' "$PINWB_BUILD/base-used")
mkdir -p "$dir"
case $flavour in
amd64)
	skver=$(cat "$PINWB_BUILD/stock/kernelrelease")
	config=$PINWB_BUILD/stock/root/boot/config-$skver
	[ -f "$config" ] || die "Debian's config ${config#"$PINWB_TOP"/} is missing (make stock${SERIES:+ SERIES=$SERIES} extracts it)"
	adds=() extra=()
	;;
cloud-amd64)
	# The cloud image of exactly the source's version (deb_flavour_re: the stock image's name
	# pattern with -cloud-amd64 for -amd64). Only its config is kept.
	re=$(deb_flavour_re "$flavour") || exit 1
	img=$(deb_kernel_image "$debver" "$re") || die "no $flavour image of $debver in the package lists (apt-get update; or move the base, docs/rig.md)"
	config=$dir/config-$img-$debver
	if [ ! -s "$config" ]; then
		tmp=$(mktemp -d)
		(cd "$tmp" && apt-get download "$img=$debver" > "$dir/download.log" 2>&1) ||
			{ rm -rf "$tmp"; die "apt-get download $img=$debver failed (${dir#"$PINWB_TOP"/}/download.log); check the network and 'apt-get update'"; }
		dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -xO --wildcards './boot/config-*' > "$config.tmp" ||
			{ rm -rf "$tmp" "$config.tmp"; die "no /boot/config-* in $img=$debver"; }
		rm -rf "$tmp"; mv "$config.tmp" "$config"
	fi
	adds=(RDMA_RXE INFINIBAND_EFA NET_9P NET_9P_VIRTIO 9P_FS) extra=(--enable 9P_FS_POSIX_ACL)
	;;
esac
# The flavour's additions, as modules; each is checked after olddefconfig below.
for a in "${adds[@]}"; do extra+=(--module "$a"); done
sver=$(sed -n 's/^Subject: \[PATCH \(v[0-9]*\).*/\1/p' "$PINWB_PATCHES/cover-letter.txt")
[ -n "$sver" ] || die "no version in ${PINWB_PATCHES#"$PINWB_TOP"/}/cover-letter.txt's Subject"
pkgver=$debver+pinwb.$sver
localversion=-pinwb-$flavour
head=$(git -C "$PINWB_BUILD/src" rev-parse HEAD)

# The tests are built first: a missing library should not fail the job after hours.
make -s -C "$PINWB_TOP/tests/rdma"

# The tree: a clone of the patched tree (a plain local clone: build/src is re-made when the base
# moves), moved to its HEAD (only changed files get a new mtime). Re-cloned if that fails.
sync_tree() {
	if [ ! -d "$src/.git" ]; then
		note "cloning the patched tree into ${src#"$PINWB_TOP"/}"
		rm -rf "$src"; mkdir -p "$dir"
		git clone -q --no-checkout "$PINWB_BUILD/src" "$src" || return 1
	fi
	git -C "$src" fetch -q origin "$head" && git -C "$src" checkout -q --detach -f "$head"
}
if ! sync_tree; then
	note "the clone in ${src#"$PINWB_TOP"/} could not move to $head; cloning again"
	rm -rf "$src"
	sync_tree || die "could not clone build/src into ${src#"$PINWB_TOP"/}"
fi

# Debian's config, with no debug info, GUP_TEST, the flavour's additions and our salt.
cp "$config" "$src/.config"
"$src/scripts/config" --file "$src/.config" \
	--disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT --disable DEBUG_INFO_DWARF4 --disable DEBUG_INFO_DWARF5 \
	--enable DEBUG_INFO_NONE --disable DEBUG_INFO --disable DEBUG_INFO_BTF --disable DEBUG_INFO_BTF_MODULES \
	--enable DEBUG_FS --enable GUP_TEST "${extra[@]}" --set-str LOCALVERSION "" --disable LOCALVERSION_AUTO
make -s -C "$src" LOCALVERSION="$localversion" olddefconfig
release=$(make -s -C "$src" LOCALVERSION="$localversion" kernelrelease)
"$src/scripts/config" --file "$src/.config" --set-str BUILD_SALT "$release"
make -s -C "$src" LOCALVERSION="$localversion" olddefconfig
for want in DEBUG_INFO_NONE GUP_TEST RDMA_RXE "${adds[@]}"; do
	grep -Eq "^CONFIG_$want=[ym]" "$src/.config" || die "CONFIG_$want is not set in $src/.config after olddefconfig"
done

export CCACHE_DIR=${PINWB_DEB_CCACHE:-$dir/ccache} CCACHE_MAXSIZE=${PINWB_DEB_CCACHE_MAX:-12G}
KBUILD_BUILD_TIMESTAMP=$(git -C "$src" log -1 --format=%cD)
export KBUILD_BUILD_TIMESTAMP KBUILD_BUILD_USER=pinwb KBUILD_BUILD_HOST=pinwb
log=$dir/build.log
start=$(date +%s)
rm -f "$dir"/*.deb "$dir"/*.buildinfo "$dir"/*.changes "$dir"/pinwb-tests-*.tar.gz "$dir/built" "$dir/vmlinuz" "$dir/initrd.img"
note "building $release ($pkgver) with Debian's $flavour config: $(grep -c '=m$' "$src/.config") modules; log in ${log#"$PINWB_TOP"/}"
# DPKG_FLAGS=-d: the packaging's Build-Depends name a cross compiler (6.12) that this native
# build does not use; deps.sh kernel and deb install what it does use.
if ! make -C "$src" CC="ccache gcc" LOCALVERSION="$localversion" KDEB_PKGVERSION="$pkgver" \
	DPKG_FLAGS=-d -j"$(nproc)" bindeb-pkg > "$log" 2>&1; then
	grep -E -B2 -A3 'error:|Error [0-9]' "$log" | head -n 40 >&2
	die "the package build failed (whole log: $log)"
fi
secs=$(( $(date +%s) - start ))

# The rig boots the package's kernel as it boots Debian's (scripts/vm/run.sh --kernel deb): the
# image extracted under build/deb/root, its modules indexed, an initramfs for the 9p root.
imgs=("$dir"/linux-image-"$release"_"$pkgver"_*.deb)
[ -f "${imgs[0]}" ] || die "the build made no linux-image-${release} package (see $log)"
rm -rf "$dir/root" "$dir/vmlinuz" "$dir/initrd.img"
dpkg-deb -x "${imgs[0]}" "$dir/root"
depmod -b "$dir/root" "$release"
"$PINWB_TOP/scripts/stock/initramfs.sh" "$dir" "$release"
ln -sf "root/boot/vmlinuz-$release" "$dir/vmlinuz"
echo "$release" > "$dir/kernelrelease"

# The tests for a real host: what tests/guest-run.sh needs, with the binaries built.
tar -C "$PINWB_TOP" -czf "$dir/pinwb-tests-$pkgver.tar.gz" --exclude='*.o' \
	tests scripts/setup_rxe.sh scripts/lib.sh README.md docs/tests.md
# Last: run.sh --kernel deb and make check KERNEL=deb boot only a finished build.
printf 'release=%s\nversion=%s\nflavour=%s\nseconds=%s\nhead=%s\n' "$release" "$pkgver" "$flavour" "$secs" "$head" > "$dir/built"
note "built in $secs s:"
for f in "$dir"/*.deb "$dir"/*.tar.gz; do echo "  ${f#"$PINWB_TOP"/} ($(du -h "$f" | cut -f1))" >&2; done
