// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: hwmon sensors from the telemetry registers.
 *
 * /sys/bus/pci/devices/<bdf>/hwmon/hwmonN/ (name "lumen"):
 *   temp1_input      die temperature, millidegrees Celsius
 *   temp1_crit       critical temperature, millidegrees Celsius
 *   power1_input     board power, microwatts
 *   power1_cap       power limit, microwatts (root may write it, rounded to
 *                    milliwatts, in [1 mW, power1_cap_max])
 *   power1_cap_max   highest power limit the board accepts, microwatts
 *
 * Registered device-managed on the PCI device; every access is inside
 * drm_dev_enter() so a read racing with unbind returns -ENODEV instead of
 * touching an unmapped BAR.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/hwmon.h>
#include <linux/kernel.h>

#include <drm/drm_drv.h>

#include "lumen_drv.h"
#include "lumen_hw.h"
#include "lumen_hwmon.h"

static umode_t lumen_hwmon_is_visible(const void *data, enum hwmon_sensor_types type,
				      u32 attr, int channel)
{
	const struct lumen_device *ldev = data;

	if (!(ldev->id.caps & LUMEN_CAP_TELEMETRY))
		return 0;

	switch (type) {
	case hwmon_temp:
		if (attr == hwmon_temp_input || attr == hwmon_temp_crit)
			return 0444;
		break;
	case hwmon_power:
		if (attr == hwmon_power_input || attr == hwmon_power_cap_max)
			return 0444;
		if (attr == hwmon_power_cap)
			return 0644;
		break;
	default:
		break;
	}
	return 0;
}

static int lumen_hwmon_read(struct device *dev, enum hwmon_sensor_types type,
			    u32 attr, int channel, long *val)
{
	struct lumen_device *ldev = dev_get_drvdata(dev);
	int ret = 0, idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;

	switch (type) {
	case hwmon_temp:
		if (attr == hwmon_temp_input)
			*val = (s32)lumen_rd32(ldev, LUMEN_REG_TEMP_MC);
		else if (attr == hwmon_temp_crit)
			*val = (s32)lumen_rd32(ldev, LUMEN_REG_TEMP_CRIT_MC);
		else
			ret = -EOPNOTSUPP;
		break;
	case hwmon_power:
		if (attr == hwmon_power_input)
			*val = (long)lumen_rd32(ldev, LUMEN_REG_POWER_MW) * 1000;
		else if (attr == hwmon_power_cap)
			*val = (long)lumen_rd32(ldev, LUMEN_REG_POWER_CAP_MW) * 1000;
		else if (attr == hwmon_power_cap_max)
			*val = (long)lumen_rd32(ldev, LUMEN_REG_POWER_MAX_MW) * 1000;
		else
			ret = -EOPNOTSUPP;
		break;
	default:
		ret = -EOPNOTSUPP;
		break;
	}

	drm_dev_exit(idx);
	return ret;
}

static int lumen_hwmon_write(struct device *dev, enum hwmon_sensor_types type,
			     u32 attr, int channel, long val)
{
	struct lumen_device *ldev = dev_get_drvdata(dev);
	int ret = 0, idx;
	long mw;

	if (type != hwmon_power || attr != hwmon_power_cap)
		return -EOPNOTSUPP;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;

	mw = DIV_ROUND_CLOSEST(val, 1000);
	if (mw < 1 || mw > lumen_rd32(ldev, LUMEN_REG_POWER_MAX_MW))
		ret = -EINVAL;
	else
		lumen_wr32(ldev, LUMEN_REG_POWER_CAP_MW, mw);

	drm_dev_exit(idx);
	return ret;
}

static const struct hwmon_channel_info * const lumen_hwmon_info[] = {
	HWMON_CHANNEL_INFO(temp, HWMON_T_INPUT | HWMON_T_CRIT),
	HWMON_CHANNEL_INFO(power, HWMON_P_INPUT | HWMON_P_CAP | HWMON_P_CAP_MAX),
	NULL
};

static const struct hwmon_ops lumen_hwmon_ops = {
	.is_visible = lumen_hwmon_is_visible,
	.read = lumen_hwmon_read,
	.write = lumen_hwmon_write,
};

static const struct hwmon_chip_info lumen_hwmon_chip = {
	.ops = &lumen_hwmon_ops,
	.info = lumen_hwmon_info,
};

/**
 * lumen_hwmon_init() - register the hwmon device
 * @ldev: device with its identity known
 *
 * Return: 0 or a negative errno (logged).
 */
int lumen_hwmon_init(struct lumen_device *ldev)
{
	struct device *hwmon;

	hwmon = devm_hwmon_device_register_with_info(lumen_dev(ldev), DRIVER_NAME, ldev,
						     &lumen_hwmon_chip, NULL);
	if (IS_ERR(hwmon)) {
		dev_err(lumen_dev(ldev), "cannot register hwmon device: %pe\n", hwmon);
		return PTR_ERR(hwmon);
	}
	return 0;
}
