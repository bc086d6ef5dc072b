// SPDX-License-Identifier: GPL-2.0
/* pinwb test library; see pinwb.h. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "pinwb.h"

/* ---- KTAP ---- */

static int pw_nr, pw_nr_fail, pw_nr_pass, pw_nr_skip, pw_planned;

void pw_plan(int n)
{
	pw_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

static void vline(const char *prefix, const char *suffix, const char *fmt, va_list ap)
{
	printf("%s", prefix);
	vprintf(fmt, ap);
	printf("%s\n", suffix);
	fflush(stdout);
}

bool pw_ok(bool cond, const char *fmt, ...)
{
	va_list ap;
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "%s %d ", cond ? "ok" : "not ok", ++pw_nr);
	va_start(ap, fmt);
	vline(prefix, "", fmt, ap);
	va_end(ap);
	if (cond)
		pw_nr_pass++;
	else
		pw_nr_fail++;
	return cond;
}

void pw_skip(const char *fmt, ...)
{
	va_list ap;
	char prefix[32];

	snprintf(prefix, sizeof(prefix), "ok %d # SKIP ", ++pw_nr);
	va_start(ap, fmt);
	vline(prefix, "", fmt, ap);
	va_end(ap);
	pw_nr_skip++;
}

void pw_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("# ", "", fmt, ap);
	va_end(ap);
}

int pw_result(void)
{
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       pw_nr_pass, pw_nr_fail, pw_nr_skip);
	if (pw_planned && pw_nr != pw_planned && !pw_nr_fail) {
		printf("# planned %d results, reported %d\n", pw_planned, pw_nr);
		return PW_FAIL;
	}
	if (pw_nr_fail)
		return PW_FAIL;
	if (pw_nr_skip && !pw_nr_pass)
		return PW_SKIP;
	return PW_PASS;
}

void pw_skip_all(const char *fmt, ...)
{
	va_list ap;

	if (!pw_planned)
		printf("1..0\n");
	va_start(ap, fmt);
	vline("# SKIP ", "", fmt, ap);
	va_end(ap);
	exit(PW_SKIP);
}

void pw_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("# FAIL (setup): ", "", fmt, ap);
	va_end(ap);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:1\n",
	       pw_nr_pass, pw_nr_fail, pw_nr_skip);
	exit(PW_FAIL);
}

/* Is @addr in a MAP_SHARED mapping of a file (/proc/self/maps: "s" and an inode)? */
static bool pw_shared_file_mapping(const void *addr)
{
	unsigned long lo, hi, ino;
	char perms[8], line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &lo, &hi, perms, &ino) != 4)
			continue;
		if ((unsigned long)addr >= lo && (unsigned long)addr < hi)
			found = perms[3] == 's' && ino != 0;
		if ((unsigned long)addr >= lo && (unsigned long)addr < hi)
			break;
	}
	fclose(f);
	return found;
}

void pw_refused_if_no_series(int err, const char *what)
{
	if (err != EFAULT || pw_vmstat("pin_writeback_wait") >= 0)
		return;
	printf("# REFUSED %s: EFAULT (this kernel refuses long-term write pins of file pages, as upstream does since 6.5)\n",
	       what);
	/* Something that failed before stays a failure. */
	if (pw_nr_fail)
		printf("# ...after %d failed subtest(s): FAIL\n", pw_nr_fail);
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       pw_nr_pass, pw_nr_fail, pw_nr_skip);
	exit(pw_nr_fail ? PW_FAIL : PW_REFUSED);
}

struct ibv_mr *pw_reg_mr(struct ibv_pd *pd, void *addr, size_t len, int access)
{
	const int write = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
			  IBV_ACCESS_REMOTE_ATOMIC;
	struct ibv_mr *mr = ibv_reg_mr(pd, addr, len, access);
	int err = errno;

	if (!mr && (access & write) && pw_shared_file_mapping(addr))
		pw_refused_if_no_series(err, "ibv_reg_mr of a writable MAP_SHARED file mapping");
	errno = err;
	return mr;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--describe")) {
		printf("%s\n", pw_description);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	argc = pw_peer_options(argc, argv);
	if (pw_peer_connecting()) {
		printf("# %s: the remote writer of a two-node run\n", program_invocation_short_name);
		return pw_peer_serve();
	}
	printf("KTAP version 1\n# %s: %s\n", program_invocation_short_name, pw_description);
	return pw_test(argc, argv);
}

/* ---- device ---- */

