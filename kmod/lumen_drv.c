// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1 AI accelerator: module, PCI driver and DRM accel driver.
 *
 * Lifetime: the &struct lumen_device is embedded in the drm_device and
 * freed on its last reference (drmm). Everything tied to the PCI binding is
 * device-managed (devm/pcim/dmam) and released after lumen_remove() in
 * reverse order of acquisition, which this probe orders so that the device
 * is quiesced first, then the interrupt handlers are freed, then the MSI-X
 * vectors, then the DMA memory, the BAR mapping and the PCI enable:
 *
 *   probe                          release (reverse)
 *   devm_drm_dev_alloc             drm_dev_put
 *   pcim_enable_device             pci disable
 *   pcim_iomap_region (BAR0)       unmap
 *   lumen_devmem_init (BAR2, WC)   unmap, release; allocator at drm release
 *   lumen_mbox_init (dmam rings)   free rings
 *   lumen_irq_init (vectors, IRQs) free IRQs, free vectors
 *   lumen_quiesce_action           mask, soft reset, fail mailbox waiters
 *   lumen_fw_boot, identify        -
 *   lumen_window_init              close the slots (table: drm lifetime)
 *   lumen_route/mgmt_init          (drm lifetime: freed with the drm_device)
 *   lumen_link_init (IRQ, sysfs)   mask, free IRQ, stop management receive
 *   lumen_hwmon_init               unregister hwmon
 *   drm_dev_register               (drm_dev_unplug in remove)
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/device.h>
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include <drm/drm_accel.h>
#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>

#include <uapi/drm/lumen_accel.h>

#include "lumen_debugfs.h"
#include "lumen_drv.h"
#include "lumen_fdinfo.h"
#include "lumen_fw.h"
#include "lumen_gem.h"
#include "lumen_hw.h"
#include "lumen_hwmon.h"
#include "lumen_ioctl.h"
#include "lumen_irq.h"
#include "lumen_link.h"
#include "lumen_job.h"
#include "lumen_mbox.h"
#include "lumen_mgmt.h"
#include "lumen_pm.h"
#include "lumen_query.h"
#include "lumen_queue.h"
#include "lumen_reset.h"
#include "lumen_route.h"
#include "lumen_sysfs.h"
#include "lumen_uq.h"
#include "lumen_vm.h"
#include "lumen_window.h"

static int lumen_open(struct drm_device *drm, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct lumen_file *lfile;
	int ret;

	if (READ_ONCE(ldev->lost))
		return -ENODEV;

	/* Charged to the opener's memory cgroup, like everything per file. */
	lfile = kzalloc(sizeof(*lfile), GFP_KERNEL_ACCOUNT);
	if (!lfile)
		return -ENOMEM;

	lfile->ldev = ldev;
	lfile->reset_gen = atomic_read(&ldev->reset_gen);
	mutex_init(&lfile->ctx_lock);

	ret = xa_alloc(&ldev->files, &lfile->id, lfile, xa_limit_31b, GFP_KERNEL_ACCOUNT);
	if (ret)
		goto err_free;

	ret = lumen_uctx_open(lfile);
	if (ret)
		goto err_erase;

	file->driver_priv = lfile;
	return 0;

err_erase:
	xa_erase(&ldev->files, lfile->id);
err_free:
	mutex_destroy(&lfile->ctx_lock);
	kfree(lfile);
	return ret;
}

/**
 * lumen_file_get_ctx() - make sure a file has its device context
 * @lfile: the file
 *
 * The first VM_BIND or QUEUE_CREATE of a file allocates its MMU context,
 * page tables and VA space; an open file that only queries the card holds
 * none of the LUMEN_CONTEXTS_MAX contexts.
 *
 * Return: 0; -EBUSY when all contexts are in use; -ENOMEM.
 */
int lumen_file_get_ctx(struct lumen_file *lfile)
{
	int ret = 0;

	/* Pairs with the release below: a set flag means @vm is complete. */
	if (smp_load_acquire(&lfile->has_ctx))
		return 0;

	mutex_lock(&lfile->ctx_lock);
	if (!lfile->has_ctx) {
		ret = lumen_vm_init(lfile->ldev, &lfile->vm);
		if (!ret) {
			lumen_uctx_set_ctx(lfile->uctx, lfile->vm.ctx_id);
			/* Publishes @vm to the lockless readers (acquire). */
			smp_store_release(&lfile->has_ctx, true);
		}
	}
	mutex_unlock(&lfile->ctx_lock);
	return ret;
}

