/* SPDX-License-Identifier: MIT */
/*
 * liblumen: the Lumen NPU runtime, C API.
 *
 * ABI rules (kept for the whole 1.x series, SONAME liblumen.so.1):
 * - every object is an opaque handle; its layout is private;
 * - every function returns lumen_status_t (LUMEN_SUCCESS == 0) and writes
 *   results through out-pointers; a failed call leaves out-pointers unchanged;
 * - structs passed in carry their own size in their first member
 *   (struct_size, set with LUMEN_STRUCT_INIT): the library reads only the
 *   fields it knows and that fit, so older and newer callers both work;
 * - only the lumen_* symbols below are exported (version script LUMEN_1.0).
 *
 * Errors: a failed call also records a message naming the problem, readable
 * with lumen_get_last_error() from the same thread until that thread's next
 * failing call. The library never aborts, exits or prints on its own.
 *
 * Threads: every function may be called from any thread. Devices, contexts,
 * streams, events and allocations may be shared between threads; operations
 * on one stream are ordered in the order their calls return. Destroying an
 * object while another thread still uses it is the caller's bug (the call
 * returns LUMEN_ERROR_INVALID_HANDLE where detectable).
 *
 * Faults: a device MMU fault or a job timeout in a context makes that
 * context's error sticky: every later call on it and on its streams returns
 * the same status (LUMEN_ERROR_DEVICE_FAULT or LUMEN_ERROR_TIMEOUT), and
 * lumen_context_get_fault() tells the faulting address and kind. Other
 * contexts, on the same device or not, are unaffected.
 */
#ifndef LUMEN_LUMEN_H
#define LUMEN_LUMEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LUMEN_API __attribute__((visibility("default")))
#else
#define LUMEN_API
#endif

#define LUMEN_VERSION_MAJOR 1
#define LUMEN_VERSION_MINOR 1
#define LUMEN_VERSION_PATCH 0

/** Status codes. Values never change meaning; new ones are only added. */
typedef enum lumen_status {
	LUMEN_SUCCESS = 0,
	LUMEN_ERROR_INVALID_ARGUMENT = 1, /**< a parameter is NULL, out of range or inconsistent */
	LUMEN_ERROR_INVALID_HANDLE = 2,   /**< a handle is NULL, destroyed or of another kind */
	LUMEN_ERROR_OUT_OF_MEMORY = 3,    /**< host memory exhausted */
	LUMEN_ERROR_OUT_OF_DEVICE_MEMORY = 4, /**< device memory exhausted */
	LUMEN_ERROR_NO_DEVICE = 5,        /**< no such device, or it went away */
	LUMEN_ERROR_NOT_READY = 6,        /**< query: work still pending (not an error) */
	LUMEN_ERROR_DEVICE_FAULT = 7,     /**< sticky: the context's work hit an MMU fault */
	/**
	 * sticky: the context's work hung and was reset; from a remote
	 * operation (not sticky, see "Peer memory"): the target or a chip on
	 * the way stopped answering
	 */
	LUMEN_ERROR_TIMEOUT = 8,
	LUMEN_ERROR_WRONG_DEVICE = 9,     /**< objects of different devices/contexts mixed */
	LUMEN_ERROR_BUSY = 10,            /**< a resource is in use (e.g. all hardware queues) */
	LUMEN_ERROR_NOT_SUPPORTED = 11,   /**< the device or driver lacks the feature */
	LUMEN_ERROR_SYSTEM = 12,          /**< an OS call failed; the message has errno */
	LUMEN_ERROR_DEVICE_ERROR = 13,    /**< sticky: the device reported an error (-EIO) */
	LUMEN_ERROR_DRIVER_VERSION = 14,  /**< lumen.ko's uAPI is incompatible */
	/**
	 * sticky: the card was reset (or removed) under the context; its
	 * work, memory and queues are gone. Destroy the context and create a
	 * new one: contexts created after the reset work normally.
	 */
	LUMEN_ERROR_DEVICE_LOST = 15,
	/**
	 * A remote operation was refused by its target chip: no such window,
	 * a closed one, a wrong key, a range beyond the window, a missing
	 * right, or a target page unmapped or read-only. Nothing was written
	 * at the target. (1.1)
	 */
	LUMEN_ERROR_REMOTE_ACCESS = 16,
	/** No route leads to the remote chip, or the packet's TTL ran out. (1.1) */
	LUMEN_ERROR_UNREACHABLE = 17,
	/** A chip id or port that the supernode does not have. (1.1) */
	LUMEN_ERROR_INVALID_CHIP = 18,
	/**
	 * No fabric manager answers on this host (lumen-fm is not running,
	 * or not yet routing): fabric queries need one. (1.1)
	 */
	LUMEN_ERROR_FABRIC_UNAVAILABLE = 19,
	/** A peer copy between contexts whose peer access is not enabled. (1.1) */
	LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED = 20,
} lumen_status_t;

/** Short constant name of a status, e.g. "LUMEN_ERROR_TIMEOUT". */
LUMEN_API const char *lumen_status_string(lumen_status_t status);

/**
 * Message of the calling thread's last failed call, e.g. "lumen_malloc:
 * size 0 is invalid". Valid until the thread's next failing call; "" if none.
 */
LUMEN_API const char *lumen_get_last_error(void);

/** Library version as major << 16 | minor << 8 | patch. */
LUMEN_API uint32_t lumen_get_version(void);

/** Set a struct's size member before passing it. */
#define LUMEN_STRUCT_INIT(s) ((s).struct_size = sizeof(s))

/* ---- Devices ------------------------------------------------------------ */

typedef struct lumen_device_s *lumen_device_t;

/**
 * Number of Lumen devices bound to the driver. Devices are indexed 0..n-1 in
 * PCI address order, the same order as `npu-smi info`.
 */
