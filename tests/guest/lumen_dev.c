// SPDX-License-Identifier: MIT
/* Test library over the Lumen uAPI: see lumen_dev.h. */
#include "lumen_dev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <xf86drm.h>

#include "guest_util.h"

/* ---- cards ------------------------------------------------------------------ */

static int bound_cards(char pci[GU_MAX_CARDS][16])
{
	char all[GU_MAX_CARDS][16];
	int n = gu_list_pci(all), i, m = 0;

	for (i = 0; i < n; i++)
		if (gu_is_bound(all[i]))
			memcpy(pci[m++], all[i], 16);
	return m;
}

int ld_num_cards(void)
{
	char pci[GU_MAX_CARDS][16];

	return bound_cards(pci);
}

int ld_card_pci(int idx, char *buf, size_t len)
{
	char pci[GU_MAX_CARDS][16];

	if (idx < 0 || idx >= bound_cards(pci))
		return -1;
	snprintf(buf, len, "%s", pci[idx]);
	return 0;
}

int ld_open(int idx)
{
	char pci[16];
	int fd;

	if (ld_card_pci(idx, pci, sizeof(pci)))
		return -ENODEV;
	fd = gu_open_card(pci);
	return fd < 0 ? -errno : fd;
}

int ld_debugfs_dir(int idx, char *buf, size_t len)
{
	char pci[16];

	if (ld_card_pci(idx, pci, sizeof(pci)))
		return -1;
	snprintf(buf, len, "/sys/kernel/debug/accel/%s", pci);
	return access(buf, F_OK) ? -1 : 0;
}

/* ---- raw ioctls ------------------------------------------------------------- */

int ld_ioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	/* Not EAGAIN: SUBMIT answers it when the file has max_file_jobs in
	 * flight, and the tests want to see that. */
	do {
		ret = ioctl(fd, req, arg);
	} while (ret == -1 && errno == EINTR);
	return ret ? -errno : 0;
}

int ld_get_param(int fd, uint32_t param, uint64_t *value)
{
	struct drm_lumen_get_param gp = { .param = param };
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_GET_PARAM, &gp);

	if (!ret && value)
		*value = gp.value;
	return ret;
}

int ld_bo_create(int fd, uint64_t size, uint32_t flags, uint64_t userptr,
		 uint32_t *handle, uint64_t *size_out)
{
	struct drm_lumen_bo_create c = { .size = size, .flags = flags, .userptr = userptr };
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_BO_CREATE, &c);

	if (!ret) {
		if (handle)
			*handle = c.handle;
		if (size_out)
			*size_out = c.size;
	}
	return ret;
}

int ld_bo_info(int fd, uint32_t handle, struct drm_lumen_bo_info *info)
{
	memset(info, 0, sizeof(*info));
	info->handle = handle;
	return ld_ioctl(fd, DRM_IOCTL_LUMEN_BO_INFO, info);
}

int ld_gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close gc = { .handle = handle };

	return ld_ioctl(fd, DRM_IOCTL_GEM_CLOSE, &gc);
}

int ld_vm_bind(int fd, uint32_t op, uint32_t handle, uint64_t va, uint64_t offset,
	       uint64_t size, uint32_t flags)
{
	struct drm_lumen_vm_bind b = {
		.op = op, .handle = handle, .va = va, .offset = offset,
		.size = size, .flags = flags,
	};

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_VM_BIND, &b);
}

int ld_vm_map(int fd, uint32_t handle, uint64_t va, uint64_t offset, uint64_t size,
	      uint32_t flags)
{
	return ld_vm_bind(fd, DRM_LUMEN_VM_MAP, handle, va, offset, size, flags);
}

int ld_vm_unmap(int fd, uint64_t va, uint64_t size)
{
	return ld_vm_bind(fd, DRM_LUMEN_VM_UNMAP, 0, va, 0, size, 0);
}

int ld_queue_create(int fd, uint32_t *queue_id)
{
	struct drm_lumen_queue_create c = { 0 };
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_QUEUE_CREATE, &c);

	if (!ret && queue_id)
		*queue_id = c.queue_id;
	return ret;
}

int ld_queue_destroy(int fd, uint32_t queue_id)
{
	struct drm_lumen_queue_destroy d = { .queue_id = queue_id };

	return ld_ioctl(fd, DRM_IOCTL_LUMEN_QUEUE_DESTROY, &d);
}

