#!/bin/bash
# Unpack Debian's kernel source under build/src (a git repository whose first commit, tagged
# "pristine", is the untouched tree), apply the series (patches/<series>/series) on top and configure it.
# The kernel is built in the source tree: every path on the compiler's command line is then
# relative, so ccache hits from any checkout of this repository (an O= build puts absolute
# paths, -fmacro-prefix-map among them, into every command line).
#
# The series is turned into commits without touching the work tree (git apply --cached into a
# scratch index), then checked out: only files whose content changed get a new mtime, so the
# following make rebuilds only what the patch edit touched.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

src=$PINWB_BUILD/src
pkg=$(base_get package) want_ver=$(base_get version) want_kver=$(base_get kernel)
tarball=/usr/src/${pkg}.tar.xz

# 1. The base: the package that is installed must be the one the series was made for.
have_ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || die "$pkg is not installed (make deps-kernel installs it)"
[ -r "$tarball" ] || die "$tarball is missing although $pkg $have_ver is installed; reinstall it: apt-get install --reinstall $pkg"
if [ "$have_ver" != "$want_ver" ] && [ "${BASE_OK:-0}" != 1 ]; then
  die "the series was made for $pkg $want_ver (kernel $want_kver) but $have_ver is installed.
  Install $pkg=$want_ver, or re-run with BASE_OK=1 to try the series on $have_ver."
fi

