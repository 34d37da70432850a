/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Lumen N1: firmware loading, boot handshake and identification.
 *
 * Copyright (C) 2025 The Lumen Authors
 */
#ifndef __LUMEN_FW_H__
#define __LUMEN_FW_H__

#include <linux/types.h>

#include <lumen/lumen_fw_image.h>

struct lumen_device;

#define LUMEN_FW_DEFAULT_NAME	"lumen/lumen-n1.fw"

/**
 * struct lumen_fw_info - the image this binding booted
 * @name: firmware file name as requested (device-managed copy)
 * @size: image bytes
 * @version: fw_version from the image header
 * @abi_major: ABI major from the image header
 * @abi_minor: ABI minor from the image header
 * @payload_crc32: payload CRC from the image header
 * @boot_ms: time from the BOOT doorbell to BOOT_STATUS RUNNING
 * @build_id: build id from the image header, NUL-terminated
 *
 * Filled during probe, read-only afterwards.
 */
struct lumen_fw_info {
	const char *name;
	u32 size;
	u32 version;
	u16 abi_major;
	u16 abi_minor;
	u32 payload_crc32;
	u32 boot_ms;
	char build_id[LUMEN_FW_BUILD_ID_LEN + 1];
};

int lumen_fw_boot(struct lumen_device *ldev);
int lumen_fw_identify(struct lumen_device *ldev);
int lumen_fw_start(struct lumen_device *ldev);

#endif /* __LUMEN_FW_H__ */