static int pick_gid(struct pw_dev *d)
{
	struct ibv_port_attr pa;
	const char *env = getenv("PINWB_GID_INDEX");
	int i, best = -1;

	if (ibv_query_port(d->ctx, d->port, &pa))
		pw_die("ibv_query_port: %s", strerror(errno));
	if (pa.state != IBV_PORT_ACTIVE)
		pw_die("port %u of %s is not ACTIVE (state %d)", d->port,
		       ibv_get_device_name(d->ctx->device), pa.state);
	d->mtu = pa.active_mtu;
	if (env) {
		best = atoi(env);
	} else {
		for (i = 0; i < pa.gid_tbl_len; i++) {
			struct ibv_gid_entry e;

			if (ibv_query_gid_ex(d->ctx, d->port, i, &e, 0))
				continue;
			if (e.gid_type != IBV_GID_TYPE_ROCE_V2)
				continue;
			/* Prefer an IPv4-mapped address (::ffff:a.b.c.d). */
			if (!memcmp(e.gid.raw, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
				best = i;
				break;
			}
			if (best < 0)
				best = i;
		}
	}
	if (best < 0)
		pw_die("%s has no RoCE v2 GID (set PINWB_GID_INDEX)", ibv_get_device_name(d->ctx->device));
	if (ibv_query_gid(d->ctx, d->port, best, &d->gid))
		pw_die("ibv_query_gid %d: %s", best, strerror(errno));
	return best;
}

void pw_dev_open(struct pw_dev *d)
{
	const char *want = getenv("PINWB_RDMA_DEV");
	struct ibv_device **list;
	int i, n;

	memset(d, 0, sizeof(*d));
	list = ibv_get_device_list(&n);
	/* In a pinwb guest the device is part of the rig: none is a failure, not a skip. */
	if ((!list || !n) && getenv("PINWB_GUEST"))
		pw_die("no RDMA device in the guest (scripts/setup_rxe.sh should have made rxe0)");
	if (!list || !n)
		pw_skip_all("no RDMA device (scripts/setup_rxe.sh creates a soft-RoCE one)");
	for (i = 0; i < n; i++)
		if (!want || !strcmp(ibv_get_device_name(list[i]), want))
			break;
	if (i == n)
		pw_skip_all("no RDMA device named %s", want);
	d->ctx = ibv_open_device(list[i]);
	if (!d->ctx)
		pw_die("ibv_open_device %s: %s", ibv_get_device_name(list[i]), strerror(errno));
	ibv_free_device_list(list);
	d->port = 1;
	d->gid_index = pick_gid(d);
	d->pd = ibv_alloc_pd(d->ctx);
	if (!d->pd)
		pw_die("ibv_alloc_pd: %s", strerror(errno));
}

void pw_dev_close(struct pw_dev *d)
{
	if (d->pd)
		ibv_dealloc_pd(d->pd);
	if (d->ctx)
		ibv_close_device(d->ctx);
	memset(d, 0, sizeof(*d));
}

/* ---- loopback RC QP pair ---- */

static struct ibv_qp *make_qp(struct pw_qp_pair *p)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = p->cq,
		.recv_cq = p->cq,
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 1,
		.cap = { .max_send_wr = p->depth, .max_recv_wr = 1,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = p->dev->port,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ,
	};
	struct ibv_qp *qp = ibv_create_qp(p->dev->pd, &ia);

	if (!qp)
		pw_die("ibv_create_qp: %s", strerror(errno));
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			  IBV_QP_ACCESS_FLAGS))
		pw_die("modify QP to INIT: %s", strerror(errno));
	return qp;
}

static void connect_qp(struct pw_qp_pair *p, struct ibv_qp *qp, uint32_t dest_qpn)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = p->dev->mtu,
		.dest_qp_num = dest_qpn,
		.rq_psn = 0,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = {
			.is_global = 1,
			.port_num = p->dev->port,
			.grh = { .dgid = p->dev->gid, .sgid_index = p->dev->gid_index,
				 .hop_limit = 64 },
		},
	};

	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			  IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
		pw_die("modify QP to RTR: %s", strerror(errno));
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = 1;
	if (ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
			  IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
		pw_die("modify QP to RTS: %s", strerror(errno));
}

void pw_qp_pair_create(struct pw_dev *d, struct pw_qp_pair *p, unsigned int depth)
{
	if (pw_peer_listening())
		pw_die("%s has no two-node mode (--listen): it writes through a loopback QP pair",
		       program_invocation_short_name);
	memset(p, 0, sizeof(*p));
	p->dev = d;
	p->depth = depth;
	p->cq = ibv_create_cq(d->ctx, 2 * depth + 2, NULL, NULL, 0);
	if (!p->cq)
		pw_die("ibv_create_cq: %s", strerror(errno));
	p->writer = make_qp(p);
	p->target = make_qp(p);
	connect_qp(p, p->writer, p->target->qp_num);
	connect_qp(p, p->target, p->writer->qp_num);
}

void pw_qp_pair_destroy(struct pw_qp_pair *p)
{
	if (p->writer)
		ibv_destroy_qp(p->writer);
	if (p->target)
		ibv_destroy_qp(p->target);
	if (p->cq)
		ibv_destroy_cq(p->cq);
	memset(p, 0, sizeof(*p));
}

static int poll_one(struct pw_qp_pair *p)
{
	struct ibv_wc wc;
	int n;

	do {
		n = ibv_poll_cq(p->cq, 1, &wc);
	} while (n == 0);
	if (n < 0) {
		pw_info("ibv_poll_cq failed: %d", n);
		return -1;
	}
	p->outstanding--;
	if (wc.status != IBV_WC_SUCCESS) {
		/* wc.opcode is undefined in an error completion: wr_id is the remote address. */
		pw_info("RDMA completion: %s (wr_id %llu)", ibv_wc_status_str(wc.status),
			(unsigned long long)wc.wr_id);
		return -1;
	}
	return 0;
}

