/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the link-engine suites and benchmarks that run in a
 * tests/vm/run guest with --fabric: the fabric's control channel
 * ($LUMEN_FABRIC_CTL, lumen-fabric's JSON-lines commands), the local cards
 * by chip id, and their ports' sysfs attributes
 * (/sys/bus/pci/devices/<bdf>/links/port<N>/<name>). Nothing here asserts:
 * everything returns a status, so both CMocka suites and benchmarks use it.
 */
#ifndef LUMEN_LINK_UTIL_H
#define LUMEN_LINK_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the fabric's control channel ------------------------------------------ */

/*
 * Send one request (a JSON object, without "id": one is added) to
 * lumen-fabric and wait up to timeout_ms for its answer, skipping answers
 * to other requests (e.g. left unread by an earlier client). The answer
 * line goes to reply (NUL-terminated, may be NULL). Returns 0 if the answer
 * says "ok":true, -EIO if it was refused, -ETIMEDOUT without an answer,
 * -ENOENT without a channel ($LUMEN_FABRIC_CTL unset), -EBUSY if another
 * process has the channel open, or another -errno.
 */
int lu_fabric(const char *json, char *reply, size_t len, int timeout_ms);
/* lu_fabric() of a printf-formatted request, 10 s timeout. */
int lu_fabricf(char *reply, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sum of every number that follows "key": in a JSON text (e.g. all
 * "bits_flipped" of a counters answer); -1 if the key does not occur. */
long long lu_json_sum(const char *json, const char *key);

/* ---- cards by chip id ------------------------------------------------------ */

#define LU_MAX_CARDS 16

struct lu_card {
	int index;     /* liblumen / lumen_dev card index (PCI order) */
	char pci[16];  /* PCI address */
	uint32_t chip; /* supernode chip id */
};

/* The local cards with their chip ids, in index order; count or -1. */
int lu_cards(struct lu_card cards[LU_MAX_CARDS]);
/* The local card holding chip id @chip, NULL if none. */
const struct lu_card *lu_card_of(const struct lu_card *cards, int n, uint32_t chip);

/* ---- ports ------------------------------------------------------------------- */

/* A numeric attribute of a port (e.g. "crc_errors"); -1 on error. */
long long lu_port_num(const char *pci, int port, const char *name);
/* A chip-wide counter under links/ (e.g. "e2e_retransmits"); -1 on error. */
long long lu_chip_num(const char *pci, const char *name);
/* The port's state ("up", "down", "training", "error") into buf; 0 or -errno. */
int lu_port_state(const char *pci, int port, char *buf, size_t len);
/* Wait up to timeout_ms for the port's state to be @state (polling every
 * 5 ms); the milliseconds waited, or -1 on timeout. */
long lu_wait_port_state(const char *pci, int port, const char *state, int timeout_ms);
/* Run "lumen-route program --topology $LUMEN_VM_FABRIC" (quietly); its exit
 * status, or -1. Call it with every cabled port up. */
int lu_program_routes(void);
/* Wait up to timeout_ms until ports 0 and 1 (+x, -x) of every card are up;
 * 0 or -1. */
int lu_wait_ring_up(const struct lu_card *cards, int n, int timeout_ms);

/* ---- progress of a transfer at its target ------------------------------------ */

/*
 * The DATA frames a chip's ports 0 and 1 (+x, -x) accepted, sampled every
 * 2 ms by a thread; the time of every change is kept, so the longest
 * stretch without progress (a blackout) is known afterwards. cur counts
 * the frames since the start: one per 4 KiB of a remote write to the chip.
 */
struct lu_sampler {
	pthread_t th;
	const char *pci;
	atomic_int stop;
	atomic_llong cur;
	long long base;
	uint64_t *t; /* ld_now_ns() of each change */
	int n, cap;
};

/* 0, or -1 if the counters cannot be read or the thread not started. */
int lu_sampler_start(struct lu_sampler *s, const char *pci);
void lu_sampler_stop(struct lu_sampler *s);
void lu_sampler_free(struct lu_sampler *s);
/* Longest time without progress between from and to (ns, ld_now_ns()
 * clock); *resume: the first progress after from, 0 if none. */
uint64_t lu_sampler_gap(const struct lu_sampler *s, uint64_t from, uint64_t to, uint64_t *resume);

#endif
