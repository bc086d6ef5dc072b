// SPDX-License-Identifier: GPL-2.0
/*
 * pinwb two-node mode: the RDMA writer is another process, on another guest or host, reached
 * with rdma_cm. See pinwb.h ("two-node mode").
 *
 * The side that owns the file MR listens (--listen ADDR[:PORT]); the writer connects
 * (--connect ADDR[:PORT]) and then does what the owner asks over SEND/RECV messages: write a
 * generation of blocks and report, stream generations until told to stop, or say goodbye. All
 * RDMA WRITEs are the writer's; the owner only registers, syncs and checks, as a server whose
 * buffer a remote client writes into would.
 */
#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <rdma/rdma_cma.h>

#include "pinwb.h"

enum pw_msg_op {
	PW_MSG_WRITE = 1,	/* write generation gen of blocks [first, first + n); reply status */
	PW_MSG_STREAM,		/* write generations from gen on over [0, n) until STOP; reply now */
	PW_MSG_STOP,		/* stop streaming; reply passes and errors */
	PW_MSG_BYE,		/* the owner is done; reply, then disconnect */
	PW_MSG_REPLY,
};

/* On the wire, little-endian. */
struct pw_msg {
	uint32_t op;
	uint32_t gen;
	uint64_t first;
	uint64_t n;
	uint64_t addr;		/* the owner's MR: block i is at addr + i * PW_BLOCK */
	uint32_t rkey;
	uint32_t depth;		/* writes in flight the writer may keep */
	int32_t status;
	uint32_t passes;
	uint32_t errors;
	uint32_t seq;		/* a reply carries its request's */
};

struct pw_peer {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *listen_id;
	struct rdma_cm_id *id;
	struct ibv_comp_channel *cc;
	struct pw_msg *rx, *tx;
	struct ibv_mr *rx_mr, *tx_mr;
	uint32_t seq;		/* the owner's last request */
	bool broken;		/* a request went unanswered: the connection is not trusted again */
};

static enum { PEER_NONE, PEER_LISTEN, PEER_CONNECT } peer_mode;
static bool quiet;	/* connection attempts: a refusal is expected until the owner listens */
static char peer_addr[256];
static const char *peer_dev;

#define PW_PEER_PORT "18600"

/* ---- options ---- */

int pw_peer_options(int argc, char **argv)
{
	int i, out = 1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if ((!strcmp(a, "--listen") || !strcmp(a, "--connect") || !strcmp(a, "--dev")) &&
		    i + 1 < argc) {
			if (!strcmp(a, "--dev")) {
				peer_dev = argv[++i];
				continue;
			}
			peer_mode = a[2] == 'l' ? PEER_LISTEN : PEER_CONNECT;
			snprintf(peer_addr, sizeof(peer_addr), "%s", argv[++i]);
			continue;
		}
		argv[out++] = argv[i];
	}
	argv[out] = NULL;
	if (peer_mode == PEER_NONE && getenv("PINWB_LISTEN") && *getenv("PINWB_LISTEN")) {
		peer_mode = PEER_LISTEN;
		snprintf(peer_addr, sizeof(peer_addr), "%s", getenv("PINWB_LISTEN"));
	}
	if (!peer_dev)
		peer_dev = getenv("PINWB_RDMA_DEV");
	return out;
}

bool pw_peer_listening(void)
{
	return peer_mode == PEER_LISTEN;
}

bool pw_peer_connecting(void)
{
	return peer_mode == PEER_CONNECT;
}

/* "host", "host:port" or "[v6]:port" -> a sockaddr; port 18600 if none is given. */
static void resolve(const char *spec, struct sockaddr_storage *ss)
{
	char buf[256], *host = buf, *port = PW_PEER_PORT, *p;
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV }, *ai;
	int ret;

	snprintf(buf, sizeof(buf), "%s", spec);
	if (buf[0] == '[') {
		p = strchr(buf, ']');
		if (!p)
			pw_die("address %s: no closing ]", spec);
		*p = '\0';
		host = buf + 1;
		if (p[1] == ':')
			port = p + 2;
	} else if ((p = strchr(buf, ':')) && !strchr(p + 1, ':')) {
		*p = '\0';
		port = p + 1;
	}
	ret = getaddrinfo(host, port, &hints, &ai);
	if (ret)
		pw_die("address %s: %s", spec, gai_strerror(ret));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
}

