/* SPDX-License-Identifier: MIT */
/*
 * Lumen N1: PCI identity, BAR layout, BAR0 register map, MSI-X vectors and
 * status codes. docs/hw-spec.md is the prose of this contract; where the two
 * disagree, this header is right and the document is a bug.
 *
 * All registers are 32 bits wide, little-endian, and must be accessed with
 * naturally aligned 32-bit reads and writes. 64-bit quantities are split into
 * _LO/_HI pairs; a 64-bit value is latched when its _HI half is written.
 */
#ifndef LUMEN_REGS_H
#define LUMEN_REGS_H

#include "lumen_types.h"

/* ---- Specification version (HW_VERSION register) ---------------------- */
#define LUMEN_HW_VERSION_MAJOR		1
#define LUMEN_HW_VERSION_MINOR		0
#define LUMEN_HW_VERSION		((LUMEN_HW_VERSION_MAJOR << 16) | LUMEN_HW_VERSION_MINOR)
#define LUMEN_VERSION_MAJOR(v)		(((v) >> 16) & 0xffff)
#define LUMEN_VERSION_MINOR(v)		((v) & 0xffff)

/* ---- PCI identity ---------------------------------------------------- */
#define LUMEN_PCI_VENDOR_ID		0x1234	/* QEMU's teaching-device vendor */
#define LUMEN_PCI_DEVICE_ID		0x11a1	/* Lumen N1 */
#define LUMEN_PCI_REVISION		0x01
#define LUMEN_PCI_CLASS			0x120000 /* processing accelerator, prog-if 0 */
#define LUMEN_PCI_SUBSYS_VENDOR_ID	0x1234
#define LUMEN_PCI_SUBSYS_ID		0x0001	/* N1 reference board */

/* ---- BARs -------------------------------------------------------------- */
#define LUMEN_BAR_REGS			0	/* 32-bit MMIO, control registers + MSI-X */
#define LUMEN_BAR_MEM			2	/* 64-bit prefetchable, device memory */
#define LUMEN_BAR_DOORBELL		4	/* 64-bit MMIO, one page per queue */

#define LUMEN_REGS_BAR_SIZE		0x10000
#define LUMEN_MSIX_TABLE_OFFSET		0x8000
#define LUMEN_MSIX_PBA_OFFSET		0x9000

#define LUMEN_MEM_SIZE_DEFAULT		(256ULL << 20)
#define LUMEN_MEM_SIZE_MIN		(16ULL << 20)
#define LUMEN_MEM_SIZE_MAX		(16ULL << 30)	/* power of two in [MIN, MAX] */

#define LUMEN_DOORBELL_STRIDE		0x1000	/* queue q rings at q * STRIDE */
#define LUMEN_DOORBELL_TAIL		0x0	/* offset of the tail word in a page */

/* ---- Limits ------------------------------------------------------------ */
#define LUMEN_QUEUES_DEFAULT		16
#define LUMEN_QUEUES_MIN		1
#define LUMEN_QUEUES_MAX		64
#define LUMEN_LINK_PORTS_DEFAULT	6	/* +x -x +y -y +z -z of a 3D torus */
#define LUMEN_LINK_PORTS_MAX		8
#define LUMEN_CONTEXTS_MAX		64	/* device MMU address spaces */

/* ---- MSI-X vectors ----------------------------------------------------- */
#define LUMEN_VEC_MBOX			0	/* boot completion, mailbox responses */
#define LUMEN_VEC_ERROR			1	/* ERR_STATUS and MMU fault records */
#define LUMEN_VEC_LINK			2	/* link port state changes */
#define LUMEN_VEC_RESERVED		3
#define LUMEN_VEC_QUEUE_BASE		4	/* queue q completes on BASE + q */
#define LUMEN_NUM_VECTORS(nq)		(LUMEN_VEC_QUEUE_BASE + (nq))

/* ---- Capabilities (CAPS register) -------------------------------------- */
#define LUMEN_CAP_MAILBOX		(1u << 0)
#define LUMEN_CAP_DMA_QUEUES		(1u << 1)
#define LUMEN_CAP_MMU			(1u << 2)
#define LUMEN_CAP_COMPUTE		(1u << 3)
#define LUMEN_CAP_LINKS			(1u << 4)
#define LUMEN_CAP_TELEMETRY		(1u << 5)
#define LUMEN_CAP_FAULT_INJECT		(1u << 6)	/* test-only register block */
/* bit 7: LUMEN_CAP_LINK_PORTS, lumen_link.h */
#define LUMEN_CAP_REDUCE		(1u << 8)	/* REDUCE; RREDUCE with CAPS.LINKS */
#define LUMEN_CAP_USER_QUEUES		(1u << 9)	/* QCTRL.USER, CPL, IRQ_AT */

