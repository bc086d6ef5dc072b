// SPDX-License-Identifier: GPL-2.0
/*
 * throttle: a writable MR over a file larger than the dirty threshold does not throttle
 * unrelated writers, and the dirty accounting comes back. With the default dirty ratios, a
 * buffered writer writes 256 MiB (write(), then close; no fsync) to a file on the same ext4 and
 * to a file on another ext4 (on $PINWB_DISK2), first with no MR, then while a writable MR of
 * 512 MiB (more in a larger guest: 1.5 times the dirty threshold; the premise asserted is that
 * it is above the threshold) is registered over a third file (registration write-faults all of it dirty; the device
 * then writes part of it). Each writer must finish within ten times its no-MR time plus 30 s
 * (a kernel that counts the pinned range as dirty memory for as long as it is pinned holds every
 * writer in balance_dirty_pages() for good; the bound is generous because only that is tested,
 * the speeds are reported). After deregistration and sync, /proc/meminfo Dirty and Writeback
 * and the scratch device's BdiWriteback and BdiReclaimable (debugfs) must be back within 4 MiB
 * of where they were before the MR.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lib/pinwb.h"

static int MR_MIB;	/* set from the dirty threshold, see pw_test() */

const char pw_description[] = "a 512 MiB writable file MR does not throttle buffered writers; dirty accounting returns";

#define MR_MIB_MIN 512	/* or more: at least 1.25 times the dirty threshold (a larger guest) */
#define WRITE_MIB 256
#define RDMA_BLOCKS 16384	/* 64 MiB of the MR written by the device */
#define FACTOR 10
#define EXTRA_S 30
#define SLACK_KIB 4096
#define OTHER_MNT "/mnt/pinwb-other"

struct acct {
	long long dirty, writeback, bdi_wb, bdi_recl;
};

static void read_acct(const char *bdi_stats, struct acct *a)
{
	a->dirty = pw_proc_field("/proc/meminfo", "Dirty");
	a->writeback = pw_proc_field("/proc/meminfo", "Writeback");
	a->bdi_wb = bdi_stats ? pw_proc_field(bdi_stats, "BdiWriteback") : -1;
	a->bdi_recl = bdi_stats ? pw_proc_field(bdi_stats, "BdiReclaimable") : -1;
}

/*
 * Buffered-write mib MiB to path, giving up after deadline seconds. Returns the seconds it
 * took, or -1 if it gave up.
 */
static double writer(const char *path, int mib, double deadline)
{
	static char chunk[1 << 20];
	double t0 = pw_now();
	int fd, i;

	memset(chunk, 0x5a, sizeof(chunk));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		pw_die("create %s: %s", path, strerror(errno));
	for (i = 0; i < mib; i++) {
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
			pw_die("write %s: %s", path, strerror(errno));
		if (pw_now() - t0 > deadline) {
			close(fd);
			return -1;
		}
	}
	if (close(fd))
		pw_die("close %s: %s", path, strerror(errno));
	return pw_now() - t0;
}

/* The debugfs stats of the bdi of path's filesystem, or NULL. */
static const char *bdi_stats_of(const char *path)
{
	static char p[128];
	struct stat st;

	if (stat(path, &st))
		return NULL;
	snprintf(p, sizeof(p), "/sys/kernel/debug/bdi/%u:%u/stats", major(st.st_dev),
		 minor(st.st_dev));
	if (access(p, R_OK)) {
		if (mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL) && errno != EBUSY)
			return NULL;
		if (access(p, R_OK))
			return NULL;
	}
	return p;
}

static void other_umount(void)
{
	umount2(OTHER_MNT, MNT_DETACH);
}

static bool other_fs(void)
{
	const char *disk = getenv("PINWB_DISK2");
	char cmd[256];

	if (!disk || access(disk, F_OK))
		return false;
	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F -b 4096 %s >/dev/null 2>&1", disk);
	if (system(cmd))
		return false;
	mkdir(OTHER_MNT, 0755);
	if (mount(disk, OTHER_MNT, "ext4", 0, NULL))
		return false;
	/* Also when the test ends early (pw_die(), a REFUSED registration). */
	atexit(other_umount);
	return true;
}

