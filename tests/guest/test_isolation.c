// SPDX-License-Identifier: MIT
/*
 * Contexts are isolated: another process's file sees none of our GEM handles
 * or queues; a job that touches an unmapped VA faults its own context
 * (FAULTED|BANNED, the fault address, -EFAULT, then -ECANCELED) while a
 * concurrent context in another process keeps copying correctly; PRIME moves
 * a BO between processes over a unix socket and both see the same bytes.
 *
 * Children report through their exit status: 0 = fine, else the source line
 * of the failed CHILD_CHECK (cmocka's asserts must not run in a fork).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xf86drm.h>
#include <cmocka.h>

#include "lumen_dev.h"
#include "lumen/lumen_mmu.h"

#define MiB (1ull << 20)

#define CHILD_CHECK(cond)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "child %d: %s:%d: check failed: %s\n",	\
				getpid(), __FILE__, __LINE__, #cond);		\
			_exit(__LINE__ & 0xff ? __LINE__ & 0xff : 1);		\
		}								\
	} while (0)

/* Wait for a child; its exit status (255 + signal if killed). */
static int reap(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 255 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* ---- handles and queues are per file ------------------------------------------ */

static void test_foreign_handles(void **state)
{
	uint32_t h, q;
	uint64_t va = ld_va_alloc(MiB);
	pid_t pid;
	int fd;

	(void)state;
	fd = ld_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ld_bo_create(fd, MiB, DRM_LUMEN_BO_HOST, 0, &h, NULL), 0);
	assert_int_equal(ld_vm_map(fd, h, va, 0, MiB, 0), 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct drm_lumen_bo_info info;
		struct lumen_cmd cmd = ld_cmd_nop();
		struct ld_job job = { .cmds = &cmd, .num_cmds = 1, .bos = &h, .num_bos = 1 };
		uint32_t myq, h2;
		int32_t st;
		int cfd = ld_open(0);

		CHILD_CHECK(cfd >= 0);
		/* The parent's handle and queue id mean nothing here. */
		CHILD_CHECK(ld_bo_info(cfd, h, &info) == -ENOENT);
		CHILD_CHECK(ld_vm_map(cfd, h, ld_va_alloc(MiB), 0, MiB, 0) == -ENOENT);
		CHILD_CHECK(ld_gem_close(cfd, h) == -EINVAL);
		CHILD_CHECK(ld_submit(cfd, q, &job, NULL) == -ENOENT);
		CHILD_CHECK(ld_wait(cfd, q, 1, 0, &st) == -ENOENT);
		CHILD_CHECK(ld_queue_destroy(cfd, q) == -ENOENT);
		/* Nothing is mapped at the parent's VA in this context: unmap
		 * fails, and the VA is free for our own BO. */
		CHILD_CHECK(ld_vm_unmap(cfd, va, MiB) == -ENOENT);
		CHILD_CHECK(ld_bo_create(cfd, MiB, DRM_LUMEN_BO_HOST, 0, &h2, NULL) == 0);
		CHILD_CHECK(ld_vm_map(cfd, h2, va, 0, MiB, 0) == 0);
		/* Our own queue works; the parent's BO handle in a job does not. */
		CHILD_CHECK(ld_queue_create(cfd, &myq) == 0);
		if (h2 != h)
			CHILD_CHECK(ld_submit(cfd, myq, &job, NULL) == -ENOENT);
		job.bos = &h2;
		CHILD_CHECK(ld_run(cfd, myq, &job) == 0);
		close(cfd);
		_exit(0);
	}
	assert_int_equal(reap(pid), 0);
	/* The parent's objects are intact. */
	{
		struct drm_lumen_bo_info info;
		struct lumen_cmd cmd = ld_cmd_fill(va, MiB, 1);

		assert_int_equal(ld_bo_info(fd, h, &info), 0);
		assert_int_equal(ld_run1(fd, q, &cmd, &h, 1), 0);
	}
	close(fd);
}

/* ---- an MMU fault bans one context, others run on ------------------------------- */

/* Child: copy host -> device -> host in a loop, verifying every round, until
 * the parent closes the pipe; at least min_rounds rounds. */
