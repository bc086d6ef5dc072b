// SPDX-License-Identifier: GPL-2.0
/*
 * smoke: the rig works end to end. RDMA-write a pattern into an anonymous buffer and into an
 * ext4 file mapping, check it through the CPU mapping, deregister, check that the pins balance.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "RDMA-write into an anonymous MR and an ext4 file MR, verify, pins balance";

#define NBLK 256

static void write_and_check(struct pw_qp_pair *qp, struct pw_src *src, struct ibv_mr *mr,
			    const char *what)
{
	struct pw_tally t;

	pw_ok(!pw_write_gen(qp, src, mr, 0, NBLK, 1), "%s: %d RDMA writes completed", what, NBLK);
	pw_tally(mr->addr, 0, NBLK, 1, &t);
	pw_info("%s via CPU mapping: %s", what, pw_tally_str(&t));
	pw_ok(t.n[PW_BLK_OK] == NBLK, "%s: pattern visible through the CPU mapping", what);
}

int pw_test(int argc, char **argv)
{
	const int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
	long long pins0 = pw_pins_outstanding(), pins1;
	struct pw_qp_pair qp;
	struct pw_src src;
	struct pw_fmr f;
	struct pw_dev d;
	struct pw_tally t;
	struct ibv_mr *amr;
	char *anon, *buf;
	int ret;

	(void)argc; (void)argv;
	pw_dev_open(&d);
	pw_plan(6);
	pw_qp_pair_create(&d, &qp, 32);
	pw_src_create(&d, &src, 16);

	anon = mmap(NULL, NBLK * PW_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		pw_die("mmap: %s", strerror(errno));
	amr = pw_reg_mr(d.pd, anon, NBLK * PW_BLOCK, access);
	if (!amr)
		pw_die("ibv_reg_mr (anonymous): %s", strerror(errno));
	write_and_check(&qp, &src, amr, "anonymous");
	ibv_dereg_mr(amr);
	munmap(anon, NBLK * PW_BLOCK);

	ret = pw_fmr_open(&d, &f, pw_path("smoke.dat"), NBLK * PW_BLOCK, PROT_READ | PROT_WRITE, access);
	if (ret)
		pw_die("ibv_reg_mr over a file mapping: %s", strerror(-ret));
	write_and_check(&qp, &src, f.mr, "ext4 file");
	pw_fmr_dereg(&f);

	buf = malloc(NBLK * PW_BLOCK);
	ret = pread(f.fd, buf, NBLK * PW_BLOCK, 0) == NBLK * PW_BLOCK;
	pw_tally(buf, 0, NBLK, 1, &t);
	pw_info("file via read(2) after deregistration: %s", pw_tally_str(&t));
	pw_ok(ret && t.n[PW_BLK_OK] == NBLK, "file content after deregistration");
	free(buf);
	pw_fmr_close(&f);

	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	pins1 = pw_pins_settle(pins0, 5000);
	pw_info("pins outstanding: before %lld, after %lld", pins0, pins1);
	pw_ok(pins1 == pins0, "pins balance once the MRs are gone");
	pw_seen("%d-block pattern RDMA-written into an anonymous and an ext4 file MR, read back; pins %s",
		NBLK, pins1 == pins0 ? "balanced" : "unbalanced");
	return pw_result();
}
