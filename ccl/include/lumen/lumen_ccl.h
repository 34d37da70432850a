/* SPDX-License-Identifier: MIT */
/*
 * liblumen-ccl: collectives over the Lumen supernode's links, NCCL-shaped.
 *
 * A communicator is one rank: a liblumen context on one chip. Collectives
 * are queued on a stream of that context, like any other work, and run on
 * the cards: data moves chip to chip with remote writes into the next
 * rank's staging buffer, reductions run in the DMA engine, and the steps
 * are ordered by device-side waits on flags that the previous rank bumps
 * with remote atomics (lumen_stream_wait_value64). The host only queues.
 *
 * Communicators: all ranks in one process (lumen_ccl_comm_init_all, one
 * context per rank), or ranks in several processes and hosts that meet
 * through a unique id (lumen_ccl_get_unique_id, lumen_ccl_comm_init_rank;
 * the bootstrap runs over the management network). A ring over the ranks
 * in rank order carries all-reduce, all-gather, reduce-scatter, broadcast,
 * reduce and barrier; point-to-point sends and receives and all-to-all go
 * through per-pair channels. Every rank must queue the same collectives in the
 * same order (as with NCCL). The
 * collectives of one communicator run in the order they were queued, on
 * whatever streams; one thread queues them at a time.
 *
 * Queuing from one thread for every rank works while a rank's part fits
 * in lumen.ko's limit of jobs in flight per context (512; about 6 jobs per
 * 1 MiB slice): a larger collective blocks the queuing thread on a rank
 * whose peers are not queued yet. Queue the ranks inside a group
 * (lumen_ccl_group_start/end) or each from a thread of its own for those.
 *
 * Errors are lumen_status_t; lumen_ccl_get_last_error() says what failed
 * (with liblumen's message when a liblumen call did). A collective that
 * fails after part of it was queued leaves the ranks out of step: every
 * later call on any communicator of the same lumen_ccl_comm_init_all fails
 * too; destroy them. A remote error on one rank's stream (a peer gone, a
 * window closed) makes every rank's result of that collective wrong, not
 * only that rank's. Ranks must reach a collective within lumen.ko's job
 * timeout of each other: a stream waiting longer for its peer fails its
 * context (LUMEN_ERROR_TIMEOUT), as does a peer that never takes part.
 */
#ifndef LUMEN_CCL_H
#define LUMEN_CCL_H

#include <lumen/lumen.h>

/* 0.x: the ABI may change with the minor version (SONAME liblumen-ccl.so.0). */
#define LUMEN_CCL_VERSION_MAJOR 0
#define LUMEN_CCL_VERSION_MINOR 2
#define LUMEN_CCL_VERSION_PATCH 0

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lumen_ccl_comm_s *lumen_ccl_comm_t;

#define LUMEN_CCL_UNIQUE_ID_BYTES 128

/**
 * Names one bootstrap of a communicator whose ranks are in several
 * processes or hosts: plain bytes, handed to every rank by the caller's
 * own means (MPI, a file, a socket), like ncclUniqueId.
 */
typedef struct lumen_ccl_unique_id {
	char internal[LUMEN_CCL_UNIQUE_ID_BYTES];
} lumen_ccl_unique_id_t;

/** Message of the calling thread's last failed lumen_ccl_* call, or "". */
LUMEN_API const char *lumen_ccl_get_last_error(void);

/**
 * One communicator per context of ctxs (ranks 0 .. n - 1 in that order),
 * each on a chip of its own or sharing one; the ring follows rank order.
 * Each needs routes to the other ranks' chips, two window slots of its
 * context, and of its device memory 2 MiB + 4 KiB (the ring's staging
 * area) plus its p2p area (see lumen_ccl_send: at most 16 MiB up to 2048
 * ranks, 32 MiB at 4096).
 */
LUMEN_API lumen_status_t lumen_ccl_comm_init_all(lumen_ccl_comm_t *comms, int n,
						 const lumen_context_t *ctxs);
/**
 * A new unique id, and its root: a thread of the calling process that the
 * ranks' lumen_ccl_comm_init_rank calls meet at, over the management
 * network with libfabric's tcp provider (interface
 * $LUMEN_CCL_SOCKET_IFNAME, else the first IPv4 one other than loopback,
 * else loopback). The process must live until every rank's init returned.
 */
