/* SPDX-License-Identifier: MIT */
/*
 * A small test library over the Lumen uAPI (kmod/include/uapi/drm/lumen_accel.h)
 * for the in-guest suites and the benchmarks: open a card, buffer objects,
 * VM_BIND, queues, lumen_cmd descriptors, SUBMIT with syncobjs, WAIT, QUERY.
 *
 * Raw wrappers (ld_bo_create(), ld_vm_bind(), ld_submit(), ...) return 0 or
 * -errno, so negative tests can assert the exact error. The convenience
 * helpers (ld_buf_new(), ld_run(), ...) return 0 / -errno too; nothing here
 * asserts or exits, so the library also serves forked children and the
 * benchmarks.
 */
#ifndef LUMEN_DEV_H
#define LUMEN_DEV_H

#include <stddef.h>
#include <stdint.h>

#include <drm/lumen_accel.h>

#include "lumen/lumen_queue.h"

#define LD_SEC_NS	1000000000ull
/* Generous under TCG: a 64 MiB copy and a loaded 2-core host. */
#define LD_WAIT_NS	(60ull * LD_SEC_NS)

/* ---- cards ------------------------------------------------------------------ */
/* Number of Lumen functions bound to the driver. */
int ld_num_cards(void);
/* Open card idx (0-based, in PCI order), O_RDWR | O_CLOEXEC; fd or -errno. */
int ld_open(int idx);
/* PCI address of card idx into buf; 0 or -1. */
int ld_card_pci(int idx, char *buf, size_t len);
/* debugfs directory of card idx (/sys/kernel/debug/accel/<bdf>); 0 or -1. */
int ld_debugfs_dir(int idx, char *buf, size_t len);

/* ---- raw ioctls: 0 or -errno ---------------------------------------------- */
int ld_ioctl(int fd, unsigned long req, void *arg);
int ld_get_param(int fd, uint32_t param, uint64_t *value);
int ld_bo_create(int fd, uint64_t size, uint32_t flags, uint64_t userptr,
		 uint32_t *handle, uint64_t *size_out);
int ld_bo_info(int fd, uint32_t handle, struct drm_lumen_bo_info *info);
int ld_gem_close(int fd, uint32_t handle);
int ld_vm_bind(int fd, uint32_t op, uint32_t handle, uint64_t va, uint64_t offset,
	       uint64_t size, uint32_t flags);
int ld_vm_map(int fd, uint32_t handle, uint64_t va, uint64_t offset, uint64_t size,
	      uint32_t flags);
int ld_vm_unmap(int fd, uint64_t va, uint64_t size);
int ld_queue_create(int fd, uint32_t *queue_id);
int ld_queue_destroy(int fd, uint32_t queue_id);
int ld_wait(int fd, uint32_t queue_id, uint64_t seqno, uint64_t timeout_ns,
	    int32_t *status);
int ld_query(int fd, uint32_t type, void *data, uint32_t *size);
int ld_ctx_status(int fd, struct drm_lumen_context_status *st);
int ld_mem_info(int fd, struct drm_lumen_memory_info *mi);

/* A job for ld_submit(): everything but the queue is optional. */
struct ld_job {
	const struct lumen_cmd *cmds;
	uint32_t num_cmds;
	const uint32_t *bos;
	uint32_t num_bos;
	const struct drm_lumen_sync *in;
	uint32_t num_in;
	const struct drm_lumen_sync *out;
	uint32_t num_out;
};
int ld_submit(int fd, uint32_t queue_id, const struct ld_job *job, uint64_t *seqno);
/* Submit and wait (LD_WAIT_NS): the job's status (0 or -errno), or the
 * -errno of SUBMIT / WAIT itself (-ETIME if it did not finish in time). */
int ld_run(int fd, uint32_t queue_id, const struct ld_job *job);
/* One-command shorthand for ld_run() with the given BOs. */
int ld_run1(int fd, uint32_t queue_id, const struct lumen_cmd *cmd,
	    const uint32_t *bos, uint32_t num_bos);