/* ---- events and messages ---- */

double pw_peer_timeout(void)
{
	const char *e = getenv("PINWB_PEER_TIMEOUT");

	return e ? atof(e) : 120;
}


/* Wait up to ms for a CM event of type want; returns 0, or the event type seen instead (-1: none). */
static int wait_event(struct pw_peer *pp, enum rdma_cm_event_type want, int ms,
		      struct rdma_cm_id **new_id)
{
	struct pollfd pfd = { .fd = pp->ch->fd, .events = POLLIN };
	struct rdma_cm_id *stray = NULL;
	struct rdma_cm_event *ev;
	int type;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	if (rdma_get_cm_event(pp->ch, &ev))
		pw_die("rdma_get_cm_event: %s", strerror(errno));
	type = ev->event;
	if (type == (int)want && new_id)
		*new_id = ev->id;
	else if (type == RDMA_CM_EVENT_CONNECT_REQUEST)
		stray = ev->id;
	if (type != (int)want && !quiet)
		pw_info("rdma_cm: %s (status %d) while waiting for %s", rdma_event_str(ev->event),
			ev->status, rdma_event_str(want));
	rdma_ack_cm_event(ev);
	if (stray) {
		/* One writer at a time: a second one is refused, not left waiting. */
		rdma_reject(stray, NULL, 0);
		rdma_destroy_id(stray);
	}
	return type == (int)want ? 0 : type;
}

static int post_recv(struct pw_qp_pair *p)
{
	struct pw_peer *pp = p->peer;
	struct ibv_sge sge = {
		.addr = (uintptr_t)pp->rx, .length = sizeof(*pp->rx), .lkey = pp->rx_mr->lkey,
	};
	struct ibv_recv_wr wr = { .sg_list = &sge, .num_sge = 1 }, *bad;

	return ibv_post_recv(p->writer, &wr, &bad);
}

static int send_msg(struct pw_qp_pair *p, const struct pw_msg *m)
{
	struct pw_peer *pp = p->peer;
	struct ibv_sge sge = {
		.addr = (uintptr_t)pp->tx, .length = sizeof(*pp->tx), .lkey = pp->tx_mr->lkey,
	};
	struct ibv_send_wr wr = {
		.sg_list = &sge, .num_sge = 1, .opcode = IBV_WR_SEND, .send_flags = IBV_SEND_SIGNALED,
	}, *bad;
	int ret;

	if (pw_drain(p))
		return -1;
	pp->tx->op = htole32(m->op);
	pp->tx->gen = htole32(m->gen);
	pp->tx->first = htole64(m->first);
	pp->tx->n = htole64(m->n);
	pp->tx->addr = htole64(m->addr);
	pp->tx->rkey = htole32(m->rkey);
	pp->tx->depth = htole32(m->depth);
	pp->tx->status = (int32_t)htole32((uint32_t)m->status);
	pp->tx->passes = htole32(m->passes);
	pp->tx->errors = htole32(m->errors);
	pp->tx->seq = htole32(m->seq);
	ret = ibv_post_send(p->writer, &wr, &bad);
	if (ret) {
		pw_info("ibv_post_send (message): %s", strerror(ret));
		return -1;
	}
	p->outstanding++;
	return pw_drain(p);
}

/*
 * Take the next message, waiting up to ms (-1: for ever) without spinning; re-posts the
 * receive. Returns 0, 1 on timeout, -1 if the connection is gone or broken.
 */
