// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lumen N1: firmware loading, boot handshake and identification.
 *
 * Boot sequence (lumen_fw.h of firmware-iface is the contract):
 *  1. request_firmware() the file named by the "firmware" parameter and run
 *     lumen_fw_image_check() on it, so a bad file is reported by name;
 *  2. copy it into DMA-coherent memory, program the mailbox rings,
 *     FW_ADDR and FW_SIZE, and ring BOOT_CTRL;
 *  3. wait for BOOT_STATUS RUNNING or FAILED (LUMEN_INT_BOOT wakes us; the
 *     register is also polled so a lost interrupt only costs latency);
 *  4. free the image (the device has fetched it), open the mailbox;
 *  5. lumen_fw_identify(): GET_VERSION and GET_IDENTITY, cross-checked
 *     against the registers and the image header.
 *
 * Copyright (C) 2025 The Lumen Authors
 */

#include <linux/ctype.h>
#include <linux/dma-mapping.h>
#include <linux/firmware.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "lumen_drv.h"
#include "lumen_fw.h"
#include "lumen_hw.h"
#include "lumen_mbox.h"

static char *lumen_fw_name = LUMEN_FW_DEFAULT_NAME;
module_param_named(firmware, lumen_fw_name, charp, 0644);
MODULE_PARM_DESC(firmware, "Firmware file under /lib/firmware, read at each probe (default "
		 LUMEN_FW_DEFAULT_NAME ")");

static unsigned int lumen_boot_timeout_ms = 5000;
module_param_named(boot_timeout_ms, lumen_boot_timeout_ms, uint, 0644);
MODULE_PARM_DESC(boot_timeout_ms, "Firmware boot handshake timeout in ms (default 5000)");

MODULE_FIRMWARE(LUMEN_FW_DEFAULT_NAME);

/* Re-read BOOT_STATUS this often in case the boot interrupt is lost. */
#define LUMEN_BOOT_POLL_MS	20
/* How late the boot interrupt may follow BOOT_STATUS before we complain. */
#define LUMEN_BOOT_IRQ_GRACE_MS	500

/*
 * The parameter is writable at runtime: copy it under the param lock, and
 * drop the newline `echo name > .../parameters/firmware` leaves behind.
 */
static char *lumen_fw_name_get(void)
{
	char *name;

	kernel_param_lock(THIS_MODULE);
	name = kstrdup(lumen_fw_name ? lumen_fw_name : "", GFP_KERNEL);
	kernel_param_unlock(THIS_MODULE);

	if (name)
		strim(name);
	return name;
}

/*
 * Run the contract's image check and, on failure, say what is wrong in
 * words. @data may be unaligned and shorter than a header.
 */
static int lumen_fw_validate(struct lumen_device *ldev, const char *name,
			     const u8 *data, size_t size)
{
	struct lumen_fw_header hdr;
	enum lumen_status st;
	char why[128];

	st = lumen_fw_image_check(data, size);
	if (st == LUMEN_STATUS_OK)
		return 0;

	memset(&hdr, 0, sizeof(hdr));
	memcpy(&hdr, data, min(size, sizeof(hdr)));

	/* Lead with the contract's name of the status, then the details. */
	switch (st) {
	case LUMEN_STATUS_BAD_SIZE:
		if (size < sizeof(hdr))
			snprintf(why, sizeof(why), "%s (file of %zu bytes, no room for a header)",
				 lumen_status_name(st), size);
		else
			snprintf(why, sizeof(why),
				 "%s (file %zu bytes, header_size %u, image_size %u, limit %u)",
				 lumen_status_name(st), size, le32_to_cpu(hdr.header_size),
				 le32_to_cpu(hdr.image_size), LUMEN_FW_MAX_SIZE);
		break;
	case LUMEN_STATUS_BAD_MAGIC:
		snprintf(why, sizeof(why), "%s (0x%08x, expected 0x%08x)", lumen_status_name(st),
			 le32_to_cpu(hdr.magic), LUMEN_FW_MAGIC);
		break;
	case LUMEN_STATUS_BAD_CHECKSUM:
		snprintf(why, sizeof(why), "%s %s",
			 le32_to_cpu(hdr.header_crc32) != lumen_fw_header_crc32(&hdr) ?
			 "header" : "payload", lumen_status_name(st));
		break;
	case LUMEN_STATUS_BAD_ABI:
		snprintf(why, sizeof(why), "%s (image %u.%u, driver %u.x)", lumen_status_name(st),
			 le16_to_cpu(hdr.abi_major), le16_to_cpu(hdr.abi_minor),
			 LUMEN_FW_ABI_MAJOR);
		break;
	case LUMEN_STATUS_RESERVED_SET:
		snprintf(why, sizeof(why), "%s (flags 0x%08x)", lumen_status_name(st),
			 le32_to_cpu(hdr.flags));
		break;
	default:
		snprintf(why, sizeof(why), "%s", lumen_status_name(st));
		break;
	}

	dev_err(lumen_dev(ldev), "firmware %s rejected: %s\n", name, why);
	return -ENOEXEC;
}

