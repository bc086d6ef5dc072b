// SPDX-License-Identifier: GPL-2.0
/*
 * largefolio: truncation, hole punch, collapse and insert range at a page of a large page-cache
 * folio part of which a device writes through a registered MR. XFS only (the filesystem of the
 * series with large folios in its page cache), on a kernel built with
 * CONFIG_TRANSPARENT_HUGEPAGE (without it the page cache holds order-0 folios only; the test
 * skips).
 *
 * For each operation a 2 MiB file is written by one write(2), which gives it large folios (before
 * 6.6, reading it in order does); /proc/kpageflags finds one of 16 pages or more, at page h with
 * n pages. Two pages inside it, [h + 1, h + 3), are registered as an MR and RDMA-written
 * (generation 2), and the file is fsynced: the folio is clean now, but for the pin. Then, at page
 * cut = h + n/2, in the same folio but away from the registered pages:
 *   - truncate: ftruncate() to cut pages;
 *   - punch: FALLOC_FL_PUNCH_HOLE of pages [cut, cut + 4);
 *   - zero: FALLOC_FL_ZERO_RANGE of pages [cut, cut + 4);
 *   - punch-bytes: FALLOC_FL_PUNCH_HOLE of bytes [100, 300) of page cut;
 *   - punch-tail: FALLOC_FL_PUNCH_HOLE of page cut and bytes [0, 200) of the next;
 *   - collapse: FALLOC_FL_COLLAPSE_RANGE of pages [cut, cut + 4);
 *   - insert: FALLOC_FL_INSERT_RANGE of 4 pages at cut.
 * The page cache cannot keep part of a folio: truncate_inode_partial_folio() splits it, and a
 * pinned folio cannot be split. The registered pages stay in the file (no operation covers
 * them), so the folio must stay whole, or the device goes on writing into pages the file has
 * dropped and its later writes are lost. Truncate and the page-aligned punch and zero range are
 * then right: the cut part is zeroed in the folio, and is beyond EOF, a hole or zeroed blocks.
 * The others are not: XFS rounds a punch that starts or ends inside a page out to the page, whose
 * other bytes would be zeroed and written over the file's data, and collapse and insert move the
 * file's blocks under the folio's old contents. Those four must fail with EBUSY while the folio
 * is pinned, change nothing, and go through once the MR is gone. After the operation the device writes generation 3 into the registered pages, and:
 *  - the registered pages, read through the CPU mapping, are the same physical pages as before
 *    (/proc/self/pagemap);
 *  - read(2) finds the file as the operation (or its refusal) leaves it: the size; generation 3
 *    in the registered blocks; in the others generation 1 of the block that is there now, zeros
 *    where a hole is;
 *  - fsync() succeeds while the MR is registered (the zeros over the punched hole are what the
 *    hole reads as: no error);
 *  - after deregistration and fsync the block device holds the same, and so does read(2) after
 *    drop_caches.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "lib/pinwb.h"

const char pw_description[] = "XFS large folios: truncate, hole punch, collapse and insert range inside a large folio that a device writes through an MR: the device's pages stay in the file, nothing else changes";

#define NBLK 512		/* 2 MiB, written by one write(2) */
#define MIN_FOLIO 16		/* pages */
#define REG_FIRST 1		/* the MR: pages [h + 1, h + 3) of the folio */
#define REG_N 2
#define HOLE_N 4		/* pages punched, collapsed, inserted */
#define PUNCH_OFF 100		/* punch-bytes: bytes [100, 300) of the page at the cut */
#define PUNCH_LEN 200
#define THP_SYSFS "/sys/kernel/mm/transparent_hugepage"
#define ACCESS (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE)

enum op { OP_TRUNCATE, OP_PUNCH, OP_ZERO, OP_PUNCH_BYTES, OP_PUNCH_TAIL, OP_COLLAPSE, OP_INSERT,
	  OP_NR };
static const char *const op_name[OP_NR] = {
	"truncate", "punch", "zero", "punch-bytes", "punch-tail", "collapse", "insert"
};
/* The ones that must fail with EBUSY while the folio is pinned. */
#define OP_REFUSED(op) ((op) == OP_PUNCH_BYTES || (op) == OP_PUNCH_TAIL || (op) == OP_COLLAPSE || \
			(op) == OP_INSERT)
#define NR_REFUSED 4

/*
 * Whether pages [h, last] of the mapping are still one folio: page h its head, the others tails
 * at the matching physical addresses.
 */