static void lumen_postclose(struct drm_device *drm, struct drm_file *file)
{
	struct lumen_file *lfile = file->driver_priv;

	xa_erase(&lfile->ldev->files, lfile->id);

	/*
	 * Teardown order: GEM handles are already gone (drm_gem_release()
	 * runs before postclose). The file's remote windows close first, so
	 * no other chip reaches the context, then its queues are stopped and
	 * freed, so the device no longer runs in it; only then is the context
	 * disabled and its mappings and page tables freed.
	 */
	lumen_window_close_all(lfile);
	lumen_uctx_close(lfile);
	if (lfile->has_ctx)
		lumen_vm_fini(&lfile->vm);
	mutex_destroy(&lfile->ctx_lock);
	kfree(lfile);
}

static const struct drm_ioctl_desc lumen_ioctls[] = {
	DRM_IOCTL_DEF_DRV(LUMEN_GET_PARAM, lumen_get_param_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_QUERY, lumen_query_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_BO_CREATE, lumen_bo_create_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_BO_INFO, lumen_bo_info_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_VM_BIND, lumen_vm_bind_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_QUEUE_CREATE, lumen_queue_create_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_QUEUE_DESTROY, lumen_queue_destroy_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_SUBMIT, lumen_submit_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_WAIT, lumen_wait_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_WINDOW_OPEN, lumen_window_open_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_WINDOW_CLOSE, lumen_window_close_ioctl, 0),
	/* Admin ioctls check CAP_SYS_ADMIN themselves: -EPERM, not DRM_ROOT_ONLY's -EACCES. */
	DRM_IOCTL_DEF_DRV(LUMEN_ROUTE, lumen_route_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_PORT_CTRL, lumen_port_ctrl_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_MGMT_SEND, lumen_mgmt_send_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_MGMT_RECV, lumen_mgmt_recv_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_UQ_CREATE, lumen_uq_create_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_UQ_DESTROY, lumen_uq_destroy_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_UQ_WAIT, lumen_uq_wait_ioctl, 0),
	DRM_IOCTL_DEF_DRV(LUMEN_UQ_FENCE, lumen_uq_fence_ioctl, 0),
};

/* DRM_ACCEL_FOPS with the ioctl gate of lumen_ioctl.c in front of the core. */
static const struct file_operations lumen_fops = {
	.owner = THIS_MODULE,
	.open = accel_open,
	.release = drm_release,
	.unlocked_ioctl = lumen_ioctl,
	.compat_ioctl = lumen_compat_ioctl,
	.poll = drm_poll,
	.read = drm_read,
	.llseek = noop_llseek,
	.mmap = drm_gem_mmap,
	.show_fdinfo = drm_show_fdinfo,
	.fop_flags = FOP_UNSIGNED_OFFSET,
};

static const struct drm_driver lumen_drm_driver = {
	.driver_features = DRIVER_COMPUTE_ACCEL | DRIVER_GEM | DRIVER_SYNCOBJ |
			   DRIVER_SYNCOBJ_TIMELINE,
	.open = lumen_open,
	.postclose = lumen_postclose,
	.show_fdinfo = lumen_show_fdinfo,
	.gem_create_object = lumen_gem_create_object,
	.gem_prime_import_sg_table = lumen_gem_prime_import_sg_table,
	.ioctls = lumen_ioctls,
	.num_ioctls = ARRAY_SIZE(lumen_ioctls),
	.fops = &lumen_fops,
	.name = DRIVER_NAME,
	.desc = DRIVER_DESC,
	.major = DRM_LUMEN_UAPI_MAJOR,
	.minor = DRM_LUMEN_UAPI_MINOR,
};

static void lumen_drm_release(struct drm_device *drm, void *arg)
{
	struct lumen_device *ldev = to_lumen_device(drm);

	WARN_ON(!xa_empty(&ldev->files));
	xa_destroy(&ldev->files);
}

static void lumen_quiesce_action(void *arg)
{
	lumen_hw_quiesce(arg);
}

