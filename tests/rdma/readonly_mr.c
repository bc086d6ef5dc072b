// SPDX-License-Identifier: GPL-2.0
/*
 * readonly_mr: a read-only MR over a file mapping registers and does not dirty the file. The
 * file's content is written and fsync'd first; then it is mapped MAP_SHARED and registered
 * twice: with access 0 (local read only) and with IBV_ACCESS_REMOTE_READ (an RDMA READ needs it
 * on the target MR; it is still not a write access: ib_access_writable() is false for both).
 * Two cases, each on its own file:
 *  1. the file opened O_RDONLY and mapped PROT_READ;
 *  2. the file opened O_RDWR and mapped PROT_READ|PROT_WRITE (an application that maps its
 *     file read-write and registers a read-only MR to send from it).
 * Checks, in each case:
 *  - both registrations succeed (6.1's ib_umem_get() pins a read-only MR with
 *    FOLL_WRITE|FOLL_FORCE, which GUP refuses on a shared mapping without VM_WRITE: EFAULT,
 *    and which write-faults a writable shared mapping);
 *  - the device reads the file's content: an RDMA WRITE sourced from the access-0 MR and an
 *    RDMA READ from the REMOTE_READ MR both deliver it into an anonymous buffer;
 *  - after registration and deregistration, fsync + syncfs write no sector to the device (the
 *    filesystem was synced and made quiet before: no lazy itable init, atime already later
 *    than mtime and ctime, so relatime leaves it alone),
 *    the file's mtime did not change and its content is what was written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "read-only MRs over file mappings register, read the file and do not dirty it";

#define NBLK 64
#define GEN 1

static const char *reg_result(int err)
{
	static char s[2][64];
	static int i;

	i ^= 1;
	if (!err)
		snprintf(s[i], sizeof(s[i]), "registered");
	else
		snprintf(s[i], sizeof(s[i]), "refused (%s)", strerrorname_np(err) ?: strerror(err));
	return s[i];
}

static bool ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/*
 * Write GEN into every block of path through write(2) and make it durable, then read it until
 * atime is later than both mtime and ctime: relatime updates atime on every access (mmap's
 * file_accessed() included) while atime <= mtime or ctime, and inode timestamps come from the
 * coarse clock, so a read in the same tick as the last write (4 ms at HZ=250) leaves atime ==
 * mtime and the mapping made by the measurement would dirty the inode.
 */
static void write_file(const char *path)
{
	char blk[PW_BLOCK];
	int fd = pw_make_file(path, NBLK, GEN), tries;
	struct stat st;

	for (tries = 0; ; tries++) {
		if (pread(fd, blk, PW_BLOCK, 0) != PW_BLOCK)
			pw_die("read %s: %s", path, strerror(errno));
		if (fstat(fd, &st))
			pw_die("fstat %s: %s", path, strerror(errno));
		if (ts_after(&st.st_atim, &st.st_mtim) && ts_after(&st.st_atim, &st.st_ctim))
			break;
		if (tries == 100)
			pw_die("%s: atime still not later than mtime and ctime after 1 s of reads", path);
		usleep(10000);
	}
	if (tries)
		pw_info("%s: atime later than mtime after %d read(s) 10 ms apart", path, tries + 1);
	close(fd);
}

/* The sink is an anonymous MR the device delivers into: did it get the file's content? */
static bool check_sink(struct ibv_mr *sink, int ret, const char *name, const char *what,
		       char *seen, size_t len)
{
	struct pw_tally t;

	pw_tally(sink->addr, 0, NBLK, GEN, &t);
	snprintf(seen, len, "%s", pw_tally_str(&t));
	return pw_ok(!ret && t.n[PW_BLK_OK] == NBLK, "%s: %s delivers the file content (%s)", name,
		     what, seen);
}

struct ro_case {
	const char *name;	/* for the messages */
	const char *file;
	int prot;
};

static const struct ro_case cases[] = {
	{ "O_RDONLY file, PROT_READ mapping", "readonly.dat", PROT_READ },
	{ "O_RDWR file, PROT_READ|PROT_WRITE mapping", "readonly-rw.dat", PROT_READ | PROT_WRITE },
};
#define NR_CASES 2

/*
 * One case: register, let the device read, deregister, sync. Reports 6 results and returns
 * the sectors written by the final fsync + syncfs; the summary for pw_seen goes to seen.
 */