/* ---- Global registers (0x000 - 0x0ff) ---------------------------------- */
#define LUMEN_REG_MAGIC			0x000	/* RO: LUMEN_MAGIC */
#define LUMEN_REG_HW_VERSION		0x004	/* RO: major << 16 | minor */
#define LUMEN_REG_CAPS			0x008	/* RO: LUMEN_CAP_* */
#define LUMEN_REG_CHIP_ID		0x00c	/* RO: position in the supernode */
#define LUMEN_REG_MEM_SIZE_LO		0x010	/* RO: device memory bytes */
#define LUMEN_REG_MEM_SIZE_HI		0x014
#define LUMEN_REG_NUM_QUEUES		0x018	/* RO */
#define LUMEN_REG_NUM_LINK_PORTS	0x01c	/* RO */
#define LUMEN_REG_NUM_VECTORS		0x020	/* RO: MSI-X vectors implemented */
#define LUMEN_REG_DEVICE_STATUS		0x024	/* RO: LUMEN_DEVSTS_* */
#define LUMEN_REG_SOFT_RESET		0x028	/* WO: write LUMEN_RESET_KEY */
#define LUMEN_REG_SCRATCH		0x02c	/* RW: no side effects */

#define LUMEN_MAGIC			0x4e4d554c	/* "LUMN" in memory order */
#define LUMEN_RESET_KEY			0x54455352	/* "RSET" */

#define LUMEN_DEVSTS_FW_RUNNING		(1u << 0)
#define LUMEN_DEVSTS_HALTED		(1u << 1)	/* fatal error, needs reset */
#define LUMEN_DEVSTS_RESET_DONE		(1u << 2)	/* reset finished; clears on BOOT */

/* ---- Interrupts and errors (0x100 - 0x1ff) ---------------------------- */
#define LUMEN_REG_INT_STATUS		0x100	/* RW1C: LUMEN_INT_* causes */
#define LUMEN_REG_INT_MASK		0x104	/* RW: 1 = cause does not signal */
#define LUMEN_REG_ERR_STATUS		0x110	/* RW1C: LUMEN_ERR_* */
#define LUMEN_REG_ERR_COUNT		0x114	/* RO: errors since reset */
#define LUMEN_REG_ERR_LAST_CODE		0x118	/* RO: enum lumen_status of last */
#define LUMEN_REG_ERR_LAST_INFO_LO	0x120	/* RO: address/argument of last */
#define LUMEN_REG_ERR_LAST_INFO_HI	0x124

#define LUMEN_INT_MBOX			(1u << 0)	/* response ring advanced */
#define LUMEN_INT_BOOT			(1u << 1)	/* boot finished (ok or failed) */
#define LUMEN_INT_ERROR			(1u << 2)	/* ERR_STATUS gained a bit */
#define LUMEN_INT_MMU_FAULT		(1u << 3)	/* fault record valid */
#define LUMEN_INT_LINK			(1u << 4)	/* a link port changed state */
#define LUMEN_INT_QUEUE			(1u << 5)	/* any queue completed */
#define LUMEN_INT_MGMT			(1u << 6)	/* management packet received (CAPS.LINKS) */
#define LUMEN_INT_ALL			0x7fu

#define LUMEN_ERR_FW_IMAGE		(1u << 0)
#define LUMEN_ERR_MBOX_PROTOCOL		(1u << 1)
#define LUMEN_ERR_DMA			(1u << 2)
#define LUMEN_ERR_MMU			(1u << 3)
#define LUMEN_ERR_QUEUE_DESC		(1u << 4)
#define LUMEN_ERR_INTERNAL		(1u << 5)
#define LUMEN_ERR_THERMAL		(1u << 6)
#define LUMEN_ERR_LINK			(1u << 7)
#define LUMEN_ERR_REG_ACCESS		(1u << 8)	/* bad offset/width/value */

