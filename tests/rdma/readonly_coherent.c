// SPDX-License-Identifier: GPL-2.0
/*
 * readonly_coherent: a read-only MR keeps seeing what the process writes after registration
 * (review finding 1.2, issue 16). An MR is registered with IBV_ACCESS_REMOTE_READ only (no
 * write access) over memory the process has not yet written, or has only read; then the
 * process writes generation 2 into every block through its own mapping, and an RDMA READ from
 * the MR must return generation 2. Three mappings:
 *  1. anonymous private memory never written (what calloc() of a large buffer gives): a read
 *     pin without a write fault pins the shared zero page, and the device reads zeros forever;
 *  2. a MAP_PRIVATE, PROT_READ|PROT_WRITE mapping of a file holding generation 1, read but not
 *     written before registration: a read pin pins the page-cache page, which the process
 *     leaves for a private copy at its first write, and the device keeps reading generation 1;
 *  3. a MAP_SHARED mapping of a file (the control: one page for both, coherent on every kernel).
 * Stock 6.1 pins read-only MRs with FOLL_WRITE|FOLL_FORCE, which breaks COW at registration, so
 * all three pass there; the v2 series pinned without a write fault and lost 1 and 2.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "a read-only MR over anonymous, MAP_PRIVATE file and MAP_SHARED file memory sees what the process writes after registration";

#define NBLK 64
#define LEN ((size_t)NBLK * PW_BLOCK)

enum kind { ANON, PRIVATE_FILE, SHARED_FILE, NR_KINDS };

static const char *const kind_name[NR_KINDS] = {
	"anonymous memory never written",
	"MAP_PRIVATE file mapping, read before registration",
	"MAP_SHARED file mapping (control)",
};

static char *map_kind(enum kind k, int *fdp)
{
	volatile char sum = 0;
	char *p;
	size_t i;

	*fdp = -1;
	switch (k) {
	case ANON:
		p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case PRIVATE_FILE:
		*fdp = pw_make_file(pw_path("ro-private.dat"), NBLK, 1);
		p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE, *fdp, 0);
		break;
	default:
		*fdp = pw_make_file(pw_path("ro-shared.dat"), NBLK, 1);
		p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, *fdp, 0);
		break;
	}
	if (p == MAP_FAILED)
		pw_die("mmap (%s): %s", kind_name[k], strerror(errno));
	/* Read every page (as an application that checks its buffer would): map what is there. */
	if (k != ANON)
		for (i = 0; i < LEN; i += PW_BLOCK)
			sum += p[i];
	(void)sum;
	return p;
}

/* Returns true if the device read generation 2 everywhere; seen gets the summary. */
static bool run_kind(struct pw_dev *d, struct pw_qp_pair *qp, struct ibv_mr *sink, enum kind k,
		     char *seen, size_t seenlen)
{
	long long pins0 = pw_pins_outstanding();
	struct pw_tally t = { 0 };
	struct ibv_mr *mr;
	int fd, ret = 0;
	size_t i;
	char *p;

	p = map_kind(k, &fd);
	mr = pw_reg_mr(d->pd, p, LEN, IBV_ACCESS_REMOTE_READ);
	if (!pw_ok(mr != NULL, "%s: read-only MR registered (%s)", kind_name[k],
		   mr ? "ok" : strerror(errno))) {
		snprintf(seen, seenlen, "%s: not registered (%s)", kind_name[k], strerror(errno));
		pw_ok(false, "%s: RDMA READ after the process wrote: not run", kind_name[k]);
		goto out;
	}
	/* The process writes generation 2 through its own mapping, after registration. */
	for (i = 0; i < NBLK; i++)
		pw_fill_block(p + i * PW_BLOCK, i, 2);

	memset(sink->addr, 0, LEN);
	for (i = 0; i < NBLK; i++)
		if (pw_post_read(qp, sink, i * PW_BLOCK, (uintptr_t)p + i * PW_BLOCK, mr->rkey,
				 PW_BLOCK))
			ret = -1;
	if (pw_drain(qp))
		ret = -1;
	pw_tally(sink->addr, 0, NBLK, 2, &t);
	snprintf(seen, seenlen, "%s: %s", kind_name[k], pw_tally_str(&t));
	pw_ok(!ret && t.n[PW_BLK_OK] == NBLK,
	      "%s: RDMA READ from the MR returns what the process wrote after registration (%s)",
	      kind_name[k], pw_tally_str(&t));
	if (ibv_dereg_mr(mr))
		pw_die("ibv_dereg_mr: %s", strerror(errno));
out:
	munmap(p, LEN);
	if (fd >= 0)
		close(fd);
	pw_pins_settle(pins0, 5000);
	return !ret && mr && t.n[PW_BLK_OK] == NBLK;
}

int pw_test(int argc, char **argv)
{
	char seen[NR_KINDS][200];
	struct pw_qp_pair qp;
	struct ibv_mr *sink;
	struct pw_dev d;
	int k, lost = 0;
	char *sbuf;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(2 * NR_KINDS);
	pw_qp_pair_create(&d, &qp, 16);
	sbuf = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sbuf == MAP_FAILED)
		pw_die("mmap: %s", strerror(errno));
	sink = pw_reg_mr(d.pd, sbuf, LEN, IBV_ACCESS_LOCAL_WRITE);
	if (!sink)
		pw_die("ibv_reg_mr (anonymous sink): %s", strerror(errno));

	for (k = 0; k < NR_KINDS; k++)
		lost += !run_kind(&d, &qp, sink, k, seen[k], sizeof(seen[k]));

	pw_seen("%s; %s; %s", seen[0], seen[1], seen[2]);
	pw_metric(lost, "mappings where the device missed the process's writes");
	ibv_dereg_mr(sink);
	munmap(sbuf, LEN);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