LUMEN_API lumen_status_t lumen_device_count(int *count);

/**
 * The device with this index. Devices are opened on first use and live
 * until the process exits; the handle is the same on every call.
 */
LUMEN_API lumen_status_t lumen_device_get(int index, lumen_device_t *device);

typedef struct lumen_device_props {
	size_t struct_size;       /**< in: sizeof(lumen_device_props_t) */
	int index;                /**< device index */
	int numa_node;            /**< -1 if unknown */
	char pci_address[16];     /**< "0000:01:00.0" */
	char serial[32];          /**< board serial */
	char driver_version[16];  /**< lumen.ko uAPI "1.0.0" */
	char firmware_version[16]; /**< "1.0.0" */
	uint32_t chip_id;         /**< position in the supernode */
	uint32_t num_queues;      /**< hardware DMA queues */
	uint32_t num_link_ports;  /**< optical link ports */
	uint32_t reserved0;
	uint64_t memory_total;    /**< device memory, bytes */
} lumen_device_props_t;

LUMEN_API lumen_status_t lumen_device_get_props(lumen_device_t device, lumen_device_props_t *props);

/* ---- Contexts ----------------------------------------------------------- */

/*
 * A context is one device address space (one open of /dev/accel/accelN):
 * allocations and streams belong to exactly one context. A fault in a
 * context is sticky for it and invisible to the others.
 */
typedef struct lumen_context_s *lumen_context_t;

LUMEN_API lumen_status_t lumen_context_create(lumen_device_t device, lumen_context_t *ctx);
/** Waits for the context's streams, then frees everything it owns. */
LUMEN_API lumen_status_t lumen_context_destroy(lumen_context_t ctx);
LUMEN_API lumen_status_t lumen_context_get_device(lumen_context_t ctx, lumen_device_t *device);

/** Kinds of lumen_fault_t::kind. */
typedef enum lumen_fault_kind {
	LUMEN_FAULT_NONE = 0,
	LUMEN_FAULT_NOT_MAPPED = 1,  /**< address not mapped in the context */
	LUMEN_FAULT_READ = 2,        /**< read of memory mapped without read permission */
	LUMEN_FAULT_WRITE = 3,       /**< write of read-only memory */
	LUMEN_FAULT_BAD_PTE = 4,
	LUMEN_FAULT_TIMEOUT = 16,    /**< a job hung and was reset */
	LUMEN_FAULT_DEVICE = 17,     /**< the device reported an error */
	LUMEN_FAULT_DEVICE_LOST = 18, /**< the card was reset or removed */
	LUMEN_FAULT_REMOTE = 19,      /**< a remote operation failed (status says how; 1.1) */
} lumen_fault_kind_t;

typedef struct lumen_fault {
	size_t struct_size;   /**< in: sizeof(lumen_fault_t) */
	lumen_status_t status; /**< the context's sticky status, LUMEN_SUCCESS if none */
	lumen_fault_kind_t kind;
	uint64_t address;     /**< faulting device address (NOT_MAPPED/READ/WRITE) */
	int is_write;         /**< the faulting access was a write */
	int reserved0;
} lumen_fault_t;

/**
 * The context's health: returns its sticky status (LUMEN_SUCCESS if healthy)
 * and, unlike other failing calls, always fills *fault with the details.
 */
LUMEN_API lumen_status_t lumen_context_get_fault(lumen_context_t ctx, lumen_fault_t *fault);

/* ---- Memory ------------------------------------------------------------- */

/*
 * Device pointers are device virtual addresses in their context (uint64_t,
 * never dereferenced on the host). Small allocations come from a caching
 * sub-allocator: freeing returns them to the cache, lumen_mem_trim() gives
 * unused cache back to the kernel.
 */
typedef uint64_t lumen_devptr_t;

LUMEN_API lumen_status_t lumen_malloc(lumen_context_t ctx, size_t size, lumen_devptr_t *ptr);
/*
 * lumen_free does not wait for queued work (unlike cudaFree): freeing memory
 * that queued work still uses is the caller's bug; for allocations above
 * 256 KiB (own buffer, unmapped at once) it shows as a sticky device fault
 * of the context. Allocations up to 256 KiB return to the cache.
 */
LUMEN_API lumen_status_t lumen_free(lumen_context_t ctx, lumen_devptr_t ptr);
/** Give cached, unused device memory back to the kernel. */
LUMEN_API lumen_status_t lumen_mem_trim(lumen_context_t ctx);

/**
 * Pinned host memory the device reaches directly (fast copies, usable as
 * the host side of async copies without staging).
 */
LUMEN_API lumen_status_t lumen_malloc_host(lumen_context_t ctx, size_t size, void **ptr);
LUMEN_API lumen_status_t lumen_free_host(lumen_context_t ctx, void *ptr);

/** Pin existing host memory [ptr, ptr + size) for the device (page-granular). */
LUMEN_API lumen_status_t lumen_host_register(lumen_context_t ctx, void *ptr, size_t size);
LUMEN_API lumen_status_t lumen_host_unregister(lumen_context_t ctx, void *ptr);

typedef struct lumen_mem_info {
	size_t struct_size;        /**< in: sizeof(lumen_mem_info_t) */
	uint64_t device_total;     /**< device memory of the card */
	uint64_t device_free;      /**< not allocated by anyone */
	uint64_t ctx_device_used;  /**< held by this context's live allocations */
	uint64_t ctx_device_cached; /**< held by this context's cache, reclaimable by trim */
	uint64_t ctx_host_pinned;  /**< pinned host memory of this context */
} lumen_mem_info_t;

LUMEN_API lumen_status_t lumen_mem_get_info(lumen_context_t ctx, lumen_mem_info_t *info);

/* ---- Streams and events --------------------------------------------------- */

typedef struct lumen_stream_s *lumen_stream_t;
typedef struct lumen_event_s *lumen_event_t;

