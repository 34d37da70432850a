/* SPDX-License-Identifier: MIT */
/* Helpers for the in-guest suites: find cards, poke sysfs, read the log. */
#ifndef LUMEN_GUEST_UTIL_H
#define LUMEN_GUEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define GU_MAX_CARDS	16
#define GU_FW_DIR	"/lib/firmware/lumen"
#define GU_FW_DEFAULT	"lumen/lumen-n1.fw"

/* PCI addresses of every Lumen function present, bound or not; sorted. */
int gu_list_pci(char addrs[GU_MAX_CARDS][16]);
/* Whether a PCI function is bound to lumen right now. */
int gu_is_bound(const char *pci);
/* /dev/accel/accelN of a bound function into buf; 0 or -1. */
int gu_accel_node(const char *pci, char *buf, size_t len);
/* Open the accel node of a function, O_RDWR; fd or -1. */
int gu_open_card(const char *pci);
/* Write a string to a sysfs file; 0 or -errno. */
int gu_write_sysfs(const char *path, const char *val);
/* Read a sysfs file's first line into buf (newline stripped); 0 or -errno. */
int gu_read_sysfs(const char *path, char *buf, size_t len);
/* Bind/unbind a function to lumen; 0 or -errno of the sysfs write. */
int gu_bind(const char *pci);
int gu_unbind(const char *pci);
/* Set the lumen.firmware module parameter (name under /lib/firmware). */
int gu_set_firmware(const char *name);
/* Run a shell command; its exit status, or -1. */
int gu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Suspend and resume every device with /sys/power/pm_test "devices" (no
 * real sleep); 0, -ENOENT without suspend support, or the write's -errno. */
int gu_pm_cycle(void);
/* A netlink socket receiving kernel uevents (fd, or -errno). */
int gu_uevent_open(void);
/* Wait up to 2 s per message for one uevent on @fd that has the line
 * @event and the line @key (with @prefix, a line starting with @key);
 * 1 if seen, else 0. */
int gu_uevent_seen(int fd, const char *event, const char *key, int prefix);
/* Kernel log since the last gu_log_mark(): does it contain needle? */
void gu_log_mark(void);
int gu_log_contains(const char *needle);
/* Kernel log since the mark shows no oops, BUG, WARNING or lockdep splat. */
int gu_log_clean(void);

#endif
