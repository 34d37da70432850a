// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * LD_PRELOAD shim for qemu-device/tests/tcg-dispatch-race: widens the gap
 * in which a TCG vCPU thread has released the BQL on its way into
 * cpu_exec() but is not yet inside its RCU critical section.
 *
 * In that gap another vCPU can change the memory map (BAR sizing) and the
 * RCU thread can free the old AddressSpaceDispatch. A QEMU that caches the
 * dispatch per vCPU (QEMU issue 3040, fixed by
 * qemu-device/patches/0001-physmem-tcg-current-dispatch.patch) then reads
 * freed memory when the vCPU takes an interrupt: on a loaded host this
 * happened about once in 30 CI runs; with the gap widened here it happens
 * within one guest boot.
 *
 * The shim wraps pthread_mutex_unlock(). When the mutex is QEMU's BQL and
 * the caller is mttcg_cpu_thread_fn() (found in QEMU's symbol table, so
 * the binary must not be stripped), it sleeps LUMEN_RCU_WINDOW_US
 * microseconds (default 15000) on one call in LUMEN_RCU_WINDOW_EVERY
 * (default 20). Nothing else changes.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* glibc's own entry point: no dlsym() (which may lock) on the hot path. */
extern int __pthread_mutex_unlock(pthread_mutex_t *m);

static uintptr_t bql_addr;
static uintptr_t loop_start, loop_end;  /* mttcg_cpu_thread_fn */
static unsigned int window_us = 15000, every = 20;
static unsigned int calls, sleeps;

static int base_of_main(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(uintptr_t *)data = info->dlpi_addr;
	return 1;                       /* the first object is the program */
}

/* Find the BQL and mttcg_cpu_thread_fn() in the symbol table of QEMU. */
static int find_symbols(uintptr_t base)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	struct stat st;
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const uint8_t *img;
	int found = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (img == MAP_FAILED)
		return -1;
	eh = (const Elf64_Ehdr *)img;
	sh = (const Elf64_Shdr *)(img + eh->e_shoff);
	for (int i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *sym;
		const char *str;
		size_t n;

		if (sh[i].sh_type != SHT_SYMTAB)
			continue;
		sym = (const Elf64_Sym *)(img + sh[i].sh_offset);
		str = (const char *)(img + sh[sh[i].sh_link].sh_offset);
		n = sh[i].sh_size / sizeof(*sym);
		for (size_t j = 0; j < n; j++) {
			const char *name = str + sym[j].st_name;

			if (!strcmp(name, "bql")) {
				bql_addr = base + sym[j].st_value;
				found |= 1;
			} else if (!strcmp(name, "mttcg_cpu_thread_fn")) {
				loop_start = base + sym[j].st_value;
				loop_end = loop_start + sym[j].st_size;
				found |= 2;
			}
		}
	}
	munmap((void *)img, st.st_size);
	return found == 3 ? 0 : -1;
}

/* Is the caller (a few frames up) the vCPU thread's main loop? */
static int from_vcpu_loop(void)
{
	void *frames[6];
	int n = backtrace(frames, 6);

	for (int i = 1; i < n; i++) {
		uintptr_t pc = (uintptr_t)frames[i];

		if (pc >= loop_start && pc < loop_end)
			return 1;
	}
	return 0;
}

__attribute__((constructor)) static void window_init(void)
{
	uintptr_t base = 0;
	const char *v;

	dl_iterate_phdr(base_of_main, &base);
	if (find_symbols(base) < 0) {
		fprintf(stderr, "tcg-rcu-window: no 'bql' or "
			"'mttcg_cpu_thread_fn' in the symbol table of this "
			"program; not widening anything\n");
		return;
	}
	v = getenv("LUMEN_RCU_WINDOW_US");
	if (v)
		window_us = strtoul(v, NULL, 0);
	v = getenv("LUMEN_RCU_WINDOW_EVERY");
	if (v && strtoul(v, NULL, 0))
		every = strtoul(v, NULL, 0);
	/* backtrace() loads libgcc_s on first use: not under the BQL. */
	from_vcpu_loop();
}

/* How much the run was stretched, for tuning: on stderr at exit. */
__attribute__((destructor)) static void window_report(void)
{
	if (bql_addr)
		fprintf(stderr, "tcg-rcu-window: %u vCPU loop entries, %u "
			"stretched by %u us\n", calls, sleeps, window_us);
}

int pthread_mutex_unlock(pthread_mutex_t *m)
{
	int ret = __pthread_mutex_unlock(m);

	if (bql_addr && (uintptr_t)m == bql_addr && from_vcpu_loop() &&
	    __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) % every == 0) {
		struct timespec ts = {
			.tv_sec = window_us / 1000000,
			.tv_nsec = (window_us % 1000000) * 1000L,
		};

		nanosleep(&ts, NULL);
		__atomic_add_fetch(&sleeps, 1, __ATOMIC_RELAXED);
	}
	return ret;
}
