#!/bin/bash
# make mutants: is every behaviour of the series needed by some test? For each mutant of
# tests/mutants/MUTANTS (NAME.diff: a small diff on top of the whole series that takes one
# behaviour out), build the series with the mutant in a tree of its own (build/mutant/src, a git
# worktree of build/src: warm from ccache, and only the files a mutant touches are rebuilt), boot
# it and run the tests. A mutant is killed when a test that passes on the series fails on it.
# Writes results/mutants/NAME/ (each run), results/mutants/table.txt (mutant x test) and prints
# the table. Runs once per series version, by hand, not in CI.
#
# usage: scripts/mutants.sh [NAME...]        (default: every mutant in tests/mutants/MUTANTS)
#   MUTANT_TESTS=all       every test of tests/rdma/TESTS against each mutant (the default)
#   MUTANT_TESTS=expected  only the tests the MUTANTS line names as expected killers (quicker;
#                          a mutant with none, "-", still gets every test)
#   MUTANT_BASELINE=DIR    results of the series itself (default: a fresh run into
#                          results/mutants/baseline)
#   MUTANT_REPORT_ONLY=1   redraw the table from the last run's results
set -uo pipefail
. "$(dirname "$0")/lib.sh"
[ "$PINWB_SERIES" = 6.1 ] || die "make mutants: tests/mutants holds mutants of the 6.1 series only (SERIES=$PINWB_SERIES)"

list=$PINWB_TOP/tests/mutants/MUTANTS
src=$PINWB_BUILD/src mdir=$PINWB_BUILD/mutant out=$PINWB_TOP/results/mutants
mt=$mdir/src
mode=${MUTANT_TESTS:-all}
case "$mode" in all|expected) ;; *) die "MUTANT_TESTS must be all or expected, not '$mode'" ;; esac
[ -f "$list" ] || die "no $list"
{ [ -f "$PINWB_BUILD/series.applied" ] && [ -e "$PINWB_BUILD/bzImage" ]; } || die "build the series first (make kernel)"
head=$(cut -d' ' -f2 "$PINWB_BUILD/series.applied")
[ "$(git -C "$src" rev-parse HEAD)" = "$head" ] || die "build/src is not at the applied series ($head); run make kernel"
mkdir -p "$out"

# Mutant lines: NAME PATCH "WHAT" KILLERS; "#-" lines are patches without a mutant (and why).
mapfile -t names < <(grep -v -e '^#' -e '^[[:space:]]*$' "$list" | awk '{print $1}')
[ $# -gt 0 ] && names=("$@")
mapfile -t alltests < <(grep -v -e '^#' -e '^[[:space:]]*$' "$PINWB_TOP/tests/rdma/TESTS" | awk '{print $1}')
killers() { grep "^$1 " "$list" | awk '{print $NF}' | tr ',' ' '; }
for n in "${names[@]}"; do
	grep -q "^$n " "$list" || die "mutant $n is not in $list"
	[ -f "$PINWB_TOP/tests/mutants/$n.diff" ] || die "mutant $n has no tests/mutants/$n.diff"
	for k in $(killers "$n"); do
		[ "$k" = - ] || printf '%s\n' "${alltests[@]}" | grep -qx "$k" || die "mutant $n names $k as a killer, which is not in tests/rdma/TESTS"
	done
done

verdict() { [ -f "$2/$1.verdict" ] && cut -d'|' -f2 "$2/$1.verdict" || echo MISSING; }
# outcome TEST DIR: killed (a FAIL of the test itself), pass, or inconclusive (a skip, no result,
# a rig failure, a guest that stopped: the mutant did not get a fair run of that test).
outcome() {
	local v r
	v=$(verdict "$1" "$2")
	case "$v" in
	PASS) echo pass ;;
	FAIL|XPASS)
		r=$(cut -d'|' -f4- "$2/$1.verdict")
		case "$r" in "no result"*|"rig:"*) echo inconclusive ;; *) echo killed ;; esac ;;
	*) echo inconclusive ;;
	esac
}

report_only=${MUTANT_REPORT_ONLY:-0}
if [ "$report_only" != 1 ]; then
# 1. The tree: a worktree of build/src at the series, configured like it.
if [ ! -d "$mt/.git" ] && [ ! -f "$mt/.git" ]; then
	mkdir -p "$mdir"
	git -C "$src" worktree add -f --detach "$mt" "$head" >/dev/null 2>&1 || die "cannot add the worktree $mt"
fi
git -C "$mt" reset -q --hard "$head" || die "cannot reset $mt to $head"
if ! cmp -s "$src/.config" "$mt/.config"; then cp "$src/.config" "$mt/.config"; fi
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-3G}
export KBUILD_BUILD_TIMESTAMP="pinwb" KBUILD_BUILD_USER=pinwb KBUILD_BUILD_HOST=pinwb

build() {	# build NAME: bzImage of the tree as it is now -> $mdir/NAME.bzImage
	local log=$mdir/$1.build.log
	if ! make -C "$mt" CC="ccache gcc" -j"$(nproc)" bzImage > "$log" 2>&1; then
		grep -E -B2 -A3 'error:|Error [0-9]' "$log" | head -n 20 >&2
		return 1
	fi
	if grep -q 'warning:' "$log"; then grep 'warning:' "$log" | sort -u | head -n 5 >&2; fi
	cp "$mt/arch/x86/boot/bzImage" "$mdir/$1.bzImage"
}

# 2. The baseline: the series itself, the same tests.
base=${MUTANT_BASELINE:-$out/baseline}
if [ -z "${MUTANT_BASELINE:-}" ]; then
	note "baseline: the series, every test"
	"$PINWB_TOP/scripts/check.sh" --kernel "$PINWB_BUILD/bzImage" --results "$base" "${alltests[@]}" > "$out/baseline.log" 2>&1
