// SPDX-License-Identifier: GPL-2.0
/*
 * journalflag: `chattr +j` (FS_IOC_SETFLAGS with FS_JOURNAL_DATA_FL) on a file with a registered
 * writable MR (review finding 1.6). data=journal writeback writes only PG_dirty pages, so after
 * the switch nothing the device writes would reach the disk; v2 of the series allowed the
 * switch and lost every later device write. Either the switch is refused, or the device's
 * writes keep reaching the disk: generation 2 is RDMA-written after the attempt, fsync'd and
 * read back from the block device. Run by journalflag.sh on an ext4 mounted nodelalloc (with
 * delalloc, ext4 ignores the flag). Once the MR is gone, the same switch must succeed (the
 * refusal was for the pin, not for the file).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/fs.h>

#include "lib/pinwb.h"

const char pw_description[] = "chattr +j on a file with a writable MR is refused (EBUSY) or keeps persisting the device's writes";

#define NBLK 64

static int set_journal(int fd, bool on)
{
	int fl;

	if (ioctl(fd, FS_IOC_GETFLAGS, &fl))
		return -errno;
	fl = on ? (fl | FS_JOURNAL_DATA_FL) : (fl & ~FS_JOURNAL_DATA_FL);
	return ioctl(fd, FS_IOC_SETFLAGS, &fl) ? -errno : 0;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("journalflag.dat");
	struct pw_tally t;
	struct pw_rig r;
	char dev[64], *buf;
	uint64_t *map;
	int err, err2, ret;
	long long pins;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(3);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 1) || fsync(r.f.fd))
		pw_die("generation 1: RDMA write or fsync failed");
	map = pw_block_map(path, NBLK, dev, sizeof(dev));

	err = set_journal(r.f.fd, true);
	pw_ok(!err || err == -EBUSY, "chattr +j with the MR registered: %s",
	      err ? strerror(-err) : "switched to data=journal");

	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2);
	if (fsync(r.f.fd))
		pw_info("fsync: %s", strerror(errno));
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, 2, &t);
	free(buf);
	pw_ok(!ret && t.n[PW_BLK_OK] == NBLK,
	      "generation 2 RDMA-written after the attempt, fsync: on disk (%s)", pw_tally_str(&t));

	pins = pw_pins_outstanding();
	pw_fmr_dereg(&r.f);
	pw_pins_settle(pins - NBLK, 5000);	/* rxe unpins from deferred work */
	err2 = err ? set_journal(r.f.fd, true) : 0;
	pw_ok(!err2, "chattr +j once the MR is gone: %s", err ? (err2 ? strerror(-err2) : "switched") :
	      "(switched already)");
	pw_seen("chattr +j with the MR registered: %s; generation 2 on disk: %zu/%d",
		err ? strerror(-err) : "switched", t.n[PW_BLK_OK], NBLK);
	pw_metric(NBLK - t.n[PW_BLK_OK], "blocks not persisted");
	set_journal(r.f.fd, false);
	free(map);
	pw_rig_close(&r);
	return pw_result();
}
