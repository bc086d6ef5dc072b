// SPDX-License-Identifier: GPL-2.0
/*
 * xfs_policy: which XFS files accept a writable long-term pin, and what a registered file
 * refuses. Runs on the scratch filesystem when it is XFS with reflink (make check FS=xfs:
 * mkfs.xfs's default since xfsprogs 5.1); skips otherwise.
 *
 * A device writing through a long-term pin never faults, so XFS cannot prepare the
 * copy-on-write that a write to a shared (reflinked) block needs. The series lets XFS accept
 * these pins only for files whose blocks are overwritten in place, and keeps them so while
 * pinned:
 *  1. a plain file registers, and RDMA writes show through the CPU mapping;
 *  2. FICLONE from the registered file into a new file fails with EBUSY (its blocks would be
 *     shared while a device writes them in place), and so does FICLONE of another file into
 *     the registered one;
 *  3. once the MR is gone and the file synced, the same FICLONE succeeds (the file is then
 *     reflinked);
 *  4. the reflinked source and the clone are refused at registration with EFAULT, as upstream
 *     refuses every XFS file since 6.5.
 * A kernel that refuses the first registration (EFAULT, without the series) is REFUSED.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "XFS: a plain file registers; FICLONE into or out of a registered file fails with EBUSY; reflinked files get EFAULT";

#define NBLK 16
#define ACCESS (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE)

/*
 * FICLONE of the whole of src into dst; 0 or the errno. dst is created, or truncated first with
 * trunc (never the registered file: a truncate takes its pages out of the page cache, pinned or
 * not, as on ext4).
 */
static int clone_file(const char *src, const char *dst, bool trunc)
{
	int s, d, err = 0;

	s = open(src, O_RDONLY);
	if (s < 0)
		pw_die("open %s: %s", src, strerror(errno));
	d = open(dst, O_RDWR | O_CREAT | (trunc ? O_TRUNC : 0), 0644);
	if (d < 0)
		pw_die("open %s: %s", dst, strerror(errno));
	if (ioctl(d, FICLONE, s))
		err = errno;
	close(d);
	close(s);
	return err;
}

/* Register a writable MR over the whole of path: 0 or the errno; the MR is gone after. */
static int try_register(struct pw_dev *d, const char *path)
{
	struct pw_fmr f;
	int err;

	err = -pw_fmr_open(d, &f, path, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE, ACCESS);
	pw_fmr_close(&f);
	return err;
}

int pw_test(int argc, char **argv)
{
	char path[256], clone[256], other[256];
	struct pw_rig r;
	struct statfs sf;
	struct pw_tally t;
	int err, err_out, err_in, err_src, err_dst, ret, fd;
	long long pins0;

	(void)argc; (void)argv;
	if (statfs(pw_scratch(), &sf))
		pw_die("statfs %s: %s", pw_scratch(), strerror(errno));
	if (sf.f_type != XFS_SUPER_MAGIC)
		pw_skip_all("%s is not XFS (make check FS=xfs runs this test)", pw_scratch());
	/* pw_path() returns a buffer of its own, the same at every call. */
	snprintf(path, sizeof(path), "%s", pw_path("xfs_policy.dat"));
	snprintf(clone, sizeof(clone), "%s", pw_path("xfs_policy.clone"));
	snprintf(other, sizeof(other), "%s", pw_path("xfs_policy.other"));
	close(pw_make_file(other, NBLK, 1));	/* dies if it cannot */
	/* Does this XFS share blocks at all? Without reflink, FICLONE says EOPNOTSUPP. */
	err = clone_file(other, clone, true);
	unlink(clone);
	if (err)
		pw_skip_all("FICLONE on this XFS fails with %s (mkfs.xfs -m reflink=1 needed)",
			    pw_errname(err));

	pw_plan(6);
	pins0 = pw_pins_outstanding();
	pw_rig_open(&r, path, NBLK, 16);	/* REFUSED (exit 5) on a kernel without the series */
	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 3);
	pw_tally(r.f.addr, 0, NBLK, 3, &t);
	pw_ok(!ret && t.n[PW_BLK_OK] == NBLK, "plain XFS file registered, RDMA writes visible (%s)",
	      pw_tally_str(&t));

	err_out = clone_file(path, clone, true);
	pw_ok(err_out == EBUSY, "FICLONE out of the registered file: %s (want EBUSY)",
	      pw_errname(err_out));
	unlink(clone);
	err_in = clone_file(other, path, false);
	pw_ok(err_in == EBUSY, "FICLONE into the registered file: %s (want EBUSY)", pw_errname(err_in));
	/* A clone into the file that went through would have replaced the device's data. */
	pw_tally(r.f.addr, 0, NBLK, 3, &t);
	if (!err_in)
		pw_info("after that clone the CPU view is %s", pw_tally_str(&t));

	/* The MR gone (the rest of the rig stays for the registrations below), the file synced. */
	pw_fmr_close(&r.f);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fsync(fd))
		pw_die("fsync %s: %s", path, strerror(errno));
	close(fd);
	err = clone_file(path, clone, true);
	pw_ok(!err, "FICLONE out of the file once deregistered and synced: %s", pw_errname(err));

	err_src = try_register(&r.d, path);
	pw_ok(err_src == EFAULT, "registration of the reflinked source: %s (want EFAULT)",
	      pw_errname(err_src));
	err_dst = err ? -1 : try_register(&r.d, clone);
	pw_ok(err_dst == EFAULT, "registration of the clone: %s (want EFAULT)",
	      err_dst < 0 ? "no clone" : pw_errname(err_dst));

	pw_pins_settle(pins0, 5000);
	pw_seen("registered: FICLONE out %s, in %s; after: clone %s, registration of source %s, of clone %s",
		pw_errname(err_out), pw_errname(err_in), pw_errname(err), pw_errname(err_src),
		err_dst < 0 ? "-" : pw_errname(err_dst));
	unlink(clone);
	unlink(other);
	unlink(path);
	pw_src_destroy(&r.src);
	pw_qp_pair_destroy(&r.qp);
	pw_dev_close(&r.d);
	return pw_result();
}