LUMEN_API lumen_status_t lumen_ccl_get_unique_id(lumen_ccl_unique_id_t *id);
/**
 * Rank rank of nranks of the communicator named by id, on context ctx.
 * Blocks until every rank has called it (each from its own thread or
 * process) or $LUMEN_CCL_BOOTSTRAP_TIMEOUT seconds (default 120) passed
 * (LUMEN_ERROR_TIMEOUT). Ranks that disagree on nranks, or two ranks of
 * one number, fail every rank's init (INVALID_ARGUMENT, naming it). The
 * ring follows rank order, as for lumen_ccl_comm_init_all.
 */
LUMEN_API lumen_status_t lumen_ccl_comm_init_rank(lumen_ccl_comm_t *comm, int nranks,
						  lumen_ccl_unique_id_t id, int rank,
						  lumen_context_t ctx);
/**
 * Wait for the communicator's queued work (and the next rank's last
 * acknowledgements), then free it. Call it once every rank's work is
 * queued.
 */
LUMEN_API lumen_status_t lumen_ccl_comm_destroy(lumen_ccl_comm_t comm);
/**
 * End the communicator without waiting for its peers (one of them died, a
 * collective failed): the peers' writes into its areas fail from now on,
 * the waits its streams still have on them are released (what those
 * collectives compute is undefined), every later call on the other
 * communicators of its init in this process fails, and it returns once the
 * streams that ran its collectives are done, then frees it. Call it on
 * every rank that gives up.
 */
LUMEN_API lumen_status_t lumen_ccl_comm_abort(lumen_ccl_comm_t comm);
/**
 * Without waiting: *error is SUCCESS while the communicator is sound, else
 * why not (lumen_ccl_get_last_error() says more): a collective that failed
 * half queued or an abort on a communicator of the same init, or the
 * status of its context (a fault, a job that hung and was reset, a lost
 * device). Remote errors of single operations show on the stream that
 * queued them (lumen_stream_synchronize).
 */
LUMEN_API lumen_status_t lumen_ccl_comm_get_async_error(lumen_ccl_comm_t comm,
							 lumen_status_t *error);
LUMEN_API lumen_status_t lumen_ccl_comm_count(lumen_ccl_comm_t comm, int *count);
LUMEN_API lumen_status_t lumen_ccl_comm_rank(lumen_ccl_comm_t comm, int *rank);

/** How a communicator's rank runs its collectives, and on which routes. */
typedef struct lumen_ccl_comm_info {
	size_t struct_size;    /**< in: sizeof(lumen_ccl_comm_info_t) (LUMEN_STRUCT_INIT) */
	int nranks;	       /**< ranks of the communicator */
	int rank;	       /**< this one */
	uint32_t chip_id;      /**< this rank's chip (UINT32_MAX: no link engine) */
	uint32_t next_chip_id; /**< the chip of the rank it sends to */
	uint32_t prev_chip_id; /**< the chip of the rank it receives from */
	uint32_t next_hops;    /**< hops of the route to the next rank (0: same chip or unknown) */
	uint32_t prev_hops;    /**< hops of the route from here to the previous rank */
	uint32_t replans;      /**< times the plan was made again after a reroute */
	/** 1: the tables of that generation reach a ring neighbour no more (the
	 * collectives are still queued; their streams report remote errors) */
	uint32_t unreachable;
	/**
	 * Routing generation (lumen_fabric_info_t) of the routes the plan was
	 * made from; 0 when no fabric manager answered.
	 */
	uint64_t generation;
	uint32_t channels;  /**< rings run at once */
	char algorithm[16]; /**< "ring" */
} lumen_ccl_comm_info_t;

/**
 * The rank's plan. A collective queued after the fabric's routing
 * generation moved (a fiber cut and rerouted, a re-patch: lumen-fm's
 * tables, watched by a thread of the process every 250 ms while a
 * communicator exists) plans again first.
 */
LUMEN_API lumen_status_t lumen_ccl_comm_get_info(lumen_ccl_comm_t comm,
						 lumen_ccl_comm_info_t *info);

/** The color of a rank that takes part in a split but joins no communicator. */
#define LUMEN_CCL_SPLIT_NOCOLOR (-1)

/**
 * A collective of comm: the ranks that pass the same color (>= 0) make a
 * new communicator, ranked by key then by their rank in comm, on the same
 * contexts. A rank passing LUMEN_CCL_SPLIT_NOCOLOR gets NULL. Blocks until
 * every rank of comm has called it (the ranks and their areas travel
 * through comm's ring), so ranks of one process call it from a thread each,
 * or all inside a group (then *newcomm is set at lumen_ccl_group_end).
 */
LUMEN_API lumen_status_t lumen_ccl_comm_split(lumen_ccl_comm_t comm, int color, int key,
					      lumen_ccl_comm_t *newcomm);

