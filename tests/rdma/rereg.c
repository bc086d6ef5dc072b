// SPDX-License-Identifier: GPL-2.0
/*
 * rereg: a read-only MR cannot be made writable by ibv_rereg_mr(), and no RDMA WRITE reaches the
 * file behind it (review finding 1.1: a rereg of a read-only MR's access flags kept the umem
 * pinned for read and gave the device write access to pages it had never pinned for write; on a
 * file opened O_RDONLY that is a write into a file the process could not write). A file is
 * written (generation 1), fsync'd, opened O_RDONLY, mapped PROT_READ MAP_SHARED and registered
 * with IBV_ACCESS_REMOTE_READ. Then:
 *  - ibv_rereg_mr(IBV_REREG_MR_CHANGE_ACCESS) to LOCAL_WRITE | REMOTE_WRITE must fail: drivers
 *    that implement rereg check it with ib_umem_check_rereg() (upstream badad6fad60d; 6.12.95's
 *    rxe does), rxe on 6.1 has no rereg at all (EOPNOTSUPP);
 *  - an RDMA WRITE of generation 2 to the MR, through the rkey it has after that call, must
 *    fail with a remote access error (the MR is still read-only);
 *  - the file must still hold generation 1, through read(2) after the caches are dropped and on
 *    the device (O_DIRECT at the file's extents).
 * A kernel that cannot register the read-only MR at all (Debian's 6.1: FOLL_FORCE|FOLL_WRITE on
 * a PROT_READ mapping, EFAULT) skips the test: there is nothing to rereg.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "ibv_rereg_mr cannot make a read-only MR over an O_RDONLY file writable, and no RDMA WRITE reaches the file";

#define NBLK 16
#define GEN 1

static const char *errname(int err)
{
	return strerrorname_np(err) ?: strerror(err);
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("rereg.dat");
	struct pw_tally cache, disk;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	uint64_t *map;
	char dev[256], *buf;
	int fd, err, ret, wr_failed;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	fd = pw_make_file(path, NBLK, GEN);
	close(fd);
	map = pw_block_map(path, NBLK, dev, sizeof(dev));

	err = -pw_fmr_open(&d, &f, path, NBLK * PW_BLOCK, PROT_READ, IBV_ACCESS_REMOTE_READ);
	if (err)
		pw_skip_all("read-only MR over an O_RDONLY file's PROT_READ mapping not registered (%s): nothing to rereg",
			    errname(err));
	pw_plan(4);

	/* 1. Make it writable: must be refused. */
	ret = ibv_rereg_mr(f.mr, IBV_REREG_MR_CHANGE_ACCESS, NULL, NULL, 0,
			   IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			   IBV_ACCESS_REMOTE_READ);
	err = errno;
	pw_ok(ret != 0, "ibv_rereg_mr to LOCAL_WRITE|REMOTE_WRITE refused (%s)",
	      ret ? errname(err) : "it succeeded");
	if (ret == IBV_REREG_MR_ERR_CMD || ret == IBV_REREG_MR_ERR_CMD_AND_DO_FORK_NEW) {
		/* The MR is not usable after such a failure: register it again, read-only. */
		pw_info("rereg left the MR unusable (%d): registering it again read-only", ret);
		pw_fmr_dereg(&f);
		f.mr = pw_reg_mr(d.pd, f.addr, NBLK * PW_BLOCK, IBV_ACCESS_REMOTE_READ);
		if (!f.mr)
			pw_die("ibv_reg_mr (again, read-only): %s", strerror(errno));
	}

	/* 2. Write through it anyway, with the rkey it has now. */
	pw_qp_pair_create(&d, &qp, 16);
	pw_src_create(&d, &src, NBLK);
	wr_failed = pw_write_gen(&qp, &src, f.mr, 0, NBLK, GEN + 1) != 0;
	pw_ok(wr_failed, "RDMA WRITE to the read-only MR %s", wr_failed ? "failed" : "completed");

	/* 3. The file: generation 1 in the page cache and on the device. */
	pw_fmr_close(&f);
	pw_drop_caches();
	buf = malloc(NBLK * PW_BLOCK);
	fd = open(path, O_RDONLY);
	if (!buf || fd < 0 || pread(fd, buf, NBLK * PW_BLOCK, 0) != NBLK * PW_BLOCK)
		pw_die("read %s: %s", path, strerror(errno));
	close(fd);
	pw_tally(buf, 0, NBLK, GEN, &cache);
	free(buf);
	pw_ok(cache.n[PW_BLK_OK] == NBLK, "read(2): the file holds generation %d (%s)", GEN,
	      pw_tally_str(&cache));
	sync();
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, GEN, &disk);
	free(buf);
	pw_ok(disk.n[PW_BLK_OK] == NBLK, "on disk: the file holds generation %d (%s)", GEN,
	      pw_tally_str(&disk));
	pw_seen("rereg to write access: %s; RDMA WRITE: %s; file: %zu of %d blocks unchanged on disk",
		ret ? errname(err) : "ACCEPTED", wr_failed ? "failed" : "LANDED",
		disk.n[PW_BLK_OK], NBLK);

	free(map);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
