// SPDX-License-Identifier: GPL-2.0
/*
 * pinrace: writeback inside the window between GUP's pin and its folio lock (review finding
 * 1.3). GUP pins a page-cache folio before it locks it to mark it PG_pin_dirty; a writeback
 * that takes the folio lock in between writes it as an ordinary dirty page and cleans it. What
 * the device writes afterwards must still reach the disk at the next fsync (v2 of the series
 * lost it: the clean buffers were skipped by every later fsync until deregistration).
 * The window is opened on purpose: a kernel built with CONFIG_DEBUG_PIN_WRITEBACK sleeps
 * /sys/kernel/debug/pin_writeback_lock_delay_ms between the two, and a thread runs
 * sync_file_range(SYNC_FILE_RANGE_WRITE) on the range every 10 ms while an MR is registered over
 * NBLK clean, unmapped pages of a file (GUP's write fault dirties each page just before it
 * pins it). The test asserts its premise: the registration was slowed by the knob and the
 * writeback wrote the range while it ran. Then generations 2 and 3 are RDMA-written, each
 * followed by fsync, and read back from the block device.
 * On a kernel without the series there is no knob (and no window); the test then runs without
 * it and fails where stock 6.1 always fails, on the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "writeback between GUP's pin and its folio lock (opened with a debugfs delay) loses none of the device's later writes";

#define NBLK 16
#define LEN ((size_t)NBLK * PW_BLOCK)
#define DELAY_MS 250

static int fd;
static atomic_int stop;
static atomic_uint flushes;

static void *flusher(void *arg)
{
	(void)arg;
	while (!stop) {
		sync_file_range(fd, 0, LEN, SYNC_FILE_RANGE_WRITE);
		flushes++;
		usleep(10000);
	}
	return NULL;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("pinrace.dat");
	bool series = pw_vmstat("pin_writeback_wait") >= 0, knob;
	long long s0, s1, wait0, wait1;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct ibv_mr *mr;
	struct pw_dev d;
	pthread_t th;
	double t0, treg;
	char dev[64], *addr, seen[256];
	uint64_t *map;
	uint32_t gen;
	size_t lost = 0;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(5);
	pw_qp_pair_create(&d, &qp, 16);
	pw_src_create(&d, &src, 16);

	/* NBLK blocks of generation 1, written with write(2) and durable: clean and unmapped. */
	fd = pw_make_file(path, NBLK, 1);
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	addr = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap: %s", strerror(errno));

	knob = pw_knob_set(DELAY_MS);
	if (series)
		pw_ok(knob, "the window can be opened: %s %s", PW_KNOB,
		      knob ? "set" : "missing (kernel without CONFIG_DEBUG_PIN_WRITEBACK)");
	else
		pw_skip("kernel without the series: no window to open (no %s)", PW_KNOB);

	s0 = pw_dev_sectors_written(path);
	wait0 = pw_vmstat("pin_writeback_wait");
	if (pthread_create(&th, NULL, flusher, NULL))
		pw_die("pthread_create");
	t0 = pw_now();
	mr = pw_reg_mr(d.pd, addr, LEN, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	treg = pw_now() - t0;
	stop = 1;
	pthread_join(th, NULL);
	if (knob)
		pw_knob_set(0);
	s1 = pw_dev_sectors_written(path);
	wait1 = pw_vmstat("pin_writeback_wait");
	if (!mr)
		pw_die("ibv_reg_mr: %s", strerror(errno));
	pw_info("registration took %.2f s; %u sync_file_range calls; %lld sectors written meanwhile; pin_writeback_wait +%lld",
		treg, (unsigned int)flushes, s1 - s0, wait1 - wait0);
	/* The premise: each page sat in the window, and writeback wrote the range meanwhile. */
	if (series) {
		pw_ok(knob && treg >= NBLK * DELAY_MS / 1000.0 * 0.9,
		      "premise: registration slowed by the delay (%.2f s for %d pages of %d ms)",
		      treg, NBLK, DELAY_MS);
		pw_ok(s1 - s0 >= NBLK * (PW_BLOCK / 512),
		      "premise: writeback wrote the range while GUP was in the window (%lld sectors, want >= %u)",
		      s1 - s0, NBLK * (PW_BLOCK / 512));
	} else {
		pw_skip("kernel without the series: no window, no premise to check (registration %.2f s)", treg);
		pw_skip("kernel without the series: no window, no premise to check (%lld sectors)", s1 - s0);
	}

	seen[0] = 0;
	for (gen = 2; gen <= 3; gen++) {
		struct pw_tally t;
		char *buf;
		int ret;

		ret = pw_write_gen(&qp, &src, mr, 0, NBLK, gen);
		if (fsync(fd))
			pw_info("fsync: %s", strerror(errno));
		buf = pw_read_disk(dev, map, NBLK);
		pw_tally(buf, 0, NBLK, gen, &t);
		free(buf);
		pw_ok(!ret && t.n[PW_BLK_OK] == NBLK,
		      "generation %u RDMA-written after the race, fsync: on disk (%s)", gen,
		      pw_tally_str(&t));
		lost += NBLK - t.n[PW_BLK_OK];
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%sgeneration %u: %zu/%d on disk",
			 gen > 2 ? ", " : "", gen, t.n[PW_BLK_OK], NBLK);
	}
	pw_seen("%s (registration %.1f s in the window, %lld sectors written by writeback meanwhile)",
		seen, treg, s1 - s0);
	pw_metric(lost, "blocks not persisted");

	ibv_dereg_mr(mr);
	munmap(addr, LEN);
	close(fd);
	free(map);
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