int ld_wait(int fd, uint32_t queue_id, uint64_t seqno, uint64_t timeout_ns,
	    int32_t *status)
{
	/* The uAPI takes an absolute CLOCK_MONOTONIC deadline; 0 polls. */
	struct drm_lumen_wait w = {
		.queue_id = queue_id, .seqno = seqno,
		.timeout_ns = timeout_ns ? ld_now_ns() + timeout_ns : 0,
		.status = 0x7eadbeef,
	};
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_WAIT, &w);

	if (!ret && status)
		*status = w.status;
	return ret;
}

int ld_query(int fd, uint32_t type, void *data, uint32_t *size)
{
	struct drm_lumen_query q = { .type = type, .size = *size, .data = (uintptr_t)data };
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_QUERY, &q);

	if (!ret)
		*size = q.size;
	return ret;
}

int ld_ctx_status(int fd, struct drm_lumen_context_status *st)
{
	uint32_t size = sizeof(*st);

	memset(st, 0, sizeof(*st));
	return ld_query(fd, DRM_LUMEN_QUERY_CONTEXT_STATUS, st, &size);
}

int ld_mem_info(int fd, struct drm_lumen_memory_info *mi)
{
	uint32_t size = sizeof(*mi);

	memset(mi, 0, sizeof(*mi));
	return ld_query(fd, DRM_LUMEN_QUERY_MEMORY, mi, &size);
}

int ld_submit(int fd, uint32_t queue_id, const struct ld_job *job, uint64_t *seqno)
{
	struct drm_lumen_submit s = {
		.queue_id = queue_id,
		.num_cmds = job->num_cmds,
		.cmds = (uintptr_t)job->cmds,
		.bo_handles = (uintptr_t)job->bos,
		.num_bos = job->num_bos,
		.num_in_syncs = job->num_in,
		.in_syncs = (uintptr_t)job->in,
		.num_out_syncs = job->num_out,
		.out_syncs = (uintptr_t)job->out,
	};
	int ret = ld_ioctl(fd, DRM_IOCTL_LUMEN_SUBMIT, &s);

	if (!ret && seqno)
		*seqno = s.seqno;
	return ret;
}

int ld_run(int fd, uint32_t queue_id, const struct ld_job *job)
{
	uint64_t seqno = 0;
	int32_t status = 0;
	int ret;

	ret = ld_submit(fd, queue_id, job, &seqno);
	if (ret)
		return ret;
	ret = ld_wait(fd, queue_id, seqno, LD_WAIT_NS, &status);
	if (ret)
		return ret;
	return status;
}

int ld_run1(int fd, uint32_t queue_id, const struct lumen_cmd *cmd,
	    const uint32_t *bos, uint32_t num_bos)
{
	struct ld_job job = {
		.cmds = cmd, .num_cmds = 1, .bos = bos, .num_bos = num_bos,
	};

	return ld_run(fd, queue_id, &job);
}

/* ---- descriptors ------------------------------------------------------------ */

static struct lumen_cmd cmd_of(enum lumen_cmd_op op)
{
	struct lumen_cmd c;

	memset(&c, 0, sizeof(c));
	c.opcode = op;
	return c;
}

struct lumen_cmd ld_cmd_nop(void)
{
	return cmd_of(LUMEN_CMD_NOP);
}

struct lumen_cmd ld_cmd_copy(uint64_t dst, uint64_t src, uint64_t size)
{
	struct lumen_cmd c = cmd_of(LUMEN_CMD_COPY);

	c.u.copy.src = lumen_cpu_to_le64(src);
	c.u.copy.dst = lumen_cpu_to_le64(dst);
	c.u.copy.size = lumen_cpu_to_le64(size);
	return c;
}

struct lumen_cmd ld_cmd_fill(uint64_t dst, uint64_t size, uint64_t pattern)
{
	struct lumen_cmd c = cmd_of(LUMEN_CMD_FILL);

	c.u.fill.dst = lumen_cpu_to_le64(dst);
	c.u.fill.size = lumen_cpu_to_le64(size);
	c.u.fill.pattern = lumen_cpu_to_le64(pattern);
	return c;
}

static struct lumen_cmd fence_cmd(enum lumen_cmd_op op, uint64_t addr, uint64_t value)
{
	struct lumen_cmd c = cmd_of(op);

	c.u.fence.addr = lumen_cpu_to_le64(addr);
	c.u.fence.value = lumen_cpu_to_le64(value);
	return c;
}

struct lumen_cmd ld_cmd_signal(uint64_t addr, uint64_t value)
{
	return fence_cmd(LUMEN_CMD_SIGNAL, addr, value);
}