/* Copy a NUL-padded device string, replacing anything unprintable. */
static void lumen_fw_copy_str(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len && src[i]; i++)
		dst[i] = isprint(src[i]) ? src[i] : '?';
	dst[i] = '\0';
}

static void lumen_fw_record(struct lumen_device *ldev, const u8 *data, size_t size)
{
	struct lumen_fw_info *info = &ldev->fw;
	struct lumen_fw_header hdr;

	memcpy(&hdr, data, sizeof(hdr));
	info->size = size;
	info->version = le32_to_cpu(hdr.fw_version);
	info->abi_major = le16_to_cpu(hdr.abi_major);
	info->abi_minor = le16_to_cpu(hdr.abi_minor);
	info->payload_crc32 = le32_to_cpu(hdr.payload_crc32);
	lumen_fw_copy_str(info->build_id, hdr.build_id, sizeof(hdr.build_id));
}

static bool lumen_fw_boot_finished(struct lumen_device *ldev, u32 *state)
{
	*state = lumen_rd32(ldev, LUMEN_REG_BOOT_STATUS);
	return *state == LUMEN_BOOT_RUNNING || *state == LUMEN_BOOT_FAILED;
}

/* Return: 0 with *state RUNNING or FAILED, or -ETIMEDOUT. */
static int lumen_fw_wait_boot(struct lumen_device *ldev, unsigned int timeout_ms, u32 *state)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);

	for (;;) {
		if (wait_event_timeout(ldev->boot_wq, lumen_fw_boot_finished(ldev, state),
				       msecs_to_jiffies(LUMEN_BOOT_POLL_MS)))
			return 0;
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
	}
}

/**
 * lumen_fw_boot() - load, check and boot the firmware
 * @ldev: device after soft reset, with interrupt handlers installed
 *
 * Every failure is logged with the firmware name. On return the image
 * buffer is freed, unless the device could not be stopped after a timeout,
 * in which case it is deliberately leaked rather than handed back to the
 * allocator while the device may still read it.
 *
 * Return: 0 with the mailbox open; -ENOENT etc. from request_firmware();
 * -ENOEXEC for an image that fails the checks; -EIO if the device refused
 * it (BOOT_ERROR is logged by name); -ETIMEDOUT.
 */
