// SPDX-License-Identifier: GPL-2.0
/*
 * idle: an idle registered range costs the flusher O(1) per pass, not a visit to every pinned
 * page, and the rest of the file is still cleaned on time (issue 20).
 *
 * A 16 MiB ext4 file MR (NBLK blocks) followed by a 1 MiB tail that is not registered, all
 * written and fsync'd first, so every block is allocated and its place on the device known.
 * The device writes the MR, fsync, then background writeback is made eager
 * (vm.dirty_expire_centisecs 100, vm.dirty_writeback_centisecs 50, restored afterwards), and
 * after the first idle window the device writes the MR again and a second fsync writes it (one
 * that skips the reverse-map walk of pages that are pin-dirty but not dirty):
 *  1. after the first passes, IDLE_S seconds without any change: cleaning writeback looks at
 *     no pinned page (pin_writeback_skip does not grow) and still passes over the file
 *     (pin_writeback_idle grows, so the flusher did run);
 *  2. CPU writes without any sync - write(2) into the tail, and a store through the mapping
 *     into block 0 of the MR, whose page fsync write-protected - reach the device within
 *     CLEAN_S seconds (read back from the block device);
 *  3. once those are written, the file is idle again: the same check as 1;
 *  4. fsync still writes everything the device wrote (read back from the block device);
 *  5. the device writes the MR once more and the MR is deregistered, which marks its pages
 *     dirty (ib_umem_release()): cleaning writeback writes them within CLEAN_S seconds, with
 *     no sync.
 * 6.1 v3 and 6.12 v1 locked and skipped every pinned page at every pass (pin_writeback_skip
 * grew by NBLK per pass); a kernel without the series has no such counters (skipped).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "an idle 16 MiB ext4 file MR costs the flusher no page visits; CPU writes to the file are still cleaned on time";

#define NBLK 4096	/* the MR: 16 MiB */
#define TAIL 256	/* then 1 MiB written by the CPU only */
#define SETTLE_S 3
#define IDLE_S 5
#define CLEAN_S 15

/* One idle window: pin_writeback_skip must not grow, pin_writeback_idle must. */
static long long idle_window(const char *when)
{
	long long skip0, skip1, idle0, idle1;

	sleep(SETTLE_S);
	skip0 = pw_vmstat("pin_writeback_skip");
	idle0 = pw_vmstat("pin_writeback_idle");
	sleep(IDLE_S);
	skip1 = pw_vmstat("pin_writeback_skip");
	idle1 = pw_vmstat("pin_writeback_idle");
	pw_ok(skip1 == skip0,
	      "%s: %d s idle, cleaning writeback visited %lld pinned pages (pin_writeback_skip; want 0)",
	      when, IDLE_S, skip1 - skip0);
	if (idle0 < 0)
		pw_ok(false, "%s: no pin_writeback_idle in /proc/vmstat: cannot tell that the flusher passed over the file",
		      when);
	else
		pw_ok(idle1 - idle0 >= 2,
		      "%s: the flusher passed over the idle file %lld times in %d s (pin_writeback_idle; want >= 2)",
		      when, idle1 - idle0, IDLE_S);
	return skip1 - skip0;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("idle.dat");
	char dev[64], blk[PW_BLOCK], *buf, *tail;
	struct pw_tally t;
	struct pw_rig r;
	uint64_t *map;
	long long visits[2];
	double took, clean;
	int ret, i;

	(void)argc; (void)argv;
	pw_scratch_quiesce();

	close(pw_make_file(path, NBLK + TAIL, 1));
	map = pw_block_map(path, NBLK + TAIL, dev, sizeof(dev));
	for (i = 0; i < NBLK + TAIL; i++)
		if (map[i] == PW_NOT_ON_DISK)
			pw_die("block %d of %s has no allocated block after fsync", i, path);

	pw_rig_open(&r, path, NBLK, 64);
	if (pw_vmstat("pin_writeback_skip") < 0)
		pw_skip_all("no pin_writeback_skip in /proc/vmstat (kernel without the series)");
	pw_plan(9);

	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2);
	pw_ok(!ret, "%d RDMA writes into the registered file MR completed", NBLK);
	if (fsync(r.f.fd))
		pw_die("fsync: %s", strerror(errno));

	pw_writeback_eager(100, 50);

	visits[0] = idle_window("after the fsync");

	/*
	 * The device writes again and a second fsync writes the MR from copies: the pages are
	 * pin-dirty and not dirty now, so this writeback skips their reverse-map walk (patch 18 of
	 * 6.1); the PTEs the first fsync write-protected must still be write-protected.
	 */
	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2);
	if (ret || fsync(r.f.fd))
		pw_die("second device pass and fsync: %s", ret ? "RDMA write failed" : strerror(errno));

	/*
	 * CPU writes, no sync: one write(2) of the whole tail, a store into the MR's block 0.
	 */
	tail = malloc((size_t)TAIL * PW_BLOCK);
	if (!tail)
		pw_die("out of memory");
	for (i = 0; i < TAIL; i++)
		pw_fill_block(tail + (size_t)i * PW_BLOCK, NBLK + i, 3);
	if (pwrite(r.f.fd, tail, (size_t)TAIL * PW_BLOCK, (off_t)NBLK * PW_BLOCK) !=
	    (ssize_t)TAIL * PW_BLOCK)
		pw_die("write %s: %s", path, strerror(errno));
	free(tail);
	pw_fill_block(blk, 0, 3);
	memcpy(r.f.addr, blk, PW_BLOCK);
	took = pw_wait_on_disk(dev, map, NBLK, TAIL, 3, CLEAN_S, &t);
	pw_ok(took >= 0, "write(2) of the 1 MiB tail on disk without a sync: %s after %.1f s (want all %d within %d s)",
	      pw_tally_str(&t), took < 0 ? (double)CLEAN_S : took, TAIL, CLEAN_S);
	took = pw_wait_on_disk(dev, map, 0, 1, 3, CLEAN_S, &t);
	pw_ok(took >= 0, "a store through the mapping into the MR's block 0 on disk without a sync: %s (want within %d s)",
	      pw_tally_str(&t), CLEAN_S);

	visits[1] = idle_window("after the CPU's writes were cleaned");

	if (fsync(r.f.fd))
		pw_die("fsync: %s", strerror(errno));
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf + PW_BLOCK, 1, NBLK - 1, 2, &t);
	free(buf);
	pw_ok(t.n[PW_BLK_OK] == NBLK - 1,
	      "after fsync, blocks 1..%d on disk: %s (want all of the device's generation 2)",
	      NBLK - 1, pw_tally_str(&t));

	/* The device writes once more; deregistration marks the pages dirty: cleaned, no sync. */
	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 4);
	pw_fmr_dereg(&r.f);
	took = pw_wait_on_disk(dev, map, 0, NBLK, 4, CLEAN_S, &t);
	clean = took;
	pw_ok(!ret && took >= 0,
	      "the device's last writes, MR deregistered, on disk without a sync: %s after %.1f s (want all %d within %d s)",
	      pw_tally_str(&t), took < 0 ? (double)CLEAN_S : took, NBLK, CLEAN_S);
	pw_sysctl_restore();
	pw_seen("16 MiB ext4 file MR, expire 1 s, writeback every 0.5 s: %lld and %lld pinned pages visited in two %d s idle windows; CPU writes cleaned without a sync; after deregistration the device's last writes on disk %s",
		visits[0], visits[1], IDLE_S, clean < 0 ? "not within the limit" : "without a sync");
	pw_metric(visits[0] + visits[1], "pinned page visits while idle");

	free(map);
	pw_rig_close(&r);
	return pw_result();
}
