/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * Lumen N1 accelerator uAPI: ioctls of /dev/accel/accelN bound to lumen.ko.
 *
 * Rules every structure here follows, so the ABI can be kept forever:
 * fields have explicit sizes and explicit padding; every reserved field and
 * every unknown flag bit must be zero and the kernel rejects the call with
 * -EINVAL otherwise; user pointers are __u64; structures only grow at the
 * end, and variable-size outputs carry their size (see &drm_lumen_query).
 */
#ifndef _UAPI_LUMEN_ACCEL_H_
#define _UAPI_LUMEN_ACCEL_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

/* Reported by DRM_IOCTL_VERSION (drmGetVersion()) as major.minor.patch. */
#define DRM_LUMEN_UAPI_MAJOR	1
#define DRM_LUMEN_UAPI_MINOR	0

#define DRM_LUMEN_GET_PARAM	0x00
#define DRM_LUMEN_QUERY		0x01

/**
 * enum drm_lumen_param - values readable with DRM_IOCTL_LUMEN_GET_PARAM
 * @DRM_LUMEN_PARAM_PCI_DEVICE_ID: PCI device ID of the card
 * @DRM_LUMEN_PARAM_PCI_REVISION: PCI revision ID
 * @DRM_LUMEN_PARAM_CHIP_ID: position of the chip in the supernode
 * @DRM_LUMEN_PARAM_HW_VERSION: hardware interface version, major << 16 | minor
 * @DRM_LUMEN_PARAM_FW_VERSION: running firmware, major << 16 | minor << 8 | patch
 * @DRM_LUMEN_PARAM_FW_ABI_VERSION: negotiated firmware ABI, major << 16 | minor
 * @DRM_LUMEN_PARAM_MEM_SIZE: device memory in bytes
 * @DRM_LUMEN_PARAM_NUM_QUEUES: hardware DMA queues
 * @DRM_LUMEN_PARAM_NUM_LINK_PORTS: optical link ports
 * @DRM_LUMEN_PARAM_CAPABILITIES: DRM_LUMEN_CAP_* bits
 * @DRM_LUMEN_PARAM_NUM_CONTEXTS: device MMU contexts (concurrent open files)
 */
enum drm_lumen_param {
	DRM_LUMEN_PARAM_PCI_DEVICE_ID = 0,
	DRM_LUMEN_PARAM_PCI_REVISION = 1,
	DRM_LUMEN_PARAM_CHIP_ID = 2,
	DRM_LUMEN_PARAM_HW_VERSION = 3,
	DRM_LUMEN_PARAM_FW_VERSION = 4,
	DRM_LUMEN_PARAM_FW_ABI_VERSION = 5,
	DRM_LUMEN_PARAM_MEM_SIZE = 6,
	DRM_LUMEN_PARAM_NUM_QUEUES = 7,
	DRM_LUMEN_PARAM_NUM_LINK_PORTS = 8,
	DRM_LUMEN_PARAM_CAPABILITIES = 9,
	DRM_LUMEN_PARAM_NUM_CONTEXTS = 10,
};

/* DRM_LUMEN_PARAM_CAPABILITIES bits: what this device and driver support. */
#define DRM_LUMEN_CAP_MAILBOX		(1ULL << 0)
#define DRM_LUMEN_CAP_DMA_QUEUES	(1ULL << 1)
#define DRM_LUMEN_CAP_MMU		(1ULL << 2)
#define DRM_LUMEN_CAP_COMPUTE		(1ULL << 3)
#define DRM_LUMEN_CAP_LINKS		(1ULL << 4)
#define DRM_LUMEN_CAP_TELEMETRY		(1ULL << 5)
#define DRM_LUMEN_CAP_FAULT_INJECT	(1ULL << 6)

/**
 * struct drm_lumen_get_param - read one device parameter
 * @param: in, an &enum drm_lumen_param value; unknown values fail with -EINVAL
 * @reserved: must be zero
 * @value: out, the parameter's value
 */
struct drm_lumen_get_param {
	__u32 param;
	__u32 reserved;
	__u64 value;
};