static bool still_one_folio(const char *map, size_t h, size_t last)
{
	uint64_t kf, pfn_h = pw_page_pfn(map + h * PW_BLOCK);
	size_t i;

	if (!pfn_h || pw_page_kflags(map + h * PW_BLOCK, &kf) || !(kf & (1ull << PW_KPF_COMPOUND_HEAD)))
		return false;
	for (i = h + 1; i <= last; i++) {
		volatile char c = map[i * PW_BLOCK];

		(void)c;
		if (pw_page_pfn(map + i * PW_BLOCK) != pfn_h + (i - h) ||
		    pw_page_kflags(map + i * PW_BLOCK, &kf) || !(kf & (1ull << PW_KPF_COMPOUND_TAIL)))
			return false;
	}
	return true;
}

/* RDMA-write generation gen into the MR's n blocks, patterned for file blocks from fblk. */
static int dev_write(struct pw_qp_pair *qp, struct pw_src *src, struct ibv_mr *mr, size_t fblk,
		     size_t n, uint32_t gen)
{
	size_t i;

	for (i = 0; i < n; i++) {
		pw_fill_block(src->buf + i * PW_BLOCK, fblk + i, gen);
		if (pw_post_write(qp, src->mr, i * PW_BLOCK, (uintptr_t)mr->addr + i * PW_BLOCK,
				  mr->rkey, PW_BLOCK))
			return -1;
	}
	return pw_drain(qp);
}

/*
 * The first folio of at least MIN_FOLIO pages in the mapping: its first page in *h, its pages
 * in *n. Every page is read first, so that each has a PTE. Returns false if there is none. How
 * many folios of each size were seen goes to sizes ("4 of 1 page, 2 of 16, ...").
 */
static bool find_large_folio(const char *map, size_t *h, size_t *n, char *sizes, size_t len)
{
	size_t i, head = 0, pages = 0, off = 0, count[NBLK + 1] = { 0 };
	bool found = false;
	volatile char c;
	uint64_t kf;

	for (i = 0; i < NBLK; i++)
		c = map[i * PW_BLOCK];
	(void)c;
	for (i = 0; i <= NBLK; i++) {
		if (i < NBLK) {
			if (pw_page_kflags(map + i * PW_BLOCK, &kf))
				pw_die("no /proc/kpageflags word for page %zu of the file", i);
			if (kf & (1ull << PW_KPF_COMPOUND_TAIL)) {
				pages++;
				continue;
			}
		}
		if (i) {
			count[pages]++;
			if (pages >= MIN_FOLIO && !found) {
				*h = head;
				*n = pages;
				found = true;
			}
		}
		head = i;
		pages = 1;
	}
	sizes[0] = 0;
	for (i = 1; i <= NBLK; i++)
		if (count[i] && off < len - 32)
			off += snprintf(sizes + off, len - off, "%s%zu of %zu page%s", off ? ", " : "",
					count[i], i, i > 1 ? "s" : "");
	return found;
}

static void read_blocks(int fd, char *buf, size_t first, size_t n)
{
	ssize_t r = pread(fd, buf, n * PW_BLOCK, first * PW_BLOCK);

	if (r != (ssize_t)(n * PW_BLOCK))
		pw_die("read(2) of blocks [%zu, %zu): %zd, %s", first, first + n, r,
		       r < 0 ? strerror(errno) : "short");
}

/*
 * What the file must hold once op has been done at page cut (done: it went through; else it was
 * refused and nothing moved): its size in blocks, and each block from page h on. The registered
 * pages hold generation 3, the others generation 1 of the block they came from, holes zeros.
 */
struct want {
	enum op op;
	bool done;
	size_t h, cut, size;
};

static size_t want_size(const struct want *w)
{
	if (!w->done)
		return NBLK;
	switch (w->op) {
	case OP_TRUNCATE:
		return w->cut;
	case OP_COLLAPSE:
		return NBLK - HOLE_N;
	case OP_INSERT:
		return NBLK + HOLE_N;
	default:
		return NBLK;
	}
}

