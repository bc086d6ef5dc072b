#!/bin/bash
# After a build: would the series still link where Debian builds the code it touches as modules?
# The rig's config builds ext4 and the RDMA stack into the kernel, so a call from them to a
# function that is not exported links here and fails modpost with Debian's config
# (CONFIG_EXT4_FS=m, CONFIG_INFINIBAND=m, CONFIG_RDMA_RXE=m). For each such directory: the
# symbols its objects use, less those it defines, less those the tree exports
# (EXPORT_SYMBOL*, EXPORT_PER_CPU_SYMBOL*); anything in that list for the patched tree and not for
# the control tree (the same source without the series) is a new unexported dependency.
#
# usage: check-exports.sh [PATCHED_SRC [CONTROL_SRC]]   (default: the build and control trees)
# Exit: 0 none new, 1 new unexported symbols (listed), 2 a tree is not built (nothing checked).
set -uo pipefail
. "$(dirname "$0")/../lib.sh"
patched=${1:-$PINWB_BUILD/src} control=${2:-$PINWB_BUILD_ROOT/control/src}
dirs="fs/ext4 drivers/infiniband/core drivers/infiniband/sw/rxe"

# needs TREE: "DIR SYMBOL" for every symbol a module directory uses and nobody exports.
needs() {
	local tree=$1 d exp objs
	exp=$(mktemp)
	git -C "$tree" grep -h -o -E 'EXPORT_(PER_CPU_)?SYMBOL(_GPL|_NS|_NS_GPL)?\([A-Za-z0-9_]+' \
		-- '*.c' '*.h' '*.S' | sed 's/.*(//' | sort -u > "$exp"
	for d in $dirs; do
		[ -f "$tree/$d/built-in.a" ] || { rm -f "$exp"; return 2; }
		mapfile -t objs < <(cd "$tree" && ar t "$d/built-in.a")
		(cd "$tree" && comm -23 <(nm -u "${objs[@]}" | awk '{ print $2 }' | sort -u) \
			<(nm --defined-only "${objs[@]}" | awk '{ print $3 }' | sort -u)) |
			comm -23 - "$exp" | sed "s|^|$d |"
	done
	rm -f "$exp"
}

p=$(needs "$patched") || { note "check-exports: $patched is not built: nothing checked (make kernel)"; exit 2; }
# The control tree does not change from one patch of series-check to the next: its list is kept
# next to it until its vmlinux is rebuilt.
cache=$control/.pinwb-export-needs
if [ -s "$cache" ] && [ "$cache" -nt "$control/vmlinux" ]; then
	c=$(cat "$cache")
else
	c=$(needs "$control") || { note "check-exports: $control is not built: nothing checked (make control)"; exit 2; }
	printf '%s\n' "$c" > "$cache"
fi
new=$(comm -23 <(sort <<< "$p") <(sort <<< "$c"))
if [ -n "$new" ]; then
	echo "check-exports: the series makes code that Debian builds as a module use symbols nothing exports:"
	while read -r l; do echo "  $l"; done <<< "$new"
	exit 1
fi
echo "check-exports: no new unexported symbol used from $dirs"
