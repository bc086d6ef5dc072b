// SPDX-License-Identifier: GPL-2.0
/*
 * stuck: storage that stops answering under fsync() of a registered file MR (issue 23).
 * tests/rdma/stuck.sh makes an ext4 on a dm-linear device (named in PINWB_DM). Periodic
 * writeback is off. Steps:
 *  1. a 1 MiB file registered as a writable MR and fsynced (every block allocated), then an RDMA
 *     writer thread that rewrites every block, generation after generation, without a pause;
 *  2. the device suspended (dmsetup suspend --nolockfs: its I/O is held, the filesystem is not
 *     frozen), then fsync() called from a second thread: it must still be blocked HOLD_S
 *     seconds later, and meanwhile the RDMA writer must keep completing passes without error
 *     (nothing of the pin or of the copy-based writeback may wait for the stuck disk);
 *  3. the device resumed: the fsync() must return 0 within a minute, and the block device must
 *     hold, in every block, a generation at least as new as the last pass that had completed
 *     when fsync() was called (what fsync() promises; a block the device was writing while its
 *     copy was taken may be newer, or torn between two such generations, which is reported);
 *  4. the writer stopped, one last generation written, fsync(): every block holds it on disk.
 * The RDMA writer, the fsync and the device suspension are the only actors; a hung task or any
 * other kernel report fails the run through the rig's log check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "fsync of a registered file MR on a suspended device blocks while RDMA writes go on, then completes with the data on disk after resume";

#define NBLK 256
#define FIRST_GEN 3
#define HOLD_S 5
#define WB_KNOB "/proc/sys/vm/dirty_writeback_centisecs"

struct syncer {
	pthread_t thread;
	int fd;
	atomic_int done;
	int err;
	double took;
};

static void *sync_fn(void *arg)
{
	struct syncer *s = arg;
	double t0 = pw_now();

	s->err = fsync(s->fd) ? errno : 0;
	s->took = pw_now() - t0;
	atomic_store(&s->done, 1);
	return NULL;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("stuck.dat"), *dm;
	unsigned int p0, p1, p2, e1, min_gen, last_gen;
	size_t old = 0, torn = 0, newer = 0, i;
	struct syncer s = { 0 };
	struct pw_writer w;
	struct pw_tally t;
	struct pw_rig r;
	char dev[64], *buf;
	uint64_t *map;
	double t0;
	int err;

	(void)argc; (void)argv;
	dm = getenv("PINWB_DM");
	if (!dm)
		pw_die("PINWB_DM is not set: run tests/rdma/stuck.sh");
	pw_sysctl_set(WB_KNOB, 0);
	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(7);

	/* 1. */
	map = pw_block_map_synced(r.f.fd, path, NBLK, dev, sizeof(dev));
	pw_writer_start(&w, &r.qp, &r.src, r.f.mr, NBLK, FIRST_GEN);
	while (atomic_load(&w.passes) < 2)
		usleep(10000);

	/* 2. */
	if (pw_dmsetup("suspend --nolockfs %s", dm))
		pw_die("dmsetup suspend --nolockfs %s failed", dm);
	p0 = atomic_load(&w.passes);
	s.fd = r.f.fd;
	if (pthread_create(&s.thread, NULL, sync_fn, &s)) {
		pw_dmsetup("resume --nolockfs %s", dm);
		pw_die("pthread_create (fsync)");
	}
	sleep(HOLD_S);
	p1 = atomic_load(&w.passes);
	e1 = atomic_load(&w.errors);
	pw_ok(!atomic_load(&s.done), "fsync() on the suspended device is still blocked after %d s (%s)",
	      HOLD_S, atomic_load(&s.done) ? "it returned" : "blocked");
	pw_ok(p1 - p0 >= 2 && !e1, "the RDMA writer kept going meanwhile: %u passes over %d blocks, %u failed",
	      p1 - p0, NBLK, e1);

	/* 3. */
	if (pw_dmsetup("resume --nolockfs %s", dm))
		pw_die("dmsetup resume --nolockfs %s failed", dm);
	t0 = pw_now();
	while (!atomic_load(&s.done) && pw_now() - t0 < 60)
		usleep(20000);
	if (!pw_ok(atomic_load(&s.done), "fsync() returns within 60 s of the resume (%.2f s)",
		   pw_now() - t0))
		pw_die("fsync still blocked 60 s after the resume");
	pthread_join(s.thread, NULL);
	pw_ok(!s.err, "and returns 0 (%s), after %.1f s in all", s.err ? strerror(s.err) : "yes",
	      s.took);
	/* Passes p0 completed before fsync() was called: generation FIRST_GEN + p0 - 1 at least. */
	min_gen = FIRST_GEN + p0 - 1;
	buf = pw_read_disk(dev, map, NBLK);
	for (i = 0; i < NBLK; i++) {
		uint32_t seen;
		enum pw_blk_state st = pw_check_block(buf + i * PW_BLOCK, i, min_gen, &seen);

		if (st == PW_BLK_ZERO || st == PW_BLK_FOREIGN || seen < min_gen)
			old++;
		else if (st == PW_BLK_TORN)
			torn++;
		else if (seen > min_gen)
			newer++;
	}
	free(buf);
	pw_ok(!old, "every block on disk holds generation %u or newer (%zu older, %zu newer, %zu torn by a write in flight during the copy)",
	      min_gen, old, newer, torn);

	/* 4. */
	pw_writer_stop(&w);
	p2 = atomic_load(&w.passes);
	last_gen = FIRST_GEN + p2 + 1;
	if (pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, last_gen))
		pw_die("RDMA write of generation %u failed", last_gen);
	err = fsync(r.f.fd) ? errno : 0;
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, last_gen, &t);
	free(buf);
	pw_ok(!err && t.n[PW_BLK_OK] == NBLK, "writer stopped, generation %u written, fsync (%s): on disk in every block (%s)",
	      last_gen, err ? strerror(err) : "0", pw_tally_str(&t));
	pw_ok(!atomic_load(&w.errors), "no RDMA write failed in %u passes", p2);
	pw_seen("fsync blocked %d s on the suspended device while %u RDMA passes completed; after resume %zu/%d blocks held the pre-fsync data or newer, then %zu/%d the last",
		HOLD_S, p1 - p0, NBLK - old, NBLK, t.n[PW_BLK_OK], NBLK);
	pw_metric(old + NBLK - t.n[PW_BLK_OK], "blocks lost");
	free(map);
	pw_rig_close(&r);
	pw_sysctl_restore();
	return pw_result();
}