/* The expected contents of file block i. */
static void want_block(const struct want *w, size_t i, char *blk)
{
	size_t from = i;

	if (i >= w->h + REG_FIRST && i < w->h + REG_FIRST + REG_N) {
		pw_fill_block(blk, i, 3);
		return;
	}
	if (w->done && i >= w->cut) {
		switch (w->op) {
		case OP_PUNCH:
		case OP_ZERO:
			if (i < w->cut + HOLE_N) {
				memset(blk, 0, PW_BLOCK);
				return;
			}
			break;
		case OP_INSERT:
			if (i < w->cut + HOLE_N) {
				memset(blk, 0, PW_BLOCK);
				return;
			}
			from = i - HOLE_N;
			break;
		case OP_COLLAPSE:
			from = i + HOLE_N;
			break;
		case OP_PUNCH_TAIL:
			if (i == w->cut) {
				memset(blk, 0, PW_BLOCK);
				return;
			}
			break;
		default:
			break;
		}
	}
	pw_fill_block(blk, from, 1);
	if (w->done && w->op == OP_PUNCH_BYTES && i == w->cut)
		memset(blk + PUNCH_OFF, 0, PUNCH_LEN);
	if (w->done && w->op == OP_PUNCH_TAIL && i == w->cut + 1)
		memset(blk, 0, PUNCH_LEN);
}

/*
 * Compare buf (blocks [w->h, w->h + n) of the file) with what it must hold: two results, the
 * registered blocks and the others. Returns the number of blocks that differ.
 */
static size_t check(const struct want *w, const char *buf, size_t n, const char *when)
{
	size_t i, bad_reg = 0, bad_other = 0, first_other = 0;
	char *blk = malloc(PW_BLOCK);
	uint32_t seen;

	if (!blk)
		pw_die("out of memory");
	for (i = w->h; i < w->h + n; i++) {
		const char *b = buf + (i - w->h) * PW_BLOCK;

		want_block(w, i, blk);
		if (!memcmp(b, blk, PW_BLOCK))
			continue;
		if (i >= w->h + REG_FIRST && i < w->h + REG_FIRST + REG_N) {
			bad_reg++;
			pw_info("%s: registered block %zu: %s (generation %u)", when, i,
				pw_blk_state_name[pw_check_block(b, i, 3, &seen)], seen);
		} else if (!bad_other++) {
			first_other = i;
		}
	}
	free(blk);
	pw_ok(!bad_reg, "%s: the %d registered blocks hold the device's last generation (%zu do not)",
	      when, REG_N, bad_reg);
	pw_ok(!bad_other, "%s: blocks [%zu, %zu) other than those hold what they must (%zu do not, the first at %zu)",
	      when, w->h, w->h + n, bad_other, first_other);
	return bad_reg + bad_other;
}

/* Do op at page cut: 0 or an errno. */
static int do_op(int fd, enum op op, size_t cut)
{
	int ret;

	switch (op) {
	case OP_TRUNCATE:
		ret = ftruncate(fd, cut * PW_BLOCK);
		break;
	case OP_PUNCH:
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, cut * PW_BLOCK,
				HOLE_N * PW_BLOCK);
		break;
	case OP_ZERO:
		ret = fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, cut * PW_BLOCK,
				HOLE_N * PW_BLOCK);
		break;
	case OP_PUNCH_BYTES:
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				cut * PW_BLOCK + PUNCH_OFF, PUNCH_LEN);
		break;
	case OP_PUNCH_TAIL:
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, cut * PW_BLOCK,
				PW_BLOCK + PUNCH_LEN);
		break;
	case OP_COLLAPSE:
		ret = fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, cut * PW_BLOCK, HOLE_N * PW_BLOCK);
		break;
	default:
		ret = fallocate(fd, FALLOC_FL_INSERT_RANGE, cut * PW_BLOCK, HOLE_N * PW_BLOCK);
		break;
	}
	return ret ? errno : 0;
}

/* The file's size, its blocks from h on through read(2), and how they compare. */
static size_t check_read(const struct want *w, int fd, char *buf, const char *when)
{
	size_t n = want_size(w) - w->h;
	struct stat st;

	if (fstat(fd, &st))
		pw_die("fstat: %s", strerror(errno));
	pw_ok(st.st_size == (off_t)want_size(w) * PW_BLOCK, "%s: file size %lld, want %zu blocks",
	      when, (long long)st.st_size, want_size(w));
	read_blocks(fd, buf, w->h, n);
	return check(w, buf, n, when);
}