/* ---- Firmware boot and mailbox (0x200 - 0x2ff) ------------------------- */
#define LUMEN_REG_FW_ADDR_LO		0x200	/* RW: host bus address of image */
#define LUMEN_REG_FW_ADDR_HI		0x204
#define LUMEN_REG_FW_SIZE		0x208	/* RW: image bytes */
#define LUMEN_REG_BOOT_CTRL		0x20c	/* WO: LUMEN_BOOT_CTRL_* */
#define LUMEN_REG_BOOT_STATUS		0x210	/* RO: enum lumen_boot_state */
#define LUMEN_REG_BOOT_ERROR		0x214	/* RO: enum lumen_status */
#define LUMEN_REG_FW_VERSION		0x218	/* RO: of the running image */
#define LUMEN_REG_FW_ABI_VERSION	0x21c	/* RO: negotiated major<<16|minor */
#define LUMEN_REG_MBOX_REQ_BASE_LO	0x220	/* RW: host bus address */
#define LUMEN_REG_MBOX_REQ_BASE_HI	0x224
#define LUMEN_REG_MBOX_RESP_BASE_LO	0x228
#define LUMEN_REG_MBOX_RESP_BASE_HI	0x22c
#define LUMEN_REG_MBOX_RING_ORDER	0x230	/* RW: log2(entries) per ring */
#define LUMEN_REG_MBOX_REQ_TAIL		0x234	/* RW: driver producer index */
#define LUMEN_REG_MBOX_REQ_HEAD		0x238	/* RO: device consumer index */
#define LUMEN_REG_MBOX_RESP_TAIL	0x23c	/* RO: device producer index */
#define LUMEN_REG_MBOX_RESP_HEAD	0x240	/* RW: driver consumer index */

#define LUMEN_BOOT_CTRL_BOOT		0x1

#define LUMEN_MBOX_RING_ORDER_MIN	1
#define LUMEN_MBOX_RING_ORDER_MAX	8

enum lumen_boot_state {
	LUMEN_BOOT_OFF = 0,		/* no firmware; mailbox closed */
	LUMEN_BOOT_LOADING = 1,		/* image being fetched and checked */
	LUMEN_BOOT_RUNNING = 2,		/* firmware up; mailbox open */
	LUMEN_BOOT_FAILED = 3,		/* BOOT_ERROR says why; reset to retry */
};

/* ---- Telemetry (0x300 - 0x3ff) ---------------------------------------- */
#define LUMEN_REG_TEMP_MC		0x300	/* RO: die temperature, milli-C */
#define LUMEN_REG_POWER_MW		0x304	/* RO: board power, milliwatts */
#define LUMEN_REG_CLK_CORE_MHZ		0x308	/* RO */
#define LUMEN_REG_CLK_MEM_MHZ		0x30c	/* RO */
#define LUMEN_REG_BUSY_NS_LO		0x310	/* RO: cumulative engine busy time */
#define LUMEN_REG_BUSY_NS_HI		0x314
#define LUMEN_REG_UPTIME_MS		0x318	/* RO: since reset */
#define LUMEN_REG_TEMP_CRIT_MC		0x31c	/* RO: critical temperature */
#define LUMEN_REG_POWER_CAP_MW		0x320	/* RW: power limit */
#define LUMEN_REG_POWER_MAX_MW		0x324	/* RO: board limit for the cap */

/* ---- Device MMU (0x400 - 0x4ff), see lumen_mmu.h ----------------------- */
#define LUMEN_REG_MMU_CTX_SELECT	0x400	/* RW: context the next regs address */
#define LUMEN_REG_MMU_CTX_ROOT_LO	0x404	/* RW: root table pointer (PTE form) */
#define LUMEN_REG_MMU_CTX_ROOT_HI	0x408
#define LUMEN_REG_MMU_CTX_CTRL		0x40c	/* RW: LUMEN_MMU_CTX_* */
#define LUMEN_REG_MMU_INVALIDATE	0x410	/* WO: context id, drops its TLB */
#define LUMEN_REG_MMU_FAULT_STATUS	0x420	/* RW1C: bit 0 = record valid */
#define LUMEN_REG_MMU_FAULT_CTX		0x424	/* RO */
#define LUMEN_REG_MMU_FAULT_ADDR_LO	0x428	/* RO: faulting device VA */
#define LUMEN_REG_MMU_FAULT_ADDR_HI	0x42c
#define LUMEN_REG_MMU_FAULT_INFO	0x430	/* RO: kind | access, lumen_mmu.h */
#define LUMEN_REG_MMU_FAULT_QUEUE	0x434	/* RO: queue that faulted */
#define LUMEN_REG_MMU_FAULT_TAG		0x438	/* RO: tag of the faulting command */