/** A stream runs its operations in order; streams run concurrently. */
LUMEN_API lumen_status_t lumen_stream_create(lumen_context_t ctx, lumen_stream_t *stream);
/** Waits for the stream's work, then destroys it. */
LUMEN_API lumen_status_t lumen_stream_destroy(lumen_stream_t stream);
/** Block until all work queued on the stream so far is done. */
LUMEN_API lumen_status_t lumen_stream_synchronize(lumen_stream_t stream);
/** LUMEN_SUCCESS if all its work is done, LUMEN_ERROR_NOT_READY if not. */
LUMEN_API lumen_status_t lumen_stream_query(lumen_stream_t stream);
/** Later work on the stream waits until the event's recorded work is done. */
LUMEN_API lumen_status_t lumen_stream_wait_event(lumen_stream_t stream, lumen_event_t event);

/** Direction of a copy; DEFAULT infers it from where the pointers live. */
typedef enum lumen_copy_kind {
	LUMEN_COPY_DEFAULT = 0,
	LUMEN_COPY_HOST_TO_DEVICE = 1,
	LUMEN_COPY_DEVICE_TO_HOST = 2,
	LUMEN_COPY_DEVICE_TO_DEVICE = 3,
	LUMEN_COPY_HOST_TO_HOST = 4,
} lumen_copy_kind_t;

/*
 * Copies take device pointers and host pointers as uint64_t/void * pairs:
 * host pointers may be pinned (lumen_malloc_host), registered, or ordinary
 * pageable memory (staged through pinned buffers; the source is captured
 * before the call returns for HOST_TO_DEVICE; the destination of
 * DEVICE_TO_HOST is written when the stream reaches the copy). A size of 0
 * is a no-op for every copy and fill (only the handle and a sticky context
 * error are checked).
 */
LUMEN_API lumen_status_t lumen_memcpy_h2d_async(lumen_stream_t stream, lumen_devptr_t dst,
						const void *src, size_t size);
LUMEN_API lumen_status_t lumen_memcpy_d2h_async(lumen_stream_t stream, void *dst,
						lumen_devptr_t src, size_t size);
LUMEN_API lumen_status_t lumen_memcpy_d2d_async(lumen_stream_t stream, lumen_devptr_t dst,
						lumen_devptr_t src, size_t size);
LUMEN_API lumen_status_t lumen_memcpy_h2h_async(lumen_stream_t stream, void *dst,
						const void *src, size_t size);
/** Synchronous copy of any kind: queues on an internal stream and waits. */
LUMEN_API lumen_status_t lumen_memcpy(lumen_context_t ctx, void *dst, const void *src,
				      size_t size, lumen_copy_kind_t kind);

/** Fill size bytes at dst with value (like memset). */
LUMEN_API lumen_status_t lumen_memset_async(lumen_stream_t stream, lumen_devptr_t dst, int value,
					    size_t size);
/** Fill with a repeated 32-bit pattern; dst and size must be multiples of 4. */
LUMEN_API lumen_status_t lumen_memset_d32_async(lumen_stream_t stream, lumen_devptr_t dst,
						uint32_t value, size_t size);
LUMEN_API lumen_status_t lumen_memset(lumen_context_t ctx, lumen_devptr_t dst, int value,
				      size_t size);

/** An operation that does nothing on the device: measures launch overhead. */
LUMEN_API lumen_status_t lumen_launch_nop_async(lumen_stream_t stream);

/**
 * Host callback: runs on a library thread once earlier work on the stream is
 * done; later work on the stream waits for it to return. status is the
 * stream's status at that point. The callback must not destroy the stream or
 * its context (LUMEN_ERROR_INVALID_ARGUMENT).
 */
typedef void (*lumen_host_fn_t)(lumen_stream_t stream, lumen_status_t status, void *user_data);
LUMEN_API lumen_status_t lumen_launch_host_func(lumen_stream_t stream, lumen_host_fn_t fn,
						void *user_data);

/** Events mark a point in a stream and can carry a device timestamp. */
LUMEN_API lumen_status_t lumen_event_create(lumen_context_t ctx, lumen_event_t *event);
LUMEN_API lumen_status_t lumen_event_destroy(lumen_event_t event);
/** Capture the stream's work so far; the event completes when it is done. */
LUMEN_API lumen_status_t lumen_event_record(lumen_event_t event, lumen_stream_t stream);
/** LUMEN_SUCCESS if done, LUMEN_ERROR_NOT_READY if not (never recorded: done). */
LUMEN_API lumen_status_t lumen_event_query(lumen_event_t event);
LUMEN_API lumen_status_t lumen_event_synchronize(lumen_event_t event);
/** Milliseconds between two completed events, from device timestamps. */
LUMEN_API lumen_status_t lumen_event_elapsed_time(float *ms, lumen_event_t start,
						  lumen_event_t end);

/* ---- IPC ------------------------------------------------------------------ */

/**
 * Export a device allocation as a file descriptor (a dma-buf) that another
 * process passes to lumen_ipc_import (e.g. over a unix socket). The caller
 * owns the fd and closes it when done. ptr must be the start of an
 * allocation larger than 256 KiB: smaller ones share a buffer with other
 * allocations and fail with LUMEN_ERROR_NOT_SUPPORTED.
 */
LUMEN_API lumen_status_t lumen_ipc_export(lumen_context_t ctx, lumen_devptr_t ptr, int *fd);
/**
 * Map an exported allocation into this context. The fd is not consumed.
 * Free the result with lumen_ipc_close.
 */
LUMEN_API lumen_status_t lumen_ipc_import(lumen_context_t ctx, int fd, lumen_devptr_t *ptr,
					  size_t *size);
LUMEN_API lumen_status_t lumen_ipc_close(lumen_context_t ctx, lumen_devptr_t ptr);