static size_t run(struct pw_dev *d, struct pw_qp_pair *qp, struct pw_src *src, enum op op)
{
	char name[64], sizes[256], dev[64], what[96];
	const char *how, *name_op = op_name[op];
	size_t h, n, i, wrong = 0;
	struct want w = { .op = op };
	long long vmpin0, left;
	uint64_t pfn0[REG_N], pfn1[REG_N], *map;
	struct pw_fmr f = { .fd = -1 };
	bool refusable = OP_REFUSED(op);
	volatile char c;
	char *buf;
	int ret, err;

	snprintf(name, sizeof(name), "largefolio-%s.dat", name_op);
	f.fd = open(pw_path(name), O_RDWR | O_CREAT | O_TRUNC, 0644);
	buf = malloc((NBLK + HOLE_N) * PW_BLOCK);
	if (f.fd < 0 || !buf)
		pw_die("create %s: %s", pw_path(name), strerror(errno));
	for (i = 0; i < NBLK; i++)
		pw_fill_block(buf + i * PW_BLOCK, i, 1);
	if (pwrite(f.fd, buf, NBLK * PW_BLOCK, 0) != NBLK * PW_BLOCK || fsync(f.fd))
		pw_die("write and fsync %s: %s", name, strerror(errno));
	f.len = NBLK * PW_BLOCK;
	f.addr = mmap(NULL, f.len, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
	if (f.addr == MAP_FAILED)
		pw_die("mmap %s: %s", name, strerror(errno));
	how = "one 2 MiB write(2)";
	if (!find_large_folio(f.addr, &h, &n, sizes, sizeof(sizes))) {
		/*
		 * Before 6.6, iomap's buffered writes make order-0 folios; readahead makes large
		 * ones (larger as it goes on). Drop the file's pages and read it in order.
		 */
		how = "readahead";
		munmap(f.addr, f.len);
		if (posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED))
			pw_die("posix_fadvise(DONTNEED) %s: %s", name, strerror(errno));
		for (i = 0; i < NBLK; i += 32)
			read_blocks(f.fd, buf, i, 32);
		f.addr = mmap(NULL, f.len, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
		if (f.addr == MAP_FAILED)
			pw_die("mmap %s: %s", name, strerror(errno));
		if (!find_large_folio(f.addr, &h, &n, sizes, sizeof(sizes)))
			pw_die("%s: no folio of %d pages or more after a 2 MiB write(2), nor after reading the file in order (folio sizes in pages: %s)",
			       name_op, MIN_FOLIO, sizes);
	}
	w.h = h;
	w.cut = h + n / 2;
	pw_info("%s: folio of %zu pages at page %zu (made by %s); MR over pages [%zu, %zu); cut at page %zu",
		name_op, n, h, how, h + REG_FIRST, h + REG_FIRST + REG_N, w.cut);

	vmpin0 = pw_proc_field("/proc/self/status", "VmPin");
	f.mr = pw_reg_mr(d->pd, f.addr + (h + REG_FIRST) * PW_BLOCK, REG_N * PW_BLOCK, ACCESS);
	if (!f.mr)
		pw_die("ibv_reg_mr of 2 pages of %s: %s", name, strerror(errno));
	for (i = 0; i < REG_N; i++)
		pfn0[i] = pw_page_pfn(f.addr + (h + REG_FIRST + i) * PW_BLOCK);
	/* Still one folio from the registered pages to the cut (nothing split it meanwhile)? */
	if (!still_one_folio(f.addr, h, w.cut + 1))
		pw_die("%s: the folio at page %zu changed between finding it and registering pages of it",
		       name_op, h);
	if (dev_write(qp, src, f.mr, h + REG_FIRST, REG_N, 2))
		pw_die("RDMA write of generation 2 failed");
	/* Written back once: the folio is clean now, to all but the pin. */
	if (fsync(f.fd))
		pw_die("fsync after generation 2: %s", strerror(errno));

	err = do_op(f.fd, op, w.cut);
	w.done = !err;
	snprintf(what, sizeof(what), "%s at page %zu, MR registered", name_op, w.cut);
	if (refusable) {
		pw_ok(err == EBUSY, "%s: refused with EBUSY (%s): it cannot leave the pinned folio whole",
		      what, err ? pw_errname(err) : "it went through");
	} else {
		pw_ok(!err, "%s: succeeds (%s)", what, err ? pw_errname(err) : "0");
		w.done = true;		/* what it does, it does before any error */
	}

	ret = dev_write(qp, src, f.mr, h + REG_FIRST, REG_N, 3);
	pw_ok(!ret, "%s: generation 3 RDMA-written into the MR afterwards", what);
	for (i = 0; i < REG_N; i++) {
		c = f.addr[(h + REG_FIRST + i) * PW_BLOCK];
		pfn1[i] = pw_page_pfn(f.addr + (h + REG_FIRST + i) * PW_BLOCK);
	}
	(void)c;
	pw_ok(pfn0[0] && pfn0[0] == pfn1[0] && pfn0[1] == pfn1[1],
	      "%s: the file's pages at the MR are still the pinned ones (pfn %#llx %#llx, now %#llx %#llx)",
	      what, (unsigned long long)pfn0[0], (unsigned long long)pfn0[1],
	      (unsigned long long)pfn1[0], (unsigned long long)pfn1[1]);
	wrong += check_read(&w, f.fd, buf, what);
	ret = fsync(f.fd);
	pw_ok(!ret, "%s: fsync: %s", what, ret ? strerror(errno) : "0");

	left = pw_fmr_dereg_settled(&f, vmpin0);
	ret = fsync(f.fd);
	pw_ok(left == vmpin0 && !ret, "%s: deregistered: VmPin back to %lld kB (%lld kB), then fsync: %s",
	      name_op, vmpin0, left, ret ? strerror(errno) : "0");

	/* The disk itself: the blocks read with O_DIRECT from the device (holes: zeros). */
	map = pw_block_map(pw_path(name), want_size(&w), dev, sizeof(dev));
	free(buf);
	buf = pw_read_disk(dev, map + h, want_size(&w) - h);
	free(map);
	snprintf(what, sizeof(what), "%s, deregistered, fsync, block device", name_op);
	wrong += check(&w, buf, want_size(&w) - h, what);
	free(buf);
	buf = malloc((NBLK + HOLE_N) * PW_BLOCK);
	if (!buf)
		pw_die("out of memory");
	pw_drop_caches();
	snprintf(what, sizeof(what), "%s, deregistered, fsync, drop_caches, read(2)", name_op);
	wrong += check_read(&w, f.fd, buf, what);

	/* With the MR gone, what was refused goes through. */
	if (refusable && !w.done) {
		err = do_op(f.fd, op, w.cut);
		w.done = !err;
		snprintf(what, sizeof(what), "%s at page %zu, deregistered", name_op, w.cut);
		pw_ok(!err, "%s: goes through (%s)", what, err ? pw_errname(err) : "0");
		wrong += check_read(&w, f.fd, buf, what);
	} else if (refusable) {
		pw_skip("%s: goes through once deregistered (it was not refused)", name_op);
		pw_skip("%s: file size once deregistered (it was not refused)", name_op);
		pw_skip("%s: registered blocks once deregistered (it was not refused)", name_op);
		pw_skip("%s: other blocks once deregistered (it was not refused)", name_op);
	}
	free(buf);
	pw_fmr_close(&f);
	return wrong;
}

int pw_test(int argc, char **argv)
{
	struct pw_qp_pair qp;
	struct pw_src src;
	struct statfs sfs;
	struct pw_dev d;
	long long pins0;
	size_t wrong = 0;
	int op;

	(void)argc; (void)argv;
	if (statfs(pw_scratch(), &sfs))
		pw_die("statfs %s: %s", pw_scratch(), strerror(errno));
	if (sfs.f_type != XFS_SUPER_MAGIC)
		pw_skip_all("the scratch filesystem is not XFS: the series' other filesystem (ext4) has no large folios in its page cache on these kernels");
	if (access(THP_SYSFS, F_OK))
		pw_skip_all("kernel without CONFIG_TRANSPARENT_HUGEPAGE: its page cache has order-0 folios only");
	pw_dev_open(&d);
	/* Per op: 13 results, and 4 more for each that the pin must refuse. */
	pw_plan(OP_NR * 13 + NR_REFUSED * 4);
	pw_qp_pair_create(&d, &qp, 8);
	pw_src_create(&d, &src, REG_N);
	pins0 = pw_pins_outstanding();

	for (op = 0; op < OP_NR; op++)
		wrong += run(&d, &qp, &src, op);
	pw_pins_settle(pins0, 5000);

	pw_seen("%zu blocks wrong after a truncation, hole punches, a collapse and an insert inside a pinned large folio",
		wrong);
	pw_metric(wrong, "blocks wrong");
	pw_src_destroy(&src);
	pw_qp_pair_destroy(&qp);
	pw_dev_close(&d);
	return pw_result();
}