static int recv_msg(struct pw_qp_pair *p, struct pw_msg *m, int ms)
{
	struct pw_peer *pp = p->peer;
	double end = pw_now() + ms / 1000.0;
	struct ibv_wc wc;
	int n;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = pp->cc->fd, .events = POLLIN },
			{ .fd = pp->ch->fd, .events = POLLIN },
		};
		struct ibv_cq *ev_cq;
		void *ev_ctx;
		int left;

		n = ibv_poll_cq(p->rcq, 1, &wc);
		if (n)
			break;
		if (ibv_req_notify_cq(p->rcq, 0))
			return -1;
		n = ibv_poll_cq(p->rcq, 1, &wc);	/* what arrived before the request */
		if (n)
			break;
		left = ms < 0 ? 1000 : (int)((end - pw_now()) * 1000);
		if (ms >= 0 && left <= 0)
			return 1;
		if (poll(pfd, 2, left > 1000 ? 1000 : left) < 0 && errno != EINTR)
			return -1;
		if (pfd[1].revents) {
			/* A CM event while connected: the other side disconnected or the device went. */
			wait_event(pp, RDMA_CM_EVENT_DISCONNECTED, 0, NULL);
			return -1;
		}
		if (pfd[0].revents && !ibv_get_cq_event(pp->cc, &ev_cq, &ev_ctx))
			ibv_ack_cq_events(ev_cq, 1);
	}
	if (n < 0 || wc.status != IBV_WC_SUCCESS) {
		if (n > 0)
			pw_info("receive completion: %s", ibv_wc_status_str(wc.status));
		return -1;
	}
	m->op = le32toh(pp->rx->op);
	m->gen = le32toh(pp->rx->gen);
	m->first = le64toh(pp->rx->first);
	m->n = le64toh(pp->rx->n);
	m->addr = le64toh(pp->rx->addr);
	m->rkey = le32toh(pp->rx->rkey);
	m->depth = le32toh(pp->rx->depth);
	m->status = (int32_t)le32toh((uint32_t)pp->rx->status);
	m->passes = le32toh(pp->rx->passes);
	m->errors = le32toh(pp->rx->errors);
	m->seq = le32toh(pp->rx->seq);
	return post_recv(p) ? -1 : 0;
}

/*
 * The owner's side of one exchange: send m, wait for its reply (in m). A request that goes
 * unanswered marks the connection broken, and every later call fails at once: a late reply
 * must never pass for the answer to a newer request.
 */
static int call(struct pw_qp_pair *p, struct pw_msg *m)
{
	struct pw_peer *pp = p->peer;
	int ret;

	if (pp->broken)
		return -1;
	m->seq = ++pp->seq;
	if (send_msg(p, m))
		goto broken;
	ret = recv_msg(p, m, (int)(pw_peer_timeout() * 1000));
	if (ret == 1)
		pw_info("the remote writer did not answer in %.0f s", pw_peer_timeout());
	if (ret)
		goto broken;
	if (m->op != PW_MSG_REPLY || m->seq != pp->seq) {
		pw_info("unexpected message %u (seq %u, want %u) from the remote writer", m->op,
			m->seq, pp->seq);
		goto broken;
	}
	return 0;
broken:
	pp->broken = true;
	return -1;
}

/* ---- connection ---- */