fi
# 3. Each mutant.
for n in "${names[@]}"; do
	rm -rf "${out:?}/$n" "$out/$n.status"
	git -C "$mt" reset -q --hard "$head"
	git -C "$mt" clean -fdq
	if ! git -C "$mt" apply "$PINWB_TOP/tests/mutants/$n.diff"; then
		echo "$n|apply-failed" > "$out/$n.status"; note "$n: the diff does not apply to the series"; continue
	fi
	t0=$(date +%s)
	if ! build "$n"; then
		echo "$n|build-failed" > "$out/$n.status"; note "$n: build failed ($mdir/$n.build.log)"; continue
	fi
	t1=$(date +%s)
	# (A mutant no test is expected to kill gets every test, in either mode.)
	if [ "$mode" = expected ] && [ "$(killers "$n")" != - ]; then read -ra run < <(killers "$n"); else run=("${alltests[@]}"); fi
	"$PINWB_TOP/scripts/check.sh" --kernel "$mdir/$n.bzImage" --results "$out/$n" "${run[@]}" > "$out/$n.log" 2>&1
	killed=() unclear=()
	for t in "${run[@]}"; do
		[ "$(verdict "$t" "$base")" = PASS ] || continue
		case "$(outcome "$t" "$out/$n")" in
		killed) killed+=("$t") ;;
		inconclusive) unclear+=("$t") ;;
		esac
	done
	echo "$n|ran|$(( t1 - t0 ))|$(( $(date +%s) - t1 ))|${killed[*]}|${unclear[*]}" > "$out/$n.status"
	note "$n: built in $(( t1 - t0 )) s, ran ${#run[@]} test(s) in $(( $(date +%s) - t1 )) s, killed by: ${killed[*]:-NOTHING}${unclear[*]:+; inconclusive: ${unclear[*]}}"
done
git -C "$mt" reset -q --hard "$head"
echo "$mode" > "$out/mode"
echo "$base" > "$out/base"
fi
mode=$(cat "$out/mode" 2>/dev/null || echo "$mode")
base=${MUTANT_BASELINE:-$(cat "$out/base" 2>/dev/null || echo "$out/baseline")}

# 4. The table: K = killed (passes on the series, FAILs on the mutant), . = passes on both,
# ? = inconclusive (a skip, no result or a rig failure on the mutant), - = not run,
# x = does not pass on the series either.
{
	echo "pinwb make mutants: $(date -u -r "$out/mode" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?'), commit $(git -C "$PINWB_TOP" rev-parse --short HEAD 2>/dev/null || echo unknown), series $(sed -n 's/^Subject: \[PATCH \(v[0-9]*\).*/\1/p' "$PINWB_PATCHES/cover-letter.txt") at $(git -C "$src" log -1 --format='%h' "$head"), baseline kernel $(sed -n 's/^kernel: //p' "$base/guest-info" 2>/dev/null), $mode tests"
	printf '%-28s' mutant
	for i in "${!alltests[@]}"; do printf ' %2d' $(( i + 1 )); done
	echo "  killed by"
	for n in "${names[@]}"; do
		st=$(cut -d'|' -f2 "$out/$n.status" 2>/dev/null || echo not-run)
		printf '%-28s' "$n"
		for t in "${alltests[@]}"; do
			b=$(verdict "$t" "$base") v=$(verdict "$t" "$out/$n")
			if [ "$st" != ran ] || [ "$v" = MISSING ]; then c=-
			elif [ "$b" != PASS ]; then c=x
			else
				case "$(outcome "$t" "$out/$n")" in pass) c=. ;; killed) c=K ;; *) c='?' ;; esac
			fi
			printf ' %2s' "$c"
		done
		if [ "$st" = ran ]; then
			k=$(cut -d'|' -f5 "$out/$n.status")
			if [ -n "$k" ]; then echo "  $k"
			elif [ "$(killers "$n")" = - ]; then echo "  not killed (as MUTANTS says: see there)"
			else echo "  NOT KILLED"; fi
		else echo "  $st"; fi
	done
	printf 'columns:'; for i in "${!alltests[@]}"; do printf ' %d=%s' $(( i + 1 )) "${alltests[$i]}"; done; echo
} > "$out/table.txt"
cat "$out/table.txt"
# make mutants fails on a mutant that no test killed although MUTANTS names killers, on one
# that was not built or run, and on inconclusive results; a mutant MUTANTS marks "-" (no test
# expected to kill it, and why) may survive. Expected killers that did not kill are noted.
bad=() notes=()
for n in "${names[@]}"; do
	IFS='|' read -r _ st _ _ k u 2>/dev/null < "$out/$n.status" || st=not-run
	exp=$(killers "$n")
	if [ "$st" != ran ]; then bad+=("$n ($st)"); continue; fi
	[ -z "$u" ] || bad+=("$n (inconclusive: $u)")
	if [ -z "$k" ] && [ "$exp" != - ]; then bad+=("$n (not killed)"); fi
	if [ -n "$k" ] && [ "$exp" = - ]; then notes+=("$n: killed by $k although MUTANTS expects no killer: update MUTANTS"); fi
	for e in $exp; do
		[ "$e" = - ] || [[ " $k " == *" $e "* ]] || notes+=("$n: expected killer $e did not kill it")
	done
done
for x in "${notes[@]}"; do echo "note: $x"; done
if [ ${#bad[@]} -gt 0 ]; then
	echo "make mutants: ${#bad[@]} of ${#names[@]} mutants not accounted for: ${bad[*]}"
	exit 1
fi
echo "make mutants: every mutant killed, or marked in MUTANTS as one no test can kill (${#names[@]} mutants)"