static int copier(int ready_fd, int stop_fd, int min_rounds)
{
	struct drm_lumen_context_status st;
	struct ld_buf s, d, o;
	uint32_t q, bos[3];
	struct lumen_cmd cmds[2];
	struct ld_job job = { .cmds = cmds, .num_cmds = 2, .bos = bos, .num_bos = 3 };
	int fd = ld_open(0), rounds = 0;
	char ch = 'r';

	CHILD_CHECK(fd >= 0);
	CHILD_CHECK(ld_queue_create(fd, &q) == 0);
	CHILD_CHECK(ld_buf_new(fd, LD_HOST, MiB, &s) == 0);
	CHILD_CHECK(ld_buf_new(fd, LD_DEVICE, MiB, &d) == 0);
	CHILD_CHECK(ld_buf_new(fd, LD_HOST, MiB, &o) == 0);
	bos[0] = s.handle;
	bos[1] = d.handle;
	bos[2] = o.handle;
	cmds[0] = ld_cmd_copy(d.va, s.va, MiB);
	cmds[1] = ld_cmd_copy(o.va, d.va, MiB);
	CHILD_CHECK(write(ready_fd, &ch, 1) == 1);
	for (;;) {
		struct timeval tv = { 0, 0 };
		fd_set set;

		ld_pattern(s.map, MiB, (uint32_t)rounds);
		memset(o.map, 0, MiB);
		CHILD_CHECK(ld_run(fd, q, &job) == 0);
		CHILD_CHECK(ld_check_pattern(o.map, MiB, (uint32_t)rounds, 0) == -1);
		rounds++;
		FD_ZERO(&set);
		FD_SET(stop_fd, &set);
		if (rounds >= min_rounds && select(stop_fd + 1, &set, NULL, NULL, &tv) > 0)
			break;
	}
	CHILD_CHECK(ld_ctx_status(fd, &st) == 0);
	CHILD_CHECK(st.flags == 0 && st.error == 0 && st.faults == 0);
	close(fd);
	return 0;
}

static void check_fault(int fd, uint32_t q, uint64_t bad_va, uint32_t kind, uint32_t write)
{
	struct drm_lumen_context_status st;

	assert_int_equal(ld_ctx_status(fd, &st), 0);
	assert_int_equal(st.flags & (DRM_LUMEN_CTX_FAULTED | DRM_LUMEN_CTX_BANNED),
			 DRM_LUMEN_CTX_FAULTED | DRM_LUMEN_CTX_BANNED);
	assert_false(st.flags & DRM_LUMEN_CTX_HUNG);
	assert_int_equal(st.fault_addr, bad_va);
	assert_int_equal(st.fault_kind, kind);
	assert_int_equal(st.fault_access, write);
	assert_int_equal(st.fault_queue, q);
	assert_int_equal(st.error, -EFAULT);
	assert_int_equal(st.faults, 1);
	assert_int_equal(st.timeouts, 0);
}

static void fault_one(int write)
{
	/* Unmapped, in the user range, far from anything ld_va_alloc hands out. */
	uint64_t bad_va = DRM_LUMEN_VA_USER_END - 64 * MiB + (write ? 0x5000 : 0x3000);
	int ready[2], stop[2], fd, other;
	struct ld_buf b;
	uint32_t q, q2;
	uint64_t seq;
	int32_t st;
	struct lumen_cmd cmd = ld_cmd_nop();
	struct ld_job job = { .cmds = &cmd, .num_cmds = 1 };
	pid_t pid;
	char ch;

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(stop), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(stop[1]);
		_exit(copier(ready[1], stop[0], 8));
	}
	close(ready[1]);
	close(stop[0]);
	assert_int_equal(read(ready[0], &ch, 1), 1);

	fd = ld_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_queue_create(fd, &q2), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &b), 0);
	job.bos = &b.handle;
	job.num_bos = 1;
	/* A good job first: the context works. */
	cmd = ld_cmd_fill(b.va, MiB, 0x1111);
	assert_int_equal(ld_run(fd, q, &job), 0);

	cmd = write ? ld_cmd_copy(bad_va, b.va, 4096) : ld_cmd_copy(b.va, bad_va, 4096);
	assert_int_equal(ld_submit(fd, q, &job, &seq), 0);
	assert_int_equal(ld_wait(fd, q, seq, LD_WAIT_NS, &st), 0);
	assert_int_equal(st, -EFAULT);
	check_fault(fd, q, bad_va, LUMEN_MMU_FAULT_NOT_MAPPED, (uint32_t)write);

	/* Banned: no more submissions on any of its queues. */
	cmd = ld_cmd_nop();
	assert_int_equal(ld_submit(fd, q, &job, &seq), -ECANCELED);
	assert_int_equal(ld_submit(fd, q2, &job, &seq), -ECANCELED);
	/* Other ioctls keep working (the status is still readable). */
	check_fault(fd, q, bad_va, LUMEN_MMU_FAULT_NOT_MAPPED, (uint32_t)write);

	/* Another context in this process, opened now, is healthy. */
	other = ld_open(0);
	assert_true(other >= 0);
	{
		struct drm_lumen_context_status cs;
		struct ld_buf ob;
		uint32_t oq;

		assert_int_equal(ld_ctx_status(other, &cs), 0);
		assert_int_equal(cs.flags, 0);
		assert_int_equal(ld_queue_create(other, &oq), 0);
		assert_int_equal(ld_buf_new(other, LD_HOST, 4096, &ob), 0);
		cmd = ld_cmd_fill(ob.va, 4096, 0x0202020202020202ull);
		job.bos = &ob.handle;
		assert_int_equal(ld_run(other, oq, &job), 0);
		assert_int_equal(ob.map[4095], 2);
	}
	close(other);
	close(fd);

	/* The concurrent copier never noticed. */
	close(stop[1]);
	assert_int_equal(reap(pid), 0);
	close(ready[0]);
}

