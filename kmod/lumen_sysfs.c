// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: identity attributes in sysfs.
 *
 * Attached to the PCI device through pci_driver.dev_groups, so the driver
 * core creates them after a successful probe and removes them before
 * remove() runs; they exist exactly while the card is bound. Each file holds
 * one value followed by a newline, and values never change while bound:
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
	return sysfs_emit(buf, "%s\n", lumen_sysfs_ldev(dev)->id.fw_build_id);
}
static DEVICE_ATTR_RO(fw_build_id);

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
	NULL,
};

static const struct attribute_group lumen_dev_group = {
	.attrs = lumen_dev_attrs,
};

const struct attribute_group *lumen_dev_groups[] = {
	&lumen_dev_group,
	NULL,
};