/* ---- Peer memory over the optical links (1.1) ------------------------------- */

/*
 * Chips of a supernode reach each other's device memory over their optical
 * links, without the host: a chip opens a window on some of its memory, hands
 * the window's descriptor to its peers (over any channel: the descriptor is
 * plain bytes), and the peers queue remote writes, reads and atomics on
 * their streams against it. Chips are named by their supernode chip id;
 * the routes between them are the administrator's (lumen-route).
 *
 * Everything here needs a card with a link engine (DRM_LUMEN_CAP_LINKS):
 * LUMEN_ERROR_NOT_SUPPORTED otherwise.
 *
 * Errors of remote operations: a refused operation (LUMEN_ERROR_REMOTE_ACCESS),
 * an unreachable chip (LUMEN_ERROR_UNREACHABLE) or a target that stopped
 * answering (LUMEN_ERROR_TIMEOUT) is reported once, by the next
 * lumen_stream_synchronize() or lumen_stream_query() of the stream that
 * reaches it, with a message naming the operation; the stream stays usable.
 * If the driver failed the whole context for it, the status is sticky for
 * the context instead, as for a device fault (lumen_context_get_fault()
 * says LUMEN_FAULT_REMOTE).
 */

/** The device's supernode chip id, what remote operations address. */
LUMEN_API lumen_status_t lumen_device_get_chip_id(lumen_device_t device, uint32_t *chip_id);

typedef struct lumen_link_info {
	size_t struct_size;	   /**< in: sizeof(lumen_link_info_t) */
	uint32_t chip_id;	   /**< the chip's supernode id */
	uint32_t num_ports;	   /**< optical link ports */
	uint32_t ports_up;	   /**< bit p: port p is up now */
	uint32_t num_windows;	   /**< window slots of the card, all contexts together */
	uint32_t max_windows;	   /**< windows one context may have open */
	uint32_t route_table_size; /**< chip ids are below this */
} lumen_link_info_t;

/** The chip on the fabric; LUMEN_ERROR_NOT_SUPPORTED without a link engine. */
LUMEN_API lumen_status_t lumen_device_get_link_info(lumen_device_t device, lumen_link_info_t *info);

typedef struct lumen_window_s *lumen_window_t;

/* Rights a window gives remote chips (lumen_window_open flags). */
#define LUMEN_WINDOW_READ   (1u << 0) /**< remote reads */
#define LUMEN_WINDOW_WRITE  (1u << 1) /**< remote writes */
#define LUMEN_WINDOW_ATOMIC (1u << 2) /**< remote atomics */

/** lumen_window_desc_t::magic: "LWIN" in memory order. */
#define LUMEN_WINDOW_DESC_MAGIC 0x4e49574cu

/**
 * What a peer needs to reach a window: 48 bytes of plain data (no pointers,
 * fixed layout, little-endian like every Lumen host), to be copied between
 * processes and hosts as they are. The key is the capability: whoever holds
 * the descriptor may use the window with its rights, until it is closed.
 */
typedef struct lumen_window_desc {
	uint32_t magic;	   /**< LUMEN_WINDOW_DESC_MAGIC */
	uint32_t chip_id;  /**< chip that holds the window */
	uint32_t window;   /**< window slot on that chip */
	uint32_t rights;   /**< LUMEN_WINDOW_* */
	uint64_t key;	   /**< the window's key */
	uint64_t size;	   /**< bytes peers may address: offsets 0 .. size - 1 */
	uint64_t base;	   /**< where offset 0 is in the chip's window (page rounding) */
	uint64_t reserved; /**< zero */
} lumen_window_desc_t;

/**
 * Open a window on [ptr, ptr + size) of a device allocation of ctx with the
 * given rights (LUMEN_WINDOW_*, at least one). ptr and size need no
 * alignment; peers address the range by offsets 0 .. size - 1. The card's
 * windows are page-granular: a peer that forges a larger descriptor can
 * reach the rest of the first and last 4 KiB page, nothing beyond.
 * The memory cannot be freed while the window is open (LUMEN_ERROR_BUSY).
 * LUMEN_ERROR_BUSY also when the card or the context has no window slot free.
 */
LUMEN_API lumen_status_t lumen_window_open(lumen_context_t ctx, lumen_devptr_t ptr, size_t size,
					   unsigned flags, lumen_window_t *window);
/** The window's descriptor, to hand to peers. */
LUMEN_API lumen_status_t lumen_window_get_desc(lumen_window_t window, lumen_window_desc_t *desc);
/**
 * Close the window: once this returns, no remote operation reaches it (later
 * ones fail with LUMEN_ERROR_REMOTE_ACCESS at their sender). Destroying the
 * context closes its windows.
 */
LUMEN_API lumen_status_t lumen_window_close(lumen_window_t window);

/*
 * Remote operations run in stream order like copies; each completes when its
 * target confirmed every byte. Operations of one stream to one chip are
 * delivered in order and exactly once. Every argument is checked before
 * anything is queued (LUMEN_ERROR_INVALID_ARGUMENT naming it): the
 * descriptor (magic, reserved zero, chip id, window slot, the right the
 * operation needs), offset + size within desc->size, and the local range
 * inside one device allocation of the stream's context. A size of 0 does
 * nothing. Large transfers are split into commands of at most 256 MiB.
 */

/** Write size bytes from local device memory src to the window at offset. */
LUMEN_API lumen_status_t lumen_remote_write_async(lumen_stream_t stream,
						  const lumen_window_desc_t *dst, uint64_t offset,
						  lumen_devptr_t src, size_t size);
/** Read size bytes of the window at offset into local device memory dst. */
LUMEN_API lumen_status_t lumen_remote_read_async(lumen_stream_t stream, lumen_devptr_t dst,
						 const lumen_window_desc_t *src, uint64_t offset,
						 size_t size);