static int post_rdma(struct pw_qp_pair *p, enum ibv_wr_opcode op, struct ibv_mr *lmr, size_t loff,
		     uint64_t raddr, uint32_t rkey, size_t len)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)lmr->addr + loff, .length = (uint32_t)len, .lkey = lmr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = raddr, .sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rkey },
	}, *bad;
	int err = 0, ret;

	while (p->outstanding >= p->depth)
		if (poll_one(p))
			err = -1;
	ret = ibv_post_send(p->writer, &wr, &bad);
	if (ret) {
		pw_info("ibv_post_send: %s", strerror(ret));
		return -1;
	}
	p->outstanding++;
	return err;
}

int pw_post_write(struct pw_qp_pair *p, struct ibv_mr *lmr, size_t loff, uint64_t raddr,
		  uint32_t rkey, size_t len)
{
	return post_rdma(p, IBV_WR_RDMA_WRITE, lmr, loff, raddr, rkey, len);
}

int pw_post_read(struct pw_qp_pair *p, struct ibv_mr *lmr, size_t loff, uint64_t raddr,
		 uint32_t rkey, size_t len)
{
	return post_rdma(p, IBV_WR_RDMA_READ, lmr, loff, raddr, rkey, len);
}

int pw_drain(struct pw_qp_pair *p)
{
	int err = 0;

	while (p->outstanding)
		if (poll_one(p))
			err = -1;
	return err;
}

/* ---- buffers ---- */

int pw_fmr_open(struct pw_dev *d, struct pw_fmr *f, const char *path, size_t len, int prot,
		int access)
{
	int oflags = (prot & PROT_WRITE) ? O_RDWR | O_CREAT : O_RDONLY;

	memset(f, 0, sizeof(*f));
	f->fd = open(path, oflags, 0644);
	if (f->fd < 0)
		pw_die("open %s: %s", path, strerror(errno));
	if ((prot & PROT_WRITE)) {
		struct stat st;

		if (fstat(f->fd, &st))
			pw_die("fstat %s: %s", path, strerror(errno));
		if ((size_t)st.st_size < len && ftruncate(f->fd, len))
			pw_die("ftruncate %s: %s", path, strerror(errno));
	}
	f->len = len;
	f->addr = mmap(NULL, len, prot, MAP_SHARED, f->fd, 0);
	if (f->addr == MAP_FAILED)
		pw_die("mmap %s: %s", path, strerror(errno));
	f->mr = pw_reg_mr(d->pd, f->addr, len, access);
	if (!f->mr)
		return errno ? -errno : -EIO;
	return 0;
}

void pw_fmr_dereg(struct pw_fmr *f)
{
	if (f->mr && ibv_dereg_mr(f->mr))
		pw_die("ibv_dereg_mr: %s", strerror(errno));
	f->mr = NULL;
}

long long pw_fmr_dereg_settled(struct pw_fmr *f, long long vmpin0)
{
	long long left = -1;
	int i;

	pw_fmr_dereg(f);
	for (i = 0; i < 200 && (left = pw_proc_field("/proc/self/status", "VmPin")) != vmpin0; i++)
		usleep(50000);
	return left;
}

