/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 firmware image format.
 *
 * An image is a 64-byte header followed by an opaque payload. The device
 * fetches the whole image by DMA when the driver rings BOOT and refuses it,
 * with a LUMEN_STATUS_* code in BOOT_ERROR, unless every check in
 * lumen_fw_image_check() passes. The driver runs the same check before it
 * hands the image over, so a corrupt file fails the probe with a message that
 * names the problem instead of a bare device status.
 */
#ifndef LUMEN_FW_IMAGE_H
#define LUMEN_FW_IMAGE_H

#include "lumen_types.h"
#include "lumen_regs.h"

#define LUMEN_FW_MAGIC		0x57464d4c	/* "LMFW" in memory order */
#define LUMEN_FW_ABI_MAJOR	1	/* bumped on incompatible change */
#define LUMEN_FW_ABI_MINOR	0	/* bumped on compatible addition */
#define LUMEN_FW_MAX_SIZE	(16u << 20)
#define LUMEN_FW_BUILD_ID_LEN	32

/* Firmware version as shown to users: major.minor.patch. */
#define LUMEN_FW_VERSION(maj, min, pat) \
	((((maj) & 0xff) << 16) | (((min) & 0xff) << 8) | ((pat) & 0xff))
#define LUMEN_FW_VERSION_MAJ(v)	(((v) >> 16) & 0xff)
#define LUMEN_FW_VERSION_MIN(v)	(((v) >> 8) & 0xff)
#define LUMEN_FW_VERSION_PAT(v)	((v) & 0xff)

/**
 * struct lumen_fw_header - first 64 bytes of a firmware image
 * @magic: LUMEN_FW_MAGIC
 * @abi_major: firmware ABI the image implements; must equal the device's
 * @abi_minor: compatible additions; the device runs min(image, device)
 * @header_size: sizeof(struct lumen_fw_header), exactly 64 in ABI major 1
 * @image_size: header plus payload, bytes; at most LUMEN_FW_MAX_SIZE
 * @fw_version: LUMEN_FW_VERSION(major, minor, patch)
 * @payload_crc32: CRC-32 (IEEE 802.3) of the payload
 * @flags: must be zero
 * @header_crc32: CRC-32 of the header with this field set to zero
 * @build_id: NUL-padded ASCII build identification
 */
struct lumen_fw_header {
	lumen_le32 magic;
	lumen_le16 abi_major;
	lumen_le16 abi_minor;
	lumen_le32 header_size;
	lumen_le32 image_size;
	lumen_le32 fw_version;
	lumen_le32 payload_crc32;
	lumen_le32 flags;
	lumen_le32 header_crc32;
	char build_id[LUMEN_FW_BUILD_ID_LEN];
};
LUMEN_CHECK_SIZE(struct lumen_fw_header, 64);
LUMEN_CHECK_OFFSET(struct lumen_fw_header, abi_major, 4);
LUMEN_CHECK_OFFSET(struct lumen_fw_header, header_size, 8);
LUMEN_CHECK_OFFSET(struct lumen_fw_header, image_size, 12);
LUMEN_CHECK_OFFSET(struct lumen_fw_header, fw_version, 16);
LUMEN_CHECK_OFFSET(struct lumen_fw_header, payload_crc32, 20);
LUMEN_CHECK_OFFSET(struct lumen_fw_header, flags, 24);
LUMEN_CHECK_OFFSET(struct lumen_fw_header, header_crc32, 28);
LUMEN_CHECK_OFFSET(struct lumen_fw_header, build_id, 32);

/**
 * lumen_crc32() - CRC-32 (IEEE 802.3, reflected, poly 0xedb88320)
 * @crc: 0 to start, or the result of the previous call to continue
 * @buf: bytes
 * @len: number of bytes
 *
 * Bitwise and table-free: images are checked once per boot, and one
 * definition shared by device, driver and tools cannot disagree.
 *
 * Return: the CRC of everything fed so far.
 */