typedef enum lumen_atomic_op {
	LUMEN_ATOMIC_FETCH_ADD = 0, /**< *w += operand */
	LUMEN_ATOMIC_SIGNAL = 1,    /**< *w = operand */
} lumen_atomic_op_t;

/**
 * Atomically update the 64-bit word at offset (8-byte aligned) of the window
 * (LUMEN_WINDOW_ATOMIC), applied exactly once; its old value lands in the
 * local device word at result (8-byte aligned) unless result is 0.
 */
LUMEN_API lumen_status_t lumen_remote_atomic_async(lumen_stream_t stream,
						   const lumen_window_desc_t *dst, uint64_t offset,
						   lumen_atomic_op_t op, uint64_t operand,
						   lumen_devptr_t result);

/* ---- Peer access between contexts (1.1) ------------------------------------ */

/*
 * Contexts of this process on different chips (or on one chip) copy between
 * their memories over the links, CUDA-style: enable access once, then
 * lumen_memcpy_peer_async with plain device pointers. The runtime opens a
 * window on each peer allocation a copy touches (all rights, on the peer
 * context, counted against its window slots) and closes it when that
 * memory is freed or its context destroyed. Copies are remote writes or
 * reads: ordered, exactly once, errors as in "Peer memory" above.
 */

/** lumen_device_can_access_peer() capabilities */
#define LUMEN_PEER_READ	  (1u << 0) /**< copies from the peer */
#define LUMEN_PEER_WRITE  (1u << 1) /**< copies to the peer */
#define LUMEN_PEER_ATOMIC (1u << 2) /**< remote atomics */
#define LUMEN_PEER_REDUCE (1u << 3) /**< remote reductions (known for this host's chips only) */

/**
 * Can device reach chip peer_chip over the links? *can_access 1 and its
 * LUMEN_PEER_* capabilities when a route from the device's chip arrives
 * there now (the fabric manager's tables), or peer_chip is the device's own
 * chip (loopback); 0 and 0 otherwise, also for a card without a link
 * engine. Without lumen-fm the device's own route table answers (needs
 * CAP_SYS_ADMIN): its entry for the chip leads out of a port that is up.
 * LUMEN_ERROR_INVALID_CHIP for a chip the supernode does not have (known
 * with lumen-fm; without it, ids beyond the route table),
 * LUMEN_ERROR_FABRIC_UNAVAILABLE when neither can tell. caps may be NULL.
 */
LUMEN_API lumen_status_t lumen_device_can_access_peer(lumen_device_t device, uint32_t peer_chip,
						      int *can_access, uint32_t *caps);

/**
 * Let ctx's streams copy to and from peer's memory (one way: peer needs its
 * own call for the other direction). Idempotent. LUMEN_ERROR_UNREACHABLE
 * when no route leads from ctx's chip to peer's (as lumen_device_can_access_peer
 * sees it; when nothing can tell, the copies will), NOT_SUPPORTED without a
 * link engine, INVALID_ARGUMENT for peer == ctx.
 */
LUMEN_API lumen_status_t lumen_context_enable_peer_access(lumen_context_t ctx,
							  lumen_context_t peer);
/**
 * Take it back: later peer copies fail with PEER_ACCESS_NOT_ENABLED.
 * Idempotent. Copies already queued still run.
 */
LUMEN_API lumen_status_t lumen_context_disable_peer_access(lumen_context_t ctx,
							   lumen_context_t peer);

/**
 * Copy size bytes from src in src_ctx to dst in dst_ctx, in the order of
 * stream, which belongs to one of them (LUMEN_ERROR_WRONG_DEVICE otherwise):
 * on src_ctx's stream a remote write, on dst_ctx's a remote read; that
 * context needs peer access to the other
 * (LUMEN_ERROR_PEER_ACCESS_NOT_ENABLED). Each range lies inside one device
 * allocation of its context (INVALID_ARGUMENT naming it). src_ctx ==
 * dst_ctx is an ordinary device-to-device copy, or, when dst or src is a
 * pointer lumen_mem_import_fabric gave that context, a remote write to or
 * read from the imported region (the other one local). A size of 0 does
 * nothing.
 */
LUMEN_API lumen_status_t lumen_memcpy_peer_async(lumen_stream_t stream, lumen_context_t dst_ctx,
						 lumen_devptr_t dst, lumen_context_t src_ctx,
						 lumen_devptr_t src, size_t size);

/*
 * Fabric handles: a region of device memory registered for the fabric,
 * named by a fixed-size POD that travels to other processes and hosts as
 * plain bytes; whoever imports it copies to and from the region with
 * lumen_memcpy_peer_async, no peer access needed (the handle is the
 * capability, until revoked).
 */

/** lumen_fabric_handle_t::magic: "LFAB" in memory order. */
#define LUMEN_FABRIC_HANDLE_MAGIC 0x4241464cu
#define LUMEN_FABRIC_HANDLE_VERSION 1u

typedef struct lumen_fabric_handle {
	uint32_t magic;		    /**< LUMEN_FABRIC_HANDLE_MAGIC */
	uint32_t version;	    /**< LUMEN_FABRIC_HANDLE_VERSION */
	lumen_window_desc_t window; /**< the window that exposes the region */
	uint64_t reserved;	    /**< zero */
} lumen_fabric_handle_t;

/**
 * Register [ptr, ptr + size) of a device allocation of ctx with rights
 * LUMEN_WINDOW_* (at least one) and describe it in *handle. The runtime
 * keeps the window open until lumen_mem_revoke_fabric, lumen_free of the
 * memory or the context's end; importers then get REMOTE_ACCESS.
 * LUMEN_ERROR_BUSY when the context or card has no window slot free. Like
 * every window it is page-granular: a forged handle reaches the rest of
 * the first and last 4 KiB page, so export page-aligned buffers to share
 * nothing else.
 */