void pw_fmr_close(struct pw_fmr *f)
{
	pw_fmr_dereg(f);
	if (f->addr && f->addr != MAP_FAILED)
		munmap(f->addr, f->len);
	if (f->fd >= 0)
		close(f->fd);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

void pw_src_create(struct pw_dev *d, struct pw_src *s, size_t nblocks)
{
	s->len = nblocks * PW_BLOCK;
	s->buf = mmap(NULL, s->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->buf == MAP_FAILED)
		pw_die("mmap source buffer: %s", strerror(errno));
	s->mr = pw_reg_mr(d->pd, s->buf, s->len, IBV_ACCESS_LOCAL_WRITE);
	if (!s->mr)
		pw_die("ibv_reg_mr (source buffer): %s", strerror(errno));
}

void pw_src_destroy(struct pw_src *s)
{
	if (s->mr)
		ibv_dereg_mr(s->mr);
	if (s->buf)
		munmap(s->buf, s->len);
	memset(s, 0, sizeof(*s));
}

int pw_write_gen(struct pw_qp_pair *p, struct pw_src *s, struct ibv_mr *target, size_t first,
		 size_t n, uint32_t gen)
{
	size_t slots = s->len / PW_BLOCK, i;
	int err = 0;

	if (p->remote)
		return pw_peer_write_gen(p, target, first, n, gen);
	for (i = 0; i < n; i++) {
		size_t slot = i % slots;

		/* A source slot is rewritten only once the write that used it completed. */
		if (i && slot == 0 && pw_drain(p))
			err = -1;
		pw_fill_block(s->buf + slot * PW_BLOCK, first + i, gen);
		if (pw_post_write(p, s->mr, slot * PW_BLOCK,
				  (uintptr_t)target->addr + (first + i) * PW_BLOCK, target->rkey,
				  PW_BLOCK))
			err = -1;
	}
	if (pw_drain(p))
		err = -1;
	return err;
}

void pw_rig_open(struct pw_rig *r, const char *path, size_t nblocks, unsigned int depth)
{
	int ret;

	memset(&r->src, 0, sizeof(r->src));
	if (pw_peer_listening()) {
		/* The remote writer has its own source buffer. */
		pw_peer_accept(&r->d, &r->qp, depth);
	} else {
		pw_dev_open(&r->d);
		pw_qp_pair_create(&r->d, &r->qp, depth);
		pw_src_create(&r->d, &r->src, depth);
	}
	ret = pw_fmr_open(&r->d, &r->f, path, nblocks * PW_BLOCK, PROT_READ | PROT_WRITE,
			  IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (ret)
		pw_die("ibv_reg_mr over %s: %s", path, strerror(-ret));
}

void pw_rig_close(struct pw_rig *r)
{
	pw_fmr_close(&r->f);
	pw_src_destroy(&r->src);
	if (r->qp.peer) {
		pw_peer_close(&r->d, &r->qp);
		return;
	}
	pw_qp_pair_destroy(&r->qp);
	pw_dev_close(&r->d);
}

static void *writer_fn(void *arg)
{
	struct pw_writer *w = arg;

	while (!atomic_load(&w->stop)) {
		if (pw_write_gen(w->qp, w->src, w->mr, 0, w->nblocks, w->gen++))
			atomic_fetch_add(&w->errors, 1);
		atomic_fetch_add(&w->passes, 1);
	}
	return NULL;
}

void pw_writer_start(struct pw_writer *w, struct pw_qp_pair *qp, struct pw_src *src,
		     struct ibv_mr *mr, size_t nblocks, uint32_t first_gen)
{
	memset(w, 0, sizeof(*w));
	w->qp = qp;
	w->src = src;
	w->mr = mr;
	w->nblocks = nblocks;
	w->gen = first_gen;
	if (qp->remote) {
		pw_peer_stream_start(w);
		return;
	}
	if (pthread_create(&w->thread, NULL, writer_fn, w))
		pw_die("pthread_create (RDMA writer)");
}

void pw_writer_stop(struct pw_writer *w)
{
	atomic_store(&w->stop, 1);
	if (w->qp->remote) {
		pw_peer_stream_stop(w);
		return;
	}
	pthread_join(w->thread, NULL);
}

/* ---- the block pattern: header (magic, block, gen) + a body derived from all three ---- */

static inline uint64_t body_word(uint64_t block, uint32_t gen, size_t i)
{
	uint64_t x = (block << 20) ^ ((uint64_t)gen << 44) ^ i;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

void pw_fill_block(void *blk, uint64_t block, uint32_t gen)
{
	uint64_t *w = blk;
	size_t i;

	w[0] = PW_MAGIC;
	w[1] = block;
	w[2] = gen;
	for (i = 3; i < PW_BLOCK / 8; i++)
		w[i] = body_word(block, gen, i);
}

const char *const pw_blk_state_name[PW_BLK_NR] = { "ok", "stale", "zero", "torn", "foreign" };

enum pw_blk_state pw_check_block(const void *blk, uint64_t block, uint32_t gen,
				 uint32_t *seen_gen)
{
	const uint64_t *w = blk;
	size_t i;

	if (seen_gen)
		*seen_gen = 0;
	if (w[0] != PW_MAGIC || w[1] != block) {
		for (i = 0; i < PW_BLOCK / 8; i++)
			if (w[i])
				return PW_BLK_FOREIGN;
		return PW_BLK_ZERO;
	}
	if (seen_gen)
		*seen_gen = (uint32_t)w[2];
	for (i = 3; i < PW_BLOCK / 8; i++)
		if (w[i] != body_word(block, (uint32_t)w[2], i))
			return PW_BLK_TORN;
	return w[2] == gen ? PW_BLK_OK : PW_BLK_STALE;
}

void pw_tally(const void *buf, size_t first, size_t nblocks, uint32_t gen, struct pw_tally *t)
{
	size_t i;

	memset(t, 0, sizeof(*t));
	t->first_bad = SIZE_MAX;
	for (i = 0; i < nblocks; i++) {
		enum pw_blk_state st = pw_check_block((const char *)buf + i * PW_BLOCK, first + i,
						      gen, NULL);

		t->n[st]++;
		if (st != PW_BLK_OK && t->first_bad == SIZE_MAX)
			t->first_bad = first + i;
	}
}

const char *pw_tally_str(const struct pw_tally *t)
{
	static char s[160];
	size_t total = 0;
	int i;

	for (i = 0; i < PW_BLK_NR; i++)
		total += t->n[i];
	snprintf(s, sizeof(s), "%zu blocks: %zu ok, %zu stale, %zu zero, %zu torn, %zu foreign",
		 total, t->n[PW_BLK_OK], t->n[PW_BLK_STALE], t->n[PW_BLK_ZERO], t->n[PW_BLK_TORN],
		 t->n[PW_BLK_FOREIGN]);
	return s;
}

void *pw_read_direct(const char *path, size_t off, size_t len)
{
	void *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_DIRECT);

	if (fd < 0) {
		pw_info("open %s O_DIRECT: %s", path, strerror(errno));
		return NULL;
	}
	if (posix_memalign(&buf, PW_BLOCK, len)) {
		close(fd);
		return NULL;
	}
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + done);

		if (n <= 0) {
			pw_info("O_DIRECT read of %s at %zu: %s", path, off + done,
				n ? strerror(errno) : "end of file");
			free(buf);
			close(fd);
			return NULL;
		}
		done += n;
	}
	close(fd);
	return buf;
}

