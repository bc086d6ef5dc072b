// SPDX-License-Identifier: GPL-2.0
/*
 * stable: a page under writeback must not change while the device writes it. The file system
 * sits on a checksumming block device (stable.sh puts ext4 on dm-integrity, crc32c, no journal,
 * which asks for stable pages: queue/stable_writes, checked here; see stable.sh), where
 * the series writes pinned pages from copies, none in place. RDMA writes stream into a registered
 * 4 MiB file MR while fsync runs in a loop and a CPU thread keeps the pages dirty through the
 * mapping (rewriting one byte with its own value: a write fault, so the page is dirty and fsync
 * writes it while the NIC writes it too). Then the writes stop, caches are dropped and every
 * block is read back with O_DIRECT from the device at the file's blocks while the MR is still
 * registered, three times (three rounds of 10 s, each checked: more chances for a torn write to
 * be the last one) (buffered reads would be served by the pinned pages, and any sync would
 * rewrite the blocks with no DMA going on): no read may fail. A block written while its checksum
 * was computed fails its check (EILSEQ); stable.sh also fails on "Checksum failed" in the kernel
 * log. With the series, pin_writeback_bounce must count the copies and pin_writeback_inplace
 * none.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "RDMA writes during fsync loops leave no checksum errors on a stable-writes device";

#define NBLK 1024
#define ROUNDS 3

struct dirtier {
	char *addr;
	atomic_int stop;
	unsigned long passes;
};

static void *dirtier_fn(void *arg)
{
	struct dirtier *dt = arg;
	size_t b;

	while (!atomic_load(&dt->stop)) {
		for (b = 0; b < NBLK; b++) {
			volatile char *p = dt->addr + b * PW_BLOCK + PW_BLOCK - 1;

			*p = *p;
		}
		dt->passes++;
	}
	return NULL;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("stable.dat");
	int secs = getenv("STABLE_SECONDS") ? atoi(getenv("STABLE_SECONDS")) : 30;
	struct pw_rig r;
	struct pw_writer w;
	struct dirtier dt = { 0 };
	unsigned int fsyncs = 0, fsync_err = 0, bad = 0, first_bad = 0, passes = 0, errors = 0;
	time_t end;
	pthread_t dth;
	char *buf, dev[64];
	uint64_t *map;
	int fd, round, stable;
	size_t b;
	long long bounce0, inplace0, bounce1, inplace1;

	(void)argc; (void)argv;
	pw_rig_open(&r, path, NBLK, 64);
	pw_plan(4);
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 1) || fsync(r.f.fd))
		pw_die("first generation + fsync: %s", strerror(errno));
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	for (b = 0; b < NBLK; b++)
		if (map[b] == PW_NOT_ON_DISK)
			pw_die("block %zu has no allocated block after fsync", b);

	/*
	 * ROUNDS rounds of secs / ROUNDS seconds, each checked on its own: a block is caught only
	 * if the last write of it before the check was torn, so several stops give the bug
	 * several chances to show (a single 30 s round once found nothing on stock, 30 Nov).
	 */
	fd = open(dev, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&buf, PW_BLOCK, PW_BLOCK))
		pw_die("open %s O_DIRECT: %s", dev, strerror(errno));
	/* The premise: the series writes pinned pages from copies only for such a device. */
	stable = pw_stable_writes(path);
	if (stable != 1)
		pw_die("the device under %s does not ask for stable pages (queue/stable_writes %d)",
		       path, stable);
	bounce0 = pw_vmstat("pin_writeback_bounce");
	inplace0 = pw_vmstat("pin_writeback_inplace");
	dt.addr = r.f.addr;
	for (round = 0; round < ROUNDS; round++) {
		unsigned int round_bad = 0;
		int dfd;

		pw_writer_start(&w, &r.qp, &r.src, r.f.mr, NBLK, 2 + round * 1000000);
		atomic_store(&dt.stop, 0);
		if (pthread_create(&dth, NULL, dirtier_fn, &dt))
			pw_die("pthread_create");
		end = time(NULL) + secs / ROUNDS;
		while (time(NULL) < end) {
			if (fsync(r.f.fd))
				fsync_err++;
			fsyncs++;
		}
		pw_writer_stop(&w);
		atomic_store(&dt.stop, 1);
		pthread_join(dth, NULL);
		passes += atomic_load(&w.passes);
		errors += atomic_load(&w.errors);

		/*
		 * No sync from here on: writing the (still dirty) pages again with no DMA going on
		 * would repair what the device holds. Drop clean caches and read the device
		 * itself at the file's blocks, so no page-cache flush runs first.
		 */
		dfd = open("/proc/sys/vm/drop_caches", O_WRONLY);
		if (dfd < 0 || write(dfd, "3", 1) != 1)
			pw_info("drop_caches: %s", strerror(errno));
		if (dfd >= 0)
			close(dfd);
		for (b = 0; b < NBLK; b++)
			if (pread(fd, buf, PW_BLOCK, map[b]) != PW_BLOCK) {
				if (!bad++)
					first_bad = b;
				round_bad++;
				if (bad <= 3)
					pw_info("round %d: O_DIRECT read of block %zu (%s at %llu): %s", round + 1,
						b, dev, (unsigned long long)map[b], strerror(errno));
			}
		pw_info("round %d: %u of %d blocks unreadable", round + 1, round_bad, NBLK);
	}
	bounce1 = pw_vmstat("pin_writeback_bounce");
	inplace1 = pw_vmstat("pin_writeback_inplace");
	close(fd);
	free(buf);
	if (bounce0 < 0)
		pw_skip("pinned pages written from copies: no pin_writeback_bounce in /proc/vmstat (kernel without the series)");
	else
		pw_ok(bounce1 - bounce0 >= NBLK && (inplace0 < 0 || inplace1 == inplace0),
		      "pinned pages written from copies, none in place: pin_writeback_bounce +%lld (want >= %d), pin_writeback_inplace +%lld (want 0)",
		      bounce1 - bounce0, NBLK, inplace0 < 0 ? 0 : inplace1 - inplace0);
	pw_info("%d s in %d rounds: %u fsyncs (%u failed), %u RDMA passes and %lu CPU dirtying passes over %d blocks",
		secs, ROUNDS, fsyncs, fsync_err, passes, dt.passes, NBLK);
	pw_ok(!errors && !fsync_err, "RDMA writes and fsyncs completed without error");
	if (bad)
		pw_info("first failing block: %u", first_bad);
	pw_ok(!bad, "every block reads back with O_DIRECT while registered, after each of %d rounds (%u reads of %d blocks failed)",
	      ROUNDS, bad, NBLK * ROUNDS);

	pw_fmr_dereg(&r.f);
	pw_ok(!fsync(r.f.fd), "fsync after deregistration");
	pw_seen("%u fsyncs under %u RDMA passes in %d rounds: %u of %d block reads failed (checksum) while registered",
		fsyncs, passes, ROUNDS, bad, NBLK * ROUNDS);
	pw_metric(bad, "blocks unreadable");

	pw_rig_close(&r);
	free(map);
	return pw_result();
}
