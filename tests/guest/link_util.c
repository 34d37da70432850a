// SPDX-License-Identifier: MIT
/* Fabric control channel, cards by chip id and port attributes: link_util.h. */
#include "link_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_util.h"
#include "lumen_dev.h"

/* ---- the fabric's control channel ------------------------------------------ */

int lu_fabric(const char *json, char *reply, size_t len, int timeout_ms)
{
	const char *ctl = getenv("LUMEN_FABRIC_CTL");
	static unsigned int seq;
	char id[64], req[1024], line[16384], want[80];
	size_t got = 0;
	uint64_t deadline;
	const char *body;
	int fd, n, ret = -ETIMEDOUT;

	if (reply && len)
		reply[0] = '\0';
	if (!ctl || !*ctl)
		return -ENOENT;
	body = strchr(json, '{');
	if (!body)
		return -EINVAL;
	snprintf(id, sizeof(id), "link_util.%d.%u", (int)getpid(), ++seq);
	n = snprintf(req, sizeof(req), "{\"id\":\"%s\",%s\n", id, body + 1);
	if (n < 0 || (size_t)n >= sizeof(req))
		return -E2BIG;
	/* One opener at a time: the port answers EBUSY to a second one. */
	fd = open(ctl, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (write(fd, req, (size_t)n) != n) {
		ret = -EIO;
		goto out;
	}
	snprintf(want, sizeof(want), "\"id\":\"%s\"", id);
	deadline = ld_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		uint64_t now = ld_now_ns();
		char *nl;
		ssize_t r;

		/* Every complete line: ours, someone else's, or unparsable. */
		while ((nl = memchr(line, '\n', got))) {
			size_t ll = (size_t)(nl - line);

			*nl = '\0';
			if (strstr(line, want) ||
			    (!strstr(line, "\"id\"") && strstr(line, "\"ok\":false"))) {
				if (reply && len)
					snprintf(reply, len, "%s", line);
				ret = strstr(line, "\"ok\":true") ? 0 : -EIO;
				goto out;
			}
			memmove(line, nl + 1, got - ll - 1);
			got -= ll + 1;
		}
		if (got >= sizeof(line) - 1)
			got = 0; /* an absurdly long foreign line: drop it */
		if (now >= deadline)
			break;
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
			continue;
		r = read(fd, line + got, sizeof(line) - 1 - got);
		if (r < 0 && errno != EINTR && errno != EAGAIN) {
			ret = -errno;
			goto out;
		}
		if (r > 0)
			got += (size_t)r;
		else if (r == 0)
			usleep(1000); /* the host end is not connected yet */
	}
out:
	close(fd);
	return ret;
}

int lu_fabricf(char *reply, size_t len, const char *fmt, ...)
{
	char req[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req, sizeof(req), fmt, ap);
	va_end(ap);
	return lu_fabric(req, reply, len, 10000);
}

long long lu_json_sum(const char *json, const char *key)
{
	char pat[80];
	long long sum = -1;
	const char *p = json;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	while ((p = strstr(p, pat))) {
		p += strlen(pat);
		sum = (sum < 0 ? 0 : sum) + strtoll(p, NULL, 10);
	}
	return sum;
}

/* ---- cards by chip id ------------------------------------------------------ */

int lu_cards(struct lu_card cards[LU_MAX_CARDS])
{
	int n = ld_num_cards();

	if (n < 0)
		return -1;
	if (n > LU_MAX_CARDS)
		n = LU_MAX_CARDS;
	for (int i = 0; i < n; i++) {
		char path[96], buf[32];

		cards[i].index = i;
		if (ld_card_pci(i, cards[i].pci, sizeof(cards[i].pci)))
			return -1;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/chip_id", cards[i].pci);
		if (gu_read_sysfs(path, buf, sizeof(buf)))
			return -1;
		cards[i].chip = (uint32_t)strtoul(buf, NULL, 10);
	}
	return n;
}

const struct lu_card *lu_card_of(const struct lu_card *cards, int n, uint32_t chip)
{
	for (int i = 0; i < n; i++)
		if (cards[i].chip == chip)
			return &cards[i];
	return NULL;
}