/* ---- where a file's blocks are on disk ---- */

static int dev_of(const char *path, char *dev, size_t devlen)
{
	char p[128], line[256];
	struct stat st;
	FILE *f;
	int ret = -1;

	if (stat(path, &st))
		return -1;
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/uevent", major(st.st_dev), minor(st.st_dev));
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(dev, devlen, "/dev/%s", line + 8);
			ret = 0;
		}
	fclose(f);
	return ret;
}

uint64_t *pw_block_map(const char *path, size_t nblocks, char *dev, size_t devlen)
{
	const unsigned int max = 256;
	struct fiemap *fm = calloc(1, sizeof(*fm) + max * sizeof(struct fiemap_extent));
	uint64_t *map = malloc(nblocks * sizeof(*map));
	uint64_t start = 0, end = (uint64_t)nblocks * PW_BLOCK;
	size_t i;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !fm || !map || dev_of(path, dev, devlen))
		pw_die("block map of %s: cannot open it or find its device", path);
	for (i = 0; i < nblocks; i++)
		map[i] = PW_NOT_ON_DISK;
	while (start < end) {
		unsigned int e;
		int last = 0;

		memset(fm, 0, sizeof(*fm));
		fm->fm_start = start;
		fm->fm_length = end - start;
		fm->fm_extent_count = max;
		if (ioctl(fd, FS_IOC_FIEMAP, fm))
			pw_die("FIEMAP %s: %s", path, strerror(errno));
		if (!fm->fm_mapped_extents)
			break;
		for (e = 0; e < fm->fm_mapped_extents; e++) {
			struct fiemap_extent *x = &fm->fm_extents[e];
			uint64_t o;

			if (!(x->fe_flags & (FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_DELALLOC |
					     FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_ENCODED)))
				for (o = x->fe_logical; o < x->fe_logical + x->fe_length && o < end;
				     o += PW_BLOCK)
					if (o >= start)
						map[o / PW_BLOCK] = x->fe_physical + (o - x->fe_logical);
			start = x->fe_logical + x->fe_length;
			last |= x->fe_flags & FIEMAP_EXTENT_LAST;
		}
		if (last)
			break;
	}
	close(fd);
	free(fm);
	return map;
}

uint64_t *pw_block_map_synced(int fd, const char *path, size_t nblocks, char *dev, size_t devlen)
{
	uint64_t *map;

	if (fsync(fd))
		pw_die("fsync of %s before mapping its blocks: %s", path, strerror(errno));
	map = pw_block_map(path, nblocks, dev, devlen);
	for (size_t i = 0; i < nblocks; i++)
		if (map[i] == PW_NOT_ON_DISK)
			pw_die("block %zu of %s has no allocated block after fsync", i, path);
	return map;
}

void *pw_read_disk(const char *dev, const uint64_t *map, size_t nblocks)
{
	char *buf;
	size_t i;
	int fd = open(dev, O_RDONLY | O_DIRECT);

	if (fd < 0)
		pw_die("open %s O_DIRECT: %s", dev, strerror(errno));
	if (posix_memalign((void **)&buf, PW_BLOCK, nblocks * PW_BLOCK))
		pw_die("out of memory");
	memset(buf, 0, nblocks * PW_BLOCK);
	for (i = 0; i < nblocks; i++) {
		size_t n = 1;

		if (map[i] == PW_NOT_ON_DISK)
			continue;
		/* Coalesce physically contiguous blocks into one read. */
		while (i + n < nblocks && map[i + n] == map[i] + n * PW_BLOCK)
			n++;
		if (pread(fd, buf + i * PW_BLOCK, n * PW_BLOCK, map[i]) != (ssize_t)(n * PW_BLOCK))
			pw_die("O_DIRECT read of %s at %llu: %s", dev, (unsigned long long)map[i],
			       strerror(errno));
		i += n - 1;
	}
	close(fd);
	return buf;
}

void pw_disk_tally(const char *dev, const uint64_t *map, size_t nblocks, uint32_t gen,
		   struct pw_tally *t)
{
	struct pw_tally c;
	size_t i;
	int k;

	memset(t, 0, sizeof(*t));
	t->first_bad = SIZE_MAX;
	for (i = 0; i < nblocks; i += 256) {
		size_t n = nblocks - i < 256 ? nblocks - i : 256;
		char *buf = pw_read_disk(dev, map + i, n);

		pw_tally(buf, i, n, gen, &c);
		free(buf);
		for (k = 0; k < PW_BLK_NR; k++)
			t->n[k] += c.n[k];
		if (c.first_bad != SIZE_MAX && t->first_bad == SIZE_MAX)
			t->first_bad = c.first_bad;
	}
}