/* The verbs side of a connected (or about to be) cm id: PD, CQs, QP, message buffers. */
static void setup_verbs(struct pw_dev *d, struct pw_qp_pair *p, struct pw_peer *pp,
			unsigned int depth)
{
	struct ibv_qp_init_attr ia = { 0 };

	memset(d, 0, sizeof(*d));
	d->ctx = pp->id->verbs;
	d->port = pp->id->port_num;
	d->cm = true;
	if (peer_dev && strcmp(peer_dev, ibv_get_device_name(d->ctx->device)))
		pw_die("%s routes over %s, not the requested device %s", peer_addr,
		       ibv_get_device_name(d->ctx->device), peer_dev);
	d->pd = ibv_alloc_pd(d->ctx);
	if (!d->pd)
		pw_die("ibv_alloc_pd: %s", strerror(errno));

	memset(p, 0, sizeof(*p));
	p->dev = d;
	p->depth = depth;
	p->peer = pp;
	pp->cc = ibv_create_comp_channel(d->ctx);
	p->cq = ibv_create_cq(d->ctx, depth + 2, NULL, NULL, 0);
	p->rcq = ibv_create_cq(d->ctx, 4, NULL, pp->cc, 0);
	if (!pp->cc || !p->cq || !p->rcq)
		pw_die("ibv_create_cq: %s", strerror(errno));
	ia.send_cq = p->cq;
	ia.recv_cq = p->rcq;
	ia.qp_type = IBV_QPT_RC;
	ia.sq_sig_all = 1;
	ia.cap.max_send_wr = depth + 1;
	ia.cap.max_recv_wr = 2;
	ia.cap.max_send_sge = 1;
	ia.cap.max_recv_sge = 1;
	if (rdma_create_qp(pp->id, d->pd, &ia))
		pw_die("rdma_create_qp: %s", strerror(errno));
	p->writer = pp->id->qp;

	pp->rx = calloc(2, sizeof(struct pw_msg));
	if (!pp->rx)
		pw_die("out of memory");
	pp->tx = pp->rx + 1;
	pp->rx_mr = ibv_reg_mr(d->pd, pp->rx, sizeof(*pp->rx), IBV_ACCESS_LOCAL_WRITE);
	pp->tx_mr = ibv_reg_mr(d->pd, pp->tx, sizeof(*pp->tx), 0);
	if (!pp->rx_mr || !pp->tx_mr)
		pw_die("ibv_reg_mr (message buffers): %s", strerror(errno));
	if (post_recv(p))
		pw_die("ibv_post_recv: %s", strerror(errno));
}

static void teardown(struct pw_dev *d, struct pw_qp_pair *p)
{
	struct pw_peer *pp = p->peer;

	if (!pp)
		return;
	if (pp->id && pp->id->qp)
		rdma_destroy_qp(pp->id);
	if (pp->rx_mr)
		ibv_dereg_mr(pp->rx_mr);
	if (pp->tx_mr)
		ibv_dereg_mr(pp->tx_mr);
	free(pp->rx);
	if (p->cq)
		ibv_destroy_cq(p->cq);
	if (p->rcq)
		ibv_destroy_cq(p->rcq);
	if (pp->cc)
		ibv_destroy_comp_channel(pp->cc);
	if (d->pd)
		ibv_dealloc_pd(d->pd);
	if (pp->id)
		rdma_destroy_id(pp->id);
	if (pp->listen_id)
		rdma_destroy_id(pp->listen_id);
	if (pp->ch)
		rdma_destroy_event_channel(pp->ch);
	free(pp);
	memset(p, 0, sizeof(*p));
	memset(d, 0, sizeof(*d));
}

void pw_peer_accept(struct pw_dev *d, struct pw_qp_pair *p, unsigned int depth)
{
	struct rdma_conn_param cp = { .responder_resources = 1, .initiator_depth = 1,
				      .rnr_retry_count = 6 };
	struct pw_peer *pp = calloc(1, sizeof(*pp));
	struct sockaddr_storage ss;
	int ms = (int)(pw_peer_timeout() * 1000), ret;

	if (!pp)
		pw_die("out of memory");
	resolve(peer_addr, &ss);
	pp->ch = rdma_create_event_channel();
	if (!pp->ch || rdma_create_id(pp->ch, &pp->listen_id, NULL, RDMA_PS_TCP))
		pw_die("rdma_create_id: %s", strerror(errno));
	if (rdma_bind_addr(pp->listen_id, (struct sockaddr *)&ss))
		pw_die("rdma_bind_addr %s: %s (no RDMA device on that address?)", peer_addr,
		       strerror(errno));
	if (rdma_listen(pp->listen_id, 1))
		pw_die("rdma_listen %s: %s", peer_addr, strerror(errno));
	pw_info("two-node mode: waiting up to %d s on %s for the remote writer", ms / 1000, peer_addr);
	ret = wait_event(pp, RDMA_CM_EVENT_CONNECT_REQUEST, ms, &pp->id);
	if (ret)
		pw_die("no remote writer connected to %s in %d s (run 'TEST --connect %s' on the writer's side)",
		       peer_addr, ms / 1000, peer_addr);
	setup_verbs(d, p, pp, depth);
	p->remote = true;
	if (rdma_accept(pp->id, &cp))
		pw_die("rdma_accept: %s", strerror(errno));
	if (wait_event(pp, RDMA_CM_EVENT_ESTABLISHED, ms, NULL))
		pw_die("the remote writer's connection was not established");
	/* One writer per test: later connection requests are refused, not queued. */
	rdma_destroy_id(pp->listen_id);
	pp->listen_id = NULL;
	pw_info("two-node mode: writer connected over %s port %u",
		ibv_get_device_name(d->ctx->device), d->port);
}

