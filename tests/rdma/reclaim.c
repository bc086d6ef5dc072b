// SPDX-License-Identifier: GPL-2.0
/*
 * reclaim: reclaim leaves a registered range alone (issue 20). Reclaim can neither free a
 * page that a device may write nor write it from memory-cleaning writeback; without the
 * series' "keep folios that a device may write off the reclaim lists" it still isolates,
 * unmaps and puts back every such page on every pass, and the application then takes a page
 * fault per page on its next access.
 *
 * In a memory cgroup of MR_MB + SLACK_MB, an MR of MR_MB over a file is registered and
 * RDMA-written (generation 2); then a plain file of CHURN_MB (written before, outside the
 * cgroup, and dropped from the page cache) is read through the cgroup, which must reclaim
 * again and again to make room (the premise: memory.stat pgsteal rises by at least half of
 * CHURN_MB). Afterwards:
 *  - every page of the MR is still mapped in this process (/proc/self/pagemap), and reading
 *    one byte of each takes no page fault (getrusage); each reads generation 2;
 *  - the cgroup's reclaim scanned at most SCAN_FACTOR times the MR's pages beyond those it
 *    stole (pgscan - pgsteal + pgrefill in memory.stat): reclaim may meet each pinned page a
 *    bounded number of times, not once a pass;
 *  - generation 3 RDMA-written and fsync'd is on disk (the pages still are the file's; the
 *    cgroup's limit is lifted from here on);
 *  - after the MR is deregistered and the file written back, the formerly pinned pages can be
 *    reclaimed again: memory.reclaim of all but RECLAIM_LEFT_MB of the cgroup's file pages
 *    succeeds, and memory.stat unevictable is back to what it was before the registration;
 *  - registered, written and culled again, then deregistered and unlinked with no writeback in
 *    between: memory.stat unevictable is back to what it was (the pages left the page cache).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "in a memory cgroup at its limit, a registered file MR is left mapped and unscanned by reclaim, and is reclaimable again once deregistered and written back";

#define MR_MB 256
#define SLACK_MB 48
#define CHURN_MB 512
#define SCAN_FACTOR 2
#define RECLAIM_LEFT_MB 16

/* Pages of [addr, addr + npages pages) that have no PTE in this process. */
static size_t not_present(const void *addr, size_t npages)
{
	uint64_t *pm = malloc(npages * sizeof(*pm));
	int fd = open("/proc/self/pagemap", O_RDONLY);
	size_t n = 0;

	if (!pm || fd < 0)
		pw_die("/proc/self/pagemap: %s", strerror(errno));
	if (pread(fd, pm, npages * sizeof(*pm), (uintptr_t)addr / PW_BLOCK * sizeof(*pm)) !=
	    (ssize_t)(npages * sizeof(*pm)))
		pw_die("read /proc/self/pagemap: %s", strerror(errno));
	close(fd);
	for (size_t i = 0; i < npages; i++)
		n += !(pm[i] >> 63);
	free(pm);
	return n;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/* Read a file through the page cache, 1 MiB at a time. */
static void read_file(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		pw_die("open %s: %s", path, strerror(errno));
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

static void write_file(const char *path, int mb)
{
	static char buf[1 << 20];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	memset(buf, 0x5a, sizeof(buf));
	if (fd < 0)
		pw_die("open %s: %s", path, strerror(errno));
	for (int i = 0; i < mb; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			pw_die("write %s: %s", path, strerror(errno));
	if (fsync(fd))
		pw_die("fsync %s: %s", path, strerror(errno));
	close(fd);
}

enum { SCAN, STEAL, REFILL, NR_STATS };
static const char *const stat_name[NR_STATS] = { "pgscan", "pgsteal", "pgrefill" };

int pw_test(int argc, char **argv)
{
	/* pw_path() returns a static buffer: one copy per name. */
	char *path = strdup(pw_path("reclaim.dat")), *churn = strdup(pw_path("reclaim-churn.dat"));
	size_t nblocks = (size_t)MR_MB << 8;
	long long st0[NR_STATS], st[NR_STATS], unevict0, unevict1, unevict2, cur, extra;
	struct pw_dev d;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_tally t;
	struct pw_fmr f;
	char dev[64], val[64], val_max[64];
	uint64_t *map;
	size_t unmapped, bad = 0;
	long flt;
	int ret, rret;

	(void)argc; (void)argv;
	pw_cg_require();
	pw_dev_open(&d);
	pw_qp_pair_create(&d, &qp, 32);
	pw_src_create(&d, &src, 32);
	pw_plan(8);

	write_file(churn, CHURN_MB);
	pw_drop_caches();
	pw_cg_enter("pinwb-reclaim", (long long)(MR_MB + SLACK_MB) << 20);
	snprintf(val_max, sizeof(val_max), "%lld", (long long)(MR_MB + SLACK_MB) << 20);
	unevict0 = pw_cg_field("memory.stat", "unevictable");

	ret = pw_fmr_open(&d, &f, path, nblocks * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret) {
		pw_refused_if_no_series(-ret, "registration of a writable file MR");
		pw_die("registration of %d MiB in a cgroup of %d MiB: %s", MR_MB, MR_MB + SLACK_MB,
		       strerror(-ret));
	}
	map = pw_block_map_synced(f.fd, path, nblocks, dev, sizeof(dev));
	if (pw_write_gen(&qp, &src, f.mr, 0, nblocks, 2))
		pw_die("RDMA write of generation 2 failed");

	for (int k = 0; k < NR_STATS; k++)
		st0[k] = pw_cg_field("memory.stat", stat_name[k]);
	read_file(churn);
	for (int k = 0; k < NR_STATS; k++)
		st[k] = pw_cg_field("memory.stat", stat_name[k]) - st0[k];
	pw_info("reading %d MiB through the cgroup: pgscan +%lld pgsteal +%lld pgrefill +%lld, unevictable %lld MiB",
		CHURN_MB, st[SCAN], st[STEAL], st[REFILL],
		pw_cg_field("memory.stat", "unevictable") >> 20);
	pw_ok(st[STEAL] >= (long long)CHURN_MB << 7,
	      "premise: the cgroup reclaimed while the plain file was read (pgsteal +%lld pages, at least %d)",
	      st[STEAL], CHURN_MB << 7);

	unmapped = not_present(f.addr, nblocks);
	flt = minflt();
	for (size_t i = 0; i < nblocks; i++)
		bad += pw_check_block(f.addr + i * PW_BLOCK, i, 2, NULL) != PW_BLK_OK;
	flt = minflt() - flt;
	pw_ok(!unmapped && !flt,
	      "the MR's pages are all still mapped after the reclaim (%zu of %zu unmapped) and reading them takes no page fault (%ld)",
	      unmapped, nblocks, flt);
	pw_ok(!bad, "every page of the MR reads generation 2 through the mapping (%zu do not)", bad);
	extra = st[SCAN] - st[STEAL] + st[REFILL];
	pw_ok(extra <= SCAN_FACTOR * (long long)nblocks,
	      "reclaim scanned %lld pages beyond those it stole, at most %d times the MR's %zu pages",
	      extra, SCAN_FACTOR, nblocks);

	/* No limit while the data is checked and the MR deregistered: that is not the test. */
	pw_cg_write("memory.max", "max");
	ret = pw_write_gen(&qp, &src, f.mr, 0, nblocks, 3);
	rret = fsync(f.fd);
	pw_ok(!ret && !rret, "generation 3 RDMA-written and fsync'd%s%s", rret ? ": " : "",
	      rret ? strerror(errno) : "");
	pw_disk_tally(dev, map, nblocks, 3, &t);
	pw_ok(t.n[PW_BLK_OK] == nblocks, "generation 3 on disk (%s)", pw_tally_str(&t));

	/* Deregistered and written back: the pages are ordinary page cache again. */
	pw_fmr_dereg(&f);
	if (fsync(f.fd))
		pw_die("fsync after the deregistration: %s", strerror(errno));
	/*
	 * Ask for the cgroup's file pages less RECLAIM_LEFT_MB, not for memory.current: kernel
	 * memory charged to the cgroup cannot be reclaimed (a KASAN kernel charges more than
	 * RECLAIM_LEFT_MB of it), and the formerly pinned pages are most of the file pages.
	 */
	cur = pw_cg_field("memory.stat", "file");
	snprintf(val, sizeof(val), "%lld", cur - ((long long)RECLAIM_LEFT_MB << 20));
	rret = pw_cg_write_err("memory.reclaim", val);
	unevict1 = pw_cg_field("memory.stat", "unevictable");
	pw_ok(!rret && unevict1 <= unevict0,
	      "deregistered and written back, the pages are reclaimable: memory.reclaim of %lld of the cgroup's %lld MiB of file pages %s, unevictable %lld MiB (%lld before the registration)",
	      (cur >> 20) - RECLAIM_LEFT_MB, cur >> 20, rret ? strerror(rret) : "succeeds",
	      unevict1 >> 20, unevict0 >> 20);
	pw_fmr_close(&f);

	/*
	 * Registered again, culled again by the cgroup's reclaim, then deregistered and unlinked
	 * with no writeback in between: the pages leave the page cache with PG_pin_dirty set
	 * (ext4 keeps their buffers), and must not stay unevictable for good (6.12, 1 Dec: a
	 * second mempressure run in the same guest found the first run's 989 MiB still there).
	 */
	pw_cg_write("memory.max", val_max);
	ret = pw_fmr_open(&d, &f, path, nblocks * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("second registration: %s", strerror(-ret));
	if (pw_write_gen(&qp, &src, f.mr, 0, nblocks, 4))
		pw_die("RDMA write of generation 4 failed");
	read_file(churn);
	unevict1 = pw_cg_field("memory.stat", "unevictable");
	pw_cg_write("memory.max", "max");
	pw_fmr_close(&f);
	unlink(path);
	unevict2 = pw_cg_field("memory.stat", "unevictable");
	pw_ok(unevict2 <= unevict0,
	      "registered again (unevictable %lld MiB after a second read), deregistered and unlinked with no writeback: unevictable %lld MiB (%lld before the first registration)",
	      unevict1 >> 20, unevict2 >> 20, unevict0 >> 20);
	pw_seen("%d MiB registered, %d MiB read through a cgroup of %d MiB: %zu pages unmapped, %ld faults, %lld scanned beyond stolen; afterwards memory.reclaim %s; unlinked while pin-dirty: %lld MiB left unevictable",
		MR_MB, CHURN_MB, MR_MB + SLACK_MB, unmapped, flt, extra,
		rret ? strerror(rret) : "ok", (unevict2 - unevict0) >> 20);
	pw_metric(nblocks - t.n[PW_BLK_OK], "blocks lost");
	free(map);
	pw_cg_leave();
	unlink(churn);
	free(path);
	free(churn);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
