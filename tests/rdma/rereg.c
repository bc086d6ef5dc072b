// SPDX-License-Identifier: GPL-2.0
/*
 * rereg: a read-only MR cannot be made writable by ibv_rereg_mr(), and no RDMA WRITE reaches the
 * file behind it (review finding 1.1: a rereg of a read-only MR's access flags kept the umem
 * pinned for read and gave the device write access to pages it had never pinned for write; on a
 * file opened O_RDONLY that is a write into a file the process could not write). A file is
 * written (generation 1), fsync'd, opened O_RDONLY, mapped PROT_READ MAP_SHARED and registered
 * with IBV_ACCESS_REMOTE_READ. Then:
 *  - a rereg of the access flags (IB_MR_REREG_ACCESS) to LOCAL_WRITE | REMOTE_WRITE must fail:
 *    drivers that implement it check it with ib_umem_check_rereg() (upstream badad6fad60d;
 *    6.12.95's rxe does), rxe on 6.1 has no rereg at all (EOPNOTSUPP). rdma-core 44's rxe
 *    provider has no rereg either (ibv_rereg_mr() returns EOPNOTSUPP without asking the kernel),
 *    so the test sends the uverbs REREG_MR command itself, as a provider that has one would.
 *    The refusal must be the one expected: EACCES where rxe has rereg (6.12: and a rereg to
 *    another read-only access must succeed, so that the command itself is known to work),
 *    EOPNOTSUPP on 6.1's rxe;
 *  - an RDMA WRITE of generation 2 to the MR, through the rkey it has after that call, must
 *    fail with a remote access error (the MR is still read-only);
 *  - the file must still hold generation 1: through read(2) while the MR is still registered
 *    (the page cache pages are the pinned ones), through read(2) after deregistration and
 *    dropped caches, and on the device (O_DIRECT at the file's extents).
 * A kernel that cannot register the read-only MR at all (Debian's 6.1: FOLL_FORCE|FOLL_WRITE on
 * a PROT_READ mapping, EFAULT) skips the test: there is nothing to rereg.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <rdma/ib_user_verbs.h>

#include "lib/pinwb.h"

const char pw_description[] = "ibv_rereg_mr cannot make a read-only MR over an O_RDONLY file writable, and no RDMA WRITE reaches the file";

#define NBLK 16
#define GEN 1

/*
 * IB_USER_VERBS_CMD_REREG_MR through the legacy write() interface: change only the access flags
 * of mr (IB_MR_REREG_ACCESS, which is IBV_REREG_MR_CHANGE_ACCESS). On success the MR's keys are
 * the ones the kernel returns. Returns 0 or -errno.
 */
static int rereg_access(struct ibv_mr *mr, int access)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_rereg_mr cmd;
	} req;
	struct ib_uverbs_rereg_mr_resp resp;

	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	req.hdr.command = IB_USER_VERBS_CMD_REREG_MR;
	req.hdr.in_words = sizeof(req) / 4;
	req.hdr.out_words = sizeof(resp) / 4;
	req.cmd.response = (uintptr_t)&resp;
	req.cmd.mr_handle = mr->handle;
	req.cmd.flags = IBV_REREG_MR_CHANGE_ACCESS;
	req.cmd.access_flags = access;
	if (write(mr->context->cmd_fd, &req, sizeof(req)) != (ssize_t)sizeof(req))
		return -errno;
	mr->lkey = resp.lkey;
	mr->rkey = resp.rkey;
	return 0;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("rereg.dat");
	struct pw_tally pinned, cache, disk;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	uint64_t *map;
	char dev[256], *buf;
	int fd, err, ret, wr_failed;
	struct utsname uts;
	bool has_rereg;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	fd = pw_make_file(path, NBLK, GEN);
	close(fd);
	map = pw_block_map(path, NBLK, dev, sizeof(dev));

	err = -pw_fmr_open(&d, &f, path, NBLK * PW_BLOCK, PROT_READ, IBV_ACCESS_REMOTE_READ);
	if (err)
		pw_skip_all("read-only MR over an O_RDONLY file's PROT_READ mapping not registered (%s): nothing to rereg",
			    pw_errname(err));
	pw_plan(6);

	/* 1. The command works: another read-only access (where rxe has rereg at all). */
	if (uname(&uts))
		pw_die("uname: %s", strerror(errno));
	has_rereg = strncmp(uts.release, "6.1.", 4) != 0;
	ret = rereg_access(f.mr, 0);
	if (has_rereg)
		pw_ok(!ret, "rereg of the access flags to another read-only access (0) succeeds (%s)",
		      ret ? pw_errname(-ret) : "0");
	else
		pw_ok(ret == -EOPNOTSUPP, "rereg on %s's rxe, which has none: EOPNOTSUPP (%s)",
		      uts.release, ret ? pw_errname(-ret) : "it succeeded");

	/* 2. Make it writable: must be refused, with the error of the kernel's rereg. */
	ret = rereg_access(f.mr, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			   IBV_ACCESS_REMOTE_READ);
	err = -ret;
	pw_ok(ret == (has_rereg ? -EACCES : -EOPNOTSUPP),
	      "rereg of the access flags to LOCAL_WRITE|REMOTE_WRITE refused with %s (%s)",
	      has_rereg ? "EACCES" : "EOPNOTSUPP", ret ? pw_errname(err) : "it succeeded");

	/* 2. Write through it anyway, with the rkey it has now. */
	pw_qp_pair_create(&d, &qp, 16);
	pw_src_create(&d, &src, NBLK);
	wr_failed = pw_write_gen(&qp, &src, f.mr, 0, NBLK, GEN + 1) != 0;
	pw_ok(wr_failed, "RDMA WRITE to the read-only MR %s", wr_failed ? "failed" : "completed");

	/* 3. The file: generation 1 in the pinned page cache, after it and on the device. */
	buf = malloc(NBLK * PW_BLOCK);
	if (!buf || pread(f.fd, buf, NBLK * PW_BLOCK, 0) != NBLK * PW_BLOCK)
		pw_die("read %s: %s", path, strerror(errno));
	pw_tally(buf, 0, NBLK, GEN, &pinned);
	pw_ok(pinned.n[PW_BLK_OK] == NBLK,
	      "read(2) while registered: the pinned pages hold generation %d (%s)", GEN,
	      pw_tally_str(&pinned));
	pw_fmr_close(&f);
	pw_drop_caches();
	fd = open(path, O_RDONLY);
	if (!buf || fd < 0 || pread(fd, buf, NBLK * PW_BLOCK, 0) != NBLK * PW_BLOCK)
		pw_die("read %s: %s", path, strerror(errno));
	close(fd);
	pw_tally(buf, 0, NBLK, GEN, &cache);
	free(buf);
	pw_ok(cache.n[PW_BLK_OK] == NBLK, "read(2) after deregistration: the file holds generation %d (%s)", GEN,
	      pw_tally_str(&cache));
	sync();
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, GEN, &disk);
	free(buf);
	pw_ok(disk.n[PW_BLK_OK] == NBLK, "on disk: the file holds generation %d (%s)", GEN,
	      pw_tally_str(&disk));
	pw_seen("rereg to write access: %s; RDMA WRITE: %s; file: %zu of %d blocks unchanged in the pinned pages, %zu on disk",
		ret ? pw_errname(err) : "ACCEPTED", wr_failed ? "failed" : "completed",
		pinned.n[PW_BLK_OK], NBLK, disk.n[PW_BLK_OK]);

	free(map);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
