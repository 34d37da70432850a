/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * Lumen N1 accelerator uAPI: ioctls of /dev/accel/accelN bound to lumen.ko.
 *
 * Rules every structure here follows, so the ABI can be kept forever:
 * fields have explicit sizes and explicit padding; every reserved field and
 * every unknown flag bit must be zero and the kernel rejects the call with
 * -EINVAL otherwise; user pointers are __u64; structures only grow at the
 * end, and variable-size outputs carry their size (see &drm_lumen_query).
 *
 * Core DRM ioctls: an accel file has no DRM master and no modesetting, so
 * of the DRM core range (numbers outside DRM_COMMAND_BASE..DRM_COMMAND_END)
 * only these are accepted: DRM_IOCTL_VERSION, DRM_IOCTL_GET_CAP,
 * DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_PRIME_HANDLE_TO_FD,
 * DRM_IOCTL_PRIME_FD_TO_HANDLE and every DRM_IOCTL_SYNCOBJ_* ioctl
 * (CREATE, DESTROY, HANDLE_TO_FD, FD_TO_HANDLE, WAIT, RESET, SIGNAL,
 * TIMELINE_WAIT, QUERY, TRANSFER, TIMELINE_SIGNAL, EVENTFD). Every other
 * core ioctl (legacy, master/auth, GEM flink/open, modesetting) fails with
 * -EOPNOTSUPP, and a command whose ioctl type is not 'd' with -ENOTTY,
 * before the DRM core sees it. The syncobj ioctls that take an array of
 * handles (WAIT, TIMELINE_WAIT, RESET, SIGNAL, QUERY, TIMELINE_SIGNAL)
 * accept at most DRM_LUMEN_MAX_SYNCOBJ_HANDLES of them (-EINVAL beyond).
 *
 * Device resets: when the card is reset (it halted, its firmware crashed or
 * stopped answering, a queue hung twice in a row, a PCI function reset,
 * a resume that found the card's state gone), a new reset generation
 * starts. A file opened before gets -ENODEV from every ioctl, core ones
 * included, and can only be closed; its jobs that had not completed fail
 * with -ENODEV (WAIT status, fence error). Files opened afterwards work
 * normally. The card's sysfs directory (the PCI device) has reset_count,
 * reset_reason and state, and every reset sends a KOBJ_CHANGE uevent with
 * LUMEN_EVENT=reset, LUMEN_RESET_COUNT, LUMEN_RESET_REASON and
 * LUMEN_RESET_RESULT.
 *
 * Device contexts: opening the file takes none of the card's
 * DRM_LUMEN_PARAM_NUM_CONTEXTS MMU contexts; the first VM_BIND map or
 * QUEUE_CREATE does (-EBUSY when all are in use), so monitoring tools can
 * open the card freely.
 *
 * Per-file limits (module parameters of lumen.ko, readable in
 * /sys/module/lumen/parameters): max_file_queues queues (QUEUE_CREATE
 * -EBUSY beyond), max_file_jobs jobs submitted and not yet completed
 * (SUBMIT -EAGAIN beyond: wait for a job and retry), max_file_mappings
 * VM_BIND mappings (-ENOSPC beyond). Kernel memory allocated for a file is
 * charged to the opener's memory cgroup.
 *
 * DRM fdinfo (/proc/PID/fdinfo/FD) shows drm-engine-dma, per-region
 * drm-total/shared/resident-{device,host} and the lumen-* keys documented
 * in kmod/lumen_fdinfo.c.
 */
#ifndef _UAPI_LUMEN_ACCEL_H_
#define _UAPI_LUMEN_ACCEL_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

/* Most handles one syncobj array ioctl may name on a lumen file. */
#define DRM_LUMEN_MAX_SYNCOBJ_HANDLES	65536

/*
 * Reported by DRM_IOCTL_VERSION (drmGetVersion()) as major.minor.patch.
 * 1.1: core-ioctl allow-list, reset generations, QUERY_LIMITS, the command
 * format and priorities in this header, SUBMIT extensions, absolute WAIT
 * deadlines.
 * 1.2: the link engine: remote windows, the RWRITE/RREAD/RATOMIC commands,
 * DRM_LUMEN_QUERY_LINK, and the admin ioctls for routes, ports and
 * management packets.
 * 1.3: reductions: the REDUCE and RREDUCE commands, DRM_LUMEN_CAP_REDUCE.
 * 1.4: user-mode queues: DRM_LUMEN_CAP_USER_QUEUES and the UQ_* ioctls.
 */
#define DRM_LUMEN_UAPI_MAJOR	1
#define DRM_LUMEN_UAPI_MINOR	4

#define DRM_LUMEN_GET_PARAM	0x00
#define DRM_LUMEN_QUERY		0x01
#define DRM_LUMEN_BO_CREATE	0x02
#define DRM_LUMEN_BO_INFO	0x03
#define DRM_LUMEN_VM_BIND	0x04
#define DRM_LUMEN_QUEUE_CREATE	0x05
#define DRM_LUMEN_QUEUE_DESTROY	0x06
#define DRM_LUMEN_SUBMIT	0x07
#define DRM_LUMEN_WAIT		0x08
#define DRM_LUMEN_WINDOW_OPEN	0x09
#define DRM_LUMEN_WINDOW_CLOSE	0x0a
#define DRM_LUMEN_ROUTE		0x0b
#define DRM_LUMEN_PORT_CTRL	0x0c
#define DRM_LUMEN_MGMT_SEND	0x0d
#define DRM_LUMEN_MGMT_RECV	0x0e
#define DRM_LUMEN_UQ_CREATE	0x0f
#define DRM_LUMEN_UQ_DESTROY	0x10
#define DRM_LUMEN_UQ_WAIT	0x11
#define DRM_LUMEN_UQ_FENCE	0x12

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
 * @DRM_LUMEN_PARAM_NUM_CONTEXTS: device MMU contexts: open files that have
 *	bound memory or created a queue, at once
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
/* Link ports train and report state (sysfs links/); LINKS is the engine. */
#define DRM_LUMEN_CAP_LINK_PORTS	(1ULL << 7)
/* The DMA engine reduces: DRM_LUMEN_CMD_REDUCE; with LINKS, RREDUCE. */
#define DRM_LUMEN_CAP_REDUCE		(1ULL << 8)
/* User-mode queues: DRM_IOCTL_LUMEN_UQ_CREATE and the other UQ_* ioctls. */
#define DRM_LUMEN_CAP_USER_QUEUES	(1ULL << 9)

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
 * @DRM_LUMEN_QUERY_CONTEXT_STATUS: &struct drm_lumen_context_status of the
 *	calling file's context
 * @DRM_LUMEN_QUERY_MEMORY: &struct drm_lumen_memory_info
 * @DRM_LUMEN_QUERY_LIMITS: &struct drm_lumen_limits
 * @DRM_LUMEN_QUERY_LINK: &struct drm_lumen_link_info (DRM_LUMEN_CAP_LINKS)
 */
enum drm_lumen_query_type {
	DRM_LUMEN_QUERY_DEVICE_INFO = 0,
	DRM_LUMEN_QUERY_TELEMETRY = 1,
	DRM_LUMEN_QUERY_CONTEXT_STATUS = 2,
	DRM_LUMEN_QUERY_MEMORY = 3,
	DRM_LUMEN_QUERY_LIMITS = 4,
	DRM_LUMEN_QUERY_LINK = 5,
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
 * DRM_LUMEN_QUERY_TELEMETRY, DRM_LUMEN_CAP_LINKS for DRM_LUMEN_QUERY_LINK,
 * also when @size is 0); -ENODEV once the card has been removed. On
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

/**
 * struct drm_lumen_context_status - health of the caller's device context
 * @flags: DRM_LUMEN_CTX_* bits
 * @fault_kind: MMU fault kind of the first fault (enum lumen_mmu_fault of
 *	firmware-iface), 0 if none
 * @fault_addr: device virtual address of the first fault
 * @fault_queue: queue id (from DRM_IOCTL_LUMEN_QUEUE_CREATE or _UQ_CREATE)
 *	that faulted or timed out first
 * @fault_access: 1 if the faulting access was a write, 0 for a read
 * @error: negative errno that failed the context's jobs (-EFAULT after an
 *	MMU fault, -ETIMEDOUT after a hang, -EIO after a device error), 0 if
 *	none
 * @faults: MMU faults of this context since it was opened
 * @timeouts: job timeouts of this context since it was opened
 *
 * A context with DRM_LUMEN_CTX_BANNED set accepts no more submissions
 * (-ECANCELED); the file must be closed and reopened. Other contexts are
 * not affected.
 */
struct drm_lumen_context_status {
	__u32 flags;
	__u32 fault_kind;
	__u64 fault_addr;
	__u32 fault_queue;
	__u32 fault_access;
	__s32 error;
	__u32 faults;
	__u32 timeouts;
	__u32 pad;
};

#define DRM_LUMEN_CTX_FAULTED	(1U << 0)	/* an MMU fault was reported */
#define DRM_LUMEN_CTX_HUNG	(1U << 1)	/* a job timed out */
#define DRM_LUMEN_CTX_BANNED	(1U << 2)	/* no further submissions */

/**
 * struct drm_lumen_memory_info - device memory use (DRM_LUMEN_QUERY_MEMORY)
 * @total: device memory the driver manages, bytes
 * @free: device memory not allocated to any buffer object, bytes
 * @ctx_device_bytes: device memory held by the caller's buffer objects
 * @ctx_host_bytes: host memory held by the caller's buffer objects
 *	(shmem and user pointer)
 * @ctx_bo_count: buffer objects the caller holds handles to
 * @pad: zero
 */
struct drm_lumen_memory_info {
	__u64 total;
	__u64 free;
	__u64 ctx_device_bytes;
	__u64 ctx_host_bytes;
	__u32 ctx_bo_count;
	__u32 pad;
};

/**
 * struct drm_lumen_limits - what this card and driver accept
 *	(DRM_LUMEN_QUERY_LIMITS), so programs need no compile-time constants
 * @max_bo_size: largest BO_CREATE size, bytes (device BOs are further
 *	bounded by the free device memory)
 * @va_user_start: first device VA a context may bind
 * @va_user_end: end (exclusive) of the bindable device VA range
 * @max_cmd_bytes: largest size of one COPY or FILL command, bytes
 * @num_queues: hardware DMA queues
 * @num_contexts: device contexts (open files that bound memory or created
 *	a queue, at once)
 * @max_cmds: most commands one SUBMIT may carry
 * @max_bos: most BO handles one SUBMIT may name
 * @max_syncs: most in-syncs, and most out-syncs, of one SUBMIT
 * @max_extensions: most extensions one ioctl may chain
 * @max_file_queues: queues one open file may have (module parameter)
 * @max_file_jobs: jobs one open file may have in flight (module parameter)
 * @max_file_mappings: VM_BIND mappings one open file may have (module
 *	parameter)
 * @cmd_version: DRM_LUMEN_CMD_VERSION of the command format SUBMIT takes
 * @job_timeout_ms: a job making no progress for this long is hung
 * @pad: zero
 */
struct drm_lumen_limits {
	__u64 max_bo_size;
	__u64 va_user_start;
	__u64 va_user_end;
	__u64 max_cmd_bytes;
	__u32 num_queues;
	__u32 num_contexts;
	__u32 max_cmds;
	__u32 max_bos;
	__u32 max_syncs;
	__u32 max_extensions;
	__u32 max_file_queues;
	__u32 max_file_jobs;
	__u32 max_file_mappings;
	__u32 cmd_version;
	__u32 job_timeout_ms;
	__u32 pad;
};

/*
 * Buffer objects.
 *
 * A buffer object (BO) is memory the device can reach once it is mapped
 * into a context's device address space with DRM_IOCTL_LUMEN_VM_BIND. It
 * lives in one of three places, chosen at creation and never moved.
 */
#define DRM_LUMEN_BO_DEVICE	(1U << 0)	/* device memory (BAR2) */
#define DRM_LUMEN_BO_HOST	(1U << 1)	/* host memory (shmem, pinned) */
#define DRM_LUMEN_BO_USERPTR	(1U << 2)	/* the caller's own pages, pinned */
#define DRM_LUMEN_BO_READ_ONLY	(1U << 3)	/* USERPTR only: device may not write */

/* Largest BO: the largest device memory a card can have. */
#define DRM_LUMEN_BO_MAX_SIZE	(16ULL << 30)

/**
 * struct drm_lumen_bo_create - create a buffer object
 * @size: in, bytes, non-zero and at most DRM_LUMEN_BO_MAX_SIZE; rounded up
 *	to the page size; out, the size allocated
 * @flags: in, exactly one of DRM_LUMEN_BO_DEVICE, DRM_LUMEN_BO_HOST or
 *	DRM_LUMEN_BO_USERPTR, plus DRM_LUMEN_BO_READ_ONLY with USERPTR only
 * @handle: out, GEM handle in the calling file
 * @userptr: in, with DRM_LUMEN_BO_USERPTR: page-aligned address of @size
 *	bytes of the caller's memory, which stay pinned until the BO is freed;
 *	must be 0 otherwise
 * @reserved: must be zero
 *
 * Errors: -EINVAL for bad flags, sizes or alignment, or reserved fields set;
 * -ENOMEM / -ENOSPC when host / device memory is exhausted (-ENOMEM also
 * for a HOST BO larger than the pinned-host budget, see VM_BIND); -EFAULT
 * if @userptr does not cover mapped memory.
 */
struct drm_lumen_bo_create {
	__u64 size;
	__u32 flags;
	__u32 handle;
	__u64 userptr;
	__u64 reserved;
};

/**
 * struct drm_lumen_bo_info - describe a buffer object
 * @handle: in, GEM handle
 * @flags: out, the DRM_LUMEN_BO_* flags it was created with
 * @size: out, bytes
 * @mmap_offset: out, offset to pass to mmap(2) on the accel fd to map the
 *	BO into the process (device memory write-combined through the BAR);
 *	0 for USERPTR BOs, which are the caller's memory already
 * @reserved: must be zero
 */
struct drm_lumen_bo_info {
	__u32 handle;
	__u32 flags;
	__u64 size;
	__u64 mmap_offset;
	__u64 reserved;
};

/*
 * Device virtual addresses a context may bind: [DRM_LUMEN_VA_USER_START,
 * DRM_LUMEN_VA_USER_END). Addresses below are the kernel's (fence pages).
 */
#define DRM_LUMEN_VA_USER_START	(1ULL << 32)
#define DRM_LUMEN_VA_USER_END	(1ULL << 47)

#define DRM_LUMEN_VM_MAP	0
#define DRM_LUMEN_VM_UNMAP	1

#define DRM_LUMEN_VM_READ_ONLY	(1U << 0)	/* MAP: the device may not write */

/**
 * struct drm_lumen_vm_bind - map or unmap a BO range in the device VA space
 * @op: DRM_LUMEN_VM_MAP or DRM_LUMEN_VM_UNMAP
 * @handle: MAP: GEM handle of the BO; UNMAP: must be zero
 * @va: device virtual address, 4 KiB aligned, inside the user VA range
 * @offset: MAP: byte offset in the BO, 4 KiB aligned; UNMAP: must be zero
 * @size: bytes, non-zero, 4 KiB aligned; MAP: @offset + @size within the
 *	BO; UNMAP: must be exactly one earlier mapping at @va
 * @flags: MAP: DRM_LUMEN_VM_READ_ONLY (forced for READ_ONLY user pointers);
 *	UNMAP: must be zero
 * @reserved: must be zero
 *
 * A MAP may not overlap an existing mapping (-EEXIST). Mappings where @va,
 * @offset and the backing are 2 MiB aligned use 2 MiB device pages. A
 * mapping holds a reference on its BO: freeing the handle does not unmap.
 * Unmapping while a job that uses the range runs is the caller's bug: the
 * job faults, no other context is affected.
 *
 * Errors: -EINVAL for a bad op, flags, alignment, VA range, offset or size
 * (overflowing sums included) or reserved fields; -ENOENT for an unknown
 * handle (MAP) or when no mapping starts at @va (UNMAP); -EINVAL when the
 * mapping at @va has another @size (UNMAP); -EEXIST for an overlap (MAP);
 * -ENOSPC when the file has max_file_mappings mappings (MAP); -EBUSY when
 * the file needs a device context and all are in use (MAP), or for a
 * mapping an open remote window reaches into (UNMAP, see
 * &drm_lumen_window_open); -ENOMEM when
 * mapping a HOST BO would pin more host memory than all lumen cards
 * together may (module parameter max_pinned_host_mb, default half of RAM).
 */
struct drm_lumen_vm_bind {
	__u32 op;
	__u32 handle;
	__u64 va;
	__u64 offset;
	__u64 size;
	__u32 flags;
	__u32 reserved;
};

/**
 * struct drm_lumen_link_info - this chip on the fabric (DRM_LUMEN_QUERY_LINK)
 * @chip_id: the chip's id in the supernode, what remote commands address
 * @num_ports: link ports of the chip
 * @num_windows: remote window slots of the card (all files together)
 * @route_table_size: destination chip ids are below this
 * @max_file_windows: windows one file may have open (module parameter)
 * @ports_up: bit p set: port p is UP
 * @reserved: zero
 *
 * Port details (state, neighbour, counters) are in sysfs, readable without
 * opening the device: /sys/bus/pci/devices/BDF/links/portN/.
 */
struct drm_lumen_link_info {
	__u32 chip_id;
	__u32 num_ports;
	__u32 num_windows;
	__u32 route_table_size;
	__u32 max_file_windows;
	__u32 ports_up;
	__u64 reserved[4];
};

/*
 * Queue priorities. The card's DMA engine serves HIGH queues first and,
 * while any HIGH queue has work, gives NORMAL and LOW queues a smaller
 * share; the driver's scheduler uses the matching drm_sched priority.
 * HIGH needs CAP_SYS_NICE (-EPERM otherwise), like a real-time nice level.
 */
#define DRM_LUMEN_PRIORITY_NORMAL	0
#define DRM_LUMEN_PRIORITY_LOW		1
#define DRM_LUMEN_PRIORITY_HIGH		2

/**
 * struct drm_lumen_queue_create - create a submission queue
 * @flags: must be zero
 * @priority: DRM_LUMEN_PRIORITY_NORMAL (0), _LOW or _HIGH
 * @queue_id: out, id of the queue in the calling file
 * @reserved: must be zero
 *
 * A queue executes its jobs in submission order on a hardware DMA queue of
 * the card that belongs to the caller's context while the queue exists.
 * Errors: -EBUSY when every hardware queue is taken, when the file has
 * max_file_queues queues, or when the file needs a device context and all
 * are in use; -EINVAL for an unknown priority; -EPERM for HIGH without
 * CAP_SYS_NICE.
 */
struct drm_lumen_queue_create {
	__u32 flags;
	__u32 priority;
	__u32 queue_id;
	__u32 reserved;
};

/**
 * struct drm_lumen_queue_destroy - destroy a queue after its jobs finish
 * @queue_id: id from DRM_IOCTL_LUMEN_QUEUE_CREATE
 * @reserved: must be zero
 */
struct drm_lumen_queue_destroy {
	__u32 queue_id;
	__u32 reserved;
};

/**
 * struct drm_lumen_sync - a syncobj wait or signal point
 * @handle: drm_syncobj handle in the calling file
 * @flags: must be zero
 * @point: timeline point; 0 for a binary syncobj
 */
struct drm_lumen_sync {
	__u32 handle;
	__u32 flags;
	__u64 point;
};

/*
 * The command format SUBMIT takes: 64-byte commands, executed in order on
 * the queue's hardware DMA queue. The layout is versioned: this header
 * describes version DRM_LUMEN_CMD_VERSION, which DRM_LUMEN_QUERY_LIMITS
 * reports as cmd_version; a later format would be selected by a SUBMIT
 * flag, never by changing this one. Addresses are device VAs of the
 * caller's context. All fields are little-endian.
 */
#define DRM_LUMEN_CMD_VERSION		1

#define DRM_LUMEN_CMD_NOP		0	/* nothing */
#define DRM_LUMEN_CMD_COPY		1	/* dst[0, size) = src[0, size) */
#define DRM_LUMEN_CMD_FILL		2	/* dst[0, size) = 8-byte pattern repeated */
#define DRM_LUMEN_CMD_SIGNAL		3	/* *(u64 *)addr = value */
#define DRM_LUMEN_CMD_WAIT		4	/* until *(u64 *)addr >= value */
#define DRM_LUMEN_CMD_TIMESTAMP		5	/* *(u64 *)addr = device time, ns */
#define DRM_LUMEN_CMD_RWRITE		7	/* remote window[offset..) = local[0..size) */
#define DRM_LUMEN_CMD_RREAD		8	/* local[0..size) = remote window[offset..) */
#define DRM_LUMEN_CMD_RATOMIC		9	/* atomic on a remote 64-bit word */
#define DRM_LUMEN_CMD_REDUCE		10	/* dst[i] = dst[i] op src[i] */
#define DRM_LUMEN_CMD_RREDUCE		11	/* window[i] = window[i] op local[i] */

/*
 * User-mode queues only (SUBMIT refuses it): interrupt after this command,
 * which wakes DRM_IOCTL_LUMEN_UQ_WAIT callers without an arming round trip.
 */
#define DRM_LUMEN_CMD_F_IRQ		(1U << 0)
/* Earlier commands of the queue complete before this one starts. */
#define DRM_LUMEN_CMD_F_BARRIER		(1U << 1)

/* Largest size of one COPY or FILL. */
#define DRM_LUMEN_CMD_MAX_BYTES		(1ULL << 34)
/* Largest size of one RWRITE or RREAD, and the largest chip id + 1. */
#define DRM_LUMEN_CMD_REMOTE_MAX_BYTES	(1ULL << 28)
#define DRM_LUMEN_MAX_CHIPS		8192

/**
 * struct drm_lumen_cmd_copy - DRM_LUMEN_CMD_COPY arguments
 * @src: source device VA
 * @dst: destination device VA, at or above DRM_LUMEN_VA_USER_START
 * @size: bytes, at most DRM_LUMEN_CMD_MAX_BYTES
 * @reserved: must be zero
 */
struct drm_lumen_cmd_copy {
	__u64 src;
	__u64 dst;
	__u64 size;
	__u64 reserved[4];
};

/**
 * struct drm_lumen_cmd_fill - DRM_LUMEN_CMD_FILL arguments
 * @dst: destination device VA, at or above DRM_LUMEN_VA_USER_START
 * @size: bytes, at most DRM_LUMEN_CMD_MAX_BYTES
 * @pattern: byte i of the region is byte (i % 8) of the pattern
 * @reserved: must be zero
 */
struct drm_lumen_cmd_fill {
	__u64 dst;
	__u64 size;
	__u64 pattern;
	__u64 reserved[4];
};

/**
 * struct drm_lumen_cmd_fence - SIGNAL, WAIT and TIMESTAMP arguments
 * @addr: 8-byte aligned device VA; SIGNAL and TIMESTAMP write it, so it
 *	must be at or above DRM_LUMEN_VA_USER_START
 * @value: SIGNAL: the value written; WAIT: the threshold; TIMESTAMP: zero
 * @reserved: must be zero
 */
struct drm_lumen_cmd_fence {
	__u64 addr;
	__u64 value;
	__u64 reserved[5];
};

/**
 * struct drm_lumen_cmd_remote - DRM_LUMEN_CMD_RWRITE and _RREAD arguments
 * @local: device VA in the caller's context: RWRITE reads it; RREAD writes
 *	it, so it must be at or above DRM_LUMEN_VA_USER_START
 * @offset: byte offset in the target window
 * @size: bytes, at most DRM_LUMEN_CMD_REMOTE_MAX_BYTES; 0 does nothing
 * @dst_chip: target chip id (below DRM_LUMEN_MAX_CHIPS; may be this chip)
 * @window: window id on the target (from its DRM_IOCTL_LUMEN_WINDOW_OPEN)
 * @key: that window's key
 * @reserved: must be zero
 *
 * The command completes when the target acknowledged every byte. The job
 * fails with -EACCES when the target refused (no such window, wrong key,
 * out of range, missing right; nothing is written there), -EHOSTUNREACH
 * when no route leads to @dst_chip, -ETIMEDOUT when the target or a chip
 * on the path stopped answering. Commands of one queue to one chip are
 * delivered in order and exactly once.
 */
struct drm_lumen_cmd_remote {
	__u64 local;
	__u64 offset;
	__u64 size;
	__u32 dst_chip;
	__u32 window;
	__u64 key;
	__u64 reserved[2];
};

#define DRM_LUMEN_RATOMIC_FETCH_ADD	0	/* old = *w; *w += operand */
#define DRM_LUMEN_RATOMIC_SIGNAL	1	/* old = *w; *w = operand */

/**
 * struct drm_lumen_cmd_ratomic - DRM_LUMEN_CMD_RATOMIC arguments
 * @result: 8-byte aligned device VA at or above DRM_LUMEN_VA_USER_START
 *	that receives the word's old value, or 0
 * @offset: 8-byte aligned offset of the word in the target window
 * @operand: value added (FETCH_ADD) or stored (SIGNAL)
 * @dst_chip: target chip id
 * @window: window id on the target; it needs DRM_LUMEN_WINDOW_ATOMIC
 * @key: that window's key
 * @op: DRM_LUMEN_RATOMIC_*
 * @reserved0: must be zero
 * @reserved: must be zero
 *
 * Applied exactly once at the target, errors as &struct drm_lumen_cmd_remote.
 */
struct drm_lumen_cmd_ratomic {
	__u64 result;
	__u64 offset;
	__u64 operand;
	__u32 dst_chip;
	__u32 window;
	__u64 key;
	__u32 op;
	__u32 reserved0;
	__u64 reserved;
};

/* Element types of REDUCE and RREDUCE. */
#define DRM_LUMEN_DTYPE_F32		0
#define DRM_LUMEN_DTYPE_F16		1	/* IEEE binary16 */
#define DRM_LUMEN_DTYPE_BF16		2	/* bfloat16: the top half of a binary32 */
#define DRM_LUMEN_DTYPE_I32		3

/* Their operations. */
#define DRM_LUMEN_REDOP_SUM		0
#define DRM_LUMEN_REDOP_MAX		1
#define DRM_LUMEN_REDOP_MIN		2

/**
 * struct drm_lumen_cmd_reduce - DRM_LUMEN_CMD_REDUCE arguments
 * @src: device VA of the first source element
 * @dst: device VA of the first destination element, read and written, at
 *	or above DRM_LUMEN_VA_USER_START
 * @size: bytes, a multiple of the element size (4 for F32 and I32, 2 for
 *	F16 and BF16), at most DRM_LUMEN_CMD_MAX_BYTES; 0 does nothing
 * @dtype: DRM_LUMEN_DTYPE_*
 * @op: DRM_LUMEN_REDOP_*
 * @reserved: must be zero
 *
 * Needs DRM_LUMEN_CAP_REDUCE. @src and @dst are aligned to the element
 * size. Each element: both operands converted to f32 (the float types,
 * exactly) or taken as i32, the operation applied, the result rounded to
 * nearest even back to @dtype. I32 SUM wraps; float MAX and MIN give a
 * quiet NaN if either operand is a NaN, and keep the @dst operand when the
 * two compare equal (-0 and +0 too). @dst == @src reduces in place; other
 * overlaps leave @dst unspecified.
 */
struct drm_lumen_cmd_reduce {
	__u64 src;
	__u64 dst;
	__u64 size;
	__u32 dtype;
	__u32 op;
	__u64 reserved[3];
};

/**
 * struct drm_lumen_cmd_rreduce - DRM_LUMEN_CMD_RREDUCE arguments
 * @local: device VA of the first source element, aligned to the element size
 * @offset: offset of the first target element in the window, aligned
 * @size: bytes, a multiple of the element size, at most
 *	DRM_LUMEN_CMD_REMOTE_MAX_BYTES; 0 does nothing
 * @dst_chip: target chip id (below DRM_LUMEN_MAX_CHIPS; may be this chip)
 * @window: window id on the target; it needs DRM_LUMEN_WINDOW_WRITE
 * @key: that window's key
 * @dtype: DRM_LUMEN_DTYPE_*
 * @op: DRM_LUMEN_REDOP_*
 * @reserved: must be zero
 *
 * Needs DRM_LUMEN_CAP_REDUCE and DRM_LUMEN_CAP_LINKS. Each target element
 * becomes target op source, with the numerics of &struct
 * drm_lumen_cmd_reduce, exactly once (a resent packet is not reduced
 * twice); completion and errors as &struct drm_lumen_cmd_remote. The target
 * chip must have DRM_LUMEN_CAP_REDUCE too. A command that fails midway
 * (-EACCES for a window closed under it, -ETIMEDOUT) may have reduced part
 * of its 4 KiB packets: repeating it would reduce those twice.
 */
struct drm_lumen_cmd_rreduce {
	__u64 local;
	__u64 offset;
	__u64 size;
	__u32 dst_chip;
	__u32 window;
	__u64 key;
	__u32 dtype;
	__u32 op;
	__u64 reserved;
};

/**
 * struct drm_lumen_cmd - one command of a job
 * @opcode: DRM_LUMEN_CMD_*
 * @flags: DRM_LUMEN_CMD_F_* (BARRIER only)
 * @reserved0: must be zero
 * @tag: the caller's cookie, reported in MMU fault records
 * @u: the opcode's arguments; unused bytes must be zero
 * @u.copy: DRM_LUMEN_CMD_COPY
 * @u.fill: DRM_LUMEN_CMD_FILL
 * @u.fence: SIGNAL, WAIT and TIMESTAMP
 * @u.remote: RWRITE and RREAD
 * @u.ratomic: RATOMIC
 * @u.reduce: REDUCE
 * @u.rreduce: RREDUCE
 * @u.raw: all 56 bytes
 */
struct drm_lumen_cmd {
	__u8 opcode;
	__u8 flags;
	__u16 reserved0;
	__u32 tag;
	union {
		struct drm_lumen_cmd_copy copy;
		struct drm_lumen_cmd_fill fill;
		struct drm_lumen_cmd_fence fence;
		struct drm_lumen_cmd_remote remote;
		struct drm_lumen_cmd_ratomic ratomic;
		struct drm_lumen_cmd_reduce reduce;
		struct drm_lumen_cmd_rreduce rreduce;
		__u64 raw[7];
	} u;
};

/**
 * struct drm_lumen_ext - header of an ioctl extension
 * @name: DRM_LUMEN_*_EXT_* of the ioctl the chain belongs to; unknown
 *	names fail the ioctl with -EINVAL
 * @flags: must be zero
 * @next: user pointer to the next extension, 0 at the end of the chain
 *
 * Extensions grow an ioctl without growing its structure: each is this
 * header followed by its own fields. A chain holds at most
 * DRM_LUMEN_MAX_EXTENSIONS entries (-EINVAL beyond, which also stops
 * loops); each name may appear once.
 */
struct drm_lumen_ext {
	__u32 name;
	__u32 flags;
	__u64 next;
};

#define DRM_LUMEN_MAX_EXTENSIONS	16

/* SUBMIT extensions. */
#define DRM_LUMEN_SUBMIT_EXT_PRIORITY	1

/**
 * struct drm_lumen_submit_ext_priority - run a job at another priority
 * @base: name DRM_LUMEN_SUBMIT_EXT_PRIORITY
 * @priority: DRM_LUMEN_PRIORITY_*; HIGH needs CAP_SYS_NICE (-EPERM)
 * @pad: must be zero
 *
 * Jobs of one queue run in order, so a job's priority is its queue's: the
 * queue runs at @priority from this job on (until another job says
 * otherwise).
 */
struct drm_lumen_submit_ext_priority {
	struct drm_lumen_ext base;
	__u32 priority;
	__u32 pad;
};

/* Most commands one job may carry, and most BOs and syncs it may name. */
#define DRM_LUMEN_MAX_CMDS	4096
#define DRM_LUMEN_MAX_BOS	1024
#define DRM_LUMEN_MAX_SYNCS	64

/**
 * struct drm_lumen_submit - queue a job of device commands
 * @queue_id: target queue
 * @num_cmds: number of commands at @cmds, 1..DRM_LUMEN_MAX_CMDS
 * @cmds: user pointer to an array of &struct drm_lumen_cmd (format
 *	DRM_LUMEN_CMD_VERSION). Allowed opcodes: NOP, COPY, FILL, SIGNAL,
 *	WAIT, TIMESTAMP; with DRM_LUMEN_CAP_LINKS RWRITE, RREAD and RATOMIC;
 *	with DRM_LUMEN_CAP_REDUCE REDUCE, and with both RREDUCE (-EOPNOTSUPP
 *	when a capability is missing); flags: DRM_LUMEN_CMD_F_BARRIER only;
 *	every reserved byte zero; addresses are device VAs of the caller's context (an
 *	unmapped one faults the context, not the kernel). Commands may read
 *	but never write below DRM_LUMEN_VA_USER_START (the kernel's fence
 *	pages live there): such a COPY/FILL/REDUCE destination or
 *	SIGNAL/TIMESTAMP address is -EINVAL
 * @bo_handles: user pointer to __u32 GEM handles the job uses; each is kept
 *	alive until the job completes
 * @num_bos: number of handles, 0..DRM_LUMEN_MAX_BOS
 * @num_in_syncs: number of wait points at @in_syncs, 0..DRM_LUMEN_MAX_SYNCS
 * @in_syncs: user pointer to struct drm_lumen_sync the job waits for
 * @num_out_syncs: number of signal points at @out_syncs
 * @flags: must be zero
 * @out_syncs: user pointer to struct drm_lumen_sync signalled with the
 *	job's completion fence
 * @seqno: out, the job's sequence number on its queue (for
 *	DRM_IOCTL_LUMEN_WAIT)
 * @extensions: user pointer to a chain of &struct drm_lumen_ext
 *	(DRM_LUMEN_SUBMIT_EXT_*), 0 for none
 *
 * Errors: -EINVAL for a malformed command (the message in the kernel log
 * names its index and field), bad counts, reserved fields or a bad
 * extension (unknown name, flags set, a name twice, a chain longer than
 * DRM_LUMEN_MAX_EXTENSIONS); -EPERM for a HIGH priority without
 * CAP_SYS_NICE; -EFAULT for an unreadable extension; -ENOENT for
 * an unknown queue, BO or syncobj handle; -ECANCELED once the context is
 * banned; -EAGAIN when the file already has max_file_jobs jobs in flight.
 */
struct drm_lumen_submit {
	__u32 queue_id;
	__u32 num_cmds;
	__u64 cmds;
	__u64 bo_handles;
	__u32 num_bos;
	__u32 num_in_syncs;
	__u64 in_syncs;
	__u32 num_out_syncs;
	__u32 flags;
	__u64 out_syncs;
	__u64 seqno;
	__u64 extensions;
};

/**
 * struct drm_lumen_wait - wait for a job to complete
 * @queue_id: queue the job was submitted to
 * @flags: must be zero
 * @seqno: the job's &drm_lumen_submit.seqno
 * @timeout_ns: absolute deadline in nanoseconds of CLOCK_MONOTONIC (the DRM
 *	convention, as DRM_IOCTL_SYNCOBJ_WAIT); a deadline in the past,
 *	including 0, polls. Values above INT64_MAX mean no deadline. Because
 *	the deadline is absolute, a call interrupted by a signal is restarted
 *	with the same deadline, not a fresh timeout. (uAPI 1.0 took a
 *	relative timeout here; 1.1 changed it before any release.)
 * @status: out, 0 if the job completed, else its negative errno
 *	(-EFAULT MMU fault, -ETIMEDOUT hang or remote timeout, -ECANCELED
 *	context banned, -EACCES remote access refused, -EHOSTUNREACH no
 *	route to the remote chip, -EIO)
 * @reserved: must be zero
 *
 * Returns 0 when the job finished (successfully or not, see @status),
 * -ENOENT for an unknown @queue_id, -ETIME if the deadline passed first,
 * -EINVAL for a seqno not yet submitted. @status is -ENODEV for a job the
 * card lost in a device reset.
 */
struct drm_lumen_wait {
	__u32 queue_id;
	__u32 flags;
	__u64 seqno;
	__u64 timeout_ns;
	__s32 status;
	__u32 reserved;
};

/*
 * User-mode queues (DRM_LUMEN_CAP_USER_QUEUES). The process owns the ring:
 * it writes 64-byte commands (the format above, &struct drm_lumen_cmd) into
 * a ring in its own device address space and the new tail index into the
 * queue's doorbell page, which it maps from the accel fd; no system call
 * per submission. The kernel checks the ring and the record only at
 * creation; the device then checks every command as it fetches it and
 * translates every address (the ring's included) through the context's
 * MMU, so a user-mode queue reaches exactly what its context maps, minus
 * the driver's own pages, and a bad command or address faults the context
 * (DRM_LUMEN_QUERY_CONTEXT_STATUS) like a bad job on a kernel queue. The
 * kernel queues stay the default: they validate commands before the
 * device sees them, order jobs by syncobjs and recover the innocent jobs
 * of a reset queue; a user-mode queue trades that for a submission that
 * costs a few stores.
 *
 * Indices: the tail written to the doorbell is a free-running 32-bit
 * count of commands; the slot of command i is i & (2^ring_order - 1); at
 * most 2^ring_order commands may be outstanding. The queue counts retired
 * commands in 64 bits ("count" below), from 0 at creation.
 *
 * Progress: the device writes &struct drm_lumen_uq_cpl whenever it leaves
 * the queue having retired commands or changed state, so polling it costs
 * no system call; DRM_IOCTL_LUMEN_UQ_WAIT sleeps on the queue's interrupt
 * instead, and DRM_IOCTL_LUMEN_UQ_FENCE puts the progress into a syncobj
 * for everyone else (sync_file export, other processes, kernel queues'
 * in-syncs). A queue that stops making progress while it has work is
 * hung: the kernel resets it and bans the context, as for a kernel queue.
 * It checks every job_timeout_ms (on a card with links, every twice the
 * remote commands' end-to-end timeout if that is longer, so a command
 * waiting for a slow peer fails by itself first), and a hang shows at the
 * second check without progress. A device reset or a system suspend loses
 * the queue (-ENODEV).
 */
#define DRM_LUMEN_UQ_ORDER_MIN	4	/* 16 commands */
#define DRM_LUMEN_UQ_ORDER_MAX	16	/* 65536 commands */

/* &drm_lumen_uq_cpl.status */
#define DRM_LUMEN_UQ_IDLE	0	/* every command submitted has retired */
#define DRM_LUMEN_UQ_RUNNING	1
#define DRM_LUMEN_UQ_STOPPED	2	/* a command failed; error says why */

/**
 * struct drm_lumen_uq_cpl - completion record of a user-mode queue
 * @completed: commands retired, 64-bit count; written after @status and
 *	@error, untorn: once it reads n, the first n commands' writes are
 *	visible
 * @status: DRM_LUMEN_UQ_IDLE, _RUNNING or _STOPPED
 * @error: for STOPPED, the device's status code (hw-spec enum lumen_status:
 *	5 BAD_DESCRIPTOR, 6 MMU_FAULT, 7 DMA_ERROR, ...)
 *
 * Written by the device; the kernel never writes it, so after a hang or a
 * device reset it simply stops moving: DRM_IOCTL_LUMEN_UQ_WAIT tells why.
 */
struct drm_lumen_uq_cpl {
	__u64 completed;
	__u32 status;
	__u32 error;
};

/**
 * struct drm_lumen_uq_create - create a user-mode queue
 * @flags: must be zero
 * @priority: DRM_LUMEN_PRIORITY_NORMAL, _LOW or _HIGH (CAP_SYS_NICE)
 * @ring_va: device VA of the ring: 2^@ring_order commands, 4 KiB aligned,
 *	wholly inside VM_BIND mappings of the caller's context
 * @cpl_va: device VA of the &struct drm_lumen_uq_cpl, 16-byte aligned,
 *	inside a writable VM_BIND mapping of the caller's context
 * @ring_order: log2 of the ring's commands, DRM_LUMEN_UQ_ORDER_MIN to _MAX
 * @queue_id: out, the queue's id (the same id space as kernel queues; a
 *	SUBMIT to it fails -ENOENT)
 * @doorbell_offset: out, the fake offset to mmap() the queue's 4 KiB
 *	doorbell page at, MAP_SHARED, on this fd only; a 32-bit store of the
 *	new tail at offset 0 starts the device. After destroy, unplug or a
 *	device reset the page is replaced by a scratch page that swallows
 *	stores, so a late store never faults the process.
 * @reserved: must be zero
 *
 * The mappings must outlive the queue; unmapping them while it runs
 * faults the context at the next fetch. Errors: -EINVAL for flags,
 * reserved, order or alignment; -EFAULT if the ring or record is not
 * mapped as required; -EPERM for HIGH without CAP_SYS_NICE; -EOPNOTSUPP
 * without DRM_LUMEN_CAP_USER_QUEUES; -EBUSY when every hardware queue is
 * taken or the file has max_file_queues queues; -ECANCELED for a banned
 * context; -ENOMEM; -ENODEV once the card is gone or was reset.
 */
struct drm_lumen_uq_create {
	__u32 flags;
	__u32 priority;
	__u64 ring_va;
	__u64 cpl_va;
	__u32 ring_order;
	__u32 queue_id;
	__u64 doorbell_offset;
	__u64 reserved;
};

/**
 * struct drm_lumen_uq_destroy - destroy a user-mode queue at once
 * @queue_id: id from DRM_IOCTL_LUMEN_UQ_CREATE
 * @reserved: must be zero
 *
 * Stops the queue where it is (a command in progress is abandoned): the
 * caller waits for what it needs first. Fences of the queue still pending
 * fail with -ECANCELED. -ENOENT for an unknown id.
 */
struct drm_lumen_uq_destroy {
	__u32 queue_id;
	__u32 reserved;
};

/**
 * struct drm_lumen_uq_wait - sleep until a user-mode queue reaches a count
 * @queue_id: the queue
 * @flags: must be zero
 * @count: commands retired to wait for; at most what the doorbell was
 *	given so far (-EINVAL beyond: the device would never get there)
 * @timeout_ns: absolute CLOCK_MONOTONIC deadline, as in &drm_lumen_wait;
 *	in the past (0 included) polls, above INT64_MAX waits for ever
 * @completed: out, commands retired when the call returned
 * @status: out, 0, or the queue's negative errno once it failed: -EFAULT
 *	MMU fault, -EIO bad command or DMA error, -ETIMEDOUT hang or a
 *	remote command's target not answering, -EACCES remote access
 *	refused, -EHOSTUNREACH no route to the remote chip (these three
 *	stop the queue but leave the context usable), -ECANCELED context
 *	banned by another queue's failure or queue destroyed, -ENODEV lost
 *	in a device reset
 * @reserved: must be zero
 *
 * Returns 0 when @count was reached or the queue failed (see @status),
 * -ETIME if the deadline passed first, -ENOENT for an unknown queue.
 */
struct drm_lumen_uq_wait {
	__u32 queue_id;
	__u32 flags;
	__u64 count;
	__u64 timeout_ns;
	__u64 completed;
	__s32 status;
	__u32 reserved;
};

/**
 * struct drm_lumen_uq_fence - a user-mode queue's progress as a dma_fence
 * @queue_id: the queue
 * @flags: must be zero
 * @count: the fence signals once the queue retired @count commands, or
 *	with the queue's errno once it failed; at most what the doorbell was
 *	given so far (-EINVAL beyond), so the fence always signals
 * @handle: a syncobj of the caller that receives the fence
 * @reserved: must be zero
 * @point: timeline point to add the fence at, or 0 to replace the fence
 *	of a binary syncobj
 *
 * Export the syncobj as a sync_file (DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD with
 * DRM_SYNCOBJ_HANDLE_TO_FD_FLAGS_EXPORT_SYNC_FILE) to hand the progress to
 * another process or driver. -ENOENT for an unknown queue or syncobj.
 */
struct drm_lumen_uq_fence {
	__u32 queue_id;
	__u32 flags;
	__u64 count;
	__u32 handle;
	__u32 reserved;
	__u64 point;
};

#define DRM_LUMEN_WINDOW_READ	(1U << 0)	/* remote chips may read */
#define DRM_LUMEN_WINDOW_WRITE	(1U << 1)	/* remote chips may write */
#define DRM_LUMEN_WINDOW_ATOMIC	(1U << 2)	/* remote chips may RATOMIC */

/**
 * struct drm_lumen_window_open - let other chips access a VA range
 * @va: start, 4 KiB aligned, at or above DRM_LUMEN_VA_USER_START
 * @size: bytes, non-zero, 4 KiB multiple; [@va, @va + @size) must be
 *	covered by the caller's mappings (DRM_IOCTL_LUMEN_VM_BIND)
 * @flags: DRM_LUMEN_WINDOW_* rights, at least one; WRITE and ATOMIC need
 *	writable mappings
 * @window: out, the window id remote commands name
 * @key: out, a random 64-bit key remote commands must present
 * @reserved: must be zero
 *
 * Like an RDMA memory registration: the caller hands @window and @key to
 * its peers (over its own channels); remote commands from any chip with
 * both may then access the range with the given rights, through the
 * caller's device context. The window stays open until
 * DRM_IOCTL_LUMEN_WINDOW_CLOSE or the file is closed; unmapping any part
 * of it meanwhile fails with -EBUSY. A device reset ends it on the card:
 * the file, like every file opened before a reset, can then only be closed
 * (see "Device resets"), remote commands to its windows fail with -EACCES,
 * and their ids stay taken until it is closed.
 *
 * Errors: -EOPNOTSUPP without DRM_LUMEN_CAP_LINKS; -EINVAL for bad
 * alignment, size, flags or reserved fields; -EFAULT when the range is not
 * wholly mapped, or mapped read-only for WRITE or ATOMIC; -ENOSPC when the
 * file has max_file_windows windows or the card has none free.
 */
struct drm_lumen_window_open {
	__u64 va;
	__u64 size;
	__u32 flags;
	__u32 window;
	__u64 key;
	__u64 reserved;
};

/**
 * struct drm_lumen_window_close - close a window of the calling file
 * @window: id from DRM_IOCTL_LUMEN_WINDOW_OPEN
 * @reserved: must be zero
 *
 * Once this returns no remote command can reach the window (later ones
 * fail with -EACCES at their sender). -ENOENT for a window this file
 * does not own.
 */
struct drm_lumen_window_close {
	__u32 window;
	__u32 reserved;
};

#define DRM_LUMEN_ROUTE_GET	0
#define DRM_LUMEN_ROUTE_SET	1

/**
 * struct drm_lumen_route - read or write the chip's route table (admin)
 * @op: DRM_LUMEN_ROUTE_GET or DRM_LUMEN_ROUTE_SET
 * @first: first destination chip id
 * @count: entries, 1..DRM_LUMEN_MAX_CHIPS, @first + @count <=
 *	DRM_LUMEN_MAX_CHIPS
 * @reserved: must be zero
 * @words: user pointer to @count __u32 route words, the device format of
 *	docs/hw-spec.md 13.4 (lumen_route_word() in firmware-iface's
 *	lumen_link.h): bit 31 VALID, bits 3:0 port, 7:4 alternative port
 *	(0xf none), bit 8 lane, bit 9 FIXED_LANE, other bits zero
 *
 * Needs CAP_SYS_ADMIN (-EPERM): routes steer every chip's traffic. SET
 * checks every word first (-EINVAL for reserved bits or a port the chip
 * does not have, nothing written) and keeps the table across device
 * resets. -EOPNOTSUPP without DRM_LUMEN_CAP_LINKS.
 */
struct drm_lumen_route {
	__u32 op;
	__u32 first;
	__u32 count;
	__u32 reserved;
	__u64 words;
};

#define DRM_LUMEN_PORT_ENABLE	(1U << 0)	/* the port trains and carries traffic */
#define DRM_LUMEN_PORT_DATELINE	(1U << 1)	/* packets leaving change lane */

/**
 * struct drm_lumen_port_ctrl - read or set a link port's control (admin)
 * @port: port number, below drm_lumen_link_info.num_ports
 * @set: 1 to write @ctrl, 0 to read it
 * @ctrl: DRM_LUMEN_PORT_* (in for set, out for both)
 * @reserved: must be zero
 *
 * Needs CAP_SYS_ADMIN for set (-EPERM). The driver enables every port at
 * load; the setting survives device resets. ENABLE is the same setting as
 * sysfs links/portN/enabled. -EINVAL for a port the chip does not have,
 * unknown @ctrl bits or @set above 1; -EOPNOTSUPP without
 * DRM_LUMEN_CAP_LINKS.
 */
struct drm_lumen_port_ctrl {
	__u32 port;
	__u32 set;
	__u32 ctrl;
	__u32 reserved;
};

/* Largest management packet (struct lumen_mgmt of lumen_mgmt.h). */
#define DRM_LUMEN_MGMT_MAX	584

/**
 * struct drm_lumen_mgmt - send or receive a management packet (admin)
 * @data: user pointer to the packet (struct lumen_mgmt, lumen_mgmt.h)
 * @size: SEND: bytes at @data, 72..DRM_LUMEN_MGMT_MAX; RECV: in, bytes
 *	available (at least DRM_LUMEN_MGMT_MAX), out, bytes received
 * @flags: must be zero
 * @timeout_ns: RECV: absolute CLOCK_MONOTONIC deadline as in
 *	&struct drm_lumen_wait (0 polls); SEND: must be zero
 * @reserved: must be zero
 *
 * Directed-route management packets (docs/hw-spec.md 13.6) let a fabric
 * manager discover and program chips it has no route to. SEND needs
 * CAP_SYS_ADMIN; -EINVAL when the card refuses the packet (the kernel log
 * says why), -EHOSTUNREACH when its first port is not UP, -EBUSY when
 * that port already holds as many packets as the card queues (retry later).
 * RECV returns the oldest answer or trap that reached this chip; the driver
 * keeps at most 256 (older ones are dropped and counted in sysfs
 * links/mgmt_fifo_drops) and drops them at a device reset. RECV needs CAP_SYS_ADMIN, -ETIME when
 * the deadline passes first, -EINVAL for a @size below DRM_LUMEN_MGMT_MAX.
 * Both fail with -EOPNOTSUPP without DRM_LUMEN_CAP_LINKS.
 */
struct drm_lumen_mgmt {
	__u64 data;
	__u32 size;
	__u32 flags;
	__u64 timeout_ns;
	__u64 reserved;
};

#define DRM_IOCTL_LUMEN_GET_PARAM \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_GET_PARAM, struct drm_lumen_get_param)
#define DRM_IOCTL_LUMEN_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_QUERY, struct drm_lumen_query)
#define DRM_IOCTL_LUMEN_BO_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_BO_CREATE, struct drm_lumen_bo_create)
#define DRM_IOCTL_LUMEN_BO_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_BO_INFO, struct drm_lumen_bo_info)
#define DRM_IOCTL_LUMEN_VM_BIND \
	DRM_IOW(DRM_COMMAND_BASE + DRM_LUMEN_VM_BIND, struct drm_lumen_vm_bind)
#define DRM_IOCTL_LUMEN_QUEUE_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_QUEUE_CREATE, struct drm_lumen_queue_create)
#define DRM_IOCTL_LUMEN_QUEUE_DESTROY \
	DRM_IOW(DRM_COMMAND_BASE + DRM_LUMEN_QUEUE_DESTROY, struct drm_lumen_queue_destroy)
#define DRM_IOCTL_LUMEN_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_SUBMIT, struct drm_lumen_submit)
#define DRM_IOCTL_LUMEN_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_WAIT, struct drm_lumen_wait)
#define DRM_IOCTL_LUMEN_WINDOW_OPEN \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_WINDOW_OPEN, struct drm_lumen_window_open)
#define DRM_IOCTL_LUMEN_WINDOW_CLOSE \
	DRM_IOW(DRM_COMMAND_BASE + DRM_LUMEN_WINDOW_CLOSE, struct drm_lumen_window_close)
#define DRM_IOCTL_LUMEN_ROUTE \
	DRM_IOW(DRM_COMMAND_BASE + DRM_LUMEN_ROUTE, struct drm_lumen_route)
#define DRM_IOCTL_LUMEN_PORT_CTRL \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_PORT_CTRL, struct drm_lumen_port_ctrl)
#define DRM_IOCTL_LUMEN_MGMT_SEND \
	DRM_IOW(DRM_COMMAND_BASE + DRM_LUMEN_MGMT_SEND, struct drm_lumen_mgmt)
#define DRM_IOCTL_LUMEN_MGMT_RECV \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_MGMT_RECV, struct drm_lumen_mgmt)
#define DRM_IOCTL_LUMEN_UQ_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_UQ_CREATE, struct drm_lumen_uq_create)
#define DRM_IOCTL_LUMEN_UQ_DESTROY \
	DRM_IOW(DRM_COMMAND_BASE + DRM_LUMEN_UQ_DESTROY, struct drm_lumen_uq_destroy)
#define DRM_IOCTL_LUMEN_UQ_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_LUMEN_UQ_WAIT, struct drm_lumen_uq_wait)
#define DRM_IOCTL_LUMEN_UQ_FENCE \
	DRM_IOW(DRM_COMMAND_BASE + DRM_LUMEN_UQ_FENCE, struct drm_lumen_uq_fence)

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_LUMEN_ACCEL_H_ */
