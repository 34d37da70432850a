/* SPDX-License-Identifier: MIT */
/*
 * lumen-fuzz: the ioctl and mmap fuzzer of /dev/accel/accelN (lumen.ko).
 * The engine is lumen_fuzz.c (its header comment describes the modes); the
 * standalone program is lumen_fuzz_main.c (build/bin/lumen-fuzz) and the
 * CMocka suite test_fuzz.c (guest_test_fuzz, suite "fuzz").
 */
#ifndef LUMEN_FUZZ_H
#define LUMEN_FUZZ_H

#include <stdint.h>

#define LF_MAX_PROCS	32

enum lf_mode {
	LF_MODE_RANDOM = 1,
	LF_MODE_STRUCT = 2,
	LF_MODE_BOTH = 3,
};

struct lf_opts {
	uint64_t seed;		/* every process's sequence derives from it */
	int procs;		/* fuzzing processes at once */
	uint64_t count;		/* ioctls in total, over all processes */
	enum lf_mode mode;
	int kill;		/* SIGKILL and respawn processes at random */
	int verbose;
	/* Known kernel bugs not to trip over (older modules), comma-separated,
	 * also from LUMEN_FUZZ_KNOWN: syncobj-count (no huge SYNCOBJ array
	 * counts), dmabuf-mmap (no mmap of PRIME fds), bo-leak (BOs left after
	 * the run are reported, not a failure), uq-id (no QUEUE_DESTROY of a
	 * live user-mode queue's id). */
	char known[128];
};

/* Defaults: seed from the clock, 4 processes, 120000 ioctls, both modes,
 * kills on, known bugs from LUMEN_FUZZ_KNOWN. */
void lf_opts_default(struct lf_opts *o);
/* Parse --seed/--procs/--count/--mode/--no-kill/--known/--verbose/--help into o;
 * 0, 1 for --help (usage printed), -1 on a bad argument (message printed). */
int lf_parse_args(struct lf_opts *o, int argc, char **argv);
const char *lf_mode_name(enum lf_mode mode);

/* Fuzz every bound card, then check the kernel log and every card (see
 * lf_check_cards()). Prints the seed first and a summary at the end.
 * 0 if everything passed, -1 otherwise (the reasons are printed). */
int lf_run(const struct lf_opts *o);

/* A fresh fd on every card copies 256 KiB byte-exactly through a queue
 * (host -> device -> host); 0 or -1 (message printed). */
int lf_check_cards(void);

/* The core DRM ioctls an accel file accepts (the uAPI header's allow-list):
 * VERSION, GET_CAP, GEM_CLOSE, PRIME_HANDLE_TO_FD/FD_TO_HANDLE, SYNCOBJ_*. */
int lf_core_allowed(unsigned int nr);

#endif
