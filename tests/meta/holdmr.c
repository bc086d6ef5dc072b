// SPDX-License-Identifier: GPL-2.0
/* meta: register a 64 KiB anonymous MR and hold it for argv[1] seconds (tests/meta/leak.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <infiniband/verbs.h>

int main(int argc, char **argv)
{
	struct ibv_device **list;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	size_t len = 16 * 4096;
	void *buf = aligned_alloc(4096, len);
	int n;

	list = ibv_get_device_list(&n);
	if (!list || !n || !buf)
		return printf("no RDMA device\n"), 1;
	ctx = ibv_open_device(list[0]);
	pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	memset(buf, 1, len);
	if (!pd || !ibv_reg_mr(pd, buf, len, IBV_ACCESS_LOCAL_WRITE))
		return printf("ibv_reg_mr failed\n"), 1;
	printf("registered\n");
	fflush(stdout);
	sleep(argc > 1 ? atoi(argv[1]) : 15);
	return 0;
}
