/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1 DMA queues: per-queue registers and command descriptors.
 *
 * A queue is a ring of 2^RING_ORDER 64-byte descriptors in host memory. The
 * driver fills descriptors, then writes the new tail index to the queue's
 * doorbell page (BAR4 + q * LUMEN_DOORBELL_STRIDE). The device executes
 * descriptors in order in the queue's MMU context, advances HEAD, and after a
 * descriptor with LUMEN_CMD_F_IRQ signals vector LUMEN_VEC_QUEUE_BASE + q.
 * Indices are free-running 32-bit counters; slot = index & (entries - 1).
 */
#ifndef LUMEN_QUEUE_H
#define LUMEN_QUEUE_H

#include "lumen_types.h"

/* Per-queue registers, offsets within LUMEN_REG_QUEUE(q, 0). */
#define LUMEN_QREG_RING_BASE_LO		0x00	/* RW: host bus address, 64 B aligned */
#define LUMEN_QREG_RING_BASE_HI		0x04
#define LUMEN_QREG_RING_ORDER		0x08	/* RW: log2(entries) */
#define LUMEN_QREG_CTRL			0x0c	/* RW: LUMEN_QCTRL_* */
#define LUMEN_QREG_HEAD			0x10	/* RO: next descriptor to execute */
#define LUMEN_QREG_TAIL			0x14	/* RO: last doorbell value */
#define LUMEN_QREG_STATUS		0x18	/* RO: LUMEN_QSTS_* */
#define LUMEN_QREG_ERROR		0x1c	/* RO: enum lumen_status of a stop */
#define LUMEN_QREG_ERROR_INDEX		0x20	/* RO: descriptor index that failed */
#define LUMEN_QREG_COMPLETED		0x24	/* RO: descriptors retired */
#define LUMEN_QREG_PROGRESS		0x28	/* RO: bytes moved, free-running */
#define LUMEN_QREG_CPL_LO		0x2c	/* RW: completion record, device VA (USER) */
#define LUMEN_QREG_CPL_HI		0x30
#define LUMEN_QREG_IRQ_AT		0x34	/* RW: arm the vector for COMPLETED >= value */

/*
 * Rules: a doorbell value with TAIL - HEAD > entries stops the queue with
 * BAD_ARGUMENT; a doorbell on a disabled queue is a REG_ACCESS error. A
 * malformed descriptor (unknown opcode, unknown flags, non-zero reserved
 * bytes, misaligned fence address, size over LUMEN_CMD_MAX_SIZE) stops the
 * queue with BAD_DESCRIPTOR and ERR_QUEUE_DESC; ERROR_INDEX is the
 * free-running index of the descriptor. QCTRL_RESET clears HEAD, TAIL,
 * STATUS, ERROR, ERROR_INDEX, COMPLETED and PROGRESS. PROGRESS counts the
 * bytes the queue's engine has written (COPY and FILL destinations, fence
 * and timestamp words) modulo 2^32, updated at least every 1 MiB of a long
 * COPY/FILL, so that a driver can tell a slow command from a hung one. The
 * context field must be below
 * LUMEN_CONTEXTS_MAX (else enabling fails with REG_ACCESS). The engine is
 * in order, so LUMEN_CMD_F_BARRIER costs nothing on this device; WAIT has
 * no timeout of its own (the driver's job timeout covers it). TIMESTAMP
 * writes nanoseconds since the last device reset, the UPTIME time base.
 */
#define LUMEN_CMD_MAX_SIZE		(1ull << 34)	/* 16 GiB per COPY/FILL */
#define LUMEN_CMD_REMOTE_MAX_SIZE	(1ull << 28)	/* 256 MiB per RWRITE/RREAD */

#define LUMEN_QUEUE_ORDER_MIN		4
#define LUMEN_QUEUE_ORDER_MAX		16