/* ---- reporting ---- */

void pw_seen(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("# seen: ", "", fmt, ap);
	va_end(ap);
}

void pw_metric(long long value, const char *unit)
{
	printf("# metric: %lld %s\n", value, unit);
	fflush(stdout);
}

/* ---- kernel state ---- */

long long pw_proc_field(const char *path, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = atoll(line + n + 1);
			break;
		}
	fclose(f);
	return v;
}

long long pw_sysctl_get(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static struct {
	const char *path;
	long long value;
} sysctl_saved[8];

static int sysctl_write(const char *path, long long value)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fprintf(f, "%lld\n", value) < 0;
	ret |= fclose(f) != 0;
	return ret ? -1 : 0;
}

void pw_sysctl_restore(void)
{
	size_t i;

	for (i = 0; i < sizeof(sysctl_saved) / sizeof(sysctl_saved[0]) && sysctl_saved[i].path; i++)
		if (sysctl_write(sysctl_saved[i].path, sysctl_saved[i].value))
			pw_info("restoring %s to %lld failed", sysctl_saved[i].path,
				sysctl_saved[i].value);
	memset(sysctl_saved, 0, sizeof(sysctl_saved));
}

void pw_sysctl_set(const char *path, long long value)
{
	const size_t n = sizeof(sysctl_saved) / sizeof(sysctl_saved[0]);
	size_t i;

	for (i = 0; i < n && sysctl_saved[i].path && strcmp(sysctl_saved[i].path, path); i++)
		;
	if (i == n)
		pw_die("more than %zu settings to restore", n);
	if (!sysctl_saved[i].path) {
		long long old = pw_sysctl_get(path);

		if (old < 0)
			pw_die("cannot read %s", path);
		if (i == 0)
			atexit(pw_sysctl_restore);
		sysctl_saved[i].value = old;
		sysctl_saved[i].path = path;
	}
	if (sysctl_write(path, value))
		pw_die("cannot set %s to %lld", path, value);
}

int pw_dmsetup(const char *fmt, ...)
{
	char cmd[1024];
	int n = snprintf(cmd, sizeof(cmd), "DM_DISABLE_UDEV=1 dmsetup ");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	return system(cmd);
}

void pw_dm_linear_table(const char *dm, unsigned long long *sectors, char *base, size_t baselen)
{
	char cmd[256], line[1024] = "", fmt[64];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "DM_DISABLE_UDEV=1 dmsetup table %s", dm);
	snprintf(fmt, sizeof(fmt), "0 %%llu linear %%%zus 0", baselen - 1);
	f = popen(cmd, "r");
	if (!f)
		pw_die("popen %s: %s", cmd, strerror(errno));
	if (!fgets(line, sizeof(line), f) || sscanf(line, fmt, sectors, base) != 2)
		pw_die("%s: not one linear target from sector 0 (%s)", cmd,
		       line[0] ? line : "no output");
	pclose(f);
}

void pw_dm_load(const char *dm, const char *table)
{
	char tmp[] = "/tmp/pinwb-dm.XXXXXX";
	int fd = mkstemp(tmp);

	if (fd < 0 || write(fd, table, strlen(table)) != (ssize_t)strlen(table))
		pw_die("cannot write the dm table to %s", tmp);
	close(fd);
	if (pw_dmsetup("suspend --nolockfs %s", dm))
		pw_die("dmsetup suspend --nolockfs %s failed", dm);
	if (pw_dmsetup("load %s %s", dm, tmp)) {
		pw_dmsetup("resume --nolockfs %s", dm);
		pw_die("dmsetup load %s of\n%s failed", dm, table);
	}
	if (pw_dmsetup("resume --nolockfs %s", dm))
		pw_die("dmsetup resume --nolockfs %s failed", dm);
	unlink(tmp);
}

void pw_host_kill_required(const char *name)
{
	if (!getenv("PINWB_RESULTS") || !getenv("PINWB_CRASH_OK"))
		pw_skip_all("needs the host to kill the guest: run through tests/rdma/%s.host (make check does)",
			    name);
}

void pw_host_kill(void)
{
	char kill_me[PATH_MAX];
	int fd;

	snprintf(kill_me, sizeof(kill_me), "%s/kill-me", getenv("PINWB_RESULTS"));
	fd = open(kill_me, O_CREAT | O_WRONLY, 0644);
	if (fd < 0)
		pw_die("create %s: %s", kill_me, strerror(errno));
	fsync(fd);
	close(fd);
	for (;;)
		pause();
}

double pw_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

long long pw_vmstat(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[128];
	long long v, ret = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%127s %lld", key, &v) == 2)
		if (!strcmp(key, name)) {
			ret = v;
			break;
		}
	fclose(f);
	return ret;
}