/* Enable the function, map BAR0 and set the DMA mask. */
static int lumen_pci_init(struct lumen_device *ldev)
{
	struct pci_dev *pdev = ldev->pdev;
	struct device *dev = &pdev->dev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret) {
		dev_err(dev, "cannot enable PCI device: %pe\n", ERR_PTR(ret));
		return ret;
	}

	if (!(pci_resource_flags(pdev, LUMEN_BAR_REGS) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, LUMEN_BAR_REGS) < LUMEN_REGS_BAR_SIZE) {
		dev_err(dev, "BAR%d is not a %u-byte memory BAR\n", LUMEN_BAR_REGS,
			LUMEN_REGS_BAR_SIZE);
		return -ENODEV;
	}

	ldev->regs = pcim_iomap_region(pdev, LUMEN_BAR_REGS, DRIVER_NAME);
	if (IS_ERR(ldev->regs)) {
		ret = PTR_ERR(ldev->regs);
		ldev->regs = NULL;
		dev_err(dev, "cannot map BAR%d: %pe\n", LUMEN_BAR_REGS, ERR_PTR(ret));
		return ret;
	}

	ret = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(64));
	if (ret) {
		dev_err(dev, "cannot set a 64-bit DMA mask: %pe\n", ERR_PTR(ret));
		return ret;
	}
	/* The card's MMU maps a DMA segment of any length (lumen_map_segment()). */
	dma_set_max_seg_size(dev, UINT_MAX);

	return 0;
}

static int lumen_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	struct device *dev = &pdev->dev;
	struct lumen_device *ldev;
	int ret;

	ldev = devm_drm_dev_alloc(dev, &lumen_drm_driver, struct lumen_device, drm);
	if (IS_ERR(ldev)) {
		dev_err(dev, "cannot allocate the DRM device: %pe\n", ldev);
		return PTR_ERR(ldev);
	}
	ldev->pdev = pdev;
	pci_set_drvdata(pdev, ldev);
	xa_init_flags(&ldev->files, XA_FLAGS_ALLOC1);
	init_waitqueue_head(&ldev->boot_wq);
	atomic_set(&ldev->err_count, 0);

	ret = drmm_add_action(&ldev->drm, lumen_drm_release, NULL);
	if (ret) {
		dev_err(dev, "cannot add the DRM release action: %pe\n", ERR_PTR(ret));
		return ret;
	}

	ret = lumen_pci_init(ldev);
	if (ret)
		return ret;

	ret = lumen_reset_init(ldev);
	if (ret)
		return ret;

	ret = lumen_hw_init(ldev);
	if (ret)
		return ret;

	ret = lumen_devmem_init(ldev);
	if (ret)
		return ret;

	/*
	 * Whatever ran before (an earlier binding, a crash, kexec) may have
	 * left the device busy: stop it before it may master the bus.
	 */
	ret = lumen_hw_soft_reset(ldev);
	if (ret)
		return ret;
	pci_set_master(pdev);

	ret = lumen_mbox_init(ldev);
	if (ret)
		return ret;

	ret = lumen_irq_init(ldev);
	if (ret)
		return ret;

	ret = devm_add_action_or_reset(dev, lumen_quiesce_action, ldev);
	if (ret) {
		dev_err(dev, "cannot add the quiesce action: %pe\n", ERR_PTR(ret));
		return ret;
	}

	/* After the quiesce action, so that queues are cancelled before it. */
	ret = lumen_queue_init(ldev);
	if (ret)
		return ret;

	ret = lumen_fw_start(ldev);
	if (ret)
		return ret;

	/* The link engine (CAPS.LINKS), before the link vector is enabled. */
	ret = lumen_window_init(ldev);
	if (ret)
		return ret;
	ret = lumen_route_init(ldev);
	if (ret)
		return ret;
	ret = lumen_mgmt_init(ldev);
	if (ret)
		return ret;

	ret = lumen_link_init(ldev);
	if (ret)
		return ret;

	ret = lumen_hwmon_init(ldev);
	if (ret)
		return ret;

	lumen_debugfs_init(ldev);

	/* From here on a fault of the card resets it (lumen_reset.c). */
	WRITE_ONCE(ldev->hw_up, true);

	ret = drm_dev_register(&ldev->drm, 0);
	if (ret) {
		WRITE_ONCE(ldev->hw_up, false);
		cancel_work_sync(&ldev->reset_work);
		dev_err(dev, "cannot register the DRM device: %pe\n", ERR_PTR(ret));
		return ret;
	}

	dev_info(dev, "Lumen N1 %s, chip %u, firmware %u.%u.%u (%s), %llu MiB, %u queues, %u link ports\n",
		 ldev->id.serial, ldev->id.chip_id, LUMEN_FW_VERSION_MAJ(ldev->id.fw_version),
		 LUMEN_FW_VERSION_MIN(ldev->id.fw_version),
		 LUMEN_FW_VERSION_PAT(ldev->id.fw_version), ldev->id.fw_build_id,
		 ldev->id.mem_size >> 20, ldev->num_queues, ldev->id.num_link_ports);
	return 0;
}