#define LUMEN_QCTRL_ENABLE		(1u << 0)
#define LUMEN_QCTRL_RESET		(1u << 1)	/* WO: drop state, HEAD = TAIL = 0 */
/*
 * Priority class of the queue (LUMEN_QPRIO_*). The engine serves HIGH
 * queues first, then NORMAL, then LOW, round robin within a class; while a
 * HIGH queue has work, NORMAL and LOW queues get a quarter of the usual
 * byte share of an engine turn (at least one descriptor: none starves).
 * The value may change while the queue is enabled (same CTX, ENABLE kept)
 * and applies from the next turn. A write with ENABLE and the reserved
 * value 3 fails with REG_ACCESS (BAD_ARGUMENT), like a bad context field:
 * a disabled queue stays disabled, an enabled one keeps its priority.
 * QCTRL_RESET and a device reset give NORMAL.
 */
#define LUMEN_QCTRL_PRIO_SHIFT		2
#define LUMEN_QCTRL_PRIO_MASK		(0x3u << LUMEN_QCTRL_PRIO_SHIFT)
/*
 * A user-mode queue (CAPS.USER_QUEUES): RING_BASE and CPL are device VAs in
 * the queue's context, so descriptor fetches and completion records go
 * through the MMU like data and fault like data. Programmed while DISABLED.
 */
#define LUMEN_QCTRL_USER		(1u << 4)
#define LUMEN_QCTRL_CTX_SHIFT		8		/* MMU context the queue runs in */
#define LUMEN_QCTRL_CTX_MASK		(0xffu << LUMEN_QCTRL_CTX_SHIFT)

#define LUMEN_QPRIO_NORMAL		0	/* QCTRL.PRIO values */
#define LUMEN_QPRIO_LOW			1	/* bulk transfers */
#define LUMEN_QPRIO_HIGH		2	/* latency-critical work */

#define LUMEN_QSTS_IDLE			0	/* enabled, HEAD == TAIL */
#define LUMEN_QSTS_RUNNING		1
#define LUMEN_QSTS_STOPPED		2	/* error or fault; ERROR says why */
#define LUMEN_QSTS_DISABLED		3

/**
 * struct lumen_queue_cpl - completion record of a USER queue (CPL register)
 * @completed: descriptors retired since the last QCTRL_RESET, 64-bit (its
 *	low 32 bits are COMPLETED); written untorn, after @status and @error
 * @status: LUMEN_QSTS_* when the record was written
 * @error: ERROR (enum lumen_status) when the record was written
 *
 * 16 bytes, 16-byte aligned. The engine writes it whenever it leaves the
 * queue (end of its share of a turn, IDLE, STOPPED) having retired a
 * descriptor or changed the status, and before it signals the queue's
 * vector, so a poller that sees @completed reach n sees the writes of the
 * first n descriptors.
 */
struct lumen_queue_cpl {
	lumen_le64 completed;
	lumen_le32 status;
	lumen_le32 error;
};

/* Descriptor opcodes. */
enum lumen_cmd_op {
	LUMEN_CMD_NOP = 0,
	LUMEN_CMD_COPY = 1,		/* dst[0..size) = src[0..size) */
	LUMEN_CMD_FILL = 2,		/* dst[0..size) = repeated 8-byte pattern */
	LUMEN_CMD_SIGNAL = 3,		/* *(u64 *)addr = value */
	LUMEN_CMD_WAIT = 4,		/* until *(u64 *)addr >= value */
	LUMEN_CMD_TIMESTAMP = 5,	/* *(u64 *)addr = device time, ns */
	LUMEN_CMD_LAUNCH = 6,		/* compute operator, lumen_compute.h */
	LUMEN_CMD_RWRITE = 7,		/* remote[offset..) = local[0..size) (CAPS.LINKS) */
	LUMEN_CMD_RREAD = 8,		/* local[0..size) = remote[offset..) (CAPS.LINKS) */
	LUMEN_CMD_RATOMIC = 9,		/* 64-bit atomic on a remote word (CAPS.LINKS) */
	LUMEN_CMD_REDUCE = 10,		/* dst[i] = dst[i] op src[i] (CAPS.REDUCE) */
	LUMEN_CMD_RREDUCE = 11,		/* remote[i] = remote[i] op local[i] (REDUCE+LINKS) */
	LUMEN_CMD_OP_COUNT
};