static void test_fault_read_unmapped(void **state)
{
	(void)state;
	fault_one(0);
}

static void test_fault_write_unmapped(void **state)
{
	(void)state;
	fault_one(1);
}

/* Jobs queued behind the faulting one fail too (-EFAULT or -ECANCELED), and
 * an unmapped VA inside a mapped BO's guard gap faults at that VA. */
static void test_fault_fails_pending_jobs(void **state)
{
	struct ld_buf b;
	uint32_t q;
	uint64_t seq[4];
	int32_t st;
	struct lumen_cmd cmd;
	struct ld_job job = { .cmds = &cmd, .num_cmds = 1, .num_bos = 1 };
	int fd = ld_open(0);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ld_queue_create(fd, &q), 0);
	assert_int_equal(ld_buf_new(fd, LD_HOST, MiB, &b), 0);
	job.bos = &b.handle;
	/* Runs one page past the end of the mapping. */
	cmd = ld_cmd_fill(b.va, MiB + 4096, 0);
	assert_int_equal(ld_submit(fd, q, &job, &seq[0]), 0);
	cmd = ld_cmd_fill(b.va, 4096, 0);
	for (int i = 1; i < 4; i++) {
		int ret = ld_submit(fd, q, &job, &seq[i]);

		if (ret == -ECANCELED) {
			seq[i] = 0;
			continue;
		}
		assert_int_equal(ret, 0);
	}
	assert_int_equal(ld_wait(fd, q, seq[0], LD_WAIT_NS, &st), 0);
	assert_int_equal(st, -EFAULT);
	check_fault(fd, q, b.va + MiB, LUMEN_MMU_FAULT_NOT_MAPPED, 1);
	for (int i = 1; i < 4; i++) {
		if (!seq[i])
			continue;
		assert_int_equal(ld_wait(fd, q, seq[i], LD_WAIT_NS, &st), 0);
		if (st != -EFAULT && st != -ECANCELED)
			fail_msg("job %d behind the fault: status %d", i, st);
	}
	close(fd);
}

/* ---- PRIME between processes ----------------------------------------------------- */

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

#define PRIME_SIZE (2 * MiB + 8192)

/* Child: import the dma-buf, check the bytes by CPU and by device copy, then
 * FILL it so the parent can check. */