/**
 * enum drm_lumen_query_type - structures readable with DRM_IOCTL_LUMEN_QUERY
 * @DRM_LUMEN_QUERY_DEVICE_INFO: &struct drm_lumen_device_info
 * @DRM_LUMEN_QUERY_TELEMETRY: &struct drm_lumen_telemetry
 */
enum drm_lumen_query_type {
	DRM_LUMEN_QUERY_DEVICE_INFO = 0,
	DRM_LUMEN_QUERY_TELEMETRY = 1,
};

/**
 * struct drm_lumen_query - read a variable-size information structure
 * @type: in, an &enum drm_lumen_query_type value
 * @size: in, bytes available at @data; out, the full size of the
 *	structure the kernel has. The kernel copies min(in, full) bytes, so
 *	an older program gets the prefix it knows and a newer one sees from
 *	@size how much this kernel filled. Pass 0 to ask for the size only.
 * @data: user pointer to the output buffer; may be 0 only if @size is 0
 * @flags: must be zero
 * @reserved: must be zero
 *
 * Errors: -EINVAL for an unknown @type or non-zero @flags or @reserved;
 * -EFAULT if @data cannot be written; -EOPNOTSUPP if the device lacks the
 * feature behind @type (DRM_LUMEN_CAP_TELEMETRY for
 * DRM_LUMEN_QUERY_TELEMETRY); -ENODEV once the card has been removed. On
 * error no field is updated.
 */
struct drm_lumen_query {
	__u32 type;
	__u32 size;
	__u64 data;
	__u32 flags;
	__u32 reserved;
};

#define DRM_LUMEN_SERIAL_LEN	32
#define DRM_LUMEN_BUILD_ID_LEN	32

/**
 * struct drm_lumen_device_info - identity of a card (DRM_LUMEN_QUERY_DEVICE_INFO)
 * @pci_vendor_id: PCI vendor ID
 * @pci_device_id: PCI device ID
 * @pci_revision: PCI revision ID
 * @chip_id: position of the chip in the supernode
 * @hw_version: hardware interface version, major << 16 | minor
 * @fw_version: running firmware, major << 16 | minor << 8 | patch
 * @fw_abi_version: negotiated firmware ABI, major << 16 | minor
 * @num_queues: hardware DMA queues
 * @num_link_ports: optical link ports
 * @num_contexts: device MMU contexts
 * @capabilities: DRM_LUMEN_CAP_* bits
 * @mem_size: device memory in bytes
 * @serial: board serial number, NUL-terminated
 * @fw_build_id: firmware build identification, NUL-terminated
 */
struct drm_lumen_device_info {
	__u32 pci_vendor_id;
	__u32 pci_device_id;
	__u32 pci_revision;
	__u32 chip_id;
	__u32 hw_version;
	__u32 fw_version;
	__u32 fw_abi_version;
	__u32 num_queues;
	__u32 num_link_ports;
	__u32 num_contexts;
	__u64 capabilities;
	__u64 mem_size;
	char serial[DRM_LUMEN_SERIAL_LEN];
	char fw_build_id[DRM_LUMEN_BUILD_ID_LEN];
};

/**
 * struct drm_lumen_telemetry - sensors and counters (DRM_LUMEN_QUERY_TELEMETRY)
 * @temp_mc: die temperature, milli-degrees Celsius
 * @temp_crit_mc: critical temperature, milli-degrees Celsius
 * @power_mw: board power, milliwatts
 * @power_cap_mw: power limit, milliwatts
 * @clk_core_mhz: core clock, MHz
 * @clk_mem_mhz: memory clock, MHz
 * @busy_ns: cumulative engine busy time since the last reset
 * @uptime_ns: time since the last device reset
 */
struct drm_lumen_telemetry {
	__u32 temp_mc;
	__u32 temp_crit_mc;
	__u32 power_mw;
	__u32 power_cap_mw;
	__u32 clk_core_mhz;
	__u32 clk_mem_mhz;
	__u64 busy_ns;
	__u64 uptime_ns;
};

#define DRM_IOCTL_LUMEN_GET_PARAM \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_GET_PARAM, struct drm_lumen_get_param)
#define DRM_IOCTL_LUMEN_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_QUERY, struct drm_lumen_query)

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_LUMEN_ACCEL_H_ */
