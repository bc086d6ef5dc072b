// SPDX-License-Identifier: GPL-2.0
/*
 * persist: data-integrity writeback of a registered file MR. RDMA-write generation N into
 * every block, call one sync primitive, read the blocks straight from the device (O_DIRECT on
 * the block device at the file's extents, so no page-cache flush can help): all must hold N.
 * Once for each of fsync, msync(MS_SYNC), sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER),
 * fdatasync and syncfs, with the MR registered throughout. On a kernel with the series, each
 * sync must also count every pinned page as written, and written the way the disk asks: in place
 * (pin_writeback_inplace) where it needs no stable pages, as the rig's disk, and from a copy
 * (pin_writeback_bounce) where it does (queue/stable_writes: dm-integrity, tests stable and
 * mempressure).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "fsync/msync/sync_file_range/fdatasync/syncfs persist RDMA writes to a registered file MR";

#define NBLK 256

static int do_sync(int how, struct pw_fmr *f)
{
	switch (how) {
	case 0: return fsync(f->fd);
	case 1: return msync(f->addr, f->len, MS_SYNC);
	case 2: return sync_file_range(f->fd, 0, f->len, SYNC_FILE_RANGE_WAIT_BEFORE |
				       SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
	case 3: return fdatasync(f->fd);
	default: return syncfs(f->fd);
	}
}

static const char *const sync_name[] = {
	"fsync", "msync(MS_SYNC)", "sync_file_range", "fdatasync", "syncfs",
};
#define NR_SYNC 5

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("persist.dat");
	char dev[64], seen[512] = "";
	size_t lost = 0;
	struct pw_rig r;
	uint64_t *map;
	long long bounce0, bounce1, inplace0, inplace1;
	int stable;
	int how, ret;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(3 * NR_SYNC);
	/* Registration write-faulted every page: persist that state, then map the blocks. */
	if (fsync(r.f.fd))
		pw_die("first fsync: %s", strerror(errno));
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	for (size_t i = 0; i < NBLK; i++)
		if (map[i] == PW_NOT_ON_DISK)
			pw_die("block %zu of %s has no allocated block after fsync", i, path);
	stable = pw_stable_writes(path);
	if (stable < 0)
		pw_die("cannot read queue/stable_writes of the device under %s", path);
	pw_info("%s: the disk %s stable pages (queue/stable_writes %d)", dev,
		stable ? "asks for" : "does not ask for", stable);

	for (how = 0; how < NR_SYNC; how++) {
		uint32_t gen = 2 + how;
		struct pw_tally cpu, disk;
		char *buf;

		ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, gen);
		pw_tally(r.f.addr, 0, NBLK, gen, &cpu);
		pw_ok(!ret && cpu.n[PW_BLK_OK] == NBLK, "%s: generation %u RDMA-written (CPU view: %s)",
		      sync_name[how], gen, pw_tally_str(&cpu));
		bounce0 = pw_vmstat("pin_writeback_bounce");
		inplace0 = pw_vmstat("pin_writeback_inplace");
		if (do_sync(how, &r.f))
			pw_info("%s failed: %s", sync_name[how], strerror(errno));
		bounce1 = pw_vmstat("pin_writeback_bounce");
		inplace1 = pw_vmstat("pin_writeback_inplace");
		/* The series' counters: every pinned page written, the way the disk asks. */
		if (bounce0 < 0)
			pw_skip("%s: no pin_writeback_bounce in /proc/vmstat (kernel without the series)",
				sync_name[how]);
		else if (stable)
			pw_ok(bounce1 - bounce0 >= NBLK && (inplace0 < 0 || inplace1 - inplace0 == 0),
			      "%s: every pinned page written from a copy (the disk asks for stable pages): pin_writeback_bounce +%lld (want >= %d), pin_writeback_inplace +%lld (want 0)",
			      sync_name[how], bounce1 - bounce0, NBLK,
			      inplace0 < 0 ? -1 : inplace1 - inplace0);
		else
			pw_ok(inplace0 >= 0 && inplace1 - inplace0 >= NBLK && bounce1 - bounce0 == 0,
			      "%s: every pinned page written in place (the disk asks for no stable pages): pin_writeback_inplace %s%lld (want >= %d), pin_writeback_bounce +%lld (want 0)",
			      sync_name[how], inplace0 < 0 ? "absent (a series that always copies) " : "+",
			      inplace0 < 0 ? 0 : inplace1 - inplace0, NBLK, bounce1 - bounce0);
		buf = pw_read_disk(dev, map, NBLK);
		pw_tally(buf, 0, NBLK, gen, &disk);
		free(buf);
		pw_ok(disk.n[PW_BLK_OK] == NBLK, "%s: generation %u on disk (%s)", sync_name[how], gen,
		      pw_tally_str(&disk));
		lost += NBLK - disk.n[PW_BLK_OK];
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s%s %zu/%d",
			 how ? ", " : "", sync_name[how], disk.n[PW_BLK_OK], NBLK);
	}
	pw_seen("blocks on disk after each sync: %s", seen);
	pw_metric(lost, "blocks not persisted");

	pw_rig_close(&r);
	free(map);
	return pw_result();
}