int lumen_fw_boot(struct lumen_device *ldev)
{
	struct device *dev = lumen_dev(ldev);
	unsigned int timeout_ms = max(READ_ONCE(lumen_boot_timeout_ms), 1u);
	const struct firmware *fw;
	dma_addr_t dma;
	ktime_t start;
	size_t size;
	u32 state;
	void *buf;
	char *name;
	int ret;

	name = lumen_fw_name_get();
	if (!name)
		return -ENOMEM;

	ret = request_firmware(&fw, name, dev);
	if (ret) {
		dev_err(dev, "firmware %s: cannot load: %pe\n", name, ERR_PTR(ret));
		goto out_name;
	}

	ret = lumen_fw_validate(ldev, name, fw->data, fw->size);
	if (ret)
		goto out_release;

	size = fw->size;
	buf = dma_alloc_coherent(dev, size, &dma, GFP_KERNEL);
	if (!buf) {
		dev_err(dev, "firmware %s: cannot allocate %zu bytes of DMA memory\n", name, size);
		ret = -ENOMEM;
		goto out_release;
	}
	memcpy(buf, fw->data, size);
	lumen_fw_record(ldev, fw->data, size);
	release_firmware(fw);

	/* A reset boots again: the previous name goes. */
	if (ldev->fw.name)
		devm_kfree(dev, ldev->fw.name);
	ldev->fw.name = devm_kstrdup(dev, name, GFP_KERNEL);
	if (!ldev->fw.name) {
		ret = -ENOMEM;
		goto out_free;
	}

	lumen_mbox_setup(ldev);
	lumen_wr64(ldev, LUMEN_REG_FW_ADDR_LO, dma);
	lumen_wr32(ldev, LUMEN_REG_FW_SIZE, size);
	WRITE_ONCE(ldev->boot_irq_seen, false);
	start = ktime_get();
	/*
	 * writel() orders the image and ring setup stores above before the
	 * doorbell, so the device fetches what we wrote.
	 */
	lumen_wr32(ldev, LUMEN_REG_BOOT_CTRL, LUMEN_BOOT_CTRL_BOOT);

	ret = lumen_fw_wait_boot(ldev, timeout_ms, &state);
	ldev->fw.boot_ms = ktime_ms_delta(ktime_get(), start);
	if (ret) {
		dev_err(dev, "firmware %s: boot timed out after %u ms (BOOT_STATUS %s)\n",
			name, timeout_ms, lumen_boot_state_name(state));
		/* The device may still be fetching the image: stop it first. */
		if (lumen_hw_soft_reset(ldev)) {
			dev_err(dev, "device did not stop, leaking the %zu-byte image buffer\n",
				size);
			goto out_name;
		}
		goto out_free;
	}

	if (state == LUMEN_BOOT_FAILED) {
		u32 err = lumen_rd32(ldev, LUMEN_REG_BOOT_ERROR);

		dev_err(dev, "firmware %s: device refused to boot it: BOOT_ERROR %s (%u)\n",
			name, lumen_status_name(err), err);
		ret = -EIO;
		goto out_free;
	}

	/*
	 * The poll can see RUNNING just before the interrupt lands; give it a
	 * moment before calling it lost. Only a diagnostic: boot succeeded.
	 */
	if (!wait_event_timeout(ldev->boot_wq, READ_ONCE(ldev->boot_irq_seen),
				msecs_to_jiffies(LUMEN_BOOT_IRQ_GRACE_MS)))
		dev_warn(dev, "firmware booted but no LUMEN_INT_BOOT interrupt arrived\n");

	ret = lumen_mbox_start(ldev);

out_free:
	/* RUNNING or FAILED (or reset): the device is done with the image. */
	dma_free_coherent(dev, size, buf, dma);
	goto out_name;
out_release:
	release_firmware(fw);
out_name:
	kfree(name);
	return ret;
}

/* Return: 1 (and log) if @from_fw differs from @expected, else 0. */
static int lumen_fw_mismatch(struct lumen_device *ldev, const char *what,
			     u64 from_fw, u64 expected, const char *source)
{
	if (from_fw == expected)
		return 0;

	dev_err(lumen_dev(ldev),
		"identity mismatch: %s is 0x%llx from the firmware, 0x%llx from the %s\n",
		what, from_fw, expected, source);
	return 1;
}

/**
 * lumen_fw_identify() - learn and cross-check the card's identity
 * @ldev: device with the mailbox open
 *
 * Every value both the mailbox and a register (or the image header) report
 * must agree; all mismatches are logged before failing. Reserved fields of
 * the responses are ignored: later ABI minors may give them a meaning.
 *
 * Return: 0, -EPROTO on any mismatch, or a mailbox error.
 */