static int prime_child(int sock)
{
	struct drm_lumen_bo_info info;
	struct ld_buf out;
	uint32_t h, q, bos[2];
	uint64_t va = ld_va_alloc(PRIME_SIZE);
	struct lumen_cmd cmd;
	uint8_t *p;
	int fd = ld_open(0), dmabuf;
	char ch = 'd';

	CHILD_CHECK(fd >= 0);
	dmabuf = recv_fd(sock);
	CHILD_CHECK(dmabuf >= 0);
	CHILD_CHECK(drmPrimeFDToHandle(fd, dmabuf, &h) == 0);
	close(dmabuf);
	CHILD_CHECK(ld_bo_info(fd, h, &info) == 0);
	CHILD_CHECK(info.size == PRIME_SIZE);
	/* By CPU through our own mapping of the imported BO. */
	if (info.mmap_offset) {
		p = mmap(NULL, PRIME_SIZE, PROT_READ, MAP_SHARED, fd, (off_t)info.mmap_offset);
		CHILD_CHECK(p != MAP_FAILED);
		CHILD_CHECK(ld_check_pattern(p, PRIME_SIZE, 4242, 0) == -1);
		munmap(p, PRIME_SIZE);
	}
	/* By the device in our context. */
	CHILD_CHECK(ld_queue_create(fd, &q) == 0);
	CHILD_CHECK(ld_vm_map(fd, h, va, 0, PRIME_SIZE, 0) == 0);
	CHILD_CHECK(ld_buf_new(fd, LD_HOST, PRIME_SIZE, &out) == 0);
	bos[0] = h;
	bos[1] = out.handle;
	cmd = ld_cmd_copy(out.va, va, PRIME_SIZE);
	CHILD_CHECK(ld_run1(fd, q, &cmd, bos, 2) == 0);
	CHILD_CHECK(ld_check_pattern(out.map, PRIME_SIZE, 4242, 0) == -1);
	/* Write for the parent: the second half gets a FILL. */
	cmd = ld_cmd_fill(va + PRIME_SIZE / 2, PRIME_SIZE / 2, 0x5a5a5a5a5a5a5a5aull);
	CHILD_CHECK(ld_run1(fd, q, &cmd, bos, 2) == 0);
	CHILD_CHECK(ld_vm_unmap(fd, va, PRIME_SIZE) == 0);
	CHILD_CHECK(ld_gem_close(fd, h) == 0);
	CHILD_CHECK(write(sock, &ch, 1) == 1);
	close(fd);
	return 0;
}

static void prime_one(uint32_t flags)
{
	int sv[2], fd, dmabuf = -1;
	struct drm_lumen_bo_info info;
	uint32_t h, h_again;
	uint8_t *p;
	pid_t pid;
	char ch;

	fd = ld_open(0);
	assert_true(fd >= 0);
	assert_int_equal(ld_bo_create(fd, PRIME_SIZE, flags, 0, &h, NULL), 0);
	assert_int_equal(ld_bo_info(fd, h, &info), 0);
	p = mmap(NULL, PRIME_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)info.mmap_offset);
	assert_true(p != MAP_FAILED);
	ld_pattern(p, PRIME_SIZE, 4242);
	assert_int_equal(drmPrimeHandleToFD(fd, h, DRM_CLOEXEC | DRM_RDWR, &dmabuf), 0);
	/* Importing into the exporting file gives back the same handle. */
	assert_int_equal(drmPrimeFDToHandle(fd, dmabuf, &h_again), 0);
	assert_int_equal(h_again, h);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(prime_child(sv[1]));
	}
	close(sv[1]);
	assert_int_equal(send_fd(sv[0], dmabuf), 0);
	close(dmabuf);
	/* Drop our handle while the child works: the dma-buf keeps the BO. */
	assert_int_equal(read(sv[0], &ch, 1), 1);
	assert_int_equal(reap(pid), 0);
	assert_int_equal(ld_check_pattern(p, PRIME_SIZE / 2, 4242, 0), -1);
	for (size_t i = PRIME_SIZE / 2; i < PRIME_SIZE; i++)
		if (p[i] != 0x5a)
			fail_msg("byte %zu the importer wrote is 0x%02x", i, p[i]);
	close(sv[0]);
	munmap(p, PRIME_SIZE);
	assert_int_equal(ld_gem_close(fd, h), 0);
	close(fd);
}

static void test_prime_host(void **state)
{
	(void)state;
	prime_one(DRM_LUMEN_BO_HOST);
}

static void test_prime_device(void **state)
{
	(void)state;
	prime_one(DRM_LUMEN_BO_DEVICE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_foreign_handles),
		cmocka_unit_test(test_fault_read_unmapped),
		cmocka_unit_test(test_fault_write_unmapped),
		cmocka_unit_test(test_fault_fails_pending_jobs),
		cmocka_unit_test(test_prime_host),
		cmocka_unit_test(test_prime_device),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("isolation", tests, NULL, NULL);
}
