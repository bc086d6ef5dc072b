// SPDX-License-Identifier: GPL-2.0
/*
 * fs_policy: which filesystems accept a writable long-term pin of a MAP_SHARED file mapping.
 * The same registration (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE over a 16-block
 * PROT_READ|PROT_WRITE MAP_SHARED mapping) on three filesystems, against the policy the patched
 * kernel has:
 *  - tmpfs (mounted here on a temporary directory): no writeback, always allowed: registration
 *    works and RDMA writes show through the CPU mapping;
 *  - ext4 ($PINWB_SCRATCH): opted in to pinned-page writeback: works, same check;
 *  - btrfs (mkfs.btrfs -f on $PINWB_DISK2, mounted on a temporary directory): has not opted in,
 *    so ibv_reg_mr must fail with EFAULT (what upstream 6.5+ answers for every filesystem that
 *    needs dirty tracking). Skipped, with the reason, when mkfs.btrfs, the disk or the kernel's
 *    btrfs is missing. Nothing is RDMA-written into btrfs if it registers anyway.
 * Mounts and temporary directories are removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "writable file MRs: tmpfs and ext4 register, a filesystem that has not opted in (btrfs) gets EFAULT";

#define NBLK 16
#define ACCESS (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE)

static char tmpfs_dir[64], btrfs_dir[64];
static bool tmpfs_mounted, btrfs_mounted;

static void cleanup(void)
{
	if (tmpfs_mounted && umount(tmpfs_dir))
		pw_info("umount %s: %s", tmpfs_dir, strerror(errno));
	if (btrfs_mounted && umount(btrfs_dir))
		pw_info("umount %s: %s", btrfs_dir, strerror(errno));
	tmpfs_mounted = btrfs_mounted = false;
	if (*tmpfs_dir)
		rmdir(tmpfs_dir);
	if (*btrfs_dir)
		rmdir(btrfs_dir);
	*tmpfs_dir = *btrfs_dir = 0;
}

/*
 * Register a writable MR over dir/name; with write_it, RDMA-write a generation and check it
 * through the CPU mapping. Returns 0 or the registration's errno; *data_ok says whether the
 * RDMA writes arrived (true when not tried).
 */
static int try_fs(struct pw_dev *d, struct pw_qp_pair *qp, struct pw_src *src, const char *dir,
		  bool write_it, bool *data_ok)
{
	char path[128];
	struct pw_fmr f;
	int err;

	snprintf(path, sizeof(path), "%s/fs_policy.dat", dir);
	err = -pw_fmr_open(d, &f, path, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE, ACCESS);
	*data_ok = true;
	if (!err && write_it) {
		struct pw_tally t;
		int ret = pw_write_gen(qp, src, f.mr, 0, NBLK, 7);

		pw_tally(f.addr, 0, NBLK, 7, &t);
		*data_ok = !ret && t.n[PW_BLK_OK] == NBLK;
		if (!*data_ok)
			pw_info("%s: RDMA writes %s, CPU view: %s", dir, ret ? "failed" : "completed",
				pw_tally_str(&t));
	}
	pw_fmr_close(&f);
	unlink(path);
	return err;
}