struct lumen_cmd ld_cmd_wait(uint64_t addr, uint64_t value)
{
	return fence_cmd(LUMEN_CMD_WAIT, addr, value);
}

struct lumen_cmd ld_cmd_timestamp(uint64_t addr)
{
	return fence_cmd(LUMEN_CMD_TIMESTAMP, addr, 0);
}

struct lumen_cmd ld_cmd_reduce(uint64_t dst, uint64_t src, uint64_t size, uint32_t dtype,
			       uint32_t op)
{
	struct lumen_cmd c = ld_cmd_nop();

	c.opcode = LUMEN_CMD_REDUCE;
	c.u.reduce.src = lumen_cpu_to_le64(src);
	c.u.reduce.dst = lumen_cpu_to_le64(dst);
	c.u.reduce.size = lumen_cpu_to_le64(size);
	c.u.reduce.dtype = lumen_cpu_to_le32(dtype);
	c.u.reduce.op = lumen_cpu_to_le32(op);
	return c;
}

struct lumen_cmd ld_cmd_rreduce(uint64_t local, uint64_t offset, uint64_t size, uint32_t chip,
				uint32_t win, uint64_t key, uint32_t dtype, uint32_t op)
{
	struct lumen_cmd c = ld_cmd_nop();

	c.opcode = LUMEN_CMD_RREDUCE;
	c.u.rreduce.local = lumen_cpu_to_le64(local);
	c.u.rreduce.offset = lumen_cpu_to_le64(offset);
	c.u.rreduce.size = lumen_cpu_to_le64(size);
	c.u.rreduce.dst_chip = lumen_cpu_to_le32(chip);
	c.u.rreduce.window = lumen_cpu_to_le32(win);
	c.u.rreduce.key = lumen_cpu_to_le64(key);
	c.u.rreduce.dtype = lumen_cpu_to_le32(dtype);
	c.u.rreduce.op = lumen_cpu_to_le32(op);
	return c;
}

/* ---- buffers ------------------------------------------------------------------ */

#define HUGE_ALIGN	(2ull << 20)

static uint64_t va_next = DRM_LUMEN_VA_USER_START;

uint64_t ld_va_alloc(uint64_t size)
{
	uint64_t va = va_next;

	size = (size + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
	/* A guard hole of 2 MiB after each buffer: overruns fault. */
	va_next += size + HUGE_ALIGN;
	return va;
}

const char *ld_place_name(enum ld_place place)
{
	switch (place) {
	case LD_DEVICE: return "device";
	case LD_HOST: return "host";
	case LD_USERPTR: return "userptr";
	}
	return "?";
}

int ld_buf_new(int fd, enum ld_place place, uint64_t size, struct ld_buf *b)
{
	uint64_t psize = (size + 4095) & ~4095ull;
	uint32_t flags;
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = fd;
	b->place = place;
	if (place == LD_USERPTR) {
		b->user = mmap(NULL, psize, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (b->user == MAP_FAILED) {
			b->user = NULL;
			return -ENOMEM;
		}
		flags = DRM_LUMEN_BO_USERPTR;
	} else {
		flags = place == LD_DEVICE ? DRM_LUMEN_BO_DEVICE : DRM_LUMEN_BO_HOST;
	}
	ret = ld_bo_create(fd, psize, flags, (uintptr_t)b->user, &b->handle, &b->size);
	if (ret)
		goto err_user;
	if (place == LD_USERPTR) {
		b->map = b->user;
	} else {
		struct drm_lumen_bo_info info;
		void *p;

		ret = ld_bo_info(fd, b->handle, &info);
		if (ret)
			goto err_bo;
		p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)info.mmap_offset);
		if (p == MAP_FAILED) {
			ret = -errno;
			goto err_bo;
		}
		b->map = p;
	}
	b->va = ld_va_alloc(b->size);
	ret = ld_vm_map(fd, b->handle, b->va, 0, b->size, 0);
	if (ret) {
		b->va = 0;
		goto err_map;
	}
	return 0;

err_map:
	if (place != LD_USERPTR)
		munmap(b->map, b->size);
err_bo:
	ld_gem_close(fd, b->handle);
err_user:
	if (b->user)
		munmap(b->user, psize);
	memset(b, 0, sizeof(*b));
	return ret;
}

int ld_buf_free(struct ld_buf *b)
{
	int ret = 0, r;

	if (!b->handle)
		return 0;
	if (b->va) {
		r = ld_vm_unmap(b->fd, b->va, b->size);
		if (r && !ret)
			ret = r;
	}
	if (b->map && b->place != LD_USERPTR)
		munmap(b->map, b->size);
	r = ld_gem_close(b->fd, b->handle);
	if (r && !ret)
		ret = r;
	if (b->user)
		munmap(b->user, b->size);
	memset(b, 0, sizeof(*b));
	return ret;
}

