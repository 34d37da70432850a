// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: DRM fdinfo of an accel file (/proc/<pid>/fdinfo/<fd>).
 *
 * The DRM core prints drm-driver, drm-client-id and drm-pdev; this adds,
 * following Documentation/gpu/drm-usage-stats.rst:
 *
 *   drm-engine-dma:            engine time of the file's completed jobs, ns
 *   drm-engine-capacity-dma:   hardware DMA queues of the card
 *   drm-total-device, drm-shared-device, drm-resident-device
 *   drm-total-host, drm-shared-host, drm-resident-host
 *                              memory of the file's BO handles per region
 *
 * and the driver's own keys, for npu-smi and whoever debugs a process:
 *
 *   lumen-context:             MMU context id, or "none" until the file
 *                              binds memory or creates a queue
 *   lumen-context-state:       "ok", "banned" (after a fault or a hang) or
 *                              "lost" (opened before a device reset)
 *   lumen-context-error:       errno that banned the context, 0 if none
 *   lumen-faults:              MMU faults of the context
 *   lumen-timeouts:            job timeouts of the context
 *   lumen-queues:              queues of the file
 *   lumen-jobs:                jobs submitted and not yet completed
 *   lumen-reset-gen:           reset generation the file belongs to
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_print.h>

#include "lumen_drv.h"
#include "lumen_fdinfo.h"
#include "lumen_gem.h"
#include "lumen_job.h"
#include "lumen_queue.h"
#include "lumen_reset.h"

/**
 * lumen_show_fdinfo() - &drm_driver.show_fdinfo
 * @p: printer into the fdinfo file
 * @file: the DRM file
 */
void lumen_show_fdinfo(struct drm_printer *p, struct drm_file *file)
{
	struct lumen_file *lfile = file->driver_priv;
	struct lumen_device *ldev = lfile->ldev;
	struct lumen_uctx *uctx = lfile->uctx;
	struct drm_lumen_context_status st;
	struct drm_memory_stats dev, host;
	const char *state;

	drm_printf(p, "drm-engine-dma:\t%llu ns\n", (u64)atomic64_read(&uctx->busy_ns));
	drm_printf(p, "drm-engine-capacity-dma:\t%u\n", ldev->num_queues);

	lumen_gem_fdinfo_stats(file, &dev, &host);
	drm_print_memory_stats(p, &dev, DRM_GEM_OBJECT_RESIDENT, "device");
	drm_print_memory_stats(p, &host, DRM_GEM_OBJECT_RESIDENT, "host");

	lumen_context_status(lfile, &st);
	if (lumen_file_check_gen(lfile))
		state = "lost";
	else if (st.flags & DRM_LUMEN_CTX_BANNED)
		state = "banned";
	else
		state = "ok";
	/* Pairs with lumen_file_get_ctx(): a set flag means @vm is complete. */
	if (smp_load_acquire(&lfile->has_ctx))
		drm_printf(p, "lumen-context:\t%u\n", lfile->vm.ctx_id);
	else
		drm_printf(p, "lumen-context:\tnone\n");
	drm_printf(p, "lumen-context-state:\t%s\n", state);
	drm_printf(p, "lumen-context-error:\t%d\n", st.error);
	drm_printf(p, "lumen-faults:\t%u\n", st.faults);
	drm_printf(p, "lumen-timeouts:\t%u\n", st.timeouts);
	drm_printf(p, "lumen-queues:\t%d\n", atomic_read(&uctx->num_queues));
	drm_printf(p, "lumen-jobs:\t%d\n", atomic_read(&uctx->jobs));
	drm_printf(p, "lumen-reset-gen:\t%u\n", lfile->reset_gen);
}
