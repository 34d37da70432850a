/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1 accelerator driver: the device and per-file structures.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_DRV_H__
#define __LUMEN_DRV_H__

#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/rwsem.h>
#include <linux/types.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <drm/drm_device.h>
#include <drm/drm_file.h>

#include <lumen/lumen_iface.h>
#include <lumen/lumen_link.h>

#include "lumen_devmem.h"
#include "lumen_fw.h"
#include "lumen_mbox.h"
#include "lumen_vm.h"

struct lumen_links;
struct lumen_mgmt_dev;
struct lumen_qmgr;
struct lumen_routes;
struct lumen_uctx;
struct lumen_win_table;

#define DRIVER_NAME	"lumen"
#define DRIVER_DESC	"Lumen N1 AI accelerator"

/*
 * Capability bits (LUMEN_CAP_*) this driver version implements. The uAPI
 * reports the intersection with what the device advertises, so a bit only
 * shows up once both sides support the feature.
 */
#define LUMEN_DRIVER_CAPS	(LUMEN_CAP_MAILBOX | LUMEN_CAP_TELEMETRY | LUMEN_CAP_MMU | \
			 LUMEN_CAP_DMA_QUEUES | LUMEN_CAP_FAULT_INJECT | LUMEN_CAP_LINK_PORTS | \
			 LUMEN_CAP_LINKS | LUMEN_CAP_REDUCE | LUMEN_CAP_USER_QUEUES)

/**
 * struct lumen_identity - what the card is, fixed for the life of a binding
 * @serial: board serial number, NUL-terminated, non-printable bytes as '?'
 * @fw_build_id: build identification of the running firmware, NUL-terminated
 * @mem_size: device memory in bytes
 * @chip_id: position of the chip in the supernode
 * @board_rev: board revision
 * @hw_version: hardware interface version, major << 16 | minor
 * @fw_version: running firmware, LUMEN_FW_VERSION() encoding
 * @fw_abi_version: negotiated firmware ABI, major << 16 | minor
 * @mbox_version: highest mailbox protocol version the firmware speaks
 * @caps: LUMEN_CAP_* the device advertises
 * @num_queues: hardware DMA queues the device implements
 * @num_link_ports: optical link ports
 * @num_vectors: MSI-X vectors the device implements (NUM_VECTORS register)
 *
 * Geometry fields are read from the registers in lumen_hw_init(); the
 * firmware-reported fields are filled by lumen_fw_identify() after boot,
 * which also cross-checks every value the registers and the mailbox both
 * report. Written only during probe, read-only afterwards: no locking.
 */
struct lumen_identity {
	char serial[LUMEN_SERIAL_LEN + 1];
	char fw_build_id[LUMEN_FW_BUILD_ID_LEN + 1];
	u64 mem_size;
	u32 chip_id;
	u32 board_rev;
	u32 hw_version;
	u32 fw_version;
	u32 fw_abi_version;
	u32 mbox_version;
	u32 caps;
	u32 num_queues;
	u32 num_link_ports;
	u32 num_vectors;
};

/**
 * struct lumen_device - one Lumen N1 card
 * @drm: DRM device; embeds the refcount that keeps this structure alive.
 *	It can outlive the PCI binding while files are open: anything that
 *	touches the hardware must be inside drm_dev_enter()/drm_dev_exit().
 * @pdev: the PCI function; valid for the life of @drm.
 * @regs: BAR0 mapping (pcim-managed); only valid while bound, so only
 *	dereferenced in probe, remove, interrupt handlers (freed before the
 *	BAR is unmapped) and drm_dev_enter() sections.
 * @id: identity, see &struct lumen_identity.
 * @fw: firmware that was booted, see &struct lumen_fw_info.
 * @mbox: firmware mailbox.
 * @nvec: MSI-X vectors allocated.
 * @num_queues: DMA queues usable by this binding: the hardware queues that
 *	got a completion vector, min(@id.num_queues, @nvec - QUEUE_BASE).
 * @irq_mbox: Linux IRQ number of LUMEN_VEC_MBOX.
 * @irq_error: Linux IRQ number of LUMEN_VEC_ERROR.
 * @boot_wq: woken by the mailbox vector on LUMEN_INT_BOOT.
 * @boot_irq_seen: set by the interrupt handler when LUMEN_INT_BOOT fired;
 *	lets the boot code tell a missed interrupt from a slow device.
 * @err_count: device errors reported on LUMEN_VEC_ERROR since probe.
 * @files: open files by &lumen_file.id; the xarray's own lock protects it.
 * @mem: device memory allocator, context ids and BO accounting.
 * @qm: hardware DMA queues (lumen_queue.h); allocated in probe, lives as
 *	long as @drm.
 * @links: optical link ports (lumen_link.c); allocated in probe.
 * @wins: the card's remote window slots (lumen_window.c); allocated in
 *	probe with CAPS.LINKS, else NULL; lives as long as @drm.
 * @routes: route table shadow (lumen_route.c); like @wins.
 * @mgmt: management packets (lumen_mgmt.c); like @wins.
 * @reset_wq: ordered workqueue for device resets and every queue's timeout
 *	(TDR) work, so that they never run concurrently; lives as long as @drm.
 * @reset_mutex: one device reset at a time, held from prepare to done
 *	(lumen_reset.c) and by system suspend.
 * @reset_lock: held for reading around the hardware accesses of ioctls
 *	(never across user copies or waits) and for writing by a device
 *	reset (lumen_reset.c), which so never runs under an ioctl's feet.
 * @reset_gen: reset generation: bumped by every device reset, under
 *	@reset_lock for writing. A file of an older generation is dead.
 * @reset_count: device resets since probe.
 * @reset_reasons: LUMEN_RESET_* bits of a reset that is scheduled.
 * @reset_work: runs a scheduled device reset on @reset_wq.
 * @hw_up: the firmware runs and the driver uses the device; cleared when a
 *	reset starts (so that the faults it causes trigger no new one) and
 *	set once the card is back.
 * @lost: the last reset failed: the card is unusable until it is rebound;
 *	every ioctl fails with -ENODEV.
 * @last_reset_reason: LUMEN_RESET_* bits of the last reset, for sysfs.
 * @pm_suspended: the card is suspended (lumen_pm.c): set under
 *	@reset_lock, read by the timeout handlers, which then leave it alone.
 * @pm_drained: every ring was empty when the card went to sleep.
 */