/*
 * One connection attempt; 0 when established, -1 to try again (everything undone), and dies
 * on errors that retrying cannot mend.
 */
static int try_connect(struct pw_dev *d, struct pw_qp_pair *p, const struct sockaddr_storage *ss)
{
	struct rdma_conn_param cp = { .responder_resources = 1, .initiator_depth = 1,
				      .retry_count = 7, .rnr_retry_count = 6 };
	struct pw_peer *pp = calloc(1, sizeof(*pp));

	if (!pp)
		pw_die("out of memory");
	memset(d, 0, sizeof(*d));
	memset(p, 0, sizeof(*p));
	p->peer = pp;
	pp->ch = rdma_create_event_channel();
	if (!pp->ch || rdma_create_id(pp->ch, &pp->id, NULL, RDMA_PS_TCP))
		pw_die("rdma_create_id: %s", strerror(errno));
	if (rdma_resolve_addr(pp->id, NULL, (struct sockaddr *)ss, 2000) ||
	    wait_event(pp, RDMA_CM_EVENT_ADDR_RESOLVED, 3000, NULL) ||
	    rdma_resolve_route(pp->id, 2000) ||
	    wait_event(pp, RDMA_CM_EVENT_ROUTE_RESOLVED, 3000, NULL))
		goto again;
	/* 64 writes in flight: what the owner asks for is capped there. */
	setup_verbs(d, p, pp, 64);
	if (rdma_connect(pp->id, &cp) || wait_event(pp, RDMA_CM_EVENT_ESTABLISHED, 10000, NULL))
		goto again;
	return 0;
again:
	teardown(d, p);
	return -1;
}

void pw_peer_close(struct pw_dev *d, struct pw_qp_pair *p)
{
	struct pw_peer *pp = p->peer;
	struct pw_msg m = { .op = PW_MSG_BYE };

	if (!pp)
		return;
	if (p->remote && call(p, &m))
		pw_info("the remote writer did not acknowledge the end");
	rdma_disconnect(pp->id);
	wait_event(pp, RDMA_CM_EVENT_DISCONNECTED, 2000, NULL);
	teardown(d, p);
}

/* ---- the owner's calls ---- */

int pw_peer_write_gen(struct pw_qp_pair *p, struct ibv_mr *target, size_t first, size_t n,
		      uint32_t gen)
{
	struct pw_msg m = {
		.op = PW_MSG_WRITE, .gen = gen, .first = first, .n = n,
		.addr = (uintptr_t)target->addr, .rkey = target->rkey, .depth = p->depth,
	};

	if (call(p, &m))
		return -1;
	return m.status;
}

void pw_peer_stream_start(struct pw_writer *w)
{
	struct pw_msg m = {
		.op = PW_MSG_STREAM, .gen = w->gen, .n = w->nblocks,
		.addr = (uintptr_t)w->mr->addr, .rkey = w->mr->rkey, .depth = w->qp->depth,
	};

	if (call(w->qp, &m) || m.status)
		pw_die("the remote writer did not start streaming");
}

void pw_peer_stream_stop(struct pw_writer *w)
{
	struct pw_msg m = { .op = PW_MSG_STOP };

	if (call(w->qp, &m))
		pw_die("the remote writer did not stop streaming");
	atomic_store(&w->passes, m.passes);
	atomic_store(&w->errors, m.errors);
}

/* ---- the writer's side ---- */

