// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: identity attributes in sysfs.
 *
 * Attached to the PCI device through pci_driver.dev_groups, so the driver
 * core creates them after a successful probe and removes them before
 * remove() runs; they exist exactly while the card is bound. Each file holds
 * one value followed by a newline. Identity values only change when a
 * device reset boots a different firmware file:
 *
 * /sys/bus/pci/devices/<bdf>/ (also /sys/class/accel/accelN/device/)
 *   serial          board serial number (ASCII)
 *   chip_id         position of the chip in the supernode, decimal
 *   board_rev       board revision, decimal
 *   hw_version      hardware interface version, "major.minor"
 *   fw_version      running firmware, "major.minor.patch"
 *   fw_abi_version  negotiated firmware ABI, "major.minor"
 *   fw_build_id     firmware build identification (ASCII, may be empty)
 *   mem_size        device memory in bytes, decimal
 *   reset_count     device resets since the driver bound, decimal
 *                   (each also sends a KOBJ_CHANGE uevent, lumen_reset.c)
 *   reset_reason    why the card was last reset: LUMEN_RESET_* names
 *                   joined by '|' ("halted", "fw_crash", "mbox_timeout",
 *                   "queue_hang", "flr", "pci_error", "resume", "user"),
 *                   or "none"
 *   state           "ok", "resetting" or "lost" (the last reset failed)
 *
 * Readable by everyone: none of this is secret, and tools must work without
 * root.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/device.h>
#include <linux/pci.h>
#include <linux/sysfs.h>

#include "lumen_drv.h"
#include "lumen_reset.h"
#include "lumen_sysfs.h"

static struct lumen_device *lumen_sysfs_ldev(struct device *dev)
{
	return pci_get_drvdata(to_pci_dev(dev));
}

static ssize_t serial_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", lumen_sysfs_ldev(dev)->id.serial);
}
static DEVICE_ATTR_RO(serial);

static ssize_t chip_id_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", lumen_sysfs_ldev(dev)->id.chip_id);
}
static DEVICE_ATTR_RO(chip_id);

static ssize_t board_rev_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", lumen_sysfs_ldev(dev)->id.board_rev);
}
static DEVICE_ATTR_RO(board_rev);

static ssize_t hw_version_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	u32 v = lumen_sysfs_ldev(dev)->id.hw_version;

	return sysfs_emit(buf, "%u.%u\n", LUMEN_VERSION_MAJOR(v), LUMEN_VERSION_MINOR(v));
}
static DEVICE_ATTR_RO(hw_version);

static ssize_t fw_version_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	u32 v = lumen_sysfs_ldev(dev)->id.fw_version;

	return sysfs_emit(buf, "%u.%u.%u\n", LUMEN_FW_VERSION_MAJ(v), LUMEN_FW_VERSION_MIN(v),
			  LUMEN_FW_VERSION_PAT(v));
}
static DEVICE_ATTR_RO(fw_version);

static ssize_t fw_abi_version_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	u32 v = lumen_sysfs_ldev(dev)->id.fw_abi_version;

	return sysfs_emit(buf, "%u.%u\n", LUMEN_VERSION_MAJOR(v), LUMEN_VERSION_MINOR(v));
}
static DEVICE_ATTR_RO(fw_abi_version);

static ssize_t fw_build_id_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct lumen_device *ldev = lumen_sysfs_ldev(dev);
	ssize_t ret;

	/* A reset rewrites it. */
	down_read(&ldev->reset_lock);
	ret = sysfs_emit(buf, "%s\n", ldev->id.fw_build_id);
	up_read(&ldev->reset_lock);
	return ret;
}
static DEVICE_ATTR_RO(fw_build_id);

static ssize_t reset_count_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%d\n", atomic_read(&lumen_sysfs_ldev(dev)->reset_count));
}
static DEVICE_ATTR_RO(reset_count);

static ssize_t reset_reason_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	char why[96];

	lumen_reset_reason_names(READ_ONCE(lumen_sysfs_ldev(dev)->last_reset_reason), why,
				 sizeof(why));
	return sysfs_emit(buf, "%s\n", why);
}
static DEVICE_ATTR_RO(reset_reason);

static ssize_t state_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct lumen_device *ldev = lumen_sysfs_ldev(dev);

	if (READ_ONCE(ldev->lost))
		return sysfs_emit(buf, "lost\n");
	return sysfs_emit(buf, "%s\n", READ_ONCE(ldev->hw_up) ? "ok" : "resetting");
}
static DEVICE_ATTR_RO(state);

static ssize_t mem_size_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", lumen_sysfs_ldev(dev)->id.mem_size);
}
static DEVICE_ATTR_RO(mem_size);

static struct attribute *lumen_dev_attrs[] = {
	&dev_attr_serial.attr,
	&dev_attr_chip_id.attr,
	&dev_attr_board_rev.attr,
	&dev_attr_hw_version.attr,
	&dev_attr_fw_version.attr,
	&dev_attr_fw_abi_version.attr,
	&dev_attr_fw_build_id.attr,
	&dev_attr_mem_size.attr,
	&dev_attr_reset_count.attr,
	&dev_attr_reset_reason.attr,
	&dev_attr_state.attr,
	NULL,
};

static const struct attribute_group lumen_dev_group = {
	.attrs = lumen_dev_attrs,
};

const struct attribute_group *lumen_dev_groups[] = {
	&lumen_dev_group,
	NULL,
};
