// SPDX-License-Identifier: GPL-2.0
/*
 * background: memory-cleaning writeback leaves what only the device wrote to data-integrity
 * writeback, and loses none of it. Register 64 MiB (16384 blocks) of an ext4 file, RDMA-write
 * it once, fsync, then make background writeback eager (vm.dirty_expire_centisecs 500,
 * vm.dirty_writeback_centisecs 100, restored afterwards), RDMA-write a second generation into
 * the whole MR and stay idle for 30 s, counting what the device is written (sectors from
 * /sys/block/<dev>/stat; the scratch ext4 is remounted noinit_itable first so its lazy
 * inode-table zeroing does not count). At most 64 KiB (journal, metadata) may be written while
 * idle: rewriting an idle pinned range at every pass is I/O for nothing. Then fsync and read the
 * blocks straight from the device (O_DIRECT at the file's extents): all 16384 must hold the
 * second generation, which only the device wrote and which cleaning writeback skipped.
 * On a stock kernel the idle part passes (the pages are clean and RDMA does not dirty them) and
 * the fsync writes nothing: the second generation is lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "cleaning writeback skips what only RDMA wrote into a 64 MiB ext4 file MR; the next fsync writes it";

#define NBLK 16384
#define IDLE_S 30
#define STEP_S 5
#define MAX_KIB 64

static const char *const knob[] = {
	"/proc/sys/vm/dirty_expire_centisecs", "/proc/sys/vm/dirty_writeback_centisecs",
};
static const long want[] = { 500, 100 };

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("background.dat");
	long long s0, s, prev, kib, skip0, skip1, idle0, idle1, bounce0, bounce1, inplace0, inplace1, saved[2];
	struct pw_qp_pair qp;
	struct pw_tally tally;
	uint64_t *map;
	char dev[64], *buf;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	double t;
	int ret, i;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(5);
	pw_qp_pair_create(&d, &qp, 32);
	pw_src_create(&d, &src, 64);
	pw_scratch_quiesce();

	t = pw_now();
	ret = pw_fmr_open(&d, &f, path, (size_t)NBLK * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("ibv_reg_mr over %s (%d MiB): %s", path, NBLK / 256, strerror(-ret));
	pw_info("registered %d MiB in %.1f s", NBLK / 256, pw_now() - t);
	t = pw_now();
	ret = pw_write_gen(&qp, &src, f.mr, 0, NBLK, 1);
	pw_info("RDMA-wrote %d blocks in %.1f s", NBLK, pw_now() - t);
	pw_ok(!ret, "%d RDMA writes into the registered file MR completed", NBLK);
	t = pw_now();
	if (fsync(f.fd))
		pw_die("fsync: %s", strerror(errno));
	sync();
	pw_info("fsync + sync in %.1f s", pw_now() - t);

	for (i = 0; i < 2; i++) {
		saved[i] = pw_sysctl_get(knob[i]);
		pw_sysctl_set(knob[i], want[i]);
	}
	pw_info("set vm.dirty_expire_centisecs=%ld (was %lld), vm.dirty_writeback_centisecs=%ld (was %lld)",
		want[0], saved[0], want[1], saved[1]);

	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	for (i = 0; i < NBLK; i++)
		if (map[i] == PW_NOT_ON_DISK)
			pw_die("block %d of %s has no allocated block after fsync", i, path);

	t = pw_now();
	ret = pw_write_gen(&qp, &src, f.mr, 0, NBLK, 2);
	pw_ok(!ret, "a second generation RDMA-written into all %d blocks (%.1f s)", NBLK, pw_now() - t);

	skip0 = pw_vmstat("pin_writeback_skip");
	idle0 = pw_vmstat("pin_writeback_idle");
	bounce0 = pw_vmstat("pin_writeback_bounce");
	inplace0 = pw_vmstat("pin_writeback_inplace");
	s0 = prev = pw_dev_sectors_written(path);
	if (s0 < 0)
		pw_die("no write counter for the device of %s", path);
	for (i = STEP_S; i <= IDLE_S; i += STEP_S) {
		sleep(STEP_S);
		s = pw_dev_sectors_written(path);
		pw_info("idle %2d s: %lld KiB written in the last %d s", i, (s - prev) / 2, STEP_S);
		prev = s;
	}
	kib = (prev - s0) / 2;
	skip1 = pw_vmstat("pin_writeback_skip");
	idle1 = pw_vmstat("pin_writeback_idle");
	bounce1 = pw_vmstat("pin_writeback_bounce");
	inplace1 = pw_vmstat("pin_writeback_inplace");
	pw_sysctl_restore();

	pw_ok(kib <= MAX_KIB, "%lld KiB written to the device in %d s idle (at most %d KiB allowed)",
	      kib, IDLE_S, MAX_KIB);
	/*
	 * With the series the pinned pages stay tagged dirty: cleaning writeback must look at the
	 * file and leave them, page by page (pin_writeback_skip) or, once it found the file idle,
	 * at once (pin_writeback_idle, issue 20).
	 */
	if (skip0 < 0)
		pw_skip("no pin_writeback_skip in /proc/vmstat (kernel without the series)");
	else
		pw_ok((skip1 > skip0 || (idle0 >= 0 && idle1 > idle0)) && bounce1 == bounce0 &&
		      inplace1 == inplace0,
		      "cleaning writeback looked at the pinned file and left its pages: pin_writeback_skip +%lld, pin_writeback_idle +%lld, pin_writeback_bounce +%lld, pin_writeback_inplace +%lld (want skip or idle > 0, bounce and inplace 0)",
		      skip1 - skip0, idle0 < 0 ? 0 : idle1 - idle0, bounce1 - bounce0,
		      inplace0 < 0 ? 0 : inplace1 - inplace0);

	t = pw_now();
	if (fsync(f.fd))
		pw_die("fsync: %s", strerror(errno));
	pw_info("fsync after the idle period in %.1f s", pw_now() - t);
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, 2, &tally);
	free(buf);
	pw_ok(tally.n[PW_BLK_OK] == NBLK,
	      "on disk after the fsync that followed the idle period: %s (want all %d of the second generation)",
	      pw_tally_str(&tally), NBLK);
	pw_seen("%lld KiB written to the device during %d s idle with a registered %d MiB ext4 file MR (expire 5 s, writeback every 1 s); after fsync %zu of %d blocks hold what RDMA wrote before the idle period",
		kib, IDLE_S, NBLK / 256, tally.n[PW_BLK_OK], NBLK);
	pw_metric(NBLK - (long long)tally.n[PW_BLK_OK], "blocks lost");
	free(map);

	pw_fmr_close(&f);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
