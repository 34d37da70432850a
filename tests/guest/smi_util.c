// SPDX-License-Identifier: MIT
/*
 * lumen-smi-util: what busybox lacks for npu-smi's guest tests
 * (tests/smi/guest.sh).
 *
 *   lumen-smi-util as UID CMD [ARG...]
 *	run CMD as user and group UID with no supplementary groups (busybox
 *	setpriv cannot change ids; there is no /etc/passwd to su to)
 *   lumen-smi-util bench N CMD [ARG...]
 *	run CMD N times (stdout to /dev/null) and print the median, minimum
 *	and maximum wall time in microseconds; exits 1 if a run failed
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int cmp_u64(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

static unsigned long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
}

static int run_once(char **argv)
{
	int status, fd;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "as")) {
		uid_t id = (uid_t)strtoul(argv[2], NULL, 10);

		if (setgroups(0, NULL) || setresgid(id, id, id) || setresuid(id, id, id)) {
			perror("lumen-smi-util as");
			return 126;
		}
		execvp(argv[3], argv + 3);
		perror(argv[3]);
		return 127;
	}
	if (argc >= 4 && !strcmp(argv[1], "bench")) {
		int n = atoi(argv[2]), i, failed = 0;
		unsigned long long *t;

		if (n <= 0)
			return 2;
		t = calloc(n, sizeof(*t));
		if (!t)
			return 1;
		for (i = 0; i < n; i++) {
			unsigned long long s = now_us();

			failed |= run_once(argv + 3) != 0;
			t[i] = now_us() - s;
		}
		qsort(t, n, sizeof(*t), cmp_u64);
		printf("median_us=%llu min_us=%llu max_us=%llu runs=%d\n", t[n / 2], t[0],
		       t[n - 1], n);
		free(t);
		return failed;
	}
	fprintf(stderr, "usage: lumen-smi-util as UID CMD... | bench N CMD...\n");
	return 2;
}