/* ---- syncobjs ------------------------------------------------------------------ */

uint32_t ld_syncobj(int fd, int signaled)
{
	uint32_t h = 0;

	if (drmSyncobjCreate(fd, signaled ? DRM_SYNCOBJ_CREATE_SIGNALED : 0, &h))
		return 0;
	return h;
}

uint64_t ld_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * LD_SEC_NS + (uint64_t)ts.tv_nsec;
}

int64_t ld_deadline(uint64_t rel_ns)
{
	return (int64_t)(ld_now_ns() + rel_ns);
}

/* ---- misc ---------------------------------------------------------------------- */

static inline uint64_t pattern_word(uint32_t seed, uint64_t j)
{
	uint64_t x = (j + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 32 | seed);

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return x;
}

/* Bytes [start, start + len) of the pattern stream of seed into p. */
static void pattern_at(uint8_t *p, size_t len, uint32_t seed, size_t start)
{
	size_t i = 0;

	while (i < len && ((start + i) & 7)) {
		p[i] = (uint8_t)(pattern_word(seed, (start + i) / 8) >> (8 * ((start + i) & 7)));
		i++;
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t w = pattern_word(seed, (start + i) / 8);

		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)(pattern_word(seed, (start + i) / 8) >> (8 * ((start + i) & 7)));
}

void ld_pattern(void *p, size_t len, uint32_t seed)
{
	pattern_at(p, len, seed, 0);
}

long ld_check_pattern(const void *p, size_t len, uint32_t seed, size_t start)
{
	const uint8_t *a = p;
	uint8_t buf[65536];
	size_t done = 0;

	while (done < len) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);

		pattern_at(buf, n, seed, start + done);
		if (memcmp(a + done, buf, n)) {
			size_t i;

			for (i = 0; i < n; i++)
				if (a[done + i] != buf[i])
					return (long)(done + i);
		}
		done += n;
	}
	return -1;
}

char *ld_read_file(const char *path)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	for (;;) {
		if (cap - len < 2048) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

int ld_count_lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

int ld_hwq_of(int idx, uint32_t queue_id)
{
	char dbg[128], path[192], *text, *line, *save = NULL;
	int found = -1;

	if (ld_debugfs_dir(idx, dbg, sizeof(dbg)))
		return -1;
	snprintf(path, sizeof(path), "%s/queues", dbg);
	text = ld_read_file(path);
	if (!text)
		return -1;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned int hwq, ctx_id, file, queue;
		int pid;

		if (sscanf(line, "%u %u %u %u %d", &hwq, &ctx_id, &file, &queue, &pid) == 5 &&
		    pid == getpid() && queue == queue_id) {
			found = (int)hwq;
			break;
		}
	}
	free(text);
	return found;
}

int ld_copy_roundtrip(int fd, uint32_t queue_id, struct ld_buf *host, struct ld_buf *dev,
		      uint64_t size, uint32_t seed)
{
	uint32_t bos[2] = { host->handle, dev->handle };
	struct lumen_cmd cmd;
	int ret;

	ld_pattern(host->map, size, seed);
	cmd = ld_cmd_copy(dev->va, host->va, size);
	ret = ld_run1(fd, queue_id, &cmd, bos, 2);
	if (ret)
		return ret;
	memset(host->map, 0, size);
	cmd = ld_cmd_copy(host->va, dev->va, size);
	ret = ld_run1(fd, queue_id, &cmd, bos, 2);
	if (ret)
		return ret;
	return ld_check_pattern(host->map, size, seed, 0) == -1 ? 0 : -EIO;
}

int ld_copy_check(int fd, uint32_t seed)
{
	const uint64_t size = 1ull << 20;
	struct ld_buf host, dev;
	uint32_t q;
	int ret;

	ret = ld_queue_create(fd, &q);
	if (ret)
		return ret;
	ret = ld_buf_new(fd, LD_HOST, size, &host);
	if (ret)
		goto out_queue;
	ret = ld_buf_new(fd, LD_DEVICE, size, &dev);
	if (ret)
		goto out_host;
	ret = ld_copy_roundtrip(fd, q, &host, &dev, size, seed);
	ld_buf_free(&dev);
out_host:
	ld_buf_free(&host);
out_queue:
	ld_queue_destroy(fd, q);
	return ret;
}
