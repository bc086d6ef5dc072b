#!/bin/bash
# DESCRIPTION: the stock kernel is found by its exact version among Debian's image packages,
# never through the linux-image-amd64 metapackage; a version Debian no longer offers gives an
# error that names what is offered and what to do. No network: apt-cache and apt-get are
# stand-ins answering from output recorded on 2026-11-30 (tests/host/apt/today; bpo612 for the
# 6.12 series' base, with bookworm-backports enabled).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"
. "$top/scripts/lib.sh"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export PATH="$here/bin:$PATH" FAKE_LOG=$tmp/apt.log
re='^linux-image-6\.1\.0-[0-9]+-amd64$'
: > "$FAKE_LOG"

lookup() { FAKE_APT=$1 deb_kernel_image "$2" "$re" 2>"$tmp/err"; }

# 1. The newest upload: 6.1.192-3 is linux-image-6.1.0-57-amd64 (and not its -unsigned twin,
#    which has the same version).
got=$(lookup "$here/apt/today" 6.1.192-3); rc=$?
t_ok "[ $rc = 0 ] && [ '$got' = linux-image-6.1.0-57-amd64 ]" "6.1.192-3 -> linux-image-6.1.0-57-amd64 (got '$got', rc $rc)"

# 2. The case of issue 15: 6.1.192-2 is still offered as linux-image-6.1.0-56-amd64, while the
#    metapackage already points at -57. A lookup through the metapackage finds nothing here.
got=$(lookup "$here/apt/today" 6.1.192-2); rc=$?
t_ok "[ $rc = 0 ] && [ '$got' = linux-image-6.1.0-56-amd64 ]" "6.1.192-2 (older than the metapackage) -> linux-image-6.1.0-56-amd64 (got '$got', rc $rc)"

# 3. An old ABI from the main suite and the security suite both (two madison lines, one package).
got=$(lookup "$here/apt/today" 6.1.176-1); rc=$?
t_ok "[ $rc = 0 ] && [ '$got' = linux-image-6.1.0-50-amd64 ]" "6.1.176-1, offered by two suites -> linux-image-6.1.0-50-amd64 (got '$got', rc $rc)"

# 4. Version gone: the recording without the 6.1.192-2 lines, as the archive looks once Debian
#    drops that upload. The lookup fails and names what is offered, newest included.
mkdir -p "$tmp/gone"
cp "$here/apt/today/pkgnames" "$here"/apt/today/show.* "$tmp/gone/"
grep -v '| *6\.1\.192-2 *|' "$here/apt/today/madison" > "$tmp/gone/madison"
got=$(lookup "$tmp/gone" 6.1.192-2); rc=$?
t_ok "[ $rc = 1 ] && [ -z '$got' ]" "6.1.192-2 gone: the lookup fails (rc $rc, got '$got')"
t_ok "grep -q 'no longer offers a kernel image of version 6.1.192-2' '$tmp/err' && grep -q 'linux-image-6.1.0-57-amd64 6.1.192-3' '$tmp/err'" \
	"6.1.192-2 gone: the error says so and names the newest image offered ($(head -c 300 "$tmp/err" | tr '\n' ' '))"

# 5. Nothing matches the pattern (lists never updated, wrong pattern): a distinct status.
FAKE_APT=$here/apt/today deb_kernel_image 6.1.192-3 '^linux-image-9\.9\.0-[0-9]+-amd64$' 2>"$tmp/err" >/dev/null; rc=$?
t_ok "[ $rc = 2 ] && grep -q 'apt-get update' '$tmp/err'" "no package matches the pattern: status 2 and a hint to update the lists (rc $rc)"

# 6. make stock's own path (scripts/stock/fetch.sh) when the base's version is gone: it refreshes
#    the lists once, then stops with the offered versions and the two ways out.
base_ver=$(base_get version)
mkdir -p "$tmp/gone-base" "$tmp/build"
cp "$here/apt/today/pkgnames" "$here"/apt/today/show.* "$tmp/gone-base/"
grep -v "| *${base_ver//./\\.} *|" "$here/apt/today/madison" > "$tmp/gone-base/madison"
FAKE_APT=$tmp/gone-base PINWB_BUILD=$tmp/build "$top/scripts/stock/fetch.sh" > "$tmp/fetch.out" 2>&1; rc=$?
t_ok "[ $rc != 0 ] && grep -q 'BASE_OK=1' '$tmp/fetch.out' && grep -q 'Moving the base' '$tmp/fetch.out' && grep -q 'no longer offers a kernel image of version $base_ver' '$tmp/fetch.out'" \
	"fetch.sh with the base ($base_ver) gone: fails (rc $rc), names what is offered, BASE_OK=1 and 'Moving the base'"