/* Write generation m->gen of m->n blocks from m->first; 0 or -1. */
static int serve_write(struct pw_qp_pair *p, struct pw_src *s, const struct pw_msg *m)
{
	struct ibv_mr target = { .addr = (void *)(uintptr_t)m->addr, .rkey = m->rkey };

	p->depth = m->depth && m->depth < 64 ? m->depth : 64;
	return pw_write_gen(p, s, &target, m->first, m->n, m->gen);
}

/*
 * An owner that hangs or dies without disconnecting leaves an idle RC connection that never
 * errors: the writer gives up after $PINWB_PEER_IDLE seconds without a request (default 600),
 * or at once when the file named by $PINWB_PEER_STOP appears (tests/peer-run.sh's stop file).
 */
static double idle_limit(void)
{
	const char *e = getenv("PINWB_PEER_IDLE");

	return e ? atof(e) : 600;
}

static bool owner_gone(const double *idle_end)
{
	const char *stop = getenv("PINWB_PEER_STOP");

	if (stop && *stop && !access(stop, F_OK)) {
		printf("# remote writer: told to stop (%s) while connected\n", stop);
		return true;
	}
	if (pw_now() > *idle_end) {
		printf("# remote writer: no request for %.0f s\n", idle_limit());
		return true;
	}
	return false;
}

int pw_peer_serve(void)
{
	struct sockaddr_storage ss;
	struct pw_dev d;
	struct pw_qp_pair p;
	struct pw_src s;
	struct pw_msg m, r;
	double end = pw_now() + pw_peer_timeout(), idle_end = pw_now() + idle_limit();
	unsigned int writes = 0, passes = 0;
	int ret;

	resolve(peer_addr, &ss);
	printf("# remote writer: connecting to %s (for up to %.0f s)\n", peer_addr, pw_peer_timeout());
	quiet = true;
	while (try_connect(&d, &p, &ss)) {
		if (pw_now() > end) {
			printf("# remote writer: no owner listening on %s\n", peer_addr);
			return 2;
		}
		usleep(300000);
	}
	quiet = false;
	printf("# remote writer: connected to %s over %s\n", peer_addr,
	       ibv_get_device_name(d.ctx->device));
	pw_src_create(&d, &s, 64);

	for (;;) {
		ret = recv_msg(&p, &m, 1000);
		if (ret == 1 && !owner_gone(&idle_end))
			continue;
		if (ret) {
			printf("# remote writer: the connection to %s ended without a goodbye\n", peer_addr);
			pw_src_destroy(&s);
			teardown(&d, &p);
			return 1;
		}
		idle_end = pw_now() + idle_limit();
		memset(&r, 0, sizeof(r));
		r.op = PW_MSG_REPLY;
		r.seq = m.seq;
		switch (m.op) {
		case PW_MSG_WRITE:
			r.status = serve_write(&p, &s, &m);
			writes++;
			break;
		case PW_MSG_STREAM: {
			struct pw_msg pass = m, stop;
			uint32_t n = 0, errors = 0;
			double never = pw_now() + 1e9;	/* streaming is not idleness */

			if (send_msg(&p, &r))
				goto broken;
			for (;;) {
				if (serve_write(&p, &s, &pass))
					errors++;
				n++;
				pass.gen++;
				if (owner_gone(&never))
					goto broken;
				ret = recv_msg(&p, &stop, 0);
				if (ret < 0)
					goto broken;
				if (!ret)
					break;
			}
			if (stop.op != PW_MSG_STOP)
				printf("# remote writer: message %u while streaming; stopping\n", stop.op);
			r.passes = n;
			r.errors = errors;
			r.seq = stop.seq;
			passes += n;
			break;
		}
		case PW_MSG_BYE:
			send_msg(&p, &r);
			printf("# remote writer: done (%u write requests, %u streamed passes)\n", writes,
			       passes);
			wait_event(p.peer, RDMA_CM_EVENT_DISCONNECTED, 5000, NULL);
			pw_src_destroy(&s);
			teardown(&d, &p);
			return 0;
		default:
			r.status = -1;
			break;
		}
		if (send_msg(&p, &r))
			goto broken;
	}
broken:
	printf("# remote writer: the connection to %s broke\n", peer_addr);
	pw_src_destroy(&s);
	teardown(&d, &p);
	return 1;
}