/* Why btrfs cannot be tried here, or NULL once it is mounted on btrfs_dir. */
static const char *setup_btrfs(void)
{
	static char why[160];
	const char *disk = getenv("PINWB_DISK2");
	struct stat st;
	char line[512];
	FILE *m;

	if (system("command -v mkfs.btrfs >/dev/null 2>&1"))
		return "mkfs.btrfs is not installed (btrfs-progs)";
	if (!disk || !*disk)
		return "no spare disk ($PINWB_DISK2 is not set)";
	if (stat(disk, &st) || !S_ISBLK(st.st_mode)) {
		snprintf(why, sizeof(why), "$PINWB_DISK2=%s is not a block device", disk);
		return why;
	}
	m = fopen("/proc/mounts", "r");
	while (m && fgets(line, sizeof(line), m))
		if (!strncmp(line, disk, strlen(disk)) && line[strlen(disk)] == ' ') {
			fclose(m);
			snprintf(why, sizeof(why), "$PINWB_DISK2=%s is mounted: not touching it", disk);
			return why;
		}
	if (m)
		fclose(m);
	snprintf(line, sizeof(line), "mkfs.btrfs -q -f %s >/dev/null 2>&1", disk);
	if (system(line)) {
		snprintf(why, sizeof(why), "mkfs.btrfs -f %s failed", disk);
		return why;
	}
	strcpy(btrfs_dir, "/tmp/pinwb-btrfs.XXXXXX");
	if (!mkdtemp(btrfs_dir))
		pw_die("mkdtemp: %s", strerror(errno));
	if (mount(disk, btrfs_dir, "btrfs", 0, NULL)) {
		snprintf(why, sizeof(why), "mount -t btrfs %s: %s%s", disk, strerror(errno),
			 errno == ENODEV ? " (no btrfs in this kernel)" : "");
		return why;
	}
	btrfs_mounted = true;
	return NULL;
}

int pw_test(int argc, char **argv)
{
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_dev d;
	const char *why;
	char btrfs_seen[200];
	long long pins0;
	int err_tmpfs, err_ext4, err_btrfs;
	bool ok_tmpfs, ok_ext4, ok_btrfs;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(3);
	atexit(cleanup);
	pw_qp_pair_create(&d, &qp, 16);
	pw_src_create(&d, &src, NBLK);
	pins0 = pw_pins_outstanding();

	strcpy(tmpfs_dir, "/tmp/pinwb-tmpfs.XXXXXX");
	if (!mkdtemp(tmpfs_dir))
		pw_die("mkdtemp: %s", strerror(errno));
	if (mount("pinwb-tmpfs", tmpfs_dir, "tmpfs", 0, "size=16m"))
		pw_die("mount tmpfs on %s: %s", tmpfs_dir, strerror(errno));
	tmpfs_mounted = true;
	err_tmpfs = try_fs(&d, &qp, &src, tmpfs_dir, true, &ok_tmpfs);
	pw_ok(!err_tmpfs && ok_tmpfs, "tmpfs: writable file MR %s%s",
	      err_tmpfs ? "refused: " : "registered",
	      err_tmpfs ? pw_errname(err_tmpfs) : ok_tmpfs ? ", RDMA writes visible" : ", RDMA writes lost");

	err_ext4 = try_fs(&d, &qp, &src, pw_scratch(), true, &ok_ext4);
	pw_ok(!err_ext4 && ok_ext4, "ext4: writable file MR %s%s",
	      err_ext4 ? "refused: " : "registered",
	      err_ext4 ? pw_errname(err_ext4) : ok_ext4 ? ", RDMA writes visible" : ", RDMA writes lost");

	why = setup_btrfs();
	if (why) {
		pw_skip("btrfs: %s", why);
		snprintf(btrfs_seen, sizeof(btrfs_seen), "not tried (%s)", why);
	} else {
		err_btrfs = try_fs(&d, &qp, &src, btrfs_dir, false, &ok_btrfs);
		pw_ok(err_btrfs == EFAULT, "btrfs (not opted in): writable file MR %s%s (want EFAULT)",
		      err_btrfs ? "refused: " : "registered", err_btrfs ? pw_errname(err_btrfs) : "");
		snprintf(btrfs_seen, sizeof(btrfs_seen), "%s%s", err_btrfs ? "refused " : "registered",
			 err_btrfs ? pw_errname(err_btrfs) : "");
	}
	pw_pins_settle(pins0, 5000);
	cleanup();

	pw_seen("writable file MR: tmpfs %s, ext4 %s, btrfs %s",
		err_tmpfs ? pw_errname(err_tmpfs) : "registered",
		err_ext4 ? pw_errname(err_ext4) : "registered", btrfs_seen);

	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
