// SPDX-License-Identifier: GPL-2.0
/*
 * encrypt: an RDMA-written file in an fscrypt-encrypted directory reaches the disk encrypted and
 * whole. ext4 encrypts a page into a bounce page of fscrypt's own when it writes it back, the
 * path a pinned page's stable copy has to share. The test adds a key (FS_IOC_ADD_ENCRYPTION_KEY),
 * makes an encrypted directory (policy v2, AES-256-XTS), registers a writable MR over a file in
 * it, RDMA-writes generations 2 and 3 with an fsync after each, and then - with the MR still
 * registered, so the page cache cannot be the source - copies the block device (O_DIRECT) into
 * an image, mounts the image, adds the key there and reads the file: generation 3 must be on
 * the copy, decrypted by the kernel from what the fsync wrote.
 * Run by encrypt.sh on an ext4 made with -O encrypt.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fscrypt.h>

#include "lib/pinwb.h"

const char pw_description[] = "a file in an fscrypt-encrypted ext4 directory, RDMA-written under a live MR: fsync puts the device's writes on disk, encrypted, read back from a copy of the device";

#define NBLK 64

struct key_arg {
	struct fscrypt_add_key_arg a;
	__u8 raw[FSCRYPT_MAX_KEY_SIZE];
};

/* Add the test's master key to the filesystem of dir; the identifier goes to id. */
static int add_key(const char *dir, __u8 id[FSCRYPT_KEY_IDENTIFIER_SIZE])
{
	struct key_arg k;
	int fd = open(dir, O_RDONLY | O_DIRECTORY), ret, i;

	if (fd < 0)
		return -errno;
	memset(&k, 0, sizeof(k));
	k.a.key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
	k.a.raw_size = FSCRYPT_MAX_KEY_SIZE;
	for (i = 0; i < FSCRYPT_MAX_KEY_SIZE; i++)
		k.raw[i] = (__u8)(0x5a ^ (i * 37));
	ret = ioctl(fd, FS_IOC_ADD_ENCRYPTION_KEY, &k) ? -errno : 0;
	close(fd);
	if (!ret)
		memcpy(id, k.a.key_spec.u.identifier, FSCRYPT_KEY_IDENTIFIER_SIZE);
	return ret;
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st)
		pw_die("'%s' failed (status %d)", cmd, st);
}

int pw_test(int argc, char **argv)
{
	const char *img = "/tmp/pinwb-encrypt.img", *copy = "/mnt/encrypt-copy";
	__u8 id[FSCRYPT_KEY_IDENTIFIER_SIZE], id2[FSCRYPT_KEY_IDENTIFIER_SIZE];
	struct fscrypt_get_policy_ex_arg pol;
	struct fscrypt_policy_v2 p;
	char dir[256], path[300], cpath[300], dev[64];
	struct pw_tally t;
	struct pw_rig r;
	uint64_t *map;
	size_t i, mapped;
	int fd, ret, fs_mb;
	char *buf;

	(void)argc; (void)argv;
	if (!getenv("PINWB_ENCRYPT_MB") || (fs_mb = atoi(getenv("PINWB_ENCRYPT_MB"))) <= 0)
		pw_die("PINWB_ENCRYPT_MB (the size of the filesystem in MiB, set by encrypt.sh) is not set");
	snprintf(dir, sizeof(dir), "%s/enc", pw_scratch());
	snprintf(path, sizeof(path), "%s/encrypt.dat", dir);
	snprintf(cpath, sizeof(cpath), "%s/enc/encrypt.dat", copy);

	ret = add_key(pw_scratch(), id);
	if (ret)
		pw_die("FS_IOC_ADD_ENCRYPTION_KEY on %s: %s (a kernel without CONFIG_FS_ENCRYPTION, or an ext4 without -O encrypt)",
		       pw_scratch(), strerror(-ret));
	if (mkdir(dir, 0755) && errno != EEXIST)
		pw_die("mkdir %s: %s", dir, strerror(errno));
	memset(&p, 0, sizeof(p));
	p.version = FSCRYPT_POLICY_V2;
	p.contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS;
	p.filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS;
	p.flags = FSCRYPT_POLICY_FLAGS_PAD_32;
	memcpy(p.master_key_identifier, id, sizeof(id));
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0 || ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, &p))
		pw_die("FS_IOC_SET_ENCRYPTION_POLICY on %s: %s", dir, strerror(errno));
	close(fd);

	pw_rig_open(&r, path, NBLK, 32);
	pw_plan(4);
	memset(&pol, 0, sizeof(pol));
	pol.policy_size = sizeof(pol.policy);
	ret = ioctl(r.f.fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &pol) ? errno : 0;
	pw_ok(!ret && pol.policy.version == FSCRYPT_POLICY_V2,
	      "premise: the registered file is encrypted (policy v%d%s%s)", ret ? 0 : pol.policy.version,
	      ret ? ": " : "", ret ? strerror(ret) : "");

	ret = pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 2) || fsync(r.f.fd);
	ret = ret || pw_write_gen(&r.qp, &r.src, r.f.mr, 0, NBLK, 3) || fsync(r.f.fd);
	pw_ok(!ret, "generations 2 and 3 RDMA-written, each followed by fsync() returning 0");

	/* What the file's blocks on the device hold: ciphertext, not generation 3's plaintext. */
	map = pw_block_map(path, NBLK, dev, sizeof(dev));
	for (i = 0, mapped = 0; i < NBLK; i++)
		mapped += map[i] != PW_NOT_ON_DISK;
	buf = pw_read_disk(dev, map, NBLK);
	pw_tally(buf, 0, NBLK, 3, &t);
	free(buf);
	free(map);
	pw_ok(mapped == NBLK && t.n[PW_BLK_FOREIGN] == NBLK,
	      "the file's %zu/%d blocks on %s hold ciphertext: %s (want all foreign: no plaintext, no zeros)",
	      mapped, NBLK, dev, pw_tally_str(&t));

	/* The device, copied with the MR still registered, mounted, and the file read decrypted. */
	run("dd if=%s of=%s bs=1M count=%d iflag=direct status=none", dev, img, fs_mb);
	mkdir(copy, 0755);
	run("mount -t ext4 -o loop %s %s", img, copy);
	ret = add_key(copy, id2);
	if (ret || memcmp(id, id2, sizeof(id)))
		pw_die("adding the key to the copy: %s", ret ? strerror(-ret) : "another identifier");
	fd = open(cpath, O_RDONLY);
	if (fd < 0)
		pw_die("open %s on the copy: %s", cpath, strerror(errno));
	buf = malloc((size_t)NBLK * PW_BLOCK);
	if (!buf || pread(fd, buf, (size_t)NBLK * PW_BLOCK, 0) != (ssize_t)NBLK * PW_BLOCK)
		pw_die("read %s on the copy: %s", cpath, strerror(errno));
	close(fd);
	pw_tally(buf, 0, NBLK, 3, &t);
	free(buf);
	pw_ok(t.n[PW_BLK_OK] == NBLK, "generation 3 on the device, decrypted from a copy of it (%s)",
	      pw_tally_str(&t));

	pw_seen("%zu/%d blocks of generation 3 decrypted from the copy of %s", t.n[PW_BLK_OK], NBLK, dev);
	run("umount %s", copy);
	unlink(img);
	pw_rig_close(&r);
	return pw_result();
}