t_ok "grep -qx 'apt-get update' '$FAKE_LOG' && ! grep -q 'apt-get download' '$FAKE_LOG' && [ ! -e '$tmp/build/stock/.done' ]" \
	"fetch.sh with the base gone: one apt-get update, no download, nothing left half-made"

# 7. Never through the metapackage: no call named linux-image-amd64.
t_ok "! grep -q 'linux-image-amd64\\b' '$FAKE_LOG'" "no apt-cache/apt-get call names the metapackage ($(grep -c . "$FAKE_LOG") calls logged)"

# 8. The 6.12 series' base (patches/6.12/BASE), recorded on the same day with bookworm-backports
#    enabled (tests/host/apt/bpo612): its image is found by version among backports' and the
#    security suite's 6.12 images, not its -unsigned twin, cloud or rt.
re612=$(sed -n 's/^image=//p' "$top/patches/6.12/BASE") ver612=$(sed -n 's/^version=//p' "$top/patches/6.12/BASE")
got=$(FAKE_APT=$here/apt/bpo612 deb_kernel_image "$ver612" "$re612" 2>"$tmp/err"); rc=$?
t_ok "[ $rc = 0 ] && [ '$got' = linux-image-6.12.95+deb12-amd64 ]" "6.12 base $ver612 -> linux-image-6.12.95+deb12-amd64 (got '$got', rc $rc)"

# 9. make deb FLAVOUR=cloud-amd64's pattern (deb_flavour_re), from each series' BASE: among the
#    recorded package names it matches cloud images only, never their -unsigned or -dbg twins or
#    the amd64 and rt images; amd64's is BASE's own; a BASE pattern it cannot rewrite is refused.
for s in 6.1 6.12; do
	cre=$(PINWB_PATCHES=$top/patches/$s deb_flavour_re cloud-amd64 2>"$tmp/err"); rc=$?
	pkgs=$here/apt/today/pkgnames; [ "$s" = 6.1 ] || pkgs=$here/apt/bpo612/pkgnames
	m=$(grep -E "$cre" "$pkgs"); n=$(grep -c . <<< "$m"); bad=$(grep -v -- '-cloud-amd64$' <<< "$m")
	t_ok "[ $rc = 0 ] && [ $n -gt 0 ] && [ -z '$bad' ]" "$s cloud pattern '$cre' (rc $rc) matches $n cloud image names and nothing else${bad:+ (also: $bad)}"
done
# amd64's is each series' BASE image= as it stands, whatever SERIES this check runs under: among
# the recorded package names it matches the plain amd64 images of that series only (not the
# metapackage linux-image-SERIES-amd64).
for s in 6.1 6.12; do
	are=$(PINWB_PATCHES=$top/patches/$s deb_flavour_re amd64 2>"$tmp/err"); rc=$?
	pkgs=$here/apt/today/pkgnames; [ "$s" = 6.1 ] || pkgs=$here/apt/bpo612/pkgnames
	m=$(grep -E "$are" "$pkgs"); n=$(grep -c . <<< "$m")
	bad=$({ grep -E -- '-(cloud|rt)-amd64$|-unsigned$|-dbg$' <<< "$m"; grep -v "^linux-image-${s}[.-]" <<< "$m"
		grep -x "linux-image-${s}-amd64" <<< "$m"; } | tr '\n' ' ')
	t_ok "[ $rc = 0 ] && [ $n -gt 0 ] && [ -z '$bad' ]" "$s amd64 pattern '$are' (rc $rc) matches $n amd64 image names of $s and nothing else${bad:+ (also: $bad)}"
done
mkdir -p "$tmp/odd"; printf 'image=^linux-image-6\\.1\\.0-[0-9]+-arm64$\n' > "$tmp/odd/BASE"
PINWB_PATCHES=$tmp/odd deb_flavour_re cloud-amd64 > "$tmp/odd.out" 2>&1; rc=$?
t_ok "[ $rc = 1 ] && grep -q 'does not end in -amd64' '$tmp/odd.out'" "a BASE image= not ending in -amd64\$ is refused (rc $rc: $(head -c 160 "$tmp/odd.out"))"

t_done
