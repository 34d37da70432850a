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
 *   mem_used        device memory allocated to buffer objects, bytes
 *   num_queues      hardware DMA queues the driver uses, decimal
 *   driver_version  the DRM driver's (uAPI) version, "major.minor.patch"
 *   device_errors   device errors the driver logged since it bound (error
 *                   interrupts, not counting remote commands that failed),
 *                   unsigned decimal (wraps at 2^32)
 *
 * With CAPS.TELEMETRY, also the telemetry registers (docs/hw-spec.md 8),
 * read from the card on each access, -EBUSY while a reset has the card or
 * it is down (no value this time); temperature and power are in hwmon:
 *
 *   clk_core_mhz    core clock, MHz
 *   clk_mem_mhz     memory clock, MHz
 *   busy_ns         cumulative engine busy time since the last device
 *                   reset, ns (utilisation is its change over wall time)
 *   uptime_ms       time since the last device reset, ms (wraps at 2^32)
 *
 * Readable by everyone: none of this is secret, and tools must work without
 * root.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/device.h>
#include <linux/pci.h>
#include <linux/sysfs.h>

#include <drm/drm_drv.h>

#include "lumen_devmem.h"
#include "lumen_drv.h"
#include "lumen_hw.h"
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

static ssize_t mem_used_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct lumen_device *ldev = lumen_sysfs_ldev(dev);

	return sysfs_emit(buf, "%llu\n", ldev->mem.size - lumen_devmem_avail(ldev));
}
static DEVICE_ATTR_RO(mem_used);

static ssize_t num_queues_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", lumen_sysfs_ldev(dev)->num_queues);
}
static DEVICE_ATTR_RO(num_queues);

static ssize_t driver_version_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	const struct drm_driver *drv = lumen_sysfs_ldev(dev)->drm.driver;

	return sysfs_emit(buf, "%d.%d.%d\n", drv->major, drv->minor, drv->patchlevel);
}
static DEVICE_ATTR_RO(driver_version);

static ssize_t device_errors_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", (u32)atomic_read(&lumen_sysfs_ldev(dev)->err_count));
}
static DEVICE_ATTR_RO(device_errors);

/*
 * One telemetry register: inside drm_dev_enter() so that a read racing with
 * unbind gets -ENODEV instead of an unmapped BAR, and only while the card
 * runs and no reset has it (@reset_lock, without waiting: a reset holds it
 * for seconds, and registers read during one are all-ones). -EBUSY then:
 * no value this time.
 */
static ssize_t lumen_sysfs_telemetry(struct device *dev, char *buf, u32 reg, bool wide)
{
	struct lumen_device *ldev = lumen_sysfs_ldev(dev);
	ssize_t ret = -EBUSY;
	u64 val;
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;
	if (down_read_trylock(&ldev->reset_lock)) {
		if (ldev->hw_up && !ldev->lost) {
			val = wide ? lumen_rd64(ldev, reg) : lumen_rd32(ldev, reg);
			ret = sysfs_emit(buf, "%llu\n", val);
		}
		up_read(&ldev->reset_lock);
	}
	drm_dev_exit(idx);
	return ret;
}

static ssize_t clk_core_mhz_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return lumen_sysfs_telemetry(dev, buf, LUMEN_REG_CLK_CORE_MHZ, false);
}
static DEVICE_ATTR_RO(clk_core_mhz);

static ssize_t clk_mem_mhz_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return lumen_sysfs_telemetry(dev, buf, LUMEN_REG_CLK_MEM_MHZ, false);
}
static DEVICE_ATTR_RO(clk_mem_mhz);

static ssize_t busy_ns_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return lumen_sysfs_telemetry(dev, buf, LUMEN_REG_BUSY_NS_LO, true);
}
static DEVICE_ATTR_RO(busy_ns);

static ssize_t uptime_ms_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return lumen_sysfs_telemetry(dev, buf, LUMEN_REG_UPTIME_MS, false);
}
static DEVICE_ATTR_RO(uptime_ms);

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
	&dev_attr_mem_used.attr,
	&dev_attr_num_queues.attr,
	&dev_attr_driver_version.attr,
	&dev_attr_device_errors.attr,
	NULL,
};

static const struct attribute_group lumen_dev_group = {
	.attrs = lumen_dev_attrs,
};

static struct attribute *lumen_telemetry_attrs[] = {
	&dev_attr_clk_core_mhz.attr,
	&dev_attr_clk_mem_mhz.attr,
	&dev_attr_busy_ns.attr,
	&dev_attr_uptime_ms.attr,
	NULL,
};

/* Without CAPS.TELEMETRY the block reads 0: no files rather than zeros. */
static umode_t lumen_telemetry_visible(struct kobject *kobj, struct attribute *attr, int n)
{
	struct lumen_device *ldev = lumen_sysfs_ldev(kobj_to_dev(kobj));

	return ldev && (ldev->id.caps & LUMEN_CAP_TELEMETRY) ? attr->mode : 0;
}

static const struct attribute_group lumen_telemetry_group = {
	.attrs = lumen_telemetry_attrs,
	.is_visible = lumen_telemetry_visible,
};

const struct attribute_group *lumen_dev_groups[] = {
	&lumen_dev_group,
	&lumen_telemetry_group,
	NULL,
};
