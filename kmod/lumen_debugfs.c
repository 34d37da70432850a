// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: debugfs, for developers and CI. Not an ABI.
 *
 * /sys/kernel/debug/accel/<bdf>/ (the DRM device's debugfs directory):
 *   regs       named dump of the global, interrupt, boot, mailbox and
 *              telemetry registers
 *   fw_info    firmware file, header fields, boot time and identity
 *   mbox       mailbox ring indices and counters
 *   mbox_ping  reading it round-trips a PING with a 64-byte pattern and
 *              prints the latency
 *   telemetry  GET_TELEMETRY over the mailbox next to the registers
 *   bo_stats   live buffer objects and bytes per placement, device-wide,
 *              and device memory total/free (leak checks after exit)
 *   queues     per hardware queue: owner (context, file, queue id, pid),
 *              HEAD/TAIL/STATUS/ERROR/COMPLETED, last seqno submitted and
 *              completed, jobs in flight
 *   inject     write-only, test devices (CAPS.FAULT_INJECT) only:
 *              "<hang|dma|corrupt|wedge|none> <hardware queue>" arms a fault
 *              on a queue (wedge: one that only a device reset clears);
 *              "<fw_crash|halt|mbox_hang>" breaks the whole card at once
 *              (the driver then resets it, lumen_reset.c)
 *   force_reset  write-only: any write resets the card now and returns
 *              once it is back (or failed: the write fails)
 *
 * The DRM core removes the directory in drm_dev_unplug(), waiting for
 * readers, but every handler still brackets hardware access with
 * drm_dev_enter() like any other path.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/seq_file.h>

#include <drm/drm_debugfs.h>
#include <drm/drm_drv.h>

#include <uapi/drm/lumen_accel.h>

#include "lumen_debugfs.h"
#include "lumen_drv.h"
#include "lumen_gem.h"
#include "lumen_hw.h"
#include "lumen_mbox.h"
#include "lumen_query.h"
#include "lumen_queue.h"
#include "lumen_reset.h"

static struct lumen_device *seq_to_ldev(struct seq_file *m)
{
	struct drm_debugfs_entry *entry = m->private;

	return to_lumen_device(entry->dev);
}

static int regs_show(struct seq_file *m, void *unused)
{
	struct lumen_device *ldev = seq_to_ldev(m);
	unsigned int i;
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;

	for (i = 0; i < lumen_num_global_regs; i++)
		seq_printf(m, "0x%03x %-18s 0x%08x\n", lumen_global_regs[i].offset,
			   lumen_global_regs[i].name,
			   lumen_rd32(ldev, lumen_global_regs[i].offset));

	drm_dev_exit(idx);
	return 0;
}

static int fw_info_show(struct seq_file *m, void *unused)
{
	struct lumen_device *ldev = seq_to_ldev(m);
	const struct lumen_fw_info *fw = &ldev->fw;
	const struct lumen_identity *id = &ldev->id;

	/* A reset boots the firmware again and rewrites all of this. */
	down_read(&ldev->reset_lock);
	seq_printf(m, "file:           %s\n", fw->name);
	seq_printf(m, "size:           %u\n", fw->size);
	seq_printf(m, "version:        %u.%u.%u\n", LUMEN_FW_VERSION_MAJ(fw->version),
		   LUMEN_FW_VERSION_MIN(fw->version), LUMEN_FW_VERSION_PAT(fw->version));
	seq_printf(m, "image_abi:      %u.%u\n", fw->abi_major, fw->abi_minor);
	seq_printf(m, "running_abi:    %u.%u\n", LUMEN_VERSION_MAJOR(id->fw_abi_version),
		   LUMEN_VERSION_MINOR(id->fw_abi_version));
	seq_printf(m, "mbox_version:   %u\n", id->mbox_version);
	seq_printf(m, "payload_crc32:  0x%08x\n", fw->payload_crc32);
	seq_printf(m, "build_id:       %s\n", fw->build_id);
	seq_printf(m, "boot_ms:        %u\n", fw->boot_ms);
	seq_printf(m, "serial:         %s\n", id->serial);
	seq_printf(m, "chip_id:        %u\n", id->chip_id);
	seq_printf(m, "hw_version:     %u.%u\n", LUMEN_VERSION_MAJOR(id->hw_version),
		   LUMEN_VERSION_MINOR(id->hw_version));
	seq_printf(m, "caps:           0x%08x (driver uses 0x%08llx)\n", id->caps,
		   lumen_capabilities(ldev));
	seq_printf(m, "queues:         %u of %u (%d MSI-X vectors)\n", ldev->num_queues,
		   id->num_queues, ldev->nvec);
	seq_printf(m, "device_errors:  %d\n", atomic_read(&ldev->err_count));
	seq_printf(m, "reset_count:    %d\n", atomic_read(&ldev->reset_count));
	seq_printf(m, "reset_gen:      %d\n", atomic_read(&ldev->reset_gen));
	up_read(&ldev->reset_lock);
	return 0;
}

static int mbox_show(struct seq_file *m, void *unused)
{
	struct lumen_device *ldev = seq_to_ldev(m);
	struct lumen_mbox *mbox = &ldev->mbox;
	struct lumen_mbox_stats stats;
	u32 req_tail, resp_head, next_seq, abandoned;
	bool open;
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;

	spin_lock_irq(&mbox->lock);
	open = mbox->open;
	req_tail = mbox->req_tail;
	resp_head = mbox->resp_head;
	next_seq = mbox->next_seq;
	abandoned = mbox->abandoned;
	stats = mbox->stats;
	spin_unlock_irq(&mbox->lock);

	seq_printf(m, "open:       %s\n", open ? "yes" : "no");
	seq_printf(m, "entries:    %u\n", LUMEN_MBOX_ENTRIES);
	seq_printf(m, "req:        tail %u, device head %u\n", req_tail,
		   lumen_rd32(ldev, LUMEN_REG_MBOX_REQ_HEAD));
	seq_printf(m, "resp:       head %u, device tail %u\n", resp_head,
		   lumen_rd32(ldev, LUMEN_REG_MBOX_RESP_TAIL));
	seq_printf(m, "next_seq:   %u\n", next_seq);
	seq_printf(m, "abandoned:  %u\n", abandoned);
	seq_printf(m, "sent:       %llu\n", stats.sent);
	seq_printf(m, "completed:  %llu\n", stats.completed);
	seq_printf(m, "timeouts:   %llu\n", stats.timeouts);
	seq_printf(m, "stale:      %llu\n", stats.stale);
	seq_printf(m, "bad:        %llu\n", stats.bad);

	drm_dev_exit(idx);
	return 0;
}

static int mbox_ping_show(struct seq_file *m, void *unused)
{
	struct lumen_device *ldev = seq_to_ldev(m);
	u8 pattern[64];
	ktime_t start;
	unsigned int i;
	int ret, idx;
	s64 us;

	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = i ^ 0xa5;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;

	start = ktime_get();
	ret = lumen_mbox_ping(ldev, pattern, sizeof(pattern));
	us = ktime_us_delta(ktime_get(), start);

	drm_dev_exit(idx);

	if (ret)
		seq_printf(m, "fail %d\n", ret);
	else
		seq_printf(m, "ok %zu bytes %lld us\n", sizeof(pattern), us);
	return 0;
}

static int telemetry_show(struct seq_file *m, void *unused)
{
	struct lumen_device *ldev = seq_to_ldev(m);
	struct lumen_mbox_telemetry fw;
	struct drm_lumen_telemetry reg;
	int ret, idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;

	lumen_read_telemetry(ldev, &reg);
	ret = lumen_mbox_get_telemetry(ldev, &fw);

	drm_dev_exit(idx);

	seq_puts(m, "field          registers  mailbox\n");
	if (ret) {
		memset(&fw, 0, sizeof(fw));
		seq_printf(m, "# GET_TELEMETRY failed: %d\n", ret);
	}
	seq_printf(m, "temp_mc        %-10u %u\n", reg.temp_mc, le32_to_cpu(fw.temp_mc));
	seq_printf(m, "temp_crit_mc   %-10u %u\n", reg.temp_crit_mc,
		   le32_to_cpu(fw.temp_crit_mc));
	seq_printf(m, "power_mw       %-10u %u\n", reg.power_mw, le32_to_cpu(fw.power_mw));
	seq_printf(m, "power_cap_mw   %-10u %u\n", reg.power_cap_mw,
		   le32_to_cpu(fw.power_cap_mw));
	seq_printf(m, "clk_core_mhz   %-10u %u\n", reg.clk_core_mhz,
		   le32_to_cpu(fw.clk_core_mhz));
	seq_printf(m, "clk_mem_mhz    %-10u %u\n", reg.clk_mem_mhz, le32_to_cpu(fw.clk_mem_mhz));
	seq_printf(m, "busy_ns        %-10llu %llu\n", reg.busy_ns, le64_to_cpu(fw.busy_ns));
	seq_printf(m, "uptime_ns      %-10llu %llu\n", reg.uptime_ns, le64_to_cpu(fw.uptime_ns));
	return 0;
}

static int bo_stats_show(struct seq_file *m, void *unused)
{
	lumen_gem_stats_show(seq_to_ldev(m), m);
	return 0;
}

static int queues_show(struct seq_file *m, void *unused)
{
	struct lumen_device *ldev = seq_to_ldev(m);
	int idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;
	lumen_queue_debugfs_show(ldev, m);
	drm_dev_exit(idx);
	return 0;
}

static ssize_t inject_write(struct file *f, const char __user *ubuf, size_t len, loff_t *pos)
{
	static const char * const kinds[] = {
		[LUMEN_INJECT_NONE] = "none",
		[LUMEN_INJECT_HANG_QUEUE] = "hang",
		[LUMEN_INJECT_DMA_FAIL] = "dma",
		[LUMEN_INJECT_CORRUPT_DESC] = "corrupt",
		[LUMEN_INJECT_FW_CRASH] = "fw_crash",
		[LUMEN_INJECT_HALT] = "halt",
		[LUMEN_INJECT_MBOX_HANG] = "mbox_hang",
		[LUMEN_INJECT_WEDGE_QUEUE] = "wedge",
	};
	struct lumen_device *ldev = f->private_data;
	char buf[32], kind[16];
	unsigned int hwq = 0;
	int ret, k;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	/* "<kind> <hwq>" for a queue injection, "<kind>" for a device one. */
	if (sscanf(buf, "%15s %u", kind, &hwq) < 1)
		return -EINVAL;
	k = match_string(kinds, ARRAY_SIZE(kinds), kind);
	if (k < 0)
		return -EINVAL;

	ret = lumen_queue_inject(ldev, k, hwq);
	return ret ? ret : len;
}

/* Any write resets the card now (LUMEN_RESET_USER) and waits for it. */
static ssize_t force_reset_write(struct file *f, const char __user *ubuf, size_t len,
				 loff_t *pos)
{
	struct lumen_device *ldev = f->private_data;
	int ret, idx;

	if (!drm_dev_enter(&ldev->drm, &idx))
		return -ENODEV;
	ret = lumen_reset_now(ldev, LUMEN_RESET_USER);
	drm_dev_exit(idx);
	return ret ? ret : len;
}

static const struct file_operations lumen_force_reset_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = force_reset_write,
	.llseek = noop_llseek,
};

static const struct file_operations lumen_inject_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = inject_write,
	.llseek = noop_llseek,
};

static const struct drm_debugfs_info lumen_debugfs_list[] = {
	{ "regs", regs_show, 0 },
	{ "fw_info", fw_info_show, 0 },
	{ "mbox", mbox_show, 0 },
	{ "mbox_ping", mbox_ping_show, 0 },
	{ "telemetry", telemetry_show, 0 },
	{ "bo_stats", bo_stats_show, 0 },
	{ "queues", queues_show, 0 },
};

/**
 * lumen_debugfs_init() - queue the debugfs files
 * @ldev: device, before drm_dev_register() (which creates them)
 */
void lumen_debugfs_init(struct lumen_device *ldev)
{
	drm_debugfs_add_files(&ldev->drm, lumen_debugfs_list, ARRAY_SIZE(lumen_debugfs_list));
	debugfs_create_file("force_reset", 0200, ldev->drm.debugfs_root, ldev,
			    &lumen_force_reset_fops);
	if (ldev->id.caps & LUMEN_CAP_FAULT_INJECT)
		debugfs_create_file("inject", 0200, ldev->drm.debugfs_root, ldev,
				    &lumen_inject_fops);
}