LUMEN_API lumen_status_t lumen_mem_export_fabric(lumen_context_t ctx, lumen_devptr_t ptr,
						 size_t size, unsigned rights,
						 lumen_fabric_handle_t *handle);
/** Close the region handle names (exported by ctx); later access is refused. */
LUMEN_API lumen_status_t lumen_mem_revoke_fabric(lumen_context_t ctx,
						 const lumen_fabric_handle_t *handle);
/**
 * Make an exported region usable from ctx: *remote_ptr is a pointer into it
 * (offset 0; remote_ptr + i is byte i) that lumen_memcpy_peer_async accepts
 * as dst or src with ctx as its context, and nothing else does. The
 * handle is checked (magic, version, reserved, window fields) and the
 * chip must be reachable from ctx's chip: INVALID_ARGUMENT naming the field,
 * UNREACHABLE, INVALID_CHIP.
 */
LUMEN_API lumen_status_t lumen_mem_import_fabric(lumen_context_t ctx,
						 const lumen_fabric_handle_t *handle,
						 lumen_devptr_t *remote_ptr);
/** Forget an imported region (remote_ptr as import returned it). */
LUMEN_API lumen_status_t lumen_mem_release_fabric(lumen_context_t ctx, lumen_devptr_t remote_ptr);

/* ---- Stream memory operations (1.1) ---------------------------------------- */

/** The context a stream belongs to (libraries that take a stream check it). */
LUMEN_API lumen_status_t lumen_stream_get_context(lumen_stream_t stream, lumen_context_t *ctx);

/*
 * A stream waits on, or writes, a 64-bit word of device memory, on the card
 * (no host round trip): with remote atomics a peer chip releases a stream
 * here, which is how collectives order their steps between chips. ptr is
 * 8-byte aligned, inside a device allocation of the stream's context
 * (INVALID_ARGUMENT naming it otherwise).
 */

/** When the stream reaches it: *ptr = value. */
LUMEN_API lumen_status_t lumen_stream_write_value64(lumen_stream_t stream, lumen_devptr_t ptr,
						    uint64_t value);
/**
 * The stream waits until *ptr >= value (unsigned); its later work waits
 * too. Whatever writes the word releases it: this context's streams, a
 * copy, a peer's remote write or atomic. A wait nobody ends is a hung job:
 * after lumen.ko's job timeout the context fails (LUMEN_ERROR_TIMEOUT,
 * sticky), as for any hang.
 */
LUMEN_API lumen_status_t lumen_stream_wait_value64(lumen_stream_t stream, lumen_devptr_t ptr,
						   uint64_t value);

/* ---- Reductions (1.1) ------------------------------------------------------ */

/*
 * The card's DMA engine reduces: dst[i] = dst[i] op src[i], element by
 * element, on the device, locally or into a peer's window (what collectives
 * build on). Needs a card with DRM_LUMEN_CAP_REDUCE (and a link engine for
 * the remote form): LUMEN_ERROR_NOT_SUPPORTED otherwise.
 *
 * Numerics (docs/hw-spec.md section 10, "Reductions"): both operands are
 * widened to f32 exactly (f16 and bf16 subnormals included), the op is
 * applied in f32 and the result rounded to nearest even back to the type;
 * a 16-bit reduction therefore rounds once per call: summing k buffers into
 * one with k - 1 calls rounds k - 1 times. For one rounding, reduce into an
 * f32 buffer. MAX and MIN give a NaN if either operand is one, and keep dst's
 * value when both compare equal; i32 SUM wraps modulo 2^32.
 */
typedef enum lumen_dtype {
	LUMEN_DTYPE_F32 = 0,  /**< IEEE binary32, 4 bytes */
	LUMEN_DTYPE_F16 = 1,  /**< IEEE binary16, 2 bytes */
	LUMEN_DTYPE_BF16 = 2, /**< bfloat16 (the top half of a binary32), 2 bytes */
	LUMEN_DTYPE_I32 = 3,  /**< two's complement 32-bit integer, 4 bytes */
} lumen_dtype_t;

typedef enum lumen_reduce_op {
	LUMEN_REDUCE_SUM = 0,
	LUMEN_REDUCE_MAX = 1,
	LUMEN_REDUCE_MIN = 2,
} lumen_reduce_op_t;

/**
 * dst[i] = dst[i] op src[i] for i < count, in stream order. dst and src lie
 * inside device allocations of the stream's context, each aligned to the
 * element size; dst == src reduces in place. count 0 does nothing.
 * LUMEN_ERROR_INVALID_ARGUMENT (naming the argument) for an unknown dtype or
 * op, a misaligned pointer, dst and src overlapping by part, a range outside
 * an allocation or a count whose byte size overflows.
 */
LUMEN_API lumen_status_t lumen_reduce_async(lumen_stream_t stream, lumen_devptr_t dst,
					    lumen_devptr_t src, size_t count, lumen_dtype_t dtype,
					    lumen_reduce_op_t op);
/**
 * The same into a peer's window (LUMEN_WINDOW_WRITE): the window's elements
 * from byte offset on (aligned to the element size in the target's memory)
 * become target op src. Applied exactly once, delivered in order with the
 * stream's other remote operations to that chip; errors as remote writes
 * ("Peer memory" above). A reduction that failed midway (window closed,
 * TIMEOUT) may have applied part of its packets: do not repeat it blindly,
 * restart from a copy of the operands (docs/runtime-api.md "Reductions").
 */
LUMEN_API lumen_status_t lumen_remote_reduce_async(lumen_stream_t stream,
						   const lumen_window_desc_t *dst, uint64_t offset,
						   lumen_devptr_t src, size_t count,
						   lumen_dtype_t dtype, lumen_reduce_op_t op);

/* ---- The fabric: chips, ports, routes and events (1.1) --------------------- */