#define LUMEN_CMD_F_IRQ			(1u << 0)	/* signal the queue vector after */
#define LUMEN_CMD_F_BARRIER		(1u << 1)	/* earlier commands complete first */
#define LUMEN_CMD_F_MASK		0x03u

/** struct lumen_cmd_copy - LUMEN_CMD_COPY arguments (device VAs) */
struct lumen_cmd_copy {
	lumen_le64 src;
	lumen_le64 dst;
	lumen_le64 size;
	lumen_le64 reserved[4];
};

/** struct lumen_cmd_fill - LUMEN_CMD_FILL arguments */
struct lumen_cmd_fill {
	lumen_le64 dst;
	lumen_le64 size;
	lumen_le64 pattern;	/* byte i of the region = byte (i % 8) */
	lumen_le64 reserved[4];
};

/** struct lumen_cmd_fence - SIGNAL, WAIT and TIMESTAMP arguments */
struct lumen_cmd_fence {
	lumen_le64 addr;	/* 8-byte aligned device VA */
	lumen_le64 value;	/* SIGNAL: written; WAIT: threshold */
	lumen_le64 reserved[5];
};

/**
 * struct lumen_cmd_remote - RWRITE and RREAD arguments (hw-spec 13.7)
 * @local: device VA in the queue's context (RWRITE source, RREAD target)
 * @offset: byte offset in the remote window
 * @size: bytes, up to LUMEN_CMD_REMOTE_MAX_SIZE; 0 completes at once
 * @dst_chip: target chip id, <= LUMEN_CHIP_ID_MAX
 * @window: window slot on the target, < LUMEN_NUM_WINDOWS
 * @key: the window's key
 * @reserved: zero
 */
struct lumen_cmd_remote {
	lumen_le64 local;
	lumen_le64 offset;
	lumen_le64 size;
	lumen_le32 dst_chip;
	lumen_le32 window;
	lumen_le64 key;
	lumen_le64 reserved[2];
};

/* RATOMIC operations. */
#define LUMEN_RATOMIC_FETCH_ADD		0	/* old = *w; *w += operand */
#define LUMEN_RATOMIC_SIGNAL		1	/* old = *w; *w = operand */
#define LUMEN_RATOMIC_COUNT		2

/**
 * struct lumen_cmd_ratomic - RATOMIC arguments (hw-spec 13.7)
 * @result: 8-byte aligned local VA that receives the old value, 0 = none
 * @offset: 8-byte aligned offset of the word in the remote window
 * @operand: value added or stored
 * @dst_chip: target chip id
 * @window: window slot on the target
 * @key: the window's key
 * @op: LUMEN_RATOMIC_*
 * @reserved0: zero
 * @reserved: zero
 */
struct lumen_cmd_ratomic {
	lumen_le64 result;
	lumen_le64 offset;
	lumen_le64 operand;
	lumen_le32 dst_chip;
	lumen_le32 window;
	lumen_le64 key;
	lumen_le32 op;
	lumen_le32 reserved0;
	lumen_le64 reserved;
};

/*
 * REDUCE and RREDUCE element types and operations (hw-spec 10, "Reductions").
 * Each element: convert both operands to the arithmetic type (f32 for the
 * float types, exactly; i32 as is), apply the op, round back to nearest
 * even (float types). SUM of i32 wraps; MAX/MIN of i32 are signed; float
 * MAX/MIN return a NaN if either operand is one, else the larger (smaller)
 * value, the destination's when they compare equal (so -0 vs +0 keeps dst).
 * (LUMEN_DT_, not LUMEN_DTYPE_: the runtime's public lumen_dtype_t owns
 * that prefix, and tests include both headers.)
 */
#define LUMEN_DT_F32			0
#define LUMEN_DT_F16			1	/* IEEE binary16 */
#define LUMEN_DT_BF16			2	/* the top half of a binary32 */
#define LUMEN_DT_I32			3
#define LUMEN_DT_COUNT			4

#define LUMEN_REDOP_SUM			0
#define LUMEN_REDOP_MAX			1
#define LUMEN_REDOP_MIN			2
#define LUMEN_REDOP_COUNT		3

