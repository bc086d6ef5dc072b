#!/bin/bash
# Install (apt-get, Debian 12, as root) whatever of a named group of packages is missing.
# usage: scripts/deps.sh GROUP...   groups: kernel stock deb deb-install vm tests repro soak peers lint
set -euo pipefail
. "$(dirname "$0")/lib.sh"

declare -A groups=(
  [kernel]="build-essential flex bison bc libelf-dev libssl-dev dwarves ccache kmod cpio rsync xz-utils git"
  [stock]="busybox-static kmod cpio xz-utils zstd"
  [deb]="dpkg-dev fakeroot debhelper openssl"
  [deb-install]="initramfs-tools"
  [vm]="qemu-system-x86 e2fsprogs"
  [tests]="gcc make libibverbs-dev librdmacm-dev rdma-core ibverbs-providers ibverbs-utils iproute2 perftest e2fsprogs btrfs-progs cryptsetup-bin dmsetup xfsprogs liburing-dev"
  [repro]="gnuplot-nox"
  [soak]="stress-ng"
  [lint]="shellcheck"
  [peers]="python3-pyverbs=44.0-2"
)

want=()
for g in "$@"; do
  [ -n "${groups[$g]+x}" ] || die "deps.sh: unknown group '$g'"
  read -r -a pk <<< "${groups[$g]}"
  want+=("${pk[@]}")
done
if [[ " $* " == *" kernel "* ]]; then
  if [ "${BASE_OK:-0}" = 1 ]; then want+=("$(base_get package)"); else want+=("$(base_get package)=$(base_get version)"); fi
fi

# enable_suite SUITE: add one of Debian 12's own suites (bookworm-backports) to apt's sources, the
# way Debian documents it (a sources.list.d entry for deb.debian.org; backports are never
# installed unless asked for by name and version, as here), and refresh the package lists.
enable_suite() {
	local suite=$1 f=/etc/apt/sources.list.d/pinwb-$1.sources
	if grep -rqs -e "^Suites:.*\b$suite\b" -e "^deb .* $suite " /etc/apt/sources.list /etc/apt/sources.list.d/; then
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "the series needs Debian's $suite suite, which apt does not know; as root: add it (https://backports.debian.org/Instructions/) and run apt-get update"
	note "enabling Debian's $suite suite for $(base_get package) ($f)"
	printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$suite" > "$f"
	apt-get update >/tmp/pinwb-apt.log 2>&1 || { tail -n 5 /tmp/pinwb-apt.log >&2; die "apt-get update failed after adding $f (log: /tmp/pinwb-apt.log)"; }
}

# A series whose base comes from a suite Debian 12 does not enable by default (patches/6.12/BASE:
# suite=bookworm-backports) gets that suite for the kernel and stock groups.
suite=$(base_get suite)
if [ -n "$suite" ] && [[ " $* " == *" kernel "* || " $* " == *" stock "* ]]; then
	enable_suite "$suite"
fi

# deb-install wants an initramfs hook for dpkg -i to run: a host that has dracut keeps it (the two
# conflict), initramfs-tools otherwise.
if [[ " $* " == *" deb-install "* ]] && dpkg-query -W -f='${db:Status-Abbrev}' dracut 2>/dev/null | grep -q '^ii'; then
  for i in "${!want[@]}"; do [ "${want[$i]}" != initramfs-tools ] || unset 'want[i]'; done
fi

missing=()
for p in "${want[@]}"; do
  name=${p%%=*} ver=${p#*=}
  have=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$name" 2>/dev/null || true)
  case "$have" in
    ii*) [ "$name" = "$p" ] || [ "${have:3}" = "$ver" ] || missing+=("$p") ;;
    *) missing+=("$p") ;;
  esac
done
[ ${#missing[@]} -eq 0 ] && exit 0

[ "$(id -u)" = 0 ] || die "missing packages: ${missing[*]}; run as root or install them: apt-get install ${missing[*]}"
note "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The base is pinned by version, which may be older than what is installed: only it may go down.
dg=()
for p in "${missing[@]}"; do [[ $p == linux-source-*=* ]] && dg=(--allow-downgrades); done
if ! apt-get install -y "${dg[@]}" --no-install-recommends "${missing[@]}" >/tmp/pinwb-apt.log 2>&1; then
  apt-get update >>/tmp/pinwb-apt.log 2>&1 || true
  apt-get install -y "${dg[@]}" --no-install-recommends "${missing[@]}" >>/tmp/pinwb-apt.log 2>&1 || {
    tail -n 15 /tmp/pinwb-apt.log >&2
    die "apt-get could not install: ${missing[*]} (log: /tmp/pinwb-apt.log).
  If $(base_get package)=$(base_get version) is no longer offered, install the available version and
  re-run with BASE_OK=1 (the series may then need a rebase), or update ${PINWB_PATCHES#"$PINWB_TOP"/}/BASE."
  }
fi