int pw_test(int argc, char **argv)
{
	const char *mrpath = pw_path("throttle-mr.dat");
	char same[512], other[512];
	double t0s, t0o = -1, t1s, t1o = -1;
	struct acct before, after;
	const char *bdi;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	bool have_other;
	long long thresh;
	double t;
	int ret;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(5);
	pw_qp_pair_create(&d, &qp, 32);
	pw_src_create(&d, &src, 32);
	snprintf(same, sizeof(same), "%s", pw_path("throttle-writer.dat"));
	snprintf(other, sizeof(other), "%s/throttle-writer.dat", OTHER_MNT);
	have_other = other_fs();
	if (!have_other)
		pw_info("no second filesystem (PINWB_DISK2 unset, missing or not formattable)");
	pw_info("dirty ratios: vm.dirty_ratio and vm.dirty_background_ratio left at their defaults");
	/*
	 * The premise: the MR alone, were it dirty, would be above the dirty threshold. 512 MiB is
	 * in the rig's 2 GiB guest; a larger guest (the debug kernel's) gets a larger MR.
	 */
	thresh = pw_vmstat("nr_dirty_threshold");
	MR_MIB = MR_MIB_MIN;
	if (thresh > 0 && (long long)MR_MIB * 256 * 4 < thresh * 5)
		MR_MIB = (int)((thresh * 3 / 2 / 256 + 63) / 64 * 64);
	pw_ok(thresh > 0 && (long long)MR_MIB * 256 > thresh,
	      "premise: the %d MiB MR is above the dirty threshold (%lld MiB)", MR_MIB, thresh / 256);

	/* Without the MR. */
	t0s = writer(same, WRITE_MIB, 600);
	if (have_other)
		t0o = writer(other, WRITE_MIB, 600);
	sync();
	pw_info("no MR: %d MiB buffered in %.1f s on the same ext4, %.1f s on the other",
		WRITE_MIB, t0s, t0o);
	bdi = bdi_stats_of(mrpath);
	read_acct(bdi, &before);

	/* With it. */
	t = pw_now();
	ret = pw_fmr_open(&d, &f, mrpath, (size_t)MR_MIB << 20, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("ibv_reg_mr over %s (%d MiB): %s", mrpath, MR_MIB, strerror(-ret));
	pw_info("registered %d MiB in %.1f s; Dirty is now %lld MiB", MR_MIB, pw_now() - t,
		pw_proc_field("/proc/meminfo", "Dirty") / 1024);
	t = pw_now();
	if (pw_write_gen(&qp, &src, f.mr, 0, RDMA_BLOCKS, 1))
		pw_die("RDMA writes into the MR failed");
	pw_info("RDMA-wrote %d MiB of it in %.1f s", RDMA_BLOCKS / 256, pw_now() - t);

	t1s = writer(same, WRITE_MIB, FACTOR * t0s + EXTRA_S);
	pw_ok(t1s >= 0, "with the MR, %d MiB buffered to the same ext4 in %.1f s (no MR: %.1f s; bound %.0f s)",
	      WRITE_MIB, t1s, t0s, FACTOR * t0s + EXTRA_S);
	if (have_other) {
		t1o = writer(other, WRITE_MIB, FACTOR * t0o + EXTRA_S);
		pw_ok(t1o >= 0, "with the MR, %d MiB buffered to another ext4 in %.1f s (no MR: %.1f s; bound %.0f s)",
		      WRITE_MIB, t1o, t0o, FACTOR * t0o + EXTRA_S);
	} else {
		pw_skip("no second filesystem to write to");
	}

	pw_fmr_close(&f);
	sync();
	read_acct(bdi, &after);
	pw_ok(after.dirty - before.dirty <= SLACK_KIB && after.writeback - before.writeback <= SLACK_KIB,
	      "after deregistration and sync: Dirty %lld -> %lld KiB, Writeback %lld -> %lld KiB (within %d KiB)",
	      before.dirty, after.dirty, before.writeback, after.writeback, SLACK_KIB);
	if (!bdi)
		pw_skip("no /sys/kernel/debug/bdi stats for the scratch device");
	else
		pw_ok(after.bdi_wb - before.bdi_wb <= SLACK_KIB &&
		      after.bdi_recl - before.bdi_recl <= SLACK_KIB,
		      "after deregistration and sync: BdiWriteback %lld -> %lld KiB, BdiReclaimable %lld -> %lld KiB (within %d KiB)",
		      before.bdi_wb, after.bdi_wb, before.bdi_recl, after.bdi_recl, SLACK_KIB);

	pw_seen("%d MiB buffered write with a %d MiB file MR registered: %.1f s on the same ext4 (%.1f s without), %.1f s on another (%.1f s without)",
		WRITE_MIB, MR_MIB, t1s, t0s, t1o, t0o);
	pw_metric((long long)(t1s < 0 ? -1 : 100 * t1s / (t0s > 0 ? t0s : 1)),
		  "% of the no-MR time (same fs)");

	unlink(same);
	if (have_other) {
		unlink(other);
		umount(OTHER_MNT);
	}
	unlink(mrpath);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
