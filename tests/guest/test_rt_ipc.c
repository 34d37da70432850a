// SPDX-License-Identifier: MIT
/*
 * liblumen IPC (rt_ipc): process A allocates device memory, fills it,
 * exports it as a dma-buf fd and passes it over a unix socket (SCM_RIGHTS)
 * to process B (this program re-executed, so B starts with fresh library
 * state); B imports it, verifies the content with a D2H copy and writes a
 * new pattern that A then reads. Also: the import outlives the exporter's
 * free; close paths; import into the exporting process; bad fds fail with
 * a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lumen_dev.h"
#include "rt_test.h"

enum cmd {
	CMD_VERIFY_WRITE = 1,	/* import, verify seed, write newseed; keep it */
	CMD_CLOSE,		/* close the kept import, then close it again */
	CMD_VERIFY_CLOSE,	/* import, verify seed, close */
	CMD_BAD,		/* bad fds */
	CMD_EXIT,
	CMD_DIE,		/* exit at once, cleaning up nothing */
};

struct msg {
	int cmd;
	uint32_t seed, newseed;
	uint64_t size;		/* bytes to verify / imported size (reply) */
	int st[4];		/* statuses (reply) */
	long bad;		/* first wrong byte, -1 if none (reply) */
	char err[4][160];	/* lumen_get_last_error() after st[i] (reply) */
};

static int send_msg(int sock, const struct msg *m, int fd)
{
	struct iovec iov = { .iov_base = (void *)m, .iov_len = sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, 0) == (ssize_t)sizeof(*m) ? 0 : -1;
}

static int recv_msg(int sock, struct msg *m, int *fd)
{
	struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;

	if (fd)
		*fd = -1;
	if (recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != (ssize_t)sizeof(*m))
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && fd)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return 0;
}

/* ---- process B ------------------------------------------------------------ */

static void note(struct msg *r, int i, lumen_status_t st)
{
	r->st[i] = (int)st;
	snprintf(r->err[i], sizeof(r->err[i]), "%s", st ? lumen_get_last_error() : "");
}

static int child_main(int sock)
{
	lumen_device_t dev;
	lumen_context_t ctx;
	lumen_devptr_t kept = 0;
	struct msg m, r;
	int fd;

	if (rt_context_open(0, &dev, &ctx, "child"))
		return 1;
	while (recv_msg(sock, &m, &fd) == 0) {
		lumen_devptr_t p = 0;
		size_t size = 0;
		uint8_t *buf = NULL;

		memset(&r, 0, sizeof(r));
		r.cmd = m.cmd;
		r.bad = -1;
		switch (m.cmd) {
		case CMD_VERIFY_WRITE:
		case CMD_VERIFY_CLOSE:
			note(&r, 0, lumen_ipc_import(ctx, fd, &p, &size));
			r.size = size;
			if (r.st[0] || size < m.size)
				break;
			buf = malloc(m.size);
			if (!buf)
				return 1;
			memset(buf, 0, m.size);
			note(&r, 1, lumen_memcpy(ctx, buf, (void *)(uintptr_t)p, m.size,
						 LUMEN_COPY_DEVICE_TO_HOST));
			r.bad = ld_check_pattern(buf, m.size, m.seed, 0);
			if (m.cmd == CMD_VERIFY_WRITE) {
				ld_pattern(buf, m.size, m.newseed);
				note(&r, 2, lumen_memcpy(ctx, (void *)(uintptr_t)p, buf, m.size,
							 LUMEN_COPY_HOST_TO_DEVICE));
				kept = p;
			} else {
				note(&r, 2, lumen_ipc_close(ctx, p));
			}
			free(buf);
			break;
		case CMD_CLOSE:
			note(&r, 0, lumen_ipc_close(ctx, kept));
			note(&r, 1, lumen_ipc_close(ctx, kept));
			break;
		case CMD_BAD: {
			int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

			note(&r, 0, lumen_ipc_import(ctx, -1, &p, &size));
			note(&r, 1, lumen_ipc_import(ctx, nul, &p, &size));
			note(&r, 2, lumen_ipc_import(ctx, fd, NULL, &size));
			note(&r, 3, lumen_ipc_import(ctx, 1000000, &p, &size));
			r.size = p; /* must still be 0: out-pointers untouched */
			close(nul);
			break;
		}
		case CMD_EXIT:
			lumen_context_destroy(ctx);
			return 0;
		case CMD_DIE:
			_exit(3);
		}
		if (fd >= 0)
			close(fd);
		if (send_msg(sock, &r, -1))
			return 1;
	}
	return 1;
}