/* ---- Test-only fault injection (0x500 - 0x5ff) ------------------------- */
/*
 * Present only when CAPS has LUMEN_CAP_FAULT_INJECT. Never used by a
 * production driver outside its test modes.
 */
#define LUMEN_REG_INJECT_CTRL		0x500	/* WO: enum lumen_inject | q << 8 */
#define LUMEN_REG_INJECT_STATUS		0x504	/* RO: bit q = queue q has one armed */
#define LUMEN_REG_INJECT_STATUS_HI	0x508	/* RO: bit q - 32, queues 32..63 */

/*
 * A queue injection (HANG_QUEUE, DMA_FAIL, CORRUPT_DESC, WEDGE_QUEUE) is
 * armed by writing INJECT_CTRL and fires once, on the next descriptor
 * queue q executes; until then INJECT_STATUS shows it armed. HANG_QUEUE
 * then holds until the queue is reset with LUMEN_QCTRL_RESET.
 * WEDGE_QUEUE wedges the queue's engine, which only a device reset fixes:
 * the queue stops consuming descriptors like HANG_QUEUE, but
 * LUMEN_QCTRL_RESET does not recover it: whenever the queue is enabled
 * its STATUS reads RUNNING (never IDLE), HEAD does not move, and
 * doorbells are ignored (TAIL is kept, no error). Only a soft reset
 * (SOFT_RESET) or a function-level reset clears it. Once fired, a wedge is
 * device state like a fired device injection: it no longer shows in
 * INJECT_STATUS. Kinds are not grouped by family: WEDGE_QUEUE (7) is a
 * queue injection.
 *
 * A device injection (FW_CRASH, HALT, MBOX_HANG) fires at once, its queue
 * field must be 0, and it holds until a soft reset or a function-level
 * reset:
 *  - FW_CRASH: the firmware dies. DEVICE_STATUS.FW_RUNNING clears,
 *    BOOT_STATUS becomes FAILED with BOOT_ERROR FW_CRASHED, the mailbox is
 *    no longer served, every queue stops fetching descriptors, and the
 *    device reports ERR_INTERNAL with code FW_CRASHED on the error vector.
 *  - HALT: the device halts: DEVICE_STATUS.HALTED sets, every queue stops
 *    fetching descriptors, the mailbox is no longer served, and the device
 *    reports ERR_INTERNAL with code INTERNAL on the error vector.
 *  - MBOX_HANG: the firmware silently stops answering the mailbox (no
 *    response, no interrupt, no error); queues keep running.
 * A queue field >= NUM_QUEUES, a non-zero queue field with a device
 * injection or an unknown kind is a REG_ACCESS error.
 */
#define LUMEN_INJECT_KIND_MASK		0xffu
#define LUMEN_INJECT_QUEUE_SHIFT	8
#define LUMEN_INJECT_QUEUE_MASK		(0xffu << LUMEN_INJECT_QUEUE_SHIFT)

enum lumen_inject {
	LUMEN_INJECT_NONE = 0,
	LUMEN_INJECT_HANG_QUEUE = 1,	/* queue stops consuming descriptors */
	LUMEN_INJECT_DMA_FAIL = 2,	/* next DMA of the queue fails */
	LUMEN_INJECT_CORRUPT_DESC = 3,	/* next descriptor read is garbage */
	LUMEN_INJECT_FW_CRASH = 4,	/* device: the firmware crashes */
	LUMEN_INJECT_HALT = 5,		/* device: the device halts */
	LUMEN_INJECT_MBOX_HANG = 6,	/* device: the mailbox stops answering */
	LUMEN_INJECT_WEDGE_QUEUE = 7,	/* queue engine wedged until a device reset */
	LUMEN_INJECT_COUNT
};

/* ---- Link ports (0x800 - 0xbff): 0x80 bytes per port, lumen_link.h ------ */
#define LUMEN_REG_LINK_BASE		0x800
#define LUMEN_REG_LINK_STRIDE		0x80
#define LUMEN_REG_LINK(p, r)		(LUMEN_REG_LINK_BASE + (p) * LUMEN_REG_LINK_STRIDE + (r))

