// SPDX-License-Identifier: GPL-2.0
/*
 * teardown: tearing an RDMA setup down while writes into a file MR are in flight. Three ways,
 * ROUNDS rounds each, while a writer thread (or, for SIGKILL, a child process) streams 64 KiB
 * RDMA writes into a 4 MiB MR over an ext4 file: deregister the MR, destroy the QP that
 * receives the writes, or SIGKILL the process that owns them. After each teardown the test
 * snapshots the file through a mapping of its own and checks, 100 ms later, that nothing
 * changed (every write carries data of its own, so a late one would show; and before each
 * teardown the test sees the file change, so writes were landing): once ibv_dereg_mr() or ibv_destroy_qp() has returned, or the process is gone, no
 * write may land in the file's pages (a copy after the pages were unpinned would land in pages
 * that are not the MR's any more). Long-term pins must balance after each kind of teardown;
 * the runner also checks the kernel log.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] =
	"dereg, QP destroy and SIGKILL while RDMA writes stream into a file MR: nothing lands after, pins balance";

#define ROUNDS 25
#define DEPTH 64
#define WRITE_LEN (64 * 1024)
#define MR_LEN ((size_t)DEPTH * WRITE_LEN)

enum way { DEREG, DESTROY, KILL, NWAYS };
static const char *const way_name[NWAYS] = { "ibv_dereg_mr", "ibv_destroy_qp", "SIGKILL" };

struct tally {
	unsigned int rounds, changed, landed, inflight, killed, posted, ok_wc, bad_wc;
};

/* Wait up to 2 s for [view, view + MR_LEN) to differ from before: a write landed. */
static bool landed(const char *view, const char *before)
{
	double t0 = pw_now();

	do {
		if (memcmp(view, before, MR_LEN))
			return true;
		usleep(1000);
	} while (pw_now() - t0 < 2);
	return false;
}

static char *snapshot(const char *view)
{
	char *copy = malloc(MR_LEN);

	if (!copy)
		pw_die("out of memory");
	memcpy(copy, view, MR_LEN);
	return copy;
}

static void fill_src(struct pw_src *s, uint32_t gen)
{
	size_t i;

	for (i = 0; i < s->len / PW_BLOCK; i++)
		pw_fill_block(s->buf + i * PW_BLOCK, i, gen);
}

/* Post the burst: DEPTH writes of WRITE_LEN, each from the start of the source buffer. */
static void post_burst(struct pw_qp_pair *qp, struct pw_src *src, struct ibv_mr *mr)
{
	size_t i;

	for (i = 0; i < DEPTH; i++)
		if (pw_post_write(qp, src->mr, 0, (uintptr_t)mr->addr + i * WRITE_LEN, mr->rkey,
				  WRITE_LEN))
			pw_die("posting the burst of RDMA writes failed");
}

/* Snapshot [addr, addr + len), wait, compare: true if anything changed meanwhile. */
static bool changed_after(const char *addr, size_t len)
{
	char *copy = malloc(len);
	bool changed;

	if (!copy)
		pw_die("out of memory");
	memcpy(copy, addr, len);
	usleep(100000);
	changed = memcmp(copy, addr, len) != 0;
	free(copy);
	return changed;
}

