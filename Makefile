# pinwb: long-term DMA pins of page-cache pages made safe, and the rig that proves it.
#
#   make repro    the main job: reproduction tests on Debian's stock kernel and on ours, side by side
#   make check    host-side tests, then build everything, boot the patched kernel, run the whole suite
#                 (GROUP=quick or slow: only that group of tests/rdma/TESTS)
#                 (KCONFIG=debug: the same on a KASAN/lockdep kernel built in build/debug;
#                  TOPOLOGY=2node, for check and repro: the RDMA writer in a second guest;
#                  FS=xfs, for check (SERIES=6.12) and repro: the tests of tests/rdma/TESTS.xfs on
#                  XFS instead of ext4; repro FS=xfs checks tests/expect.xfs)
#   make kernel   unpack linux-source-6.1, apply patches/6.1/series, build build/bzImage
#   SERIES=6.12 (any target): the 6.12 series instead - patches/6.12 on Debian's linux-source-6.12,
#                 built in build/6.12, results in results/6.12; tests, rig and configs are shared
#   make control  the same source and config without the series: build/control/bzImage
#   make stock    Debian's binary kernel for the same version + a minimal initramfs
#   make deb      the series with Debian's own config as installable packages (build/deb; hours);
#                 FLAVOUR=cloud-amd64: Debian's cloud config (mlx4/mlx5; 97 min here, cold);
#                 make check KERNEL=deb [FLAVOUR=...] runs the suite on that kernel
#   make bench    benchmarks, control and patched kernels alternately (ROUNDS=3): results[/SERIES]/bench.{txt,png}
#   make peers    rdma-core's own test suite (v44) on rxe0, stock vs patched: results/peers.txt
#   make run CMD='...' [KERNEL=stock]   one command in a guest, for development
#   make mutants  the series minus one behaviour at a time (tests/mutants), each must fail a test
#   make docs     docs/tests.md and docs/results.md, generated from the tests and results/
#   make export-patches   build/src commits since "pristine" -> patches/<series>/ (+ series)
#   make series-check     build the kernel after every patch of the series
#   make checkpatch       scripts/checkpatch.pl --no-tree on every patch
#   make lint             shellcheck on every script, checkpatch, the tests' C with -Werror (also rows of make check)
#   make check-meta       the runner's own tests: planted faults the rules must catch (also rows of make check;
#                         make check META=0 leaves them out)
SHELL := /bin/bash
TOP := $(CURDIR)
KERNEL ?= patched
TESTS ?=
SERIES ?= 6.1
ifeq ($(wildcard $(TOP)/patches/$(SERIES)/BASE),)
$(error SERIES=$(SERIES): there is no patches/$(SERIES)/BASE; the series are: $(notdir $(patsubst %/BASE,%,$(wildcard $(TOP)/patches/*/BASE))))
endif
# 6.1 builds in build/, any other series in build/<series>/ (scripts/lib.sh says the same).
BUILD_ROOT := $(TOP)/build$(if $(filter-out 6.1,$(SERIES)),/$(SERIES))
RESULTS := results$(if $(filter-out 6.1,$(SERIES)),/$(SERIES))
export BASE_OK KCONFIG TOPOLOGY GROUP SERIES FLAVOUR

# KCONFIG=debug (configs/debug.config: KASAN, lockdep, ...): a kernel tree of its own under
# build/debug, so the normal build stays warm; tests get more time and the guest more memory.
ifneq ($(filter debug,$(KCONFIG)),)
export PINWB_BUILD := $(BUILD_ROOT)/debug
export PINWB_TEST_TIMEOUT ?= 1200
export VM_MEM ?= 3G
endif

.PHONY: all deps deps-kernel deps-vm deps-tests deps-lint lint lint-rows kernel stock deb tests check check-host check-deb-built check-meta repro bench soak peers run \
	export-patches series-check checkpatch clean distclean mutants control docs

all: kernel stock tests

deps: deps-kernel deps-vm deps-tests deps-lint
deps-kernel:
	@scripts/deps.sh kernel
deps-vm:
	@scripts/deps.sh vm
deps-tests:
	@scripts/deps.sh tests
deps-lint:
	@scripts/deps.sh lint

kernel: deps-kernel
	@scripts/kernel/build.sh

# make control: the same source and configuration without the series (build/control, a tree of
# its own, release suffix -control): the column of make repro that isolates the series' effect.
control: deps-kernel
	@PINWB_BUILD=$(BUILD_ROOT)/control UPTO=0 PINWB_LOCALVERSION=-control scripts/kernel/build.sh

stock: deps-kernel
	@scripts/deps.sh stock
	@scripts/kernel/prepare.sh >/dev/null
	@scripts/stock/fetch.sh

# The kernels' own selftests are built from the series' tree (KCONFIG=debug: the debug tree's).
tests: deps-tests
	@$(MAKE) -s -C tests/rdma $(if $(filter debug,$(KCONFIG)),$(if $(filter 6.1,$(SERIES)),KSRC,KSRC612)=$(PINWB_BUILD)/src)
	@$(MAKE) -s -C bench

# The host-side tests come first (seconds, no guest); make check's table counts them with the
# guest's (once: the two-node run leaves them to the one-guest run).
check-host:
	@scripts/check-host.sh

# The runner's own tests (tests/meta: planted faults the rules must catch) need the patched kernel
# and two short guest boots; they run with the one-guest topology and no TESTS= selection.
check-meta: kernel tests deps-vm
	@scripts/check-meta.sh

# make lint: shellcheck, checkpatch on the series, the tests' C with -Werror (rows in make check).
lint: deps-lint deps-kernel tests
	@scripts/lint.sh

# KERNEL=deb: the suite on make deb's packaged kernel (built beforehand: make deb takes hours),
# and two rows (scripts/kernel/deb-row.sh): deb-install, dpkg -i of the packages in a guest on
# Debian's stock kernel; deb-host, the tests tarball run as the README's "On a real host" says, in
# a guest on the packaged kernel. The runner's own tests and the lint rows go with the patched
# kernel only.
# The two rows run with the whole one-node ext4 suite only (not with TESTS=, TOPOLOGY=2node or
# FS=xfs, nor with GROUP=); each flavour has results of its own (results/deb[-cloud-amd64][-2node|-xfs],
# results/deb-install[-cloud-amd64], results/deb-host[-cloud-amd64]).
# A selection: less than the whole one-node ext4 suite.
SELECTION := $(or $(TESTS),$(GROUP),$(filter 2node,$(TOPOLOGY)),$(filter xfs,$(FS)))
DEB_ROWS := $(if $(and $(filter deb,$(KERNEL)),$(if $(SELECTION),,1)),1)
DEB_SUFFIX := $(if $(filter-out amd64,$(FLAVOUR)),-$(FLAVOUR))
CHECK_FULL := $(if $(or $(SELECTION),$(filter-out patched,$(KERNEL))),,1)
# META=0 leaves the runner's own tests out. They test the runner's rules, which are mostly the
# same whatever the kernel: .ci/run has them once, with the README's make check (6.1), and not
# again with SERIES=6.12.
META ?= 1
$(if $(filter-out 0 1,$(META))$(filter-out 1,$(words $(META))),$(error META is 0 or 1, not '$(META)'))
RUN_META := $(if $(CHECK_FULL),$(filter 1,$(META)))
check: check-host $(if $(filter patched,$(KERNEL)),kernel,check-deb-built) tests deps-vm $(if $(CHECK_FULL),$(if $(RUN_META),check-meta) lint-rows)
	@$(if $(DEB_ROWS),scripts/deps.sh deb-install stock && scripts/kernel/deb-row.sh install $(RESULTS)/deb-install$(DEB_SUFFIX))
	@$(if $(DEB_ROWS),scripts/kernel/deb-row.sh host $(RESULTS)/deb-host$(DEB_SUFFIX))
	@scripts/check.sh --kernel $(KERNEL) --fs $(or $(FS),ext4) --xfail tests/xfail.list \
		$(if $(or $(filter 2node,$(TOPOLOGY)),$(filter xfs,$(FS))),,--host results/host) \
		$(if $(filter deb,$(KERNEL)),--results $(RESULTS)/deb$(DEB_SUFFIX)$(if $(filter 2node,$(TOPOLOGY)),-2node)$(if $(filter xfs,$(FS)),-xfs)) \
		$(if $(DEB_ROWS),--host $(RESULTS)/deb-install$(DEB_SUFFIX) --host $(RESULTS)/deb-host$(DEB_SUFFIX)) \
		$(if $(CHECK_FULL),$(if $(RUN_META),--host $(RESULTS)/meta) --host $(RESULTS)/lint) $(TESTS)

check-deb-built:
	@$(if $(filter deb,$(KERNEL)),,echo "pinwb: error: make check takes KERNEL=patched (the default) or KERNEL=deb, not KERNEL=$(KERNEL)" >&2; exit 2)
	@d=$$(. scripts/lib.sh && deb_dir) || exit 2; test -f $$d/built || { echo "pinwb: error: no finished make deb$(if $(filter-out 6.1,$(SERIES)), SERIES=$(SERIES))$(if $(FLAVOUR), FLAVOUR=$(FLAVOUR)) in $${d#$(TOP)/}: run it first (FLAVOUR=amd64 takes hours; cloud-amd64 about 1.5)" >&2; exit 2; }

# make check counts the lint rows with the tests; a lint failure must not stop the suite.
lint-rows: deps-lint deps-kernel tests
	@scripts/lint.sh || true

# make repro: both series. 6.1: stock, control and patched; 6.12: stock and patched (its control
# kernel joins the table when built: make control SERIES=6.12).
repro: deps-vm
	@$(MAKE) -s SERIES=6.1 kernel control stock
	@$(MAKE) -s SERIES=6.12 kernel stock
	@$(MAKE) -s tests
	@scripts/deps.sh repro
	@FS=$(or $(FS),ext4) scripts/repro.sh $(TESTS)

# make soak [MINUTES=60] [CRASH_SHARE=50] [KERNEL=patched]: issue 23's soak (scripts/soak.sh).
soak: kernel tests deps-vm
	@scripts/deps.sh soak
	@scripts/soak.sh

# make deb [FLAVOUR=amd64|cloud-amd64]: the series with the config of Debian's own image of that
# flavour, as linux-image/linux-headers packages (build[/SERIES]/deb[-cloud-amd64]; amd64: hours on
# two cores). make check KERNEL=deb [FLAVOUR=...] then runs the suite on it.
deb: deps-kernel tests
	@scripts/deps.sh deb stock
	@scripts/kernel/deb.sh

bench: kernel control stock tests deps-vm
	@scripts/deps.sh repro
	@bench/run.sh

peers: kernel stock deps-vm
	@scripts/deps.sh tests peers
	@scripts/peers.sh

run: deps-vm
	@[ -n "$(CMD)" ] || { echo "usage: make run CMD='command' [KERNEL=stock]"; exit 2; }
	@$(if $(filter stock,$(KERNEL)),$(MAKE) -s stock,$(if $(filter deb,$(KERNEL)),$(MAKE) -s check-deb-built,$(MAKE) -s kernel))
	@$(MAKE) -s tests
	@scripts/vm/run.sh --kernel $(KERNEL) -- bash -c '$(CMD)'; rc=$$?; \
	 cat $(RESULTS)/run-$(KERNEL)/cmd.out 2>/dev/null; echo "(exit status $$rc)"; exit $$rc

# make mutants [MUTANTS="NAME..."] [MUTANT_TESTS=expected]: the series minus one behaviour at a
# time (tests/mutants), each booted and tested; once per series version, not in CI.
mutants: kernel tests deps-vm
	@scripts/mutants.sh $(MUTANTS)

# make docs: docs/tests.md and docs/results.md from TESTS, --describe, tests/expect and results/.
docs: tests
	@python3 scripts/docs.py

export-patches:
	@scripts/kernel/export-patches.sh

series-check: deps-kernel
	@scripts/kernel/series-check.sh

checkpatch: deps-kernel
	@scripts/kernel/checkpatch.sh

clean:
	rm -rf results
	$(MAKE) -s -C tests/rdma clean
	$(MAKE) -s -C bench clean

distclean: clean
	rm -rf build
