// SPDX-License-Identifier: GPL-2.0
/*
 * regkill: a registration that waits for stuck writeback dies at once on SIGKILL, and leaves
 * nothing pinned (review section 2, issue 16). Run by regkill.sh, which puts a journal-less
 * ext4 on a dm-linear device and names it in PINWB_DM. Steps:
 *  1. a file of NBLK written blocks is mapped MAP_SHARED and every page dirtied by a store;
 *  2. the device is suspended (dmsetup suspend --nolockfs: I/O is held, the fs is not frozen),
 *     and a child fsyncs the file: its pages go under writeback that cannot finish;
 *  3. a second child registers a writable MR over the mapping. A kernel whose GUP waits for
 *     writeback in flight blocks there (the series does, by design);
 *  4. that child gets SIGKILL: it must be gone within KILL_MS. With folio_lock() and
 *     folio_wait_writeback() it sits in D state, holding its mmap_lock, until the device
 *     resumes; the killable waits make GUP return -EINTR;
 *  5. the device resumes, the fsync completes, and the pin counts balance.
 * The journal-less filesystem keeps the store faults of step 3 out of jbd2, whose commit would
 * otherwise wait for the held I/O too (uninterruptibly, and on every kernel). A kernel that does
 * not wait for writeback in GUP (stock 6.1) registers at once; the child then dies at once too.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "a registration blocked on stuck writeback dies promptly on SIGKILL and leaves nothing pinned";

#define NBLK 256
#define LEN ((size_t)NBLK * PW_BLOCK)
#define KILL_MS 5000

static const char *dm;

/* Wait for pid for up to ms; returns true if it was reaped. */
/* The registering child: reports "R" once registered, then waits to be killed. */
static void __attribute__((noreturn)) reg_child(char *addr, int wfd)
{
	struct pw_dev d;
	struct ibv_mr *mr;

	pw_dev_open(&d);
	if (write(wfd, "S", 1) != 1)
		_exit(3);
	mr = pw_reg_mr(d.pd, addr, LEN, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (write(wfd, mr ? "R" : "E", 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("regkill.dat");
	long long pins0, pins1, wb = 0;
	bool blocked, died, resumed = false;
	int fd, p[2], st, fst;
	pid_t syncer, reg;
	double t0, t_kill;
	char *addr, c = 0;
	size_t i;

	(void)argc; (void)argv;
	dm = getenv("PINWB_DM");
	if (!dm)
		pw_die("PINWB_DM is not set: run tests/rdma/regkill.sh");
	pw_plan(4);

	fd = pw_make_file(path, NBLK, 1);
	addr = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		pw_die("mmap: %s", strerror(errno));
	for (i = 0; i < NBLK; i++)
		pw_fill_block(addr + i * PW_BLOCK, i, 2);
	pins0 = pw_pins_outstanding();

	if (pw_dmsetup("suspend --nolockfs %s", dm))
		pw_die("dmsetup suspend --nolockfs %s failed", dm);
	syncer = fork();
	if (syncer < 0)
		pw_die("fork: %s", strerror(errno));
	if (!syncer)
		_exit(fsync(fd) ? 1 : 0);
	/* The premise: the file's pages are under writeback that cannot complete. */
	t0 = pw_now();
	while (pw_now() - t0 < 10 && (wb = pw_proc_field("/proc/meminfo", "Writeback")) < 64)
		usleep(50000);
	if (!pw_ok(wb >= 64, "premise: writeback held by the suspended device (Writeback: %lld kB)", wb)) {
		pw_dmsetup("resume %s", dm);
		pw_reap(syncer, 60000, &fst);
		pw_die("the fsync put no page under writeback; nothing to test");
	}

	if (pipe(p))
		pw_die("pipe: %s", strerror(errno));
	reg = fork();
	if (reg < 0)
		pw_die("fork: %s", strerror(errno));
	if (!reg) {
		close(p[0]);
		reg_child(addr, p[1]);
	}
	close(p[1]);
	/* Started? Then give the registration 3 s: on the series it waits for the writeback. */
	if (read(p[0], &c, 1) != 1 || c != 'S')
		pw_die("the registering child did not start (no RDMA device?)");
	t0 = pw_now();
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	c = 0;
	while (pw_now() - t0 < 3 && read(p[0], &c, 1) != 1)
		usleep(20000);
	blocked = c == 0;
	pw_info("registration %s", blocked ? "blocked after 3 s (GUP waits for writeback)" :
		c == 'R' ? "completed without waiting" : "failed");

	kill(reg, SIGKILL);
	t_kill = pw_now();
	died = pw_reap(reg, KILL_MS, &st);
	t_kill = pw_now() - t_kill;
	pw_ok(died, "the registering child is gone %.2f s after SIGKILL (limit %d ms)%s", t_kill,
	      KILL_MS, died ? "" : ": it sleeps uninterruptibly in GUP until the device resumes");

	resumed = !pw_dmsetup("resume %s", dm);
	if (!died)
		died = pw_reap(reg, 60000, &st);
	if (!pw_reap(syncer, 60000, &fst))
		pw_die("the fsync did not complete within 60 s of the resume");
	pw_ok(resumed && WIFEXITED(fst) && WEXITSTATUS(fst) == 0,
	      "after the resume, the held fsync completes (%s)",
	      WIFEXITED(fst) && !WEXITSTATUS(fst) ? "returned 0" : "failed");

	pins1 = pw_pins_settle(pins0, 5000);
	pw_ok(pins1 == pins0, "nothing left pinned: %lld pins outstanding, %lld before", pins1, pins0);

	pw_seen("registration %s; the child %s %.2f s after SIGKILL", blocked ? "blocked on the held writeback" :
		"did not block", died && t_kill < KILL_MS / 1000.0 ? "was gone" : "was still there", t_kill);
	pw_metric((long long)(t_kill * 1000), "ms from SIGKILL to exit");
	munmap(addr, LEN);
	close(fd);
	return pw_result();
}