/* ---- ports ------------------------------------------------------------------- */

static long long read_num(const char *path)
{
	char buf[64], *end;
	long long v;

	if (gu_read_sysfs(path, buf, sizeof(buf)))
		return -1;
	v = strtoll(buf, &end, 10);
	return end == buf ? -1 : v;
}

long long lu_port_num(const char *pci, int port, const char *name)
{
	char path[192];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/port%d/%s", pci, port, name);
	return read_num(path);
}

long long lu_chip_num(const char *pci, const char *name)
{
	char path[192];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/%s", pci, name);
	return read_num(path);
}

int lu_port_state(const char *pci, int port, char *buf, size_t len)
{
	char path[192];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/links/port%d/state", pci, port);
	return gu_read_sysfs(path, buf, len);
}

long lu_wait_port_state(const char *pci, int port, const char *state, int timeout_ms)
{
	uint64_t t0 = ld_now_ns();
	char st[32];

	for (;;) {
		uint64_t ms = (ld_now_ns() - t0) / 1000000;

		if (!lu_port_state(pci, port, st, sizeof(st)) && !strcmp(st, state))
			return (long)ms;
		if (ms >= (uint64_t)timeout_ms)
			return -1;
		usleep(5000);
	}
}

int lu_program_routes(void)
{
	const char *spec = getenv("LUMEN_VM_FABRIC");

	if (!spec || strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789:x") != strlen(spec))
		return -1;
	return gu_system("lumen-route program --topology %s >/tmp/lumen-route.out 2>&1 || "
			 "{ cat /tmp/lumen-route.out; exit 1; }",
			 spec);
}

int lu_wait_ring_up(const struct lu_card *cards, int n, int timeout_ms)
{
	uint64_t t0 = ld_now_ns();

	for (int i = 0; i < n; i++)
		for (int p = 0; p < 2; p++) {
			long left = timeout_ms - (long)((ld_now_ns() - t0) / 1000000);

			if (left < 0 || lu_wait_port_state(cards[i].pci, p, "up", (int)left) < 0)
				return -1;
		}
	return 0;
}

/* ---- progress of a transfer at its target ------------------------------------ */

static long long frames_in(const char *pci)
{
	long long a = lu_port_num(pci, 0, "data_rx"), b = lu_port_num(pci, 1, "data_rx");

	return a < 0 || b < 0 ? -1 : a + b;
}

static void *sampler_run(void *arg)
{
	struct lu_sampler *s = arg;
	long long last = s->base;

	while (!atomic_load(&s->stop)) {
		long long v = frames_in(s->pci);

		if (v >= 0 && v != last) {
			last = v;
			atomic_store(&s->cur, v - s->base);
			if (s->n < s->cap)
				s->t[s->n++] = ld_now_ns();
		}
		usleep(2000);
	}
	return NULL;
}

int lu_sampler_start(struct lu_sampler *s, const char *pci)
{
	memset(s, 0, sizeof(*s));
	s->pci = pci;
	s->base = frames_in(pci);
	s->cap = 1 << 16;
	s->t = calloc((size_t)s->cap, sizeof(*s->t));
	if (s->base < 0 || !s->t)
		return -1;
	if (pthread_create(&s->th, NULL, sampler_run, s)) {
		free(s->t);
		s->t = NULL;
		return -1;
	}
	return 0;
}

void lu_sampler_stop(struct lu_sampler *s)
{
	if (atomic_exchange(&s->stop, 1))
		return;
	pthread_join(s->th, NULL);
}

void lu_sampler_free(struct lu_sampler *s)
{
	free(s->t);
	s->t = NULL;
}

uint64_t lu_sampler_gap(const struct lu_sampler *s, uint64_t from, uint64_t to, uint64_t *resume)
{
	uint64_t prev = from, gap = 0;

	*resume = 0;
	for (int i = 0; i < s->n; i++) {
		if (s->t[i] <= from)
			continue;
		if (!*resume)
			*resume = s->t[i];
		if (s->t[i] - prev > gap)
			gap = s->t[i] - prev;
		prev = s->t[i];
	}
	if (to > prev && to - prev > gap)
		gap = to - prev;
	return gap;
}
