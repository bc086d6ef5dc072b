// SPDX-License-Identifier: GPL-2.0
/*
 * readpin: a read-only long-term pin never makes a page look modified. A 16 MiB ext4 file is
 * written with write() (its pages dirty, not synced), mapped MAP_SHARED read-write, and
 * registered as a read-only MR (IBV_ACCESS_REMOTE_READ: ib_umem pins it without FOLL_WRITE).
 * The device RDMA-READs it (and must see what was written). Then, with the MR registered:
 *  - the first fsync writes the file (the pages were dirty);
 *  - a second fsync, with no write in between, writes 0 sectors to the device
 *    (/sys/block/<dev>/stat), where a kernel that took every pinned page for a written one
 *    would rewrite all 16 MiB;
 *  - after one block is rewritten with pwrite(), the next fsync writes at most 64 KiB (that
 *    block, the inode, the journal), not the pinned range.
 * For comparison it reports, not asserts, what the second of two fsyncs writes with a writable
 * MR over the same file: the whole range, since a device's writes are invisible.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "a read-only MR over a dirty ext4 file: a second fsync writes nothing";

#define NBLK 4096
#define DEPTH 32
#define MAX_ONE_KIB 64

/* Sectors written to the file's device by one fsync of fd. */
static long long fsync_sectors(int fd, const char *path)
{
	long long s0 = pw_dev_sectors_written(path), s1;

	if (s0 < 0)
		pw_die("no write counter for the device of %s", path);
	if (fsync(fd))
		pw_die("fsync: %s", strerror(errno));
	s1 = pw_dev_sectors_written(path);
	return s1 - s0;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("readpin.dat");
	long long first, second, one, wsecond = -1;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_tally t;
	struct pw_fmr f;
	struct pw_dev d;
	struct ibv_mr *wmr;
	char *buf, *blk;
	size_t i;
	int fd, ret, err = 0;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(4);
	pw_qp_pair_create(&d, &qp, DEPTH);
	pw_src_create(&d, &src, DEPTH);
	pw_scratch_quiesce();

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	blk = malloc(PW_BLOCK);
	if (fd < 0 || !blk)
		pw_die("create %s: %s", path, strerror(errno));
	for (i = 0; i < NBLK; i++) {
		pw_fill_block(blk, i, 1);
		if (pwrite(fd, blk, PW_BLOCK, i * PW_BLOCK) != PW_BLOCK)
			pw_die("write %s: %s", path, strerror(errno));
	}

	ret = pw_fmr_open(&d, &f, path, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_REMOTE_READ);
	if (ret)
		pw_die("read-only ibv_reg_mr over %s: %s", path, strerror(-ret));

	/* The device reads the dirty page cache, DEPTH blocks at a time, through the source MR. */
	buf = malloc((size_t)NBLK * PW_BLOCK);
	if (!buf)
		pw_die("out of memory");
	for (i = 0; i < NBLK; i += DEPTH) {
		size_t j;

		for (j = 0; j < DEPTH; j++)
			if (pw_post_read(&qp, src.mr, j * PW_BLOCK,
					 (uintptr_t)f.mr->addr + (i + j) * PW_BLOCK, f.mr->rkey,
					 PW_BLOCK))
				err = -1;
		if (pw_drain(&qp))
			err = -1;
		memcpy(buf + i * PW_BLOCK, src.buf, DEPTH * PW_BLOCK);
	}
	pw_tally(buf, 0, NBLK, 1, &t);
	free(buf);
	pw_ok(!err && t.n[PW_BLK_OK] == NBLK, "RDMA READ of the read-only MR: %s", pw_tally_str(&t));

	first = fsync_sectors(f.fd, path);
	pw_ok(first >= NBLK * (PW_BLOCK / 512), "first fsync wrote %lld KiB (the %d MiB written before)",
	      first / 2, NBLK / 256);
	second = fsync_sectors(f.fd, path);
	pw_ok(second == 0, "second fsync with the read-only MR registered wrote %lld KiB (want 0)",
	      second / 2);

	pw_fill_block(blk, 7, 2);
	if (pwrite(fd, blk, PW_BLOCK, 7 * PW_BLOCK) != PW_BLOCK)
		pw_die("write %s: %s", path, strerror(errno));
	one = fsync_sectors(f.fd, path);
	pw_ok(one > 0 && one / 2 <= MAX_ONE_KIB,
	      "after rewriting one block, fsync wrote %lld KiB (want 4..%d)", one / 2, MAX_ONE_KIB);
	pw_fmr_dereg(&f);

	/* For comparison: the same with a writable MR (reported, not asserted). */
	pw_fmr_close(&f);
	ret = pw_fmr_open(&d, &f, path, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	wmr = ret ? NULL : f.mr;
	if (wmr) {
		fsync_sectors(f.fd, path);
		wsecond = fsync_sectors(f.fd, path);
		pw_info("for comparison, with a writable MR the second of two fsyncs wrote %lld KiB",
			wsecond / 2);
	} else {
		pw_info("for comparison: a writable MR over the file could not be registered: %s",
			strerror(-ret));
	}
	pw_seen("read-only MR over a dirty %d MiB file: fsyncs wrote %lld, %lld, then %lld KiB after a one-block write (writable MR, second fsync: %lld KiB)",
		NBLK / 256, first / 2, second / 2, one / 2, wsecond < 0 ? -1 : wsecond / 2);
	pw_metric(second / 2, "KiB written by the second fsync");

	pw_fmr_close(&f);
	close(fd);
	free(blk);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