/** recv[i] = op over ranks of send[i], count elements; send == recv in place. */
LUMEN_API lumen_status_t lumen_ccl_all_reduce(lumen_devptr_t send, lumen_devptr_t recv,
					      size_t count, lumen_dtype_t dtype,
					      lumen_reduce_op_t op, lumen_ccl_comm_t comm,
					      lumen_stream_t stream);
/** recv = every rank's send (send_count elements each), in rank order. */
LUMEN_API lumen_status_t lumen_ccl_all_gather(lumen_devptr_t send, lumen_devptr_t recv,
					      size_t send_count, lumen_dtype_t dtype,
					      lumen_ccl_comm_t comm, lumen_stream_t stream);
/** recv (recv_count elements) = op over ranks of this rank's block of send. */
LUMEN_API lumen_status_t lumen_ccl_reduce_scatter(lumen_devptr_t send, lumen_devptr_t recv,
						  size_t recv_count, lumen_dtype_t dtype,
						  lumen_reduce_op_t op, lumen_ccl_comm_t comm,
						  lumen_stream_t stream);
/** recv on every rank = send of rank root (count elements). */
LUMEN_API lumen_status_t lumen_ccl_broadcast(lumen_devptr_t send, lumen_devptr_t recv, size_t count,
					     lumen_dtype_t dtype, int root, lumen_ccl_comm_t comm,
					     lumen_stream_t stream);

/** recv on rank root = op over ranks of send (count elements); recv is
 * not touched on the other ranks (may be 0 there). */
LUMEN_API lumen_status_t lumen_ccl_reduce(lumen_devptr_t send, lumen_devptr_t recv, size_t count,
					  lumen_dtype_t dtype, lumen_reduce_op_t op, int root,
					  lumen_ccl_comm_t comm, lumen_stream_t stream);
/** Work queued on stream after the barrier starts once every rank's stream
 * has reached its barrier (n - 1 token steps round the ring). */
LUMEN_API lumen_status_t lumen_ccl_barrier(lumen_ccl_comm_t comm, lumen_stream_t stream);

/**
 * count elements at send to rank peer, which receives them with
 * lumen_ccl_recv: a pair's sends and receives match in the order they were
 * called, and their counts and dtype sizes must agree. Data goes through
 * the peer's p2p area for this rank (two slots of 16 MiB / (2 n), 4 KiB to
 * 256 KiB: the area takes at most 16 MiB of each rank's memory, 32 MiB at
 * 4096 ranks). Sends queue on the caller's stream, receives on a stream of
 * the communicator's own forked from it and joined back, so a rank's sends
 * and receives never wait behind each other. A rank may send to and
 * receive from itself. Sends of one stream still run in order: as with
 * NCCL, a send that waits for its peer holds the sends queued after it on
 * that stream, so exchanges belong in one group.
 */
LUMEN_API lumen_status_t lumen_ccl_send(lumen_devptr_t send, size_t count, lumen_dtype_t dtype,
					int peer, lumen_ccl_comm_t comm, lumen_stream_t stream);
/** count elements from rank peer into recv (see lumen_ccl_send). */
LUMEN_API lumen_status_t lumen_ccl_recv(lumen_devptr_t recv, size_t count, lumen_dtype_t dtype,
					int peer, lumen_ccl_comm_t comm, lumen_stream_t stream);
/**
 * Block j (count elements) of send goes to rank j, which puts it at block
 * rank of its recv; send and recv are n * count elements and distinct.
 */
LUMEN_API lumen_status_t lumen_ccl_all_to_all(lumen_devptr_t send, lumen_devptr_t recv,
					      size_t count, lumen_dtype_t dtype,
					      lumen_ccl_comm_t comm, lumen_stream_t stream);

/**
 * Group calls: the calls of this thread between lumen_ccl_group_start and
 * the matching lumen_ccl_group_end (groups nest; the outermost end counts)
 * are checked at once but queued at the end: sends and receives of one
 * communicator on one stream as one batch whose slices interleave, and
 * the parts of several communicators (the ranks of one
 * lumen_ccl_comm_init_all) from a thread each, so one thread can queue
 * collectives of any size for all ranks. lumen_ccl_group_end returns the
 * first failure of what it queued.
 */
LUMEN_API lumen_status_t lumen_ccl_group_start(void);
LUMEN_API lumen_status_t lumen_ccl_group_end(void);

#ifdef __cplusplus
}
#endif

#endif /* LUMEN_CCL_H */