/* ---- process A ------------------------------------------------------------ */

struct fx {
	lumen_device_t dev;
	lumen_context_t ctx;
	int sock;
	pid_t child;
};

/* Start process B (this program with --child) on one end of a socket
 * pair; *sock is the other end. 0 or -1. */
static int spawn_b(int *sock, pid_t *pid)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		char arg[16];

		close(sv[0]);
		/* Keep sv[1] across exec. */
		fcntl(sv[1], F_SETFD, 0);
		snprintf(arg, sizeof(arg), "%d", sv[1]);
		execl("/proc/self/exe", "guest_test_rt_ipc", "--child", arg, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*sock = sv[0];
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	*state = f;
	if (spawn_b(&f->sock, &f->child))
		return -1;
	return rt_context_open(0, &f->dev, &f->ctx, "setup");
}

static int teardown(void **state)
{
	struct fx *f = *state;
	struct msg m = { .cmd = CMD_EXIT };
	int st = -1;

	send_msg(f->sock, &m, -1);
	waitpid(f->child, &st, 0);
	close(f->sock);
	if (f->ctx)
		lumen_context_destroy(f->ctx);
	free(f);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "process B ended with status 0x%x\n", st);
		return -1;
	}
	return 0;
}

/* Send m (and fd, if >= 0) to process B and wait for its reply r. */
static void ask(int sock, struct msg *m, int fd, struct msg *r)
{
	assert_int_equal(send_msg(sock, m, fd), 0);
	assert_int_equal(recv_msg(sock, r, NULL), 0);
	assert_int_equal(r->cmd, m->cmd);
}

/* A new allocation of n bytes holding ld_pattern(seed), written from h. */
static lumen_devptr_t alloc_pattern(lumen_context_t ctx, uint8_t *h, size_t n, uint32_t seed)
{
	lumen_devptr_t p;

	RT_OK(lumen_malloc(ctx, n, &p));
	ld_pattern(h, n, seed);
	rt_h2d(ctx, p, h, n);
	return p;
}

/* The n bytes at p, read into h, hold ld_pattern(seed). */
static void expect_device_pattern(lumen_context_t ctx, uint8_t *h, lumen_devptr_t p, size_t n,
				  uint32_t seed, const char *what)
{
	memset(h, 0, n);
	rt_d2h(ctx, h, p, n);
	rt_expect_pattern(h, n, seed, 0, what);
}

static void expect_b(const struct msg *r, int i, lumen_status_t want, const char *what)
{
	if (r->st[i] != (int)want)
		fail_msg("process B, %s: %s, expected %s: \"%s\"", what,
			 rt_st((lumen_status_t)r->st[i]), rt_st(want), r->err[i]);
	if (want != LUMEN_SUCCESS && !r->err[i][0])
		fail_msg("process B, %s: %s with an empty message", what, rt_st(want));
}

/* Either status a or, failing that, b. */
static void expect_b2(const struct msg *r, int i, lumen_status_t a, lumen_status_t b,
		      const char *what)
{
	expect_b(r, i, r->st[i] == (int)a ? a : b, what);
}