/*
 * What the supernode looks like and how traffic crosses it, as the fabric
 * manager (lumen-fm, docs/fabric-manager.md) on this host knows it: the
 * runtime asks it over its control socket, $LUMEN_FM_SOCKET or
 * /run/lumen-fm/fm.sock, each request bounded at 2 s (a manager that is busy
 * is asked again within them); most calls make one request, batched routes
 * one per few thousand pairs, waits one per 20 ms.
 * A standby manager answers too, from tables it read from the chips.
 * Nothing here needs a device context or root.
 *
 * Errors: LUMEN_ERROR_FABRIC_UNAVAILABLE when no manager answers or it has
 * no routes yet, LUMEN_ERROR_INVALID_CHIP for a chip id (or port) the fabric
 * does not have, LUMEN_ERROR_UNREACHABLE for a chip no route reaches,
 * LUMEN_ERROR_INVALID_ARGUMENT for NULL pointers and bad sizes.
 *
 * Bandwidths are bytes per second in one direction, latencies nanoseconds;
 * both are N1's nominal figures (docs/hw-spec.md 13, "Nominal figures"),
 * not measurements.
 */

/** lumen_fabric_info_t::flags */
#define LUMEN_FABRIC_VERIFIED (1u << 0) /**< the tables were proven deadlock-free */
#define LUMEN_FABRIC_MIRROR   (1u << 1) /**< answered by a standby manager */

typedef struct lumen_fabric_info {
	size_t struct_size;	  /**< in: sizeof(lumen_fabric_info_t) */
	uint64_t generation;	  /**< routing generation: grows with every new set of tables */
	uint64_t event_seq;	  /**< sequence number of the newest fabric event */
	uint32_t num_chips;	  /**< chips discovered */
	uint32_t num_fibers;	  /**< fibers up */
	uint32_t links_down;	  /**< fibers cabled but not up */
	uint32_t num_unreachable; /**< chips no route reaches (a split fabric) */
	uint32_t dims[3];	  /**< grid shape (1 for unused dimensions); 0 0 0: no grid */
	uint32_t wrap;		  /**< 1: torus or ring, 0: mesh or no grid */
	uint32_t manager_chip;	  /**< chip whose host runs the master, UINT32_MAX unknown */
	uint32_t flags;		  /**< LUMEN_FABRIC_* */
	char shape[32];		  /**< "torus:2x4", "ring:8", "mesh:4x4", or "" (no grid) */
	char engine[16];	  /**< routing engine: "dor" or "agnostic" */
	/**
	 * The answering manager's instance. Event seqs are per instance: a
	 * new guid (a restarted manager) starts them again; the generation
	 * only grows, across restarts too.
	 */
	uint64_t manager_guid;
} lumen_fabric_info_t;

/** The supernode as a whole. */
LUMEN_API lumen_status_t lumen_fabric_get_info(lumen_fabric_info_t *info);

/**
 * Chip ids of the supernode, ascending: up to max of them into ids (which
 * may be NULL when max is 0); *count is how many there are, so a call with
 * max 0 sizes the array.
 */
LUMEN_API lumen_status_t lumen_fabric_get_chips(uint32_t *ids, size_t max, size_t *count);

typedef struct lumen_chip_info {
	size_t struct_size;   /**< in: sizeof(lumen_chip_info_t) */
	uint32_t chip_id;     /**< the chip's supernode id */
	uint32_t num_ports;   /**< its link ports */
	uint32_t ports_up;    /**< bit p: port p is up */
	uint32_t has_coords;  /**< 1: coords are its grid coordinates (x, y, z) */
	uint32_t coords[3];   /**< valid when has_coords */
	int32_t device_index; /**< this host's lumen_device_get() index of it, or -1 */
	char serial[32];      /**< the card's serial number */
} lumen_chip_info_t;

/** One chip; device_index says whether it is one of this host's cards. */
LUMEN_API lumen_status_t lumen_fabric_get_chip_info(uint32_t chip_id, lumen_chip_info_t *info);

typedef enum lumen_port_state {
	LUMEN_PORT_DOWN = 0,	 /**< no light or disabled */
	LUMEN_PORT_TRAINING = 1, /**< light, not yet agreed with the neighbour */
	LUMEN_PORT_UP = 2,	 /**< carries traffic */
	LUMEN_PORT_ERROR = 3,	 /**< replay gave up; retrains shortly */
} lumen_port_state_t;

typedef struct lumen_port_info {
	size_t struct_size;		/**< in: sizeof(lumen_port_info_t) */
	uint32_t chip_id;		/**< the chip */
	uint32_t port;			/**< the port (0-5: +x -x +y -y +z -z) */
	lumen_port_state_t state;	/**< LUMEN_PORT_* */
	uint32_t enabled;		/**< 1: the port is enabled */
	uint32_t peer_chip;		/**< neighbour while up, else UINT32_MAX */
	uint32_t peer_port;		/**< neighbour's port while up, else UINT32_MAX */
	uint64_t bandwidth_bytes_per_s; /**< nominal, one direction */
	uint64_t latency_ns;		/**< nominal, one hop over this port */
	/* Counters since the card's reset, read from the chip now. */
	uint64_t tx_bytes;	  /**< bytes of the link frames sent */
	uint64_t rx_bytes;	  /**< bytes of the link frames received */
	uint64_t tx_frames;	  /**< link frames sent */
	uint64_t rx_frames;	  /**< link frames received */
	uint64_t crc_errors;	  /**< frames dropped for a bad CRC */
	uint64_t retransmits;	  /**< frames sent again (link-level replay) */
	uint64_t down_events;	  /**< times the port left UP */
	uint64_t retrains;	  /**< times the port entered ERROR */
	uint64_t failovers;	  /**< packets sent here as the alternative port */
	uint64_t credit_stalls;	  /**< times a packet waited for credit */
	uint64_t ttl_drops;	  /**< packets that arrived with no TTL left */
	uint64_t replay_timeouts; /**< replay timer expiries */
} lumen_port_info_t;