/**
 * lumen_dt_size() - bytes of one element of a LUMEN_DT_*
 * @dtype: LUMEN_DT_*, below LUMEN_DT_COUNT
 *
 * Return: 4 or 2; 0 for an unknown type.
 */
static inline uint32_t lumen_dt_size(uint32_t dtype)
{
	return dtype == LUMEN_DT_F32 || dtype == LUMEN_DT_I32 ? 4 :
	       dtype == LUMEN_DT_F16 || dtype == LUMEN_DT_BF16 ? 2 : 0;
}

/**
 * struct lumen_cmd_reduce - LUMEN_CMD_REDUCE arguments (device VAs)
 * @src: first element of the source, aligned to the element size
 * @dst: first element of the destination (read and written), aligned
 * @size: bytes, a multiple of the element size, up to LUMEN_CMD_MAX_SIZE;
 *        0 completes at once
 * @dtype: LUMEN_DT_*
 * @op: LUMEN_REDOP_*
 * @reserved: zero
 *
 * dst == src is an in-place reduction (x op x); other overlaps give
 * unspecified dst content, like COPY.
 */
struct lumen_cmd_reduce {
	lumen_le64 src;
	lumen_le64 dst;
	lumen_le64 size;
	lumen_le32 dtype;
	lumen_le32 op;
	lumen_le64 reserved[3];
};

/**
 * struct lumen_cmd_rreduce - RREDUCE arguments (hw-spec 13.7)
 * @local: device VA of the source elements in the queue's context, aligned
 *         to the element size
 * @offset: byte offset of the first target element in the remote window,
 *          aligned to the element size
 * @size: bytes, a multiple of the element size, up to
 *        LUMEN_CMD_REMOTE_MAX_SIZE; 0 completes at once
 * @dst_chip: target chip id, <= LUMEN_CHIP_ID_MAX
 * @window: window slot on the target (it needs the WRITE right)
 * @key: the window's key
 * @dtype: LUMEN_DT_*
 * @op: LUMEN_REDOP_*
 * @reserved: zero
 *
 * Like RWRITE, but every element lands as target = target op source,
 * applied exactly once (a resent packet is not reduced twice).
 */
struct lumen_cmd_rreduce {
	lumen_le64 local;
	lumen_le64 offset;
	lumen_le64 size;
	lumen_le32 dst_chip;
	lumen_le32 window;
	lumen_le64 key;
	lumen_le32 dtype;
	lumen_le32 op;
	lumen_le64 reserved;
};

/**
 * struct lumen_cmd - one 64-byte queue descriptor
 * @opcode: enum lumen_cmd_op
 * @flags: LUMEN_CMD_F_*
 * @reserved0: must be zero
 * @tag: driver's cookie, reported in fault records
 * @u: per-opcode arguments; unused bytes must be zero
 */
struct lumen_cmd {
	unsigned char opcode;
	unsigned char flags;
	lumen_le16 reserved0;
	lumen_le32 tag;
	union {
		struct lumen_cmd_copy copy;
		struct lumen_cmd_fill fill;
		struct lumen_cmd_fence fence;
		struct lumen_cmd_remote remote;
		struct lumen_cmd_ratomic ratomic;
		struct lumen_cmd_reduce reduce;
		struct lumen_cmd_rreduce rreduce;
		lumen_le64 raw[7];
	} u;
};
LUMEN_CHECK_SIZE(struct lumen_cmd_copy, 56);
LUMEN_CHECK_SIZE(struct lumen_cmd_fill, 56);
LUMEN_CHECK_SIZE(struct lumen_cmd_fence, 56);
LUMEN_CHECK_SIZE(struct lumen_cmd_remote, 56);
LUMEN_CHECK_SIZE(struct lumen_cmd_ratomic, 56);
LUMEN_CHECK_SIZE(struct lumen_cmd_reduce, 56);
LUMEN_CHECK_SIZE(struct lumen_cmd_rreduce, 56);
LUMEN_CHECK_SIZE(struct lumen_cmd, 64);
LUMEN_CHECK_OFFSET(struct lumen_cmd, tag, 4);
LUMEN_CHECK_OFFSET(struct lumen_cmd, u, 8);

#endif /* LUMEN_QUEUE_H */