static void test_share(void **state)
{
	struct fx *f = *state;
	const size_t n = 3 * MiB + 5;
	uint8_t *h = malloc(n);
	lumen_devptr_t p;
	struct msg m = { 0 }, r;
	int fd = -1;

	assert_non_null(h);
	p = alloc_pattern(f->ctx, h, n, 11);
	RT_OK(lumen_ipc_export(f->ctx, p, &fd));
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) >= 0);

	m.cmd = CMD_VERIFY_WRITE;
	m.seed = 11;
	m.newseed = 12;
	m.size = n;
	ask(f->sock, &m, fd, &r);
	expect_b(&r, 0, LUMEN_SUCCESS, "import");
	if (r.size < n)
		fail_msg("imported size %llu < exported %zu", (unsigned long long)r.size, n);
	expect_b(&r, 1, LUMEN_SUCCESS, "d2h of the import");
	if (r.bad >= 0)
		fail_msg("process B read byte %ld wrong", r.bad);
	expect_b(&r, 2, LUMEN_SUCCESS, "h2d into the import");
	/* A sees B's pattern. */
	expect_device_pattern(f->ctx, h, p, n, 12, "A reading B's write");
	/* B closes its import, twice. */
	m.cmd = CMD_CLOSE;
	ask(f->sock, &m, -1, &r);
	expect_b(&r, 0, LUMEN_SUCCESS, "ipc_close");
	expect_b(&r, 1, LUMEN_ERROR_INVALID_ARGUMENT, "second ipc_close");
	/* A's allocation is unaffected. */
	RT_OK(lumen_memset(f->ctx, p, 0x3c, 4096));
	rt_d2h(f->ctx, h, p, 8192);
	assert_int_equal(h[0], 0x3c);
	assert_int_equal(h[4095], 0x3c);
	assert_int_equal(ld_check_pattern(h + 4096, 4096, 12, 4096), -1);
	close(fd);
	RT_OK(lumen_free(f->ctx, p));
	free(h);
}

/* The import keeps the memory alive after the exporter frees it. */
static void test_outlives_exporter(void **state)
{
	struct fx *f = *state;
	const size_t n = 4 * MiB;
	uint8_t *h = malloc(n);
	lumen_devptr_t p;
	struct msg m = { 0 }, r;
	int fd = -1;

	assert_non_null(h);
	p = alloc_pattern(f->ctx, h, n, 21);
	RT_OK(lumen_ipc_export(f->ctx, p, &fd));
	RT_OK(lumen_free(f->ctx, p));
	RT_OK(lumen_mem_trim(f->ctx));
	m.cmd = CMD_VERIFY_CLOSE;
	m.seed = 21;
	m.size = n;
	ask(f->sock, &m, fd, &r);
	close(fd);
	expect_b(&r, 0, LUMEN_SUCCESS, "import after the exporter's free");
	expect_b(&r, 1, LUMEN_SUCCESS, "d2h");
	if (r.bad >= 0)
		fail_msg("content lost after the exporter's free: byte %ld", r.bad);
	expect_b(&r, 2, LUMEN_SUCCESS, "ipc_close");
	free(h);
}

