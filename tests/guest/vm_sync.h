/* SPDX-License-Identifier: MIT */
/*
 * The guests' rendezvous (tests/vm/vm-sync) from C: lumen-vm-barrier and
 * lumen-vm-exchange, for suites that run in every guest of tests/vm/run
 * --guests. With one guest both return at once. One rendezvous at a time
 * per guest: callers must not overlap them (e.g. from two processes).
 */
#ifndef LUMEN_VM_SYNC_H
#define LUMEN_VM_SYNC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* All guests pass barrier @name together; 0, or lumen-vm-barrier's exit
 * status (printed to stderr with @who) on a timeout or a mismatch. */
int vs_barrier(const char *who, const char *name, int timeout_s);

/* Every guest hands in @len bytes of @mine under @name; 0 or non-zero
 * (printed to stderr with @who). vs_exchanged() then reads guest g's. */
int vs_exchange(const char *who, const char *name, const void *mine, size_t len, int timeout_s);

/* Guest g's bytes of the last exchange @name: malloc'd, length in *len,
 * NULL if missing. */
void *vs_exchanged(const char *name, int g, size_t *len);

/* $name as an int, @def when unset or empty. */
int vs_env_int(const char *name, int def);

#ifdef __cplusplus
}
#endif

#endif