long long pw_pins_outstanding(void)
{
	/* Fold the per-CPU counters first (see pins_settle in tests/rules.sh). */
	sysctl_write("/proc/sys/vm/stat_refresh", 1);
	return pw_vmstat("nr_foll_pin_acquired") - pw_vmstat("nr_foll_pin_released");
}

long long pw_pins_settle(long long want, int timeout_ms)
{
	long long n;

	while ((n = pw_pins_outstanding()) != want && timeout_ms > 0) {
		usleep(10000);
		timeout_ms -= 10;
	}
	return n;
}

long long pw_dev_sectors_written(const char *path)
{
	struct stat st;
	char p[PATH_MAX + 64], link[PATH_MAX];
	long long v[8] = { 0 };
	FILE *f;
	ssize_t n;
	char *name;

	if (stat(path, &st))
		return -1;
	/* /sys/dev/block/M:m -> .../block/vda (or .../vda/vda1): stat lives there. */
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	n = readlink(p, link, sizeof(link) - 1);
	if (n < 0)
		return -1;
	link[n] = 0;
	name = strrchr(link, '/');
	snprintf(p, sizeof(p), "/sys/class/block/%s/stat", name ? name + 1 : link);
	f = fopen(p, "r");
	if (!f)
		return -1;
	/* Fields: reads merges sectors ticks writes merges sectors ... */
	if (fscanf(f, "%lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &v[6]) != 7)
		v[6] = -1;
	fclose(f);
	return v[6];
}

/*
 * Open the disk attribute @attr (such as "queue/stable_writes") of the block device st_dev of
 * @st: /sys/dev/block/M:m/ATTR, or the parent disk's for a partition. NULL if neither exists.
 */
static FILE *pw_disk_attr(const struct stat *st, const char *attr)
{
	char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/%s", major(st->st_dev), minor(st->st_dev),
		 attr);
	f = fopen(p, "r");
	if (f)
		return f;
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/../%s", major(st->st_dev),
		 minor(st->st_dev), attr);
	return fopen(p, "r");
}

/*
 * Whether the block device under @path asks for stable pages (queue/stable_writes: dm-integrity
 * and other checksumming devices do): the series writes pinned pages from copies there, and in
 * place elsewhere. Since 6.11 a disk with a PI format (integrity/format other than "none")
 * counts as stable too (bdev_stable_writes()). 1 or 0; -1 if it cannot be read.
 */
int pw_stable_writes(const char *path)
{
	char fmt[64] = "";
	struct stat st;
	int v = -1;
	FILE *f;

	if (stat(path, &st))
		return -1;
	f = pw_disk_attr(&st, "queue/stable_writes");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &v) != 1)
		v = -1;
	fclose(f);
	if (v == 0 && (f = pw_disk_attr(&st, "integrity/format"))) {
		if (fgets(fmt, sizeof(fmt), f) && strncmp(fmt, "none", 4))
			v = 1;
		fclose(f);
	}
	return v;
}

void pw_drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			pw_info("drop_caches: %s", strerror(errno));
		close(fd);
	}
}

const char *pw_scratch(void)
{
	const char *s = getenv("PINWB_SCRATCH");

	return s && *s ? s : "/mnt/scratch";
}

const char *pw_path(const char *name)
{
	static char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", pw_scratch(), name);
	return p;
}

int pw_scratch_quiesce(void)
{
	int ret = mount(NULL, pw_scratch(), NULL, MS_REMOUNT, "noinit_itable");

	if (ret)
		pw_info("remount %s noinit_itable: %s (device write counts may include more)",
			pw_scratch(), strerror(errno));
	sync();
	return ret ? -1 : 0;
}

int pw_make_file(const char *path, size_t nblocks, uint32_t gen)
{
	char *blk = malloc(PW_BLOCK);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	size_t i;

	if (fd < 0 || !blk)
		pw_die("create %s: %s", path, strerror(errno));
	for (i = 0; i < nblocks; i++) {
		pw_fill_block(blk, i, gen);
		if (pwrite(fd, blk, PW_BLOCK, i * PW_BLOCK) != PW_BLOCK)
			pw_die("write %s: %s", path, strerror(errno));
	}
	if (fsync(fd))
		pw_die("fsync %s: %s", path, strerror(errno));
	free(blk);
	return fd;
}

bool pw_reap(int pid, int timeout_ms, int *status)
{
	double end = pw_now() + timeout_ms / 1000.0;

	do {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid || r < 0)
			return true;
		usleep(20000);
	} while (pw_now() < end);
	return false;
}

uint64_t pw_page_pfn(const void *addr)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	uint64_t pme = 0;

	if (pm < 0)
		return 0;
	if (pread(pm, &pme, 8, (uintptr_t)addr / sysconf(_SC_PAGESIZE) * 8) != 8)
		pme = 0;
	close(pm);
	return (pme >> 63) ? pme & ((1ull << 55) - 1) : 0;
}

int pw_pfn_kflags(uint64_t pfn, uint64_t *kflags)
{
	int kpf = open("/proc/kpageflags", O_RDONLY), ret;

	if (kpf < 0)
		return -1;
	ret = pread(kpf, kflags, 8, pfn * 8) == 8 ? 0 : -1;
	close(kpf);
	return ret;
}