struct lumen_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *regs;

	struct lumen_identity id;
	struct lumen_fw_info fw;
	struct lumen_mbox mbox;

	int nvec;
	u32 num_queues;
	int irq_mbox;
	int irq_error;

	wait_queue_head_t boot_wq;
	bool boot_irq_seen;
	atomic_t err_count;

	struct xarray files;

	struct lumen_mem mem;
	struct lumen_qmgr *qm;
	struct lumen_links *links;
	struct lumen_win_table *wins;
	struct lumen_routes *routes;
	struct lumen_mgmt_dev *mgmt;

	struct workqueue_struct *reset_wq;
	struct mutex reset_mutex;	/* one reset at a time */
	struct rw_semaphore reset_lock;
	atomic_t reset_gen;
	atomic_t reset_count;
	atomic_t reset_reasons;
	struct work_struct reset_work;
	bool hw_up;
	bool lost;
	u32 last_reset_reason;
	bool pm_suspended;
	bool pm_drained;
};

/**
 * struct lumen_file - per open file
 * @ldev: the device; the drm_file holds a reference on @ldev->drm.
 * @id: index in &lumen_device.files, stable for the life of the file.
 * @reset_gen: &lumen_device.reset_gen when the file was opened; once the
 *	device has been reset since, every ioctl fails with -ENODEV.
 * @ctx_lock: serializes the creation of the device context (@vm).
 * @has_ctx: @vm exists; set once under @ctx_lock, read locklessly after
 *	(acquire/release).
 * @vm: the file's device context: MMU context id, page tables, VA space
 *	(lumen_vm.h). Created on first use (lumen_file_get_ctx()), so that an
 *	open file that never binds memory or creates a queue holds none of
 *	the card's LUMEN_CONTEXTS_MAX contexts; torn down in lumen_postclose()
 *	after the queues.
 * @uctx: the file's queues and context status (lumen_queue.h).
 *
 * Created in lumen_open(), freed in lumen_postclose().
 */
struct lumen_file {
	struct lumen_device *ldev;
	u32 id;
	u32 reset_gen;
	struct mutex ctx_lock;	/* creation of @vm */
	bool has_ctx;
	struct lumen_vm vm;
	struct lumen_uctx *uctx;
};

int lumen_file_get_ctx(struct lumen_file *lfile);

static inline struct lumen_device *to_lumen_device(struct drm_device *drm)
{
	return container_of(drm, struct lumen_device, drm);
}

static inline struct device *lumen_dev(struct lumen_device *ldev)
{
	return &ldev->pdev->dev;
}

/**
 * lumen_has_links() - does the card have the link engine
 * @ldev: device
 *
 * CAPS.LINKS (docs/hw-spec.md 13.3-13.8): remote windows and commands,
 * routes, port control and management packets. Without it their registers
 * are reserved and the uAPI that needs them fails with -EOPNOTSUPP.
 *
 * Return: true if the device advertises it (this driver implements it).
 */
static inline bool lumen_has_links(const struct lumen_device *ldev)
{
	return ldev->id.caps & LUMEN_DRIVER_CAPS & LUMEN_CAP_LINKS;
}

#endif /* __LUMEN_DRV_H__ */
