// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: DRM_IOCTL_LUMEN_GET_PARAM and DRM_IOCTL_LUMEN_QUERY.
 *
 * The DRM core copies the ioctl structure in and (always) back out, so a
 * handler only writes output fields, and only on success.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/pci.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>

#include <uapi/drm/lumen_accel.h>

#include <lumen/lumen_link.h>

#include "lumen_drv.h"
#include "lumen_gem.h"
#include "lumen_hw.h"
#include "lumen_job.h"
#include "lumen_link.h"
#include "lumen_query.h"
#include "lumen_queue.h"
#include "lumen_reset.h"
#include "lumen_route.h"
#include "lumen_vm.h"
#include "lumen_window.h"

/* The uAPI mirrors the contract's capability bits one for one. */
static_assert(DRM_LUMEN_CAP_MAILBOX == LUMEN_CAP_MAILBOX);
static_assert(DRM_LUMEN_CAP_DMA_QUEUES == LUMEN_CAP_DMA_QUEUES);
static_assert(DRM_LUMEN_CAP_MMU == LUMEN_CAP_MMU);
static_assert(DRM_LUMEN_CAP_COMPUTE == LUMEN_CAP_COMPUTE);
static_assert(DRM_LUMEN_CAP_LINKS == LUMEN_CAP_LINKS);
static_assert(DRM_LUMEN_CAP_TELEMETRY == LUMEN_CAP_TELEMETRY);
static_assert(DRM_LUMEN_CAP_FAULT_INJECT == LUMEN_CAP_FAULT_INJECT);
static_assert(DRM_LUMEN_CAP_LINK_PORTS == LUMEN_CAP_LINK_PORTS);
static_assert(DRM_LUMEN_CAP_REDUCE == LUMEN_CAP_REDUCE);
static_assert(DRM_LUMEN_SERIAL_LEN == LUMEN_SERIAL_LEN);
static_assert(DRM_LUMEN_BUILD_ID_LEN == LUMEN_FW_BUILD_ID_LEN);

/* uAPI layouts: no implicit padding, 64-bit fields 8-byte aligned. */
static_assert(sizeof(struct drm_lumen_get_param) == 16);
static_assert(sizeof(struct drm_lumen_query) == 24);
static_assert(sizeof(struct drm_lumen_device_info) == 120);
static_assert(offsetof(struct drm_lumen_device_info, capabilities) == 40);
static_assert(sizeof(struct drm_lumen_telemetry) == 40);
static_assert(offsetof(struct drm_lumen_telemetry, busy_ns) == 24);
static_assert(sizeof(struct drm_lumen_limits) == 80);
static_assert(sizeof(struct drm_lumen_link_info) == 56);

/**
 * lumen_capabilities() - DRM_LUMEN_CAP_* bits of a device
 * @ldev: device
 *
 * Return: what the device advertises and this driver implements.
 */
u64 lumen_capabilities(struct lumen_device *ldev)
{
	return ldev->id.caps & LUMEN_DRIVER_CAPS;
}