static long long run_case(struct pw_dev *d, struct pw_qp_pair *qp, struct ibv_mr *sink,
			  const struct ro_case *c, char *seen, size_t seenlen)
{
	const char *path = pw_path(c->file);
	long long s0, s1, written, pins0;
	struct stat st0, st1;
	struct ibv_mr *rmr = NULL;
	struct pw_fmr f;
	char *sbuf = sink->addr, *buf, tally[160];
	int err0, err_rr = 0, ret, fd;
	bool same_mtime, same_content;
	size_t i;

	if (stat(path, &st0))
		pw_die("stat %s: %s", path, strerror(errno));
	sync();
	s0 = pw_dev_sectors_written(path);
	if (s0 < 0)
		pw_die("no write counter for the device of %s", path);

	pins0 = pw_pins_outstanding();
	/* pw_fmr_open opens O_RDONLY without PROT_WRITE, O_RDWR with it. */
	err0 = -pw_fmr_open(d, &f, path, NBLK * PW_BLOCK, c->prot, 0);
	pw_ok(!err0, "%s: access 0 MR %s", c->name, reg_result(err0));
	rmr = pw_reg_mr(d->pd, f.addr, NBLK * PW_BLOCK, IBV_ACCESS_REMOTE_READ);
	if (!rmr)
		err_rr = errno ?: EIO;
	pw_ok(!err_rr, "%s: IBV_ACCESS_REMOTE_READ MR %s", c->name, reg_result(err_rr));

	/* The device reads from the access-0 MR as the local side of an RDMA WRITE... */
	if (f.mr) {
		memset(sbuf, 0, NBLK * PW_BLOCK);
		ret = 0;
		for (i = 0; i < NBLK; i++)
			if (pw_post_write(qp, f.mr, i * PW_BLOCK, (uintptr_t)sbuf + i * PW_BLOCK,
					  sink->rkey, PW_BLOCK))
				ret = -1;
		if (pw_drain(qp))
			ret = -1;
		check_sink(sink, ret, c->name, "RDMA WRITE sourced from the access-0 MR", tally,
			   sizeof(tally));
	} else {
		pw_skip("%s: RDMA WRITE sourced from the access-0 MR: not registered", c->name);
	}
	/* ...and from the REMOTE_READ MR as the target of an RDMA READ. */
	if (rmr) {
		memset(sbuf, 0, NBLK * PW_BLOCK);
		ret = 0;
		for (i = 0; i < NBLK; i++)
			if (pw_post_read(qp, sink, i * PW_BLOCK, (uintptr_t)f.addr + i * PW_BLOCK,
					 rmr->rkey, PW_BLOCK))
				ret = -1;
		if (pw_drain(qp))
			ret = -1;
		check_sink(sink, ret, c->name, "RDMA READ from the REMOTE_READ MR", tally,
			   sizeof(tally));
	} else {
		pw_skip("%s: RDMA READ from the REMOTE_READ MR: not registered", c->name);
	}

	if (rmr && ibv_dereg_mr(rmr))
		pw_die("ibv_dereg_mr: %s", strerror(errno));
	pw_fmr_close(&f);
	pw_pins_settle(pins0, 5000);

	/* Did any of it dirty the file? fsync and syncfs must find nothing to write. */
	fd = open(path, O_RDWR);
	if (fd < 0)
		pw_die("open %s: %s", path, strerror(errno));
	if (fsync(fd))
		pw_info("fsync: %s", strerror(errno));
	if (syncfs(fd))
		pw_info("syncfs: %s", strerror(errno));
	s1 = pw_dev_sectors_written(path);
	written = s1 - s0;
	if (fstat(fd, &st1))
		pw_die("fstat %s: %s", path, strerror(errno));
	same_mtime = st1.st_mtim.tv_sec == st0.st_mtim.tv_sec &&
		     st1.st_mtim.tv_nsec == st0.st_mtim.tv_nsec;
	buf = malloc(NBLK * PW_BLOCK);
	same_content = buf && pread(fd, buf, NBLK * PW_BLOCK, 0) == NBLK * PW_BLOCK;
	if (same_content) {
		struct pw_tally t;

		pw_tally(buf, 0, NBLK, GEN, &t);
		same_content = t.n[PW_BLK_OK] == NBLK;
	}
	free(buf);
	close(fd);
	pw_ok(written == 0, "%s: fsync + syncfs after register/deregister wrote %lld sectors (want 0)",
	      c->name, written);
	pw_ok(same_mtime && same_content, "%s: file not modified: mtime %s, content %s", c->name,
	      same_mtime ? "unchanged" : "changed", same_content ? "unchanged" : "changed");
	snprintf(seen, seenlen, "%s: access 0 %s, REMOTE_READ %s, then %lld sectors written, mtime %s",
		 c->name, reg_result(err0), reg_result(err_rr), written,
		 same_mtime ? "unchanged" : "changed");
	return written;
}

int pw_test(int argc, char **argv)
{
	char seen[NR_CASES][256], *sbuf;
	long long written = 0;
	struct pw_qp_pair qp;
	struct ibv_mr *sink;
	struct pw_dev d;
	int i;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(6 * NR_CASES);
	pw_qp_pair_create(&d, &qp, 16);
	sbuf = mmap(NULL, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (sbuf == MAP_FAILED)
		pw_die("mmap: %s", strerror(errno));
	sink = pw_reg_mr(d.pd, sbuf, NBLK * PW_BLOCK,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (!sink)
		pw_die("ibv_reg_mr (anonymous sink): %s", strerror(errno));

	for (i = 0; i < NR_CASES; i++)
		write_file(pw_path(cases[i].file));
	pw_scratch_quiesce();
	for (i = 0; i < NR_CASES; i++)
		written += run_case(&d, &qp, sink, &cases[i], seen[i], sizeof(seen[i]));

	pw_seen("read-only MRs over file mappings: %s; %s", seen[0], seen[1]);
	pw_metric(written, "sectors written");

	ibv_dereg_mr(sink);
	munmap(sbuf, NBLK * PW_BLOCK);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