/* ---- descriptors ------------------------------------------------------------ */
struct lumen_cmd ld_cmd_nop(void);
struct lumen_cmd ld_cmd_copy(uint64_t dst, uint64_t src, uint64_t size);
struct lumen_cmd ld_cmd_fill(uint64_t dst, uint64_t size, uint64_t pattern);
struct lumen_cmd ld_cmd_signal(uint64_t addr, uint64_t value);
struct lumen_cmd ld_cmd_wait(uint64_t addr, uint64_t value);
struct lumen_cmd ld_cmd_timestamp(uint64_t addr);
/* REDUCE and RREDUCE (uAPI 1.3); dtype and op as given, valid or not. */
struct lumen_cmd ld_cmd_reduce(uint64_t dst, uint64_t src, uint64_t size, uint32_t dtype,
			       uint32_t op);
struct lumen_cmd ld_cmd_rreduce(uint64_t local, uint64_t offset, uint64_t size, uint32_t chip,
				uint32_t win, uint64_t key, uint32_t dtype, uint32_t op);

/* ---- buffers: a BO, bound at a fresh VA, mmapped ----------------------------- */
enum ld_place {
	LD_DEVICE,
	LD_HOST,
	LD_USERPTR,
};

struct ld_buf {
	int fd;
	enum ld_place place;
	uint32_t handle;
	uint64_t size;	/* as allocated (page-rounded) */
	uint64_t va;	/* 0 if not bound */
	uint8_t *map;	/* CPU view: mmap of the BO, or the user memory */
	void *user;	/* USERPTR backing (freed with the buffer) */
};

/* A fresh VA range of size bytes in this process's allocator (2 MiB aligned,
 * never reused; every file has its own VA space so one allocator serves all). */
uint64_t ld_va_alloc(uint64_t size);
/* Create, bind and map; 0 or -errno (partial state undone). */
int ld_buf_new(int fd, enum ld_place place, uint64_t size, struct ld_buf *b);
/* Unbind, unmap and close; 0 or the first -errno. */
int ld_buf_free(struct ld_buf *b);
const char *ld_place_name(enum ld_place place);

/* ---- syncobjs (libdrm) ------------------------------------------------------ */
uint32_t ld_syncobj(int fd, int signaled); /* handle, 0 on failure */
/* Absolute CLOCK_MONOTONIC deadline rel_ns from now (drmSyncobjWait's unit). */
int64_t ld_deadline(uint64_t rel_ns);
uint64_t ld_now_ns(void);

/* ---- misc -------------------------------------------------------------------- */
/* Fill p with a pattern derived from seed (byte i = f(seed, i)). */
void ld_pattern(void *p, size_t len, uint32_t seed);
/* Index of the first byte where p differs from ld_pattern(seed) at offset
 * start, or -1 if none. */
long ld_check_pattern(const void *p, size_t len, uint32_t seed, size_t start);
/* Hardware queue behind (this process, queue id) on card idx, from debugfs
 * "queues" ("hwq ctx file queue pid ..."); -1 if not found. */
int ld_hwq_of(int idx, uint32_t queue_id);
/* size bytes of pattern @seed host -> device -> host through queue_id, then
 * checked: 0, the -errno of a job, or -EIO for a wrong byte. */
int ld_copy_roundtrip(int fd, uint32_t queue_id, struct ld_buf *host, struct ld_buf *dev,
		      uint64_t size, uint32_t seed);
/* The same on a new queue and new 1 MiB buffers of fd (freed again). */
int ld_copy_check(int fd, uint32_t seed);
/* Read a whole (debugfs) file into a malloc'd NUL-terminated string. */
char *ld_read_file(const char *path);
/* Number of lines in a text (for debugfs BO lists). */
int ld_count_lines(const char *s);

#endif