static int lumen_param_value(struct lumen_device *ldev, u32 param, u64 *value)
{
	const struct lumen_identity *id = &ldev->id;

	switch (param) {
	case DRM_LUMEN_PARAM_PCI_DEVICE_ID:
		*value = ldev->pdev->device;
		break;
	case DRM_LUMEN_PARAM_PCI_REVISION:
		*value = ldev->pdev->revision;
		break;
	case DRM_LUMEN_PARAM_CHIP_ID:
		*value = id->chip_id;
		break;
	case DRM_LUMEN_PARAM_HW_VERSION:
		*value = id->hw_version;
		break;
	case DRM_LUMEN_PARAM_FW_VERSION:
		*value = id->fw_version;
		break;
	case DRM_LUMEN_PARAM_FW_ABI_VERSION:
		*value = id->fw_abi_version;
		break;
	case DRM_LUMEN_PARAM_MEM_SIZE:
		*value = id->mem_size;
		break;
	case DRM_LUMEN_PARAM_NUM_QUEUES:
		*value = ldev->num_queues;
		break;
	case DRM_LUMEN_PARAM_NUM_LINK_PORTS:
		*value = id->num_link_ports;
		break;
	case DRM_LUMEN_PARAM_CAPABILITIES:
		*value = lumen_capabilities(ldev);
		break;
	case DRM_LUMEN_PARAM_NUM_CONTEXTS:
		*value = LUMEN_CONTEXTS_MAX;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/**
 * lumen_get_param_ioctl() - DRM_IOCTL_LUMEN_GET_PARAM
 * @drm: DRM device
 * @data: &struct drm_lumen_get_param, copied in by the DRM core
 * @file: caller
 *
 * Return: 0; -EINVAL for a non-zero reserved field or an unknown param;
 * -ENODEV once the device is unplugged.
 */
int lumen_get_param_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_get_param *args = data;
	u64 value;
	int ret, idx;

	if (args->reserved)
		return -EINVAL;

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;

	ret = lumen_param_value(ldev, args->param, &value);
	if (!ret)
		args->value = value;

	drm_dev_exit(idx);
	return ret;
}

static void lumen_fill_device_info(struct lumen_device *ldev,
				   struct drm_lumen_device_info *info)
{
	const struct lumen_identity *id = &ldev->id;

	memset(info, 0, sizeof(*info));
	info->pci_vendor_id = ldev->pdev->vendor;
	info->pci_device_id = ldev->pdev->device;
	info->pci_revision = ldev->pdev->revision;
	info->chip_id = id->chip_id;
	info->hw_version = id->hw_version;
	info->fw_version = id->fw_version;
	info->fw_abi_version = id->fw_abi_version;
	info->num_queues = ldev->num_queues;
	info->num_link_ports = id->num_link_ports;
	info->num_contexts = LUMEN_CONTEXTS_MAX;
	info->capabilities = lumen_capabilities(ldev);
	info->mem_size = id->mem_size;
	strscpy(info->serial, id->serial, sizeof(info->serial));
	strscpy(info->fw_build_id, id->fw_build_id, sizeof(info->fw_build_id));
}

/**
 * lumen_read_telemetry() - sample the telemetry registers
 * @ldev: device; caller is inside drm_dev_enter()
 * @tel: out
 */
void lumen_read_telemetry(struct lumen_device *ldev, struct drm_lumen_telemetry *tel)
{
	memset(tel, 0, sizeof(*tel));
	tel->temp_mc = lumen_rd32(ldev, LUMEN_REG_TEMP_MC);
	tel->temp_crit_mc = lumen_rd32(ldev, LUMEN_REG_TEMP_CRIT_MC);
	tel->power_mw = lumen_rd32(ldev, LUMEN_REG_POWER_MW);
	tel->power_cap_mw = lumen_rd32(ldev, LUMEN_REG_POWER_CAP_MW);
	tel->clk_core_mhz = lumen_rd32(ldev, LUMEN_REG_CLK_CORE_MHZ);
	tel->clk_mem_mhz = lumen_rd32(ldev, LUMEN_REG_CLK_MEM_MHZ);
	tel->busy_ns = lumen_rd64(ldev, LUMEN_REG_BUSY_NS_LO);
	tel->uptime_ns = (u64)lumen_rd32(ldev, LUMEN_REG_UPTIME_MS) * NSEC_PER_MSEC;
}

/* What this card and driver accept, for DRM_LUMEN_QUERY_LIMITS. */
static void lumen_fill_limits(struct lumen_device *ldev, struct drm_lumen_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_bo_size = DRM_LUMEN_BO_MAX_SIZE;
	lim->va_user_start = DRM_LUMEN_VA_USER_START;
	lim->va_user_end = DRM_LUMEN_VA_USER_END;
	lim->max_cmd_bytes = DRM_LUMEN_CMD_MAX_BYTES;
	lim->num_queues = ldev->num_queues;
	lim->num_contexts = LUMEN_CONTEXTS_MAX;
	lim->max_cmds = DRM_LUMEN_MAX_CMDS;
	lim->max_bos = DRM_LUMEN_MAX_BOS;
	lim->max_syncs = DRM_LUMEN_MAX_SYNCS;
	lim->max_extensions = DRM_LUMEN_MAX_EXTENSIONS;
	lim->max_file_queues = READ_ONCE(lumen_max_file_queues);
	lim->max_file_jobs = READ_ONCE(lumen_max_file_jobs);
	lim->max_file_mappings = READ_ONCE(lumen_max_file_mappings);
	lim->cmd_version = DRM_LUMEN_CMD_VERSION;
	lim->job_timeout_ms = max(READ_ONCE(lumen_job_timeout_ms), 10u);
}

/* This chip on the fabric, for DRM_LUMEN_QUERY_LINK; in drm_dev_enter(). */
static void lumen_fill_link_info(struct lumen_device *ldev, struct drm_lumen_link_info *li)
{
	u32 p;

	memset(li, 0, sizeof(*li));
	li->chip_id = lumen_rd32(ldev, LUMEN_REG_LINK_CHIP_ID);
	li->num_ports = lumen_link_num_ports(ldev);
	li->num_windows = lumen_window_slots(ldev);
	li->route_table_size = lumen_route_table_size(ldev);
	li->max_file_windows = READ_ONCE(lumen_max_file_windows);
	for (p = 0; p < li->num_ports; p++)
		if (lumen_rd32(ldev, LUMEN_REG_LINK(p, LUMEN_LREG_STATE)) == LUMEN_LINK_UP)
			li->ports_up |= BIT(p);
}

/**
 * lumen_query_ioctl() - DRM_IOCTL_LUMEN_QUERY
 * @drm: DRM device
 * @data: &struct drm_lumen_query, copied in by the DRM core
 * @file: caller
 *
 * Copies min(@size, full size) bytes of the structure to @data and returns
 * the full size in @size; @size 0 only asks for the size.
 *
 * Return: 0; -EINVAL for non-zero flags or reserved, or an unknown type;
 * -EFAULT if @data cannot be written; -EOPNOTSUPP for telemetry or link
 * information on a device without it; -ENODEV once the device is unplugged.
 */
int lumen_query_ioctl(struct drm_device *drm, void *data, struct drm_file *file)
{
	struct lumen_device *ldev = to_lumen_device(drm);
	struct drm_lumen_query *args = data;
	union {
		struct drm_lumen_device_info info;
		struct drm_lumen_telemetry tel;
		struct drm_lumen_memory_info mem;
		struct drm_lumen_context_status ctx;
		struct drm_lumen_limits lim;
		struct drm_lumen_link_info link;
	} out;
	u32 full;
	int ret = 0, idx;

	if (args->flags || args->reserved)
		return -EINVAL;

	switch (args->type) {
	case DRM_LUMEN_QUERY_DEVICE_INFO:
		full = sizeof(out.info);
		break;
	case DRM_LUMEN_QUERY_TELEMETRY:
		full = sizeof(out.tel);
		break;
	case DRM_LUMEN_QUERY_MEMORY:
		full = sizeof(out.mem);
		break;
	case DRM_LUMEN_QUERY_CONTEXT_STATUS:
		full = sizeof(out.ctx);
		break;
	case DRM_LUMEN_QUERY_LIMITS:
		full = sizeof(out.lim);
		break;
	case DRM_LUMEN_QUERY_LINK:
		if (!lumen_has_links(ldev))
			return -EOPNOTSUPP;
		full = sizeof(out.link);
		break;
	default:
		return -EINVAL;
	}

	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;

	if (!args->size)
		goto out_size;

	if (args->type == DRM_LUMEN_QUERY_DEVICE_INFO ||
	    args->type == DRM_LUMEN_QUERY_TELEMETRY || args->type == DRM_LUMEN_QUERY_LINK) {
		/* Identity, telemetry, link state: what a reset rewrites or asks the card. */
		ret = lumen_reset_read_lock(file->driver_priv);
		if (ret)
			goto out_exit;
		if (args->type == DRM_LUMEN_QUERY_DEVICE_INFO)
			lumen_fill_device_info(ldev, &out.info);
		else if (args->type == DRM_LUMEN_QUERY_LINK)
			lumen_fill_link_info(ldev, &out.link);
		else if (lumen_capabilities(ldev) & LUMEN_CAP_TELEMETRY)
			lumen_read_telemetry(ldev, &out.tel);
		else
			ret = -EOPNOTSUPP;
		lumen_reset_read_unlock(ldev);
		if (ret)
			goto out_exit;
	} else if (args->type == DRM_LUMEN_QUERY_MEMORY) {
		lumen_gem_memory_info(ldev, file, &out.mem);
	} else if (args->type == DRM_LUMEN_QUERY_CONTEXT_STATUS) {
		lumen_context_status(file->driver_priv, &out.ctx);
	} else {
		lumen_fill_limits(ldev, &out.lim);
	}

	if (copy_to_user(u64_to_user_ptr(args->data), &out, min(args->size, full))) {
		ret = -EFAULT;
		goto out_exit;
	}

out_size:
	args->size = full;
out_exit:
	drm_dev_exit(idx);
	return ret;
}