/* ---- DMA queues (0x1000 - 0x1fff): 0x40 bytes per queue, lumen_queue.h -- */
#define LUMEN_REG_QUEUE_BASE		0x1000
#define LUMEN_REG_QUEUE_STRIDE		0x40
#define LUMEN_REG_QUEUE(q, r)		(LUMEN_REG_QUEUE_BASE + (q) * LUMEN_REG_QUEUE_STRIDE + (r))

/*
 * ---- Status codes --------------------------------------------------------
 * One namespace for BOOT_ERROR, ERR_LAST_CODE, mailbox response status and
 * queue error codes, so a number means the same thing wherever it shows up.
 */
enum lumen_status {
	LUMEN_STATUS_OK = 0,
	LUMEN_STATUS_BAD_MAGIC = 1,	/* image or structure magic wrong */
	LUMEN_STATUS_BAD_ABI = 2,	/* incompatible ABI major version */
	LUMEN_STATUS_BAD_SIZE = 3,	/* size field out of range/inconsistent */
	LUMEN_STATUS_BAD_CHECKSUM = 4,	/* CRC32 mismatch */
	LUMEN_STATUS_DMA_ERROR = 5,	/* a DMA read or write failed */
	LUMEN_STATUS_BAD_STATE = 6,	/* request not valid in this state */
	LUMEN_STATUS_UNKNOWN_MSG = 7,	/* mailbox message type unknown */
	LUMEN_STATUS_BAD_VERSION = 8,	/* mailbox protocol version unknown */
	LUMEN_STATUS_BAD_LENGTH = 9,	/* payload length wrong for the type */
	LUMEN_STATUS_BAD_ARGUMENT = 10,	/* a field's value is out of range */
	LUMEN_STATUS_BUSY = 11,
	LUMEN_STATUS_INTERNAL = 12,
	LUMEN_STATUS_BAD_DESCRIPTOR = 13, /* queue descriptor malformed */
	LUMEN_STATUS_MMU_FAULT = 14,
	LUMEN_STATUS_TIMEOUT = 15,
	LUMEN_STATUS_RESERVED_SET = 16,	/* a must-be-zero field was not zero */
	LUMEN_STATUS_FW_CRASHED = 17,	/* the firmware stopped running */
	LUMEN_STATUS_ACCESS = 18,	/* remote window refused the operation */
	LUMEN_STATUS_UNREACHABLE = 19,	/* no route to the chip, or TTL ran out */
	LUMEN_STATUS_COUNT
};

/**
 * lumen_status_name() - short human-readable name of a status code
 * @status: an enum lumen_status value, possibly out of range
 *
 * Return: a static string; "unknown status" for values this header does
 * not know, so a newer device's code still prints safely.
 */
static inline const char *lumen_status_name(uint32_t status)
{
	static const char *const names[LUMEN_STATUS_COUNT] = {
		[LUMEN_STATUS_OK] = "ok",
		[LUMEN_STATUS_BAD_MAGIC] = "bad magic",
		[LUMEN_STATUS_BAD_ABI] = "incompatible ABI version",
		[LUMEN_STATUS_BAD_SIZE] = "bad size",
		[LUMEN_STATUS_BAD_CHECKSUM] = "checksum mismatch",
		[LUMEN_STATUS_DMA_ERROR] = "DMA error",
		[LUMEN_STATUS_BAD_STATE] = "invalid in this state",
		[LUMEN_STATUS_UNKNOWN_MSG] = "unknown message type",
		[LUMEN_STATUS_BAD_VERSION] = "unsupported protocol version",
		[LUMEN_STATUS_BAD_LENGTH] = "bad payload length",
		[LUMEN_STATUS_BAD_ARGUMENT] = "bad argument",
		[LUMEN_STATUS_BUSY] = "busy",
		[LUMEN_STATUS_INTERNAL] = "internal error",
		[LUMEN_STATUS_BAD_DESCRIPTOR] = "bad descriptor",
		[LUMEN_STATUS_MMU_FAULT] = "MMU fault",
		[LUMEN_STATUS_TIMEOUT] = "timeout",
		[LUMEN_STATUS_RESERVED_SET] = "reserved field set",
		[LUMEN_STATUS_FW_CRASHED] = "firmware crashed",
		[LUMEN_STATUS_ACCESS] = "remote access refused",
		[LUMEN_STATUS_UNREACHABLE] = "chip unreachable",
	};

	if (status >= LUMEN_STATUS_COUNT)
		return "unknown status";
	return names[status];
}

#endif /* LUMEN_REGS_H */