# 2. Unpack once per package version.
if [ ! -f "$src/.pinwb-base" ] || [ "$(cat "$src/.pinwb-base")" != "$pkg $have_ver" ]; then
  if [ -d "$src/.git" ] && [ -n "$(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    die "build/src has uncommitted changes and must be re-unpacked for $pkg $have_ver; commit and export them (make export-patches) or remove build/src"
  fi
  note "unpacking $tarball ($pkg $have_ver) into $src"
  rm -rf "$src"
  mkdir -p "$PINWB_BUILD/unpack"
  tar -C "$PINWB_BUILD/unpack" -xf "$tarball"
  mv "$PINWB_BUILD"/unpack/linux-source-* "$src"
  rmdir "$PINWB_BUILD/unpack"
  git -C "$src" init -q -b pinwb
  git -C "$src" config user.name "pinwb developers"
  git -C "$src" config user.email "pinwb-dev@example.org"
  git -C "$src" config core.abbrev 12
  git -C "$src" add -A -f .
  git -C "$src" commit -q -m "$pkg $have_ver (pristine)"
  git -C "$src" tag -f pristine >/dev/null
  echo "$pkg $have_ver" > "$src/.pinwb-base"
  echo .pinwb-base >> "$src/.git/info/exclude"
fi
kver=$(make -s -C "$src" kernelversion)
[ "$kver" = "$want_kver" ] || [ "${BASE_OK:-0}" = 1 ] || die "$tarball holds kernel $kver, the series was made for $want_kver (BASE_OK=1 to go on)"
printf 'package=%s\nversion=%s\nkernel=%s\n' "$pkg" "$have_ver" "$kver" > "$PINWB_BUILD/base-used"

# 3. Apply the series as commits on top of pristine, built in a scratch index.
stamp=$PINWB_BUILD/series.applied
want_stamp=$(series_stamp "$pkg $have_ver")
if [ ! -f "$stamp" ] || [ "$(cut -d' ' -f1 "$stamp")" != "$want_stamp" ] || [ "$(git -C "$src" rev-parse HEAD)" != "$(cut -d' ' -f2 "$stamp")" ]; then
  if [ -n "$(git -C "$src" status --porcelain --untracked-files=no)" ]; then
    die "build/src has uncommitted changes; commit them and run 'make export-patches', or discard them (git -C build/src checkout -- .)"
  fi
  if [ -f "$stamp" ] && [ "$(git -C "$src" rev-parse HEAD)" != "$(cut -d' ' -f2 "$stamp")" ] && [ "${FORCE_APPLY:-0}" != 1 ]; then
    die "build/src has commits that are not in ${PINWB_PATCHES#"$PINWB_TOP"/}/ (HEAD $(git -C "$src" rev-parse --short HEAD)); run 'make export-patches' to keep them, or FORCE_APPLY=1 to drop them"
  fi
  idx=$src/.git/pinwb-index
  rm -f "$idx"
  GIT_INDEX_FILE=$idx git -C "$src" read-tree pristine
  head=$(git -C "$src" rev-parse pristine)
  n=0
  for p in $(series_patches); do
    [ -n "${UPTO:-}" ] && [ "$n" -ge "$UPTO" ] && break
    f=$PINWB_PATCHES/$p
    n=$((n + 1))
    [ -f "$f" ] || die "${PINWB_PATCHES#"$PINWB_TOP"/}/series names $p, which does not exist"
    if ! out=$(GIT_INDEX_FILE=$idx git -C "$src" apply --cached --whitespace=nowarn -v "$f" 2>&1); then
      echo "$out" | grep -v '^Checking patch' >&2
      rm -f "$idx"
      die "patch $n, $p, does not apply to $pkg $have_ver (the hunk it could not place is shown above).
  To rebase it: UPTO=$((n - 1)) scripts/kernel/prepare.sh (applies the patches before it), then
  git -C build/src apply --reject $PINWB_PATCHES/$p, fix, commit in build/src, make export-patches."
    fi
    info=$(mktemp -d)
    git mailinfo -b "$info/msg" "$info/patch" < "$f" > "$info/info"
    subj=$(sed -n 's/^Subject: //p' "$info/info")
    tree=$(GIT_INDEX_FILE=$idx git -C "$src" write-tree)
    head=$( { echo "$subj"; echo; cat "$info/msg"; } | \
      GIT_AUTHOR_NAME="$(sed -n 's/^Author: //p' "$info/info")" \
      GIT_AUTHOR_EMAIL="$(sed -n 's/^Email: //p' "$info/info")" \
      GIT_AUTHOR_DATE="$(sed -n 's/^Date: //p' "$info/info")" \
      git -C "$src" commit-tree "$tree" -p "$head")
    rm -rf "$info"
  done
  rm -f "$idx"
  git -C "$src" reset -q --hard "$head"
  note "applied $n patch(es) from ${PINWB_PATCHES#"$PINWB_TOP"/}/series on $pkg $have_ver"
  echo "$want_stamp $head" > "$stamp"
fi

# 4. Configure: x86_64_defconfig + kvm_guest.config + configs/guest.config (+ configs/guest-SERIES.config,
#    + KCONFIG fragments).
frags=("$src/arch/x86/configs/x86_64_defconfig" "$src/kernel/configs/kvm_guest.config" "$PINWB_TOP/configs/guest.config")
# A series' own additions (configs/guest-6.12.config: XFS, which only the 6.12 series opts in).
[ -f "$PINWB_TOP/configs/guest-$PINWB_SERIES.config" ] && frags+=("$PINWB_TOP/configs/guest-$PINWB_SERIES.config")
for k in ${KCONFIG:-}; do frags+=("$PINWB_TOP/configs/$k.config"); done
cfg_stamp=$( cat "${frags[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -f "$src/.config" ] || [ "$(cat "$src/.pinwb-config" 2>/dev/null)" != "$cfg_stamp" ]; then
  note "configuring ${src#"$PINWB_TOP"/} from: ${frags[*]##*/}"
  (cd "$src" && scripts/kconfig/merge_config.sh -m "${frags[@]}" >/dev/null)
  make -s -C "$src" olddefconfig
  # Every symbol we asked for must have survived olddefconfig (typos, missing dependencies).
  bad=0
  for f in "${frags[@]:2}"; do
    while IFS= read -r line; do
      case "$line" in
        CONFIG_*=*) grep -qx -- "$line" "$src/.config" || { echo "  wanted $line, got: $(grep -E "^(# )?${line%%=*}[= ]" "$src/.config" || echo absent)" >&2; bad=1; } ;;
        "# CONFIG_"*" is not set")
          sym=${line#\# }; sym=${sym%% *}
          ! grep -q "^$sym=" "$src/.config" || { echo "  wanted $line, got: $(grep "^$sym=" "$src/.config")" >&2; bad=1; } ;;
      esac
    done < "$f"
  done
  [ $bad = 0 ] || { rm -f "$src/.config"; die "the kernel configuration lacks symbols asked for in configs/ (above)"; }
  echo "$cfg_stamp" > "$src/.pinwb-config"
fi
