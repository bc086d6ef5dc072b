// SPDX-License-Identifier: GPL-2.0
/*
 * hwpoison: memory failure of a page that only the device wrote is reported by fsync()
 * (review finding 1.8). A writable MR is registered over a file, generation 2 is RDMA-written
 * and fsync'ed, then the device writes generation 3: from now on block 0's page holds data that
 * exists nowhere else, although PG_dirty was never set on it. madvise(MADV_HWPOISON) on that
 * page makes the kernel handle it as a memory failure; the data is gone, so the next fsync()
 * must fail with EIO. A kernel that classifies the page by PG_dirty alone drops it as a clean
 * page and fsync() returns 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "MADV_HWPOISON on a pinned page the device wrote after the last fsync: the next fsync() returns EIO";

#define NBLK 16

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("hwpoison.dat");
	int ret, err, mret, merr;
	struct pw_rig r;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 16);
	pw_plan(3);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2) || fsync(r.f.fd))
		pw_die("generation 2: RDMA write or fsync failed");
	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 3);
	pw_ok(!ret, "generation 3 RDMA-written after the last fsync");

	/*
	 * The kernel may report the failure itself as not recovered (EBUSY: the MR's pin is an
	 * extra reference); what matters is what fsync() says afterwards. EPERM/EINVAL mean no
	 * memory-failure support at all, which is a broken rig, not a result.
	 */
	mret = madvise(r.f.addr, (size_t)sysconf(_SC_PAGESIZE), MADV_HWPOISON);
	merr = mret ? errno : 0;
	if (mret && merr != EBUSY && merr != EIO)
		pw_die("madvise(MADV_HWPOISON): %s (the kernel needs CONFIG_MEMORY_FAILURE and CAP_SYS_ADMIN)",
		       strerror(merr));
	pw_ok(true, "madvise(MADV_HWPOISON) on block 0's page: %s", mret ? strerror(merr) : "0");

	ret = fsync(r.f.fd);
	err = ret ? errno : 0;
	pw_ok(ret == -1 && err == EIO, "the next fsync() reports the lost page: %s (want EIO)",
	      ret ? strerror(err) : "returned 0");
	pw_seen("madvise %s, then fsync %s", mret ? strerror(merr) : "0", ret ? strerror(err) : "0");

	/* The poisoned page must not be touched again: deregister, unmap, close. */
	pw_rig_close(&r);
	return pw_result();
}
