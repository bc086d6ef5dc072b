// SPDX-License-Identifier: GPL-2.0
/*
 * bs1k: long-term write pins on an ext4 whose blocks are smaller than a page (review finding
 * 1.4; the usual geometry of 4 KiB-block ext4 on 64 KiB-page arm64/ppc64le). Run by bs1k.sh on
 * an ext4 made with -b 1024. A file of 3 pages and 1 KiB is registered over 4 pages; then it is
 * truncated up to 4 pages, so that three blocks join the last, pinned page after the pin (as an
 * extending truncate, a fallocate over a sub-page hole or a partial punch would). A device
 * writing there never faults, so no ->page_mkwrite allocates those blocks. Either registration
 * is refused with a clear errno, or the device's data reaches the disk: generation 2 is
 * RDMA-written over the 4 pages, fsync'd, the MR deregistered and the file read with O_DIRECT.
 * v2 of the series registered and lost the three blocks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "on a 1 KiB-block ext4, a writable file MR is refused, or blocks that join a pinned page later still get the device's data";

#define NPAGES 4
#define LEN ((size_t)NPAGES * PW_BLOCK)

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("bs1k.dat");
	struct pw_qp_pair qp;
	struct pw_src src;
	struct statvfs sv;
	struct pw_tally t;
	struct ibv_mr *mr;
	struct pw_dev d;
	char *blk, *addr, *buf;
	int fd, err = 0;
	size_t i, lost = 0;

	(void)argc; (void)argv;
	if (statvfs(pw_scratch(), &sv))
		pw_die("statvfs %s: %s", pw_scratch(), strerror(errno));
	pw_dev_open(&d);
	pw_plan(3);
	pw_ok(sv.f_bsize == 1024, "premise: %s has 1 KiB blocks (%lu)", pw_scratch(), sv.f_bsize);
	pw_qp_pair_create(&d, &qp, 8);
	pw_src_create(&d, &src, 8);

	blk = malloc(PW_BLOCK);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !blk)
		pw_die("create %s: %s", path, strerror(errno));
	for (i = 0; i < NPAGES; i++) {
		size_t n = i < NPAGES - 1 ? PW_BLOCK : 1024;

		pw_fill_block(blk, i, 1);
		if (pwrite(fd, blk, n, i * PW_BLOCK) != (ssize_t)n)
			pw_die("write: %s", strerror(errno));
	}
	if (fsync(fd))
		pw_die("fsync: %s", strerror(errno));
	addr = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap: %s", strerror(errno));
	mr = pw_reg_mr(d.pd, addr, LEN, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (!mr)
		err = errno;
	pw_ok(mr || err == EFAULT, "registration: %s", mr ? "accepted" :
	      err == EFAULT ? "refused with EFAULT, as for a filesystem that has not opted in" :
	      strerror(err));
	if (mr) {
		int ret;

		if (ftruncate(fd, LEN))
			pw_die("ftruncate up: %s", strerror(errno));
		ret = pw_write_gen(&qp, &src, mr, 0, NPAGES, 2);
		if (fsync(fd))
			pw_info("fsync: %s", strerror(errno));
		ibv_dereg_mr(mr);
		if (fsync(fd))
			pw_info("fsync after deregistration: %s", strerror(errno));
		buf = pw_read_direct(path, 0, LEN);
		memset(&t, 0, sizeof(t));
		if (buf)
			pw_tally(buf, 0, NPAGES, 2, &t);
		free(buf);
		lost = ret ? NPAGES : NPAGES - t.n[PW_BLK_OK];
		pw_ok(!lost, "truncate up inside the pinned page, RDMA write, fsync: the device's data is in the file (%s)",
		      pw_tally_str(&t));
		pw_seen("registered; after truncate up + RDMA write + fsync: %s", pw_tally_str(&t));
	} else {
		pw_ok(!lost, "registration refused: no device write to lose");
		pw_seen("registration refused (%s)", strerror(err));
	}
	pw_metric(lost, "pages not persisted");
	munmap(addr, LEN);
	close(fd);
	free(blk);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