/* The child of a KILL round: set up, tell the parent, stream writes until killed. */
static void __attribute__((noreturn)) child(const char *path, int ready_fd, uint32_t gen)
{
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	char c = 'r';
	int ret;

	pw_dev_open(&d);
	pw_qp_pair_create(&d, &qp, DEPTH);
	pw_src_create(&d, &src, WRITE_LEN / PW_BLOCK);
	ret = pw_fmr_open(&d, &f, path, MR_LEN, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		_exit(2);
	fill_src(&src, gen);
	post_burst(&qp, &src, f.mr);
	if (write(ready_fd, &c, 1) != 1)
		_exit(3);
	for (;;) {
		pw_drain(&qp);
		fill_src(&src, ++gen);
		post_burst(&qp, &src, f.mr);
	}
}

static void round_kill(const char *path, const char *view, struct tally *t)
{
	int pfd[2], status;
	char c;
	pid_t pid;

	char *before = snapshot(view);

	if (pipe(pfd))
		pw_die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		pw_die("fork: %s", strerror(errno));
	if (!pid) {
		close(pfd[0]);
		child(path, pfd[1], 1000000 * (t->rounds + 1));
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		pw_die("the writer child died before it was ready");
	close(pfd[0]);
	t->landed += landed(view, before);
	free(before);
	usleep(1000 * (rand() % 20));
	kill(pid, SIGKILL);
	if (waitpid(pid, &status, 0) != pid)
		pw_die("waitpid: %s", strerror(errno));
	t->killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	if (changed_after(view, MR_LEN))
		t->changed++;
	t->rounds++;
}

/* A writer thread: keeps DEPTH RDMA writes of WRITE_LEN in flight into the MR until stopped. */
struct stream {
	struct pw_qp_pair *qp;
	struct pw_src *src;
	struct ibv_mr *mr;
	pthread_t thread;
	atomic_int stop;
	atomic_uint posted, ok, bad;
	uint64_t seq;
};

static void *stream_fn(void *arg)
{
	struct stream *s = arg;
	unsigned int inflight = 0, slot = 0;
	struct ibv_wc wc[16];
	double deadline = 0;
	int i, n;

	for (;;) {
		if (atomic_load(&s->stop)) {
			if (!deadline)
				deadline = pw_now() + 1;
			if (!inflight || pw_now() > deadline)
				break;
		}
		while (!atomic_load(&s->stop) && inflight < DEPTH) {
			/*
			 * Every write carries data of its own (a sequence number at the start of
			 * each block), so a write landing after the teardown changes the file.
			 */
			for (i = 0; i < WRITE_LEN / (int)PW_BLOCK; i++)
				*(uint64_t *)(s->src->buf + i * PW_BLOCK) = ++s->seq;
			struct ibv_sge sge = {
				.addr = (uintptr_t)s->src->buf, .length = WRITE_LEN,
				.lkey = s->src->mr->lkey,
			};
			struct ibv_send_wr wr = {
				.sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_RDMA_WRITE,
				.send_flags = IBV_SEND_SIGNALED,
				.wr.rdma = {
					.remote_addr = (uintptr_t)s->mr->addr + slot * WRITE_LEN,
					.rkey = s->mr->rkey,
				},
			}, *bad;

			if (ibv_post_send(s->qp->writer, &wr, &bad))
				break;
			slot = (slot + 1) % DEPTH;
			inflight++;
			atomic_fetch_add(&s->posted, 1);
		}
		n = ibv_poll_cq(s->qp->cq, 16, wc);
		for (i = 0; i < n; i++) {
			inflight--;
			if (wc[i].status == IBV_WC_SUCCESS)
				atomic_fetch_add(&s->ok, 1);
			else
				atomic_fetch_add(&s->bad, 1);
		}
		if (n <= 0)
			usleep(100);
	}
	return NULL;
}

static void round_local(enum way way, struct pw_dev *d, const char *path, const char *view,
			struct tally *t)
{
	struct stream st = { 0 };
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	char *before;
	double t0;
	int ret;

	pw_qp_pair_create(d, &qp, DEPTH);
	pw_src_create(d, &src, WRITE_LEN / PW_BLOCK);
	ret = pw_fmr_open(d, &f, path, MR_LEN, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("ibv_reg_mr over %s: %s", path, strerror(-ret));
	fill_src(&src, t->rounds + 2);
	st.qp = &qp;
	st.src = &src;
	st.mr = f.mr;
	st.seq = (uint64_t)t->rounds << 40;
	before = snapshot(view);
	if (pthread_create(&st.thread, NULL, stream_fn, &st))
		pw_die("pthread_create (RDMA writer)");
	/* Let the stream get going: a few writes completed, more in flight. */
	t0 = pw_now();
	while (atomic_load(&st.ok) < 4 && pw_now() - t0 < 10)
		usleep(1000);
	t->landed += atomic_load(&st.ok) >= 4 && landed(view, before);
	free(before);
	usleep(1000 * (rand() % 10));
	/* Writes posted and not completed: in flight at the teardown. */
	t->inflight += atomic_load(&st.posted) - atomic_load(&st.ok) - atomic_load(&st.bad) > 0;
	if (way == DEREG) {
		pw_fmr_dereg(&f);
	} else {
		ibv_destroy_qp(qp.target);
		qp.target = NULL;
	}
	if (changed_after(view, MR_LEN))
		t->changed++;
	atomic_store(&st.stop, 1);
	pthread_join(st.thread, NULL);
	t->posted += st.posted;
	t->ok_wc += st.ok;
	t->bad_wc += st.bad;
	pw_qp_pair_destroy(&qp);
	pw_fmr_close(&f);
	pw_src_destroy(&src);
	t->rounds++;
}

int pw_test(int argc, char **argv)
{
	const char *path = pw_path("teardown.dat");
	struct tally t[NWAYS] = { 0 };
	long long base, left;
	struct pw_dev d;
	char *view;
	int fd, w;

	(void)argc; (void)argv;
	srand(getpid());
	pw_dev_open(&d);
	pw_plan(4 * NWAYS);

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, MR_LEN))
		pw_die("create %s: %s", path, strerror(errno));
	view = mmap(NULL, MR_LEN, PROT_READ, MAP_SHARED, fd, 0);
	if (view == MAP_FAILED)
		pw_die("mmap %s: %s", path, strerror(errno));
	base = pw_pins_outstanding();

	for (w = 0; w < NWAYS; w++) {
		unsigned int r;

		for (r = 0; r < ROUNDS; r++) {
			if (w == KILL)
				round_kill(path, view, &t[w]);
			else
				round_local(w, &d, path, view, &t[w]);
		}
		if (w != KILL)
			pw_info("%s: %u rounds, %u writes posted, %u completed, %u failed or flushed (in flight at the teardown or posted after it), the rest never completed",
				way_name[w], t[w].rounds, t[w].posted, t[w].ok_wc, t[w].bad_wc);
		pw_ok(t[w].landed == t[w].rounds, "premise, %s: the stream's writes reached the file before the teardown in %u of %u rounds",
		      way_name[w], t[w].landed, t[w].rounds);
		if (w == KILL)
			pw_ok(t[w].killed == t[w].rounds, "premise, %s: the writer was alive and died of SIGKILL in %u of %u rounds",
			      way_name[w], t[w].killed, t[w].rounds);
		else
			pw_ok(t[w].inflight == t[w].rounds, "premise, %s: writes were in flight at the teardown in %u of %u rounds",
			      way_name[w], t[w].inflight, t[w].rounds);
		pw_ok(!t[w].changed, "%s with writes in flight: the file changed after teardown in %u of %u rounds",
		      way_name[w], t[w].changed, t[w].rounds);
		left = pw_pins_settle(base, 5000);
		pw_ok(left == base, "%s: long-term pins balance after %u rounds (%lld outstanding, %lld before)",
		      way_name[w], t[w].rounds, left, base);
	}
	pw_seen("%u/%u/%u rounds (dereg/destroy/kill): file changed after teardown in %u/%u/%u; %u/%u writes in flight at dereg/destroy failed",
		t[DEREG].rounds, t[DESTROY].rounds, t[KILL].rounds, t[DEREG].changed,
		t[DESTROY].changed, t[KILL].changed, t[DEREG].bad_wc, t[DESTROY].bad_wc);
	pw_metric(t[DEREG].changed + t[DESTROY].changed + t[KILL].changed, "rounds with late writes");

	munmap(view, MR_LEN);
	close(fd);
	pw_dev_close(&d);
	return pw_result();
}
