/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 hardware/firmware contract: the one compat header.
 *
 * Every other firmware-iface header uses only the names defined here, so the
 * same headers compile unchanged in the Linux kernel, in QEMU and in
 * userspace. All multi-byte fields in device-visible structures are
 * little-endian; the lumen_leNN types document that, and the
 * lumen_leNN_to_cpu()/lumen_cpu_to_leNN() helpers convert.
 */
#ifndef LUMEN_TYPES_H
#define LUMEN_TYPES_H

#if defined(__KERNEL__)
#include <linux/types.h>
#include <linux/stddef.h>
#include <asm/byteorder.h>
typedef __le16 lumen_le16;
typedef __le32 lumen_le32;
typedef __le64 lumen_le64;
#define lumen_le16_to_cpu(x) le16_to_cpu(x)
#define lumen_le32_to_cpu(x) le32_to_cpu(x)
#define lumen_le64_to_cpu(x) le64_to_cpu(x)
#define lumen_cpu_to_le16(x) cpu_to_le16(x)
#define lumen_cpu_to_le32(x) cpu_to_le32(x)
#define lumen_cpu_to_le64(x) cpu_to_le64(x)
#define LUMEN_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
#include <stdint.h>
#include <stddef.h>
/*
 * Outside the kernel the le types are plain integers; the build machines and
 * every supported guest are little-endian, and the conversion helpers make a
 * big-endian port a matter of changing them here.
 */
typedef uint16_t lumen_le16;
typedef uint32_t lumen_le32;
typedef uint64_t lumen_le64;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "firmware-iface: big-endian hosts need byte-swapping helpers here"
#endif
#define lumen_le16_to_cpu(x) ((uint16_t)(x))
#define lumen_le32_to_cpu(x) ((uint32_t)(x))
#define lumen_le64_to_cpu(x) ((uint64_t)(x))
#define lumen_cpu_to_le16(x) ((lumen_le16)(x))
#define lumen_cpu_to_le32(x) ((lumen_le32)(x))
#define lumen_cpu_to_le64(x) ((lumen_le64)(x))
#ifdef __cplusplus
#define LUMEN_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define LUMEN_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif
#endif

/* Compile-time layout checks: size and field offsets of a wire structure. */
#define LUMEN_CHECK_SIZE(type, size) \
	LUMEN_STATIC_ASSERT(sizeof(type) == (size), #type " size")
#define LUMEN_CHECK_OFFSET(type, field, off) \
	LUMEN_STATIC_ASSERT(offsetof(type, field) == (off), #type "." #field " offset")

#endif /* LUMEN_TYPES_H */