static inline uint32_t lumen_crc32(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/**
 * lumen_fw_header_crc32() - CRC of a header with its header_crc32 zeroed
 * @hdr: the header
 *
 * Return: the value header_crc32 must hold.
 */
static inline uint32_t lumen_fw_header_crc32(const struct lumen_fw_header *hdr)
{
	struct lumen_fw_header tmp = *hdr;

	tmp.header_crc32 = 0;
	return lumen_crc32(0, &tmp, sizeof(tmp));
}

/**
 * lumen_fw_image_check() - validate a complete firmware image
 * @image: the image bytes (need not be aligned)
 * @len: number of bytes available at @image
 *
 * Checks, in this order, so the first failure is the one reported: length
 * covers a header (BAD_SIZE), magic (BAD_MAGIC), header_size and image_size
 * against @len and LUMEN_FW_MAX_SIZE (BAD_SIZE), header CRC (BAD_CHECKSUM),
 * ABI major (BAD_ABI), flags (RESERVED_SET), payload CRC (BAD_CHECKSUM).
 *
 * Return: LUMEN_STATUS_OK or the LUMEN_STATUS_* code of the first failure.
 */
static inline enum lumen_status lumen_fw_image_check(const void *image, size_t len)
{
	struct lumen_fw_header hdr;
	const unsigned char *bytes = (const unsigned char *)image;
	uint32_t hsize, isize;
	size_t i;

	if (len < sizeof(hdr))
		return LUMEN_STATUS_BAD_SIZE;
	for (i = 0; i < sizeof(hdr); i++)
		((unsigned char *)&hdr)[i] = bytes[i];
	if (lumen_le32_to_cpu(hdr.magic) != LUMEN_FW_MAGIC)
		return LUMEN_STATUS_BAD_MAGIC;
	hsize = lumen_le32_to_cpu(hdr.header_size);
	isize = lumen_le32_to_cpu(hdr.image_size);
	if (hsize != sizeof(hdr) || isize < hsize || isize > LUMEN_FW_MAX_SIZE ||
	    isize != len)
		return LUMEN_STATUS_BAD_SIZE;
	if (lumen_le32_to_cpu(hdr.header_crc32) != lumen_fw_header_crc32(&hdr))
		return LUMEN_STATUS_BAD_CHECKSUM;
	if (lumen_le16_to_cpu(hdr.abi_major) != LUMEN_FW_ABI_MAJOR)
		return LUMEN_STATUS_BAD_ABI;
	if (hdr.flags != 0)
		return LUMEN_STATUS_RESERVED_SET;
	if (lumen_le32_to_cpu(hdr.payload_crc32) !=
	    lumen_crc32(0, bytes + hsize, isize - hsize))
		return LUMEN_STATUS_BAD_CHECKSUM;
	return LUMEN_STATUS_OK;
}

/**
 * lumen_fw_header_seal() - fill in a header's sizes and checksums
 * @hdr: header with magic, ABI, version and build id already set
 * @payload: the payload that follows the header
 * @payload_len: its length; header plus payload must fit LUMEN_FW_MAX_SIZE
 *
 * Return: LUMEN_STATUS_OK, or LUMEN_STATUS_BAD_SIZE if the image is too big.
 */
static inline enum lumen_status lumen_fw_header_seal(struct lumen_fw_header *hdr,
						     const void *payload,
						     size_t payload_len)
{
	if (payload_len > LUMEN_FW_MAX_SIZE - sizeof(*hdr))
		return LUMEN_STATUS_BAD_SIZE;
	hdr->header_size = lumen_cpu_to_le32((uint32_t)sizeof(*hdr));
	hdr->image_size = lumen_cpu_to_le32((uint32_t)(sizeof(*hdr) + payload_len));
	hdr->payload_crc32 = lumen_cpu_to_le32(lumen_crc32(0, payload, payload_len));
	hdr->header_crc32 = lumen_cpu_to_le32(lumen_fw_header_crc32(hdr));
	return LUMEN_STATUS_OK;
}

#endif /* LUMEN_FW_IMAGE_H */
