// SPDX-License-Identifier: GPL-2.0
/*
 * journalrace: `chattr +j` while a registration sits between its pin and its folio lock
 * (review finding 1.6, the race half; journalflag is the sequential half). ext4 refuses the
 * switch to data=journal while the file has marked write-pinned folios; a registration that has
 * pinned a folio but not yet marked it is not seen, so the switch goes through, and GUP must
 * notice that the opt-in went away after it marked the folio and refuse the pin (EFAULT).
 * Otherwise the MR is registered over a data=journal inode, whose writeback only writes
 * PG_dirty pages, and the device's writes after the first fsync are lost.
 * The window is opened with /sys/kernel/debug/pin_writeback_lock_delay_ms (the series' test
 * knob): a thread runs the switch 0.2 s after the registration began pinning (VmPin rises), in
 * a registration slowed by 2 s per page. Premises asserted: the registration was slowed, the
 * switch ran after it began pinning, returned 0 while the registration was still going on, and
 * left the inode in data=journal.
 * Then: a refused registration must have failed with EFAULT; a registration that went through
 * must persist the device's writes (generations 2 and 3, each fsync'd, read from the disk).
 * Run by journalrace.sh on an ext4 mounted nodelalloc.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/fs.h>

#include "lib/pinwb.h"

const char pw_description[] = "chattr +j inside the window between a registration's pin and its folio lock: the registration is refused (EFAULT) or the device's writes still persist";

#define NBLK 2
#define LEN ((size_t)NBLK * PW_BLOCK)
#define DELAY_MS 2000
#define SWITCH_AT_S 0.2

static int fd;
static int switch_err;
static double switch_done;

static long long pins_before;
static bool switched_in_window;
static int status_fd;

/*
 * VmPin of this process, in kB, read without allocating: the registration holds mmap_lock for
 * reading for seconds, and an allocation that needs it for writing (a new malloc arena) would
 * wait for the registration to end.
 */
static long long vmpin(void)
{
	char buf[4096], *p;
	ssize_t n = pread(status_fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strstr(buf, "\nVmPin:");
	return p ? strtoll(p + 7, NULL, 10) : -1;
}

static void *switcher(void *arg)
{
	double t0 = pw_now();
	int fl;

	(void)arg;
	/*
	 * Switch SWITCH_AT_S after the registration began pinning: ib_umem_get() accounts VmPin
	 * just before it calls GUP, which then pins the first page within milliseconds and sits
	 * in the delay before its folio lock for DELAY_MS. (The vmstat pin counters are per-CPU
	 * and may lag by a second.) Without the window, SWITCH_AT_S after the start. Nothing here
	 * allocates (see vmpin()).
	 */
	while (pw_now() - t0 < 5) {
		if (vmpin() > pins_before) {
			switched_in_window = true;
			break;
		}
		usleep(2000);
	}
	usleep((useconds_t)(SWITCH_AT_S * 1e6));
	if (ioctl(fd, FS_IOC_GETFLAGS, &fl))
		switch_err = errno;
	else {
		fl |= FS_JOURNAL_DATA_FL;
		switch_err = ioctl(fd, FS_IOC_SETFLAGS, &fl) ? errno : 0;
	}
	switch_done = pw_now();
	return NULL;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("journalrace.dat");
	bool series = pw_vmstat("pin_writeback_wait") >= 0, knob, ok;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct ibv_mr *mr;
	struct pw_dev d;
	pthread_t th;
	double t0, t1;
	char dev[64], *addr, seen[200];
	uint64_t *map;
	int reg_err, fl = 0;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(3);
	pw_qp_pair_create(&d, &qp, 16);
	pw_src_create(&d, &src, NBLK);
	fd = pw_make_file(path, NBLK, 1);
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	addr = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap: %s", strerror(errno));

	knob = pw_knob_set(DELAY_MS);
	if (series)
		pw_ok(knob, "the window can be opened: %s %s", PW_KNOB, knob ? "set" : "missing");
	else
		pw_skip("kernel without the series: no window to open (no %s)", PW_KNOB);

	status_fd = open("/proc/self/status", O_RDONLY);
	pins_before = vmpin();
	if (pins_before < 0)
		pw_die("no VmPin in /proc/self/status");
	if (pthread_create(&th, NULL, switcher, NULL))
		pw_die("pthread_create");
	t0 = pw_now();
	mr = pw_reg_mr(d.pd, addr, LEN, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	reg_err = mr ? 0 : errno;
	t1 = pw_now();
	pthread_join(th, NULL);
	if (knob)
		pw_knob_set(0);
	ioctl(fd, FS_IOC_GETFLAGS, &fl);
	pw_info("registration %s after %.2f s; chattr +j %s at %.2f s; the inode is %sdata=journal",
		mr ? "succeeded" : strerror(reg_err), t1 - t0,
		switch_err ? strerror(switch_err) : "succeeded", switch_done - t0,
		(fl & FS_JOURNAL_DATA_FL) ? "" : "not ");
	if (series)
		pw_ok(t1 - t0 >= DELAY_MS / 1000.0 * 0.9 && switched_in_window && switch_done < t1 &&
		      !switch_err && (fl & FS_JOURNAL_DATA_FL),
		      "premise: chattr +j ran after the registration began pinning and returned 0 (%s) at %.2f s, while the registration was in its window (it took %.2f s); the inode is %sdata=journal",
		      switch_err ? strerror(switch_err) : "0", switch_done - t0, t1 - t0,
		      (fl & FS_JOURNAL_DATA_FL) ? "" : "not ");
	else
		pw_skip("kernel without the series: no window, no premise to check (registration %.2f s)",
			t1 - t0);

	if (!mr) {
		ok = reg_err == EFAULT;
		snprintf(seen, sizeof(seen), "chattr +j %s, registration refused: %s",
			 switch_err ? strerror(switch_err) : "done", strerror(reg_err));
	} else {
		struct pw_tally t;
		uint32_t gen;
		char *buf;

		/* The first fsync would write the pages the registration's write faults dirtied. */
		for (gen = 2; gen <= 3; gen++) {
			if (pw_write_gen(&qp, &src, mr, 0, NBLK, gen) || fsync(fd))
				pw_info("generation %u: RDMA write or fsync failed", gen);
		}
		buf = pw_read_disk(dev, map, NBLK);
		pw_tally(buf, 0, NBLK, 3, &t);
		free(buf);
		ok = t.n[PW_BLK_OK] == NBLK;
		snprintf(seen, sizeof(seen), "chattr +j %s, registration succeeded, generation 3 on disk: %s",
			 switch_err ? strerror(switch_err) : "done", pw_tally_str(&t));
		if (ibv_dereg_mr(mr))
			pw_die("ibv_dereg_mr: %s", strerror(errno));
	}
	pw_ok(ok, "refused with EFAULT, or the device's writes persist: %s", seen);
	pw_seen("%s", seen);
	fl &= ~FS_JOURNAL_DATA_FL;
	ioctl(fd, FS_IOC_SETFLAGS, &fl);
	munmap(addr, LEN);
	close(fd);
	free(map);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