int pw_page_kflags(const void *addr, uint64_t *kflags)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	uint64_t pme, pfn;
	int ret = -1;

	if (pm >= 0 && pread(pm, &pme, 8, (uintptr_t)addr / sysconf(_SC_PAGESIZE) * 8) == 8) {
		pfn = pme & ((1ull << 55) - 1);
		if (!(pme >> 63))
			ret = 1;
		else if (pfn && !pw_pfn_kflags(pfn, kflags))
			ret = 0;
	}
	if (pm >= 0)
		close(pm);
	return ret;
}

bool pw_knob_set(unsigned int ms)
{
	FILE *f = fopen(PW_KNOB, "w");

	if (!f)
		return false;
	fprintf(f, "%u\n", ms);
	return fclose(f) == 0;
}

double pw_wait_on_disk(const char *dev, const uint64_t *map, size_t first, size_t n, uint32_t gen,
		       double timeout_s, struct pw_tally *t)
{
	double t0 = pw_now();
	char *buf;

	for (;;) {
		buf = pw_read_disk(dev, map + first, n);
		pw_tally(buf, first, n, gen, t);
		free(buf);
		if (t->n[PW_BLK_OK] == n)
			return pw_now() - t0;
		if (pw_now() - t0 > timeout_s)
			return -1;
		usleep(250000);
	}
}

void pw_writeback_eager(long expire_cs, long interval_cs)
{
	pw_sysctl_set("/proc/sys/vm/dirty_expire_centisecs", expire_cs);
	pw_sysctl_set("/proc/sys/vm/dirty_writeback_centisecs", interval_cs);
	pw_info("vm.dirty_expire_centisecs=%ld, vm.dirty_writeback_centisecs=%ld", expire_cs,
		interval_cs);
}

#define PW_CG_ROOT "/sys/fs/cgroup"
static char pw_cg_name[64], pw_cg_home[300];

void pw_cg_require(void)
{
	if (access(PW_CG_ROOT "/cgroup.controllers", F_OK))
		pw_skip_all("no cgroup v2 at " PW_CG_ROOT);
}

const char *pw_cg_file(const char *file)
{
	static char p[PATH_MAX];

	snprintf(p, sizeof(p), PW_CG_ROOT "/%s/%s", pw_cg_name, file);
	return p;
}

static int pw_cg_write_path_err(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		err = errno;
	close(fd);
	return err;
}

static void pw_cg_write_path(const char *path, const char *val)
{
	int err = pw_cg_write_path_err(path, val);

	if (err)
		pw_die("write %s to %s: %s", val, path, strerror(err));
}

int pw_cg_write_err(const char *file, const char *val)
{
	return pw_cg_write_path_err(pw_cg_file(file), val);
}

void pw_cg_write(const char *file, const char *val)
{
	pw_cg_write_path(pw_cg_file(file), val);
}

long long pw_cg_field(const char *file, const char *key)
{
	char line[256], k[64];
	long long v, ret = -1;
	FILE *f = fopen(pw_cg_file(file), "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", k, &v) == 2 && !strcmp(k, key))
			ret = v;
	fclose(f);
	return ret;
}

void pw_cg_leave(void)
{
	char path[400], pid[32];

	if (!pw_cg_home[0])
		return;
	snprintf(path, sizeof(path), PW_CG_ROOT "%s/cgroup.procs", pw_cg_home);
	snprintf(pid, sizeof(pid), "%d", getpid());
	pw_cg_write_path(path, pid);
	pw_cg_home[0] = 0;
	snprintf(path, sizeof(path), PW_CG_ROOT "/%s", pw_cg_name);
	rmdir(path);
}

void pw_cg_enter(const char *name, long long max_bytes)
{
	static bool registered;
	char line[300], val[64], path[PATH_MAX];
	FILE *cg;

	/* Where we are now (the rig runs tests in /pinwb), to come back to. */
	cg = fopen("/proc/self/cgroup", "r");
	if (!cg || !fgets(line, sizeof(line), cg) || strncmp(line, "0::", 3))
		pw_die("/proc/self/cgroup: no cgroup v2 line");
	fclose(cg);
	line[strcspn(line, "\n")] = 0;
	snprintf(pw_cg_name, sizeof(pw_cg_name), "%s", name);
	snprintf(path, sizeof(path), PW_CG_ROOT "/%s", name);
	if (mkdir(path, 0755) && errno != EEXIST)
		pw_die("mkdir %s: %s (cgroup v2 with the memory controller needed)", path,
		       strerror(errno));
	snprintf(val, sizeof(val), "%lld", max_bytes);
	pw_cg_write("memory.max", val);
	pw_cg_write("memory.swap.max", "0");
	snprintf(val, sizeof(val), "%d", getpid());
	pw_cg_write("cgroup.procs", val);
	snprintf(pw_cg_home, sizeof(pw_cg_home), "%s", line + 3);
	if (!registered)
		atexit(pw_cg_leave);
	registered = true;
}

const char *pw_errname(int err)
{
	return err ? strerrorname_np(err) ?: strerror(err) : "success";
}