/*
 * Unplug first: new ioctls fail with -ENODEV and running ones (drm_dev_enter
 * sections) are waited for. The device is then quiesced and its resources
 * freed by devres, in the order documented at the top of this file.
 */
static void lumen_remove(struct pci_dev *pdev)
{
	struct lumen_device *ldev = pci_get_drvdata(pdev);

	/* No new resets; one that runs holds drm_dev_enter(), waited for. */
	WRITE_ONCE(ldev->hw_up, false);
	drm_dev_unplug(&ldev->drm);
	cancel_work_sync(&ldev->reset_work);
	/* Device-memory mmaps point into BAR2, which goes away now. */
	lumen_gem_unplug(ldev);
}

/* Reboot or kexec: stop all DMA so the next kernel starts from a quiet card. */
static void lumen_shutdown(struct pci_dev *pdev)
{
	struct lumen_device *ldev = pci_get_drvdata(pdev);

	/* No reset may boot the firmware again behind the quiesce. */
	WRITE_ONCE(ldev->hw_up, false);
	cancel_work_sync(&ldev->reset_work);
	lumen_hw_quiesce(ldev);
}

/*
 * A function reset started by someone else (sysfs reset, VFIO, a sibling's
 * bus reset): the PCI core saves and restores the config space around it;
 * the card's own state is rebuilt like after any device reset, in a new
 * reset generation. prepare and done run in one thread under the device
 * lock, so remove cannot run in between.
 */
static void lumen_pci_reset_prepare(struct pci_dev *pdev)
{
	lumen_reset_prepare(pci_get_drvdata(pdev), LUMEN_RESET_FLR);
}

static void lumen_pci_reset_done(struct pci_dev *pdev)
{
	lumen_reset_done(pci_get_drvdata(pdev));
}

/*
 * AER: stop using the card when the error is reported (no lock is held
 * across the callbacks: recovery may end without calling the others), and
 * rebuild it like any device reset once the slot was reset.
 */
static pci_ers_result_t lumen_pci_error_detected(struct pci_dev *pdev,
						 pci_channel_state_t state)
{
	struct lumen_device *ldev = pci_get_drvdata(pdev);

	WRITE_ONCE(ldev->hw_up, false);
	lumen_mbox_close(&ldev->mbox);
	if (state == pci_channel_io_perm_failure) {
		WRITE_ONCE(ldev->lost, true);
		lumen_queue_lose_all(ldev);
		/* MGMT_RECV sleepers see the card lost (-ENODEV). */
		lumen_mgmt_reset(ldev);
		return PCI_ERS_RESULT_DISCONNECT;
	}
	return PCI_ERS_RESULT_NEED_RESET;
}

static pci_ers_result_t lumen_pci_slot_reset(struct pci_dev *pdev)
{
	struct lumen_device *ldev = pci_get_drvdata(pdev);
	int ret, idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return PCI_ERS_RESULT_DISCONNECT;
	ret = lumen_reset_now(ldev, LUMEN_RESET_PCI_ERROR);
	drm_dev_exit(idx);
	return ret ? PCI_ERS_RESULT_DISCONNECT : PCI_ERS_RESULT_RECOVERED;
}

static const struct pci_error_handlers lumen_pci_err_handlers = {
	.error_detected = lumen_pci_error_detected,
	.slot_reset = lumen_pci_slot_reset,
	.reset_prepare = lumen_pci_reset_prepare,
	.reset_done = lumen_pci_reset_done,
};

static const struct pci_device_id lumen_pci_ids[] = {
	{ PCI_DEVICE(LUMEN_PCI_VENDOR_ID, LUMEN_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, lumen_pci_ids);

static struct pci_driver lumen_pci_driver = {
	.name = DRIVER_NAME,
	.id_table = lumen_pci_ids,
	.probe = lumen_probe,
	.remove = lumen_remove,
	.shutdown = lumen_shutdown,
	.err_handler = &lumen_pci_err_handlers,
	.driver.pm = pm_sleep_ptr(&lumen_pm_ops),
	.dev_groups = lumen_dev_groups,
};
module_pci_driver(lumen_pci_driver);

MODULE_AUTHOR("The Lumen Authors");
MODULE_DESCRIPTION(DRIVER_DESC);
MODULE_LICENSE("GPL");