/**
 * One port of any chip of the supernode, with its counters (read in-band):
 * LUMEN_ERROR_UNREACHABLE when the chip does not answer the read.
 */
LUMEN_API lumen_status_t lumen_fabric_get_port_info(uint32_t chip_id, uint32_t port,
						    lumen_port_info_t *info);

/** lumen_route_hop_t::alt_port when the hop has no alternative port */
#define LUMEN_PORT_NONE 0xffu
/** lumen_route_hop_t::flags: the packet leaves on an alternative port */
#define LUMEN_HOP_DETOUR (1u << 0)

/** One hop of a route: the chip that sends the packet on, and how. An array
 * element: its layout is fixed for 1.x. */
typedef struct lumen_route_hop {
	uint32_t chip_id; /**< the chip forwarding (the source for the first hop) */
	uint8_t port;	  /**< the port it leaves on */
	uint8_t vc;	  /**< virtual channel it leaves on (requests; answers use vc + 2) */
	uint8_t alt_port; /**< the port it fails over to if port goes down, or LUMEN_PORT_NONE */
	uint8_t flags;	  /**< LUMEN_HOP_* */
} lumen_route_hop_t;

typedef struct lumen_route_info {
	size_t struct_size;		   /**< in: sizeof(lumen_route_info_t) */
	uint32_t src;			   /**< source chip */
	uint32_t dst;			   /**< destination chip */
	uint32_t num_hops;		   /**< hops of the route (0 when src == dst) */
	uint32_t reserved;		   /**< zero */
	uint64_t bottleneck_bytes_per_s;   /**< the slowest hop's bandwidth (0: no hop) */
	uint64_t latency_ns;		   /**< estimated one-way latency */
	uint64_t generation;		   /**< routing generation the route is of */
} lumen_route_info_t;

/**
 * The path requests from src to dst take through the tables the chips hold
 * now. Up to max_hops hops go to hops (NULL when max_hops is 0);
 * info->num_hops says how many there are. src == dst is a route of no hop.
 * LUMEN_ERROR_UNREACHABLE (info filled as far as known) when the tables lead
 * nowhere: no route, a dead end or a loop.
 */
LUMEN_API lumen_status_t lumen_fabric_get_route(uint32_t src, uint32_t dst,
						lumen_route_info_t *info,
						lumen_route_hop_t *hops, size_t max_hops);

/** One pair of lumen_fabric_get_routes(). An array element: its layout is
 * fixed for 1.x. */
typedef struct lumen_route_summary {
	uint32_t src;			 /**< in: source chip */
	uint32_t dst;			 /**< in: destination chip */
	lumen_status_t status;		 /**< out: SUCCESS, UNREACHABLE or INVALID_CHIP */
	uint32_t num_hops;		 /**< out */
	uint64_t bottleneck_bytes_per_s; /**< out */
	uint64_t latency_ns;		 /**< out */
} lumen_route_summary_t;

/**
 * Many routes at once, without their hops: for each of the count pairs,
 * src and dst in, the rest out. Returns SUCCESS when every pair was
 * answered (each says its own status); *generation (may be NULL) is the
 * routing generation of them all. LUMEN_ERROR_NOT_READY when the fabric
 * was rerouted between the requests of a large batch three times running.
 */
LUMEN_API lumen_status_t lumen_fabric_get_routes(lumen_route_summary_t *pairs, size_t count,
						 uint64_t *generation);

typedef enum lumen_fabric_event_type {
	LUMEN_FABRIC_EVENT_OTHER = 0,	  /**< anything else the manager logs */
	LUMEN_FABRIC_EVENT_LINK_DOWN = 1, /**< a fiber went down (chip, port) */
	LUMEN_FABRIC_EVENT_LINK_UP = 2,	  /**< a fiber came up (chip, port) */
	LUMEN_FABRIC_EVENT_REROUTE = 3,	  /**< new tables (generation) */
	LUMEN_FABRIC_EVENT_REPATCH = 4,	  /**< the cabling changed (an OCS re-patch) */
	LUMEN_FABRIC_EVENT_TAKEOVER = 5,  /**< another manager became master */
} lumen_fabric_event_type_t;

typedef struct lumen_fabric_event {
	uint64_t seq;		     /**< the manager's event number, ascending */
	uint64_t generation;	     /**< routing generation the event brought, or 0 */
	uint64_t time_ms;	     /**< the manager's monotonic clock */
	lumen_fabric_event_type_t type;
	uint32_t chip_id;	     /**< link events: the chip, else UINT32_MAX */
	uint32_t port;		     /**< link events: its port, else UINT32_MAX */
	uint32_t reserved;	     /**< zero */
	char name[24];		     /**< the manager's name of the event, e.g. "link_down" */
} lumen_fabric_event_t;

/**
 * Events after sequence number after_seq (0: all the manager still has,
 * its last 1024), oldest first, up to max of them; *count how many were
 * written. Ask again from the last seq for more. Seqs are per manager run
 * (lumen_fabric_info_t.manager_guid).
 */
LUMEN_API lumen_status_t lumen_fabric_get_events(uint64_t after_seq,
						 lumen_fabric_event_t *events, size_t max,
						 size_t *count);

/**
 * Wait until the routing generation is past seen, for at most timeout_ms
 * (0: just look; -1: no limit); *generation gets the current one. SUCCESS
 * when it moved, LUMEN_ERROR_TIMEOUT (not sticky) when it did not. What a
 * collective waits on before it re-plans its rings.
 */
LUMEN_API lumen_status_t lumen_fabric_wait_generation(uint64_t seen, int timeout_ms,
						      uint64_t *generation);

#ifdef __cplusplus
}
#endif

#endif /* LUMEN_LUMEN_H */