int lumen_fw_identify(struct lumen_device *ldev)
{
	struct device *dev = lumen_dev(ldev);
	struct lumen_identity *id = &ldev->id;
	struct lumen_mbox_identity ident;
	struct lumen_mbox_version ver;
	char build_id[LUMEN_FW_BUILD_ID_LEN + 1];
	u16 abi_major, abi_minor;
	u32 fw_version, abi;
	int ret, bad = 0;

	ret = lumen_mbox_get_version(ldev, &ver);
	if (ret) {
		dev_err(dev, "GET_VERSION failed: %pe\n", ERR_PTR(ret));
		return ret;
	}
	ret = lumen_mbox_get_identity(ldev, &ident);
	if (ret) {
		dev_err(dev, "GET_IDENTITY failed: %pe\n", ERR_PTR(ret));
		return ret;
	}

	fw_version = le32_to_cpu(ver.fw_version);
	abi_major = le16_to_cpu(ver.abi_major);
	abi_minor = le16_to_cpu(ver.abi_minor);
	abi = (u32)abi_major << 16 | abi_minor;

	bad += lumen_fw_mismatch(ldev, "fw_version", fw_version,
				 lumen_rd32(ldev, LUMEN_REG_FW_VERSION), "FW_VERSION register");
	bad += lumen_fw_mismatch(ldev, "fw_version", fw_version, ldev->fw.version,
				 "image header");
	bad += lumen_fw_mismatch(ldev, "fw_abi_version", abi,
				 lumen_rd32(ldev, LUMEN_REG_FW_ABI_VERSION),
				 "FW_ABI_VERSION register");
	bad += lumen_fw_mismatch(ldev, "hw_version", le32_to_cpu(ver.hw_version),
				 id->hw_version, "HW_VERSION register");
	bad += lumen_fw_mismatch(ldev, "chip_id", le32_to_cpu(ident.chip_id),
				 id->chip_id, "CHIP_ID register");
	bad += lumen_fw_mismatch(ldev, "mem_size", le64_to_cpu(ident.mem_size),
				 id->mem_size, "MEM_SIZE registers");
	bad += lumen_fw_mismatch(ldev, "num_queues", le32_to_cpu(ident.num_queues),
				 id->num_queues, "NUM_QUEUES register");
	bad += lumen_fw_mismatch(ldev, "num_link_ports", le32_to_cpu(ident.num_link_ports),
				 id->num_link_ports, "NUM_LINK_PORTS register");
	bad += lumen_fw_mismatch(ldev, "caps", le32_to_cpu(ident.caps), id->caps,
				 "CAPS register");

	lumen_fw_copy_str(build_id, ver.build_id, sizeof(ver.build_id));
	if (strcmp(build_id, ldev->fw.build_id)) {
		dev_err(dev, "identity mismatch: build id \"%s\" from the firmware, \"%s\" in the image header\n",
			build_id, ldev->fw.build_id);
		bad++;
	}
	if (abi_major != LUMEN_FW_ABI_MAJOR || abi_minor > ldev->fw.abi_minor) {
		dev_err(dev, "firmware runs ABI %u.%u, image declares %u.%u\n",
			abi_major, abi_minor, ldev->fw.abi_major, ldev->fw.abi_minor);
		bad++;
	}
	if (le16_to_cpu(ver.mbox_version) < LUMEN_MBOX_VERSION) {
		dev_err(dev, "firmware speaks mailbox protocol %u, driver needs %u\n",
			le16_to_cpu(ver.mbox_version), LUMEN_MBOX_VERSION);
		bad++;
	}
	if (bad)
		return -EPROTO;

	id->fw_version = fw_version;
	id->fw_abi_version = abi;
	id->mbox_version = le16_to_cpu(ver.mbox_version);
	id->board_rev = le32_to_cpu(ident.board_rev);
	lumen_fw_copy_str(id->serial, ident.serial, sizeof(ident.serial));
	strscpy(id->fw_build_id, ldev->fw.build_id, sizeof(id->fw_build_id));

	return 0;
}

/**
 * lumen_fw_start() - boot the firmware and learn the card's identity
 * @ldev: device after a (soft or function) reset, interrupts enabled
 *
 * What probe and every device reset do to bring the firmware up.
 *
 * Return: 0, or the errno of lumen_fw_boot() or lumen_fw_identify().
 */
int lumen_fw_start(struct lumen_device *ldev)
{
	int ret = lumen_fw_boot(ldev);

	return ret ? ret : lumen_fw_identify(ldev);
}