/* Import into the exporting process: another context, and the same one. */
static void test_same_process(void **state)
{
	struct fx *f = *state;
	const size_t n = 2 * MiB;
	uint8_t *h = malloc(n);
	lumen_context_t c2;
	lumen_devptr_t p, q, q2;
	size_t size = 0;
	int fd = -1;

	assert_non_null(h);
	p = alloc_pattern(f->ctx, h, n, 31);
	RT_OK(lumen_ipc_export(f->ctx, p, &fd));
	/* Another context of this process. */
	RT_OK(lumen_context_create(f->dev, &c2));
	RT_OK(lumen_ipc_import(c2, fd, &q, &size));
	assert_true(size >= n);
	expect_device_pattern(c2, h, q, n, 31, "import into another context");
	/* An import is not an allocation: lumen_free refuses it. */
	RT_FAIL(lumen_free(c2, q), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_OK(lumen_ipc_close(c2, q));
	RT_OK(lumen_context_destroy(c2));
	/* The exporting context itself: the kernel hands back the same BO; closing
	 * the import must not take the original allocation with it. */
	size = 0;
	RT_OK(lumen_ipc_import(f->ctx, fd, &q2, &size));
	assert_true(size >= n);
	expect_device_pattern(f->ctx, h, q2, n, 31, "import into the exporting context");
	RT_OK(lumen_ipc_close(f->ctx, q2));
	RT_OK(lumen_memset(f->ctx, p, 0x42, n));
	rt_d2h(f->ctx, h, p, n);
	for (size_t i = 0; i < n; i += 4093)
		assert_int_equal(h[i], 0x42);
	/* ipc_close of a plain allocation is refused. */
	RT_FAIL(lumen_ipc_close(f->ctx, p), LUMEN_ERROR_INVALID_ARGUMENT);
	close(fd);
	RT_OK(lumen_free(f->ctx, p));

	/* The exporting context destroyed as a whole: the import lives on. */
	{
		lumen_context_t e;

		RT_OK(lumen_context_create(f->dev, &e));
		RT_OK(lumen_context_create(f->dev, &c2));
		p = alloc_pattern(e, h, n, 33);
		RT_OK(lumen_ipc_export(e, p, &fd));
		RT_OK(lumen_ipc_import(c2, fd, &q, &size));
		close(fd);
		RT_OK(lumen_context_destroy(e));
		expect_device_pattern(c2, h, q, n, 33, "import after its exporter's context died");
		RT_OK(lumen_context_destroy(c2)); /* closes the import */
	}
	free(h);
}

/* lumen.h: "ptr must be the start of an allocation larger than 256 KiB:
 * smaller ones share a buffer with other allocations and fail with
 * LUMEN_ERROR_NOT_SUPPORTED"; 256 KiB + 1 byte is exportable. */
static void test_small_export(void **state)
{
	struct fx *f = *state;
	const size_t n = 256 * KiB + 1;
	uint8_t *h = malloc(n), *o = malloc(n);
	lumen_context_t c2;
	lumen_devptr_t p, small, q;
	size_t size = 0;
	int fd = -1;

	assert_non_null(h);
	assert_non_null(o);
	RT_OK(lumen_malloc(f->ctx, 256 * KiB, &small));
	RT_FAIL(lumen_ipc_export(f->ctx, small, &fd), LUMEN_ERROR_NOT_SUPPORTED);
	assert_int_equal(fd, -1);
	RT_OK(lumen_free(f->ctx, small));
	RT_OK(lumen_malloc(f->ctx, 100, &small));
	RT_FAIL(lumen_ipc_export(f->ctx, small, &fd), LUMEN_ERROR_NOT_SUPPORTED);
	RT_OK(lumen_free(f->ctx, small));

	p = alloc_pattern(f->ctx, h, n, 41);
	RT_OK(lumen_ipc_export(f->ctx, p, &fd));
	RT_OK(lumen_context_create(f->dev, &c2));
	RT_OK(lumen_ipc_import(c2, fd, &q, &size));
	assert_true(size >= n);
	rt_d2h(c2, o, q, n);
	assert_memory_equal(o, h, n);
	RT_OK(lumen_ipc_close(c2, q));
	RT_OK(lumen_context_destroy(c2));
	close(fd);
	RT_OK(lumen_free(f->ctx, p));
	free(h);
	free(o);
}

/* The same dma-buf imported twice into one context, two fds of one
 * allocation, and an export of a pointer inside a large allocation. */
static void test_double_import(void **state)
{
	struct fx *f = *state;
	const size_t n = 3 * MiB;
	uint8_t *h = malloc(n);
	lumen_context_t c2;
	lumen_devptr_t p, q1, q2;
	size_t s1 = 0, s2 = 0;
	int fd = -1, fd2 = -1;

	assert_non_null(h);
	p = alloc_pattern(f->ctx, h, n, 61);
	RT_OK(lumen_ipc_export(f->ctx, p, &fd));
	RT_OK(lumen_ipc_export(f->ctx, p, &fd2)); /* a second fd of the same memory */
	RT_OK(lumen_context_create(f->dev, &c2));
	RT_OK(lumen_ipc_import(c2, fd, &q1, &s1));
	RT_OK(lumen_ipc_import(c2, fd, &q2, &s2)); /* the same fd twice */
	assert_int_not_equal(q1, q2);
	assert_int_equal(s1, n);
	assert_int_equal(s2, n);
	expect_device_pattern(c2, h, q2, n, 61, "second import of one fd");
	/* Closing one import leaves the other working. */
	RT_OK(lumen_ipc_close(c2, q1));
	RT_OK(lumen_memset(c2, q2, 0x17, 4096));
	rt_d2h(c2, h, q2, 8192);
	assert_int_equal(h[0], 0x17);
	assert_int_equal(ld_check_pattern(h + 4096, 4096, 61, 4096), -1);
	RT_OK(lumen_ipc_close(c2, q2));
	RT_FAIL(lumen_ipc_close(c2, q2), LUMEN_ERROR_INVALID_ARGUMENT);
	/* The second fd still imports. */
	RT_OK(lumen_ipc_import(c2, fd2, &q1, &s1));
	rt_d2h(c2, h, q1, 4096);
	assert_int_equal(h[0], 0x17);
	RT_OK(lumen_ipc_close(c2, q1));
	RT_OK(lumen_context_destroy(c2));
	/* lumen.h: "ptr must be the start of an allocation". */
	{
		int fd3 = -1;

		RT_FAIL(lumen_ipc_export(f->ctx, p + 12345, &fd3), LUMEN_ERROR_INVALID_ARGUMENT);
		assert_int_equal(fd3, -1);
	}
	/* The exporter sees the importer's write. */
	rt_d2h(f->ctx, h, p, 4096);
	assert_int_equal(h[100], 0x17);
	close(fd);
	close(fd2);
	RT_OK(lumen_free(f->ctx, p));
	free(h);
}

/* A dma-buf of card 1 imported into a context of card 0: either it works
 * (with the right content) or it is refused with a message. */
static void test_cross_device(void **state)
{
	struct fx *f = *state;
	const size_t n = 4 * MiB;
	lumen_device_t d1;
	lumen_context_t c1;
	lumen_devptr_t p, q;
	uint8_t *h = malloc(n);
	size_t size = 0;
	lumen_status_t st;
	int cards = 0, fd = -1;

	assert_non_null(h);
	RT_OK(lumen_device_count(&cards));
	if (cards < 2) {
		free(h);
		skip();
	}
	RT_OK(lumen_device_get(1, &d1));
	RT_OK(lumen_context_create(d1, &c1));
	p = alloc_pattern(c1, h, n, 51);
	RT_OK(lumen_ipc_export(c1, p, &fd));
	st = lumen_ipc_import(f->ctx, fd, &q, &size);
	if (st == LUMEN_SUCCESS) {
		printf("# card 1's allocation imported on card 0 (%zu B)\n", size);
		expect_device_pattern(f->ctx, h, q, n, 51, "card 1's allocation on card 0");
		RT_OK(lumen_ipc_close(f->ctx, q));
	} else {
		/* "Import into a context of the same device": another device's
		 * buffer is refused (WRONG_DEVICE would name it best). */
		printf("# cross-device import refused: %s\n", lumen_get_last_error());
		RT_FAIL2_AS("lumen_ipc_import", st, LUMEN_ERROR_WRONG_DEVICE,
			    LUMEN_ERROR_INVALID_ARGUMENT);
	}
	close(fd);
	RT_OK(lumen_free(c1, p));
	RT_OK(lumen_context_destroy(c1));
	free(h);
}

/* An importer that dies without closing anything leaves the exporter's
 * memory intact and freeable. */
static void test_importer_dies(void **state)
{
	struct fx *f = *state;
	const size_t n = 4 * MiB;
	uint8_t *h = malloc(n);
	lumen_devptr_t p;
	struct msg m = { 0 }, r;
	int sock, fd = -1, st = 0;
	pid_t pid;

	assert_non_null(h);
	assert_int_equal(spawn_b(&sock, &pid), 0);
	p = alloc_pattern(f->ctx, h, n, 71);
	RT_OK(lumen_ipc_export(f->ctx, p, &fd));
	m.cmd = CMD_VERIFY_WRITE;
	m.seed = 71;
	m.newseed = 72;
	m.size = n;
	ask(sock, &m, fd, &r);
	expect_b(&r, 0, LUMEN_SUCCESS, "import");
	assert_int_equal(r.bad, -1);
	m.cmd = CMD_DIE;
	assert_int_equal(send_msg(sock, &m, -1), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	close(sock);
	close(fd);
	/* The exporter sees the dead importer's write and keeps working. */
	expect_device_pattern(f->ctx, h, p, n, 72, "A reading the dead importer's write");
	RT_OK(lumen_memset(f->ctx, p, 1, n));
	RT_OK(lumen_free(f->ctx, p));
	free(h);
}

static void test_bad(void **state)
{
	struct fx *f = *state;
	struct msg m = { 0 }, r;
	lumen_devptr_t p, q = 0x99;
	size_t size = 0x77;
	int fd = 12345, efd;

	RT_FAIL(lumen_ipc_export(f->ctx, 0x12345000ull, &fd), LUMEN_ERROR_INVALID_ARGUMENT);
	assert_int_equal(fd, 12345);
	RT_OK(lumen_malloc(f->ctx, 4 * MiB, &p));
	RT_FAIL(lumen_ipc_export(f->ctx, p, NULL), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_ipc_export(NULL, p, &fd), LUMEN_ERROR_INVALID_HANDLE);
	RT_FAIL(lumen_ipc_import(f->ctx, -1, &q, &size), LUMEN_ERROR_INVALID_ARGUMENT);
	assert_int_equal(q, 0x99);
	assert_int_equal(size, 0x77);
	RT_FAIL(lumen_ipc_close(f->ctx, 0x12345000ull), LUMEN_ERROR_INVALID_ARGUMENT);
	RT_FAIL(lumen_ipc_close(NULL, p), LUMEN_ERROR_INVALID_HANDLE);

	RT_OK(lumen_ipc_export(f->ctx, p, &efd));
	m.cmd = CMD_BAD;
	ask(f->sock, &m, efd, &r);
	close(efd);
	expect_b(&r, 0, LUMEN_ERROR_INVALID_ARGUMENT, "import of fd -1");
	/* Not a dma-buf: refused (INVALID_ARGUMENT, or SYSTEM with errno). */
	expect_b2(&r, 1, LUMEN_ERROR_INVALID_ARGUMENT, LUMEN_ERROR_SYSTEM, "import of /dev/null");
	expect_b(&r, 2, LUMEN_ERROR_INVALID_ARGUMENT, "import with a NULL ptr");
	expect_b2(&r, 3, LUMEN_ERROR_INVALID_ARGUMENT, LUMEN_ERROR_SYSTEM, "import of a closed fd");
	assert_int_equal(r.size, 0);
	printf("# B's messages: \"%s\" / \"%s\" / \"%s\"\n", r.err[0], r.err[1], r.err[3]);
	RT_OK(lumen_free(f->ctx, p));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_share),
		cmocka_unit_test(test_outlives_exporter),
		cmocka_unit_test(test_same_process),
		cmocka_unit_test(test_small_export),
		cmocka_unit_test(test_double_import),
		cmocka_unit_test(test_cross_device),
		cmocka_unit_test(test_importer_dies),
		cmocka_unit_test(test_bad),
	};

	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child_main(atoi(argv[2]));
	return cmocka_run_group_tests_name("rt_ipc", tests, setup, teardown);
}
