/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blkcopy: block-device copy offload, in-kernel interface.
 *
 * A copy is a pair of bios: a REQ_OP_COPY_READ half that names the source
 * range and a REQ_OP_COPY_WRITE half that names the destination range. Both
 * carry the same token. See Documentation/blkcopy.rst.
 */
#ifndef _LINUX_BLKCOPY_H
#define _LINUX_BLKCOPY_H

#include <linux/types.h>

/*
 * Copy operations, taken from values enum req_op leaves unused in 6.12: an
 * even value for the half that reads and an odd one for the half that
 * writes, so op_is_write() is right for both. They are below REQ_OP_LAST so
 * that tables the block layer sizes by REQ_OP_LAST stay in bounds.
 * rust/helpers/blkcopy_helpers.c checks these at build time against the
 * kernel's enum req_op.
 */
enum blkcopy_req_op {
	REQ_OP_COPY_READ = 20,
	REQ_OP_COPY_WRITE = 21,
};

struct bio;
struct block_device;
struct gendisk;

/* --- Copy API ------------------------------------------------------------ */

/* Fail with -EOPNOTSUPP rather than copy through the host. */
#define BLKCOPY_OFFLOAD_ONLY	(1U << 0)
/* Copy through the host without trying the device. */
#define BLKCOPY_NO_OFFLOAD	(1U << 1)

/* blkcopy_result.flags: the error was a read of the source. */
#define BLKCOPY_RESULT_READ_ERROR	(1U << 0)

struct blkcopy_result {
	int status;		/* 0, or a negative errno */
	unsigned int flags;	/* BLKCOPY_RESULT_* */
	__u64 bytes_copied;	/* length of the copied prefix, in bytes */
	__u64 bytes_offloaded;	/* bytes the device copied */
};

typedef void (*blkcopy_end_io_t)(const struct blkcopy_result *res, void *private);

/*
 * blkcopy_copy() - copy @nr_sects sectors from @src to @dst, asynchronously.
 *
 * Offloaded to the device where a provider can pair the copy halves, copied
 * by reads and writes through the host otherwise (unless BLKCOPY_OFFLOAD_ONLY).
 * Sectors are relative to the devices as given (partitions included). Both
 * devices must stay open until @end_io has been called. The page cache of
 * either device is not touched: like bio submission, callers that mix this
 * with buffered I/O write back and invalidate around it.
 *
 * Returns 0 when the copy was started; @end_io is then called exactly once,
 * in process context. Returns a negative errno, without calling @end_io, for
 * invalid arguments (-EINVAL: zero length, misaligned to the larger logical
 * block size, out of range, overlapping on one disk, unknown flags) or no
 * memory (-ENOMEM).
 */
int blkcopy_copy(struct block_device *src, sector_t src_sector,
		 struct block_device *dst, sector_t dst_sector,
		 sector_t nr_sects, unsigned int flags,
		 blkcopy_end_io_t end_io, void *private);

/* --- kcopyd adapter (dm_kcopyd_copy() semantics) -------------------------- */

#define BLKCOPY_KCOPYD_MAX_REGIONS	8
/* Copy every destination as far as possible despite errors (else the first
 * failed destination stops the others). */
#define BLKCOPY_KCOPYD_IGNORE_ERROR	(1U << 0)

struct blkcopy_kcopyd_client;

struct blkcopy_region {
	struct block_device *bdev;
	sector_t sector;
	sector_t count;
};

/* @read_err: the source could not be read; @write_err: bit i set when
 * destination i could not be written. */
typedef void (*blkcopy_kcopyd_notify_fn)(int read_err, unsigned long write_err,
					 void *context);

/* A client with at most @max_jobs copies in flight (0: 8). NULL: no memory. */
struct blkcopy_kcopyd_client *blkcopy_kcopyd_client_create(unsigned int max_jobs);
/* Waits for the client's copies (and their notifications), then frees it. */
void blkcopy_kcopyd_client_destroy(struct blkcopy_kcopyd_client *kc);
/*
 * Waits until every copy started on @kc before the call has been notified
 * and its notify function has returned. Not from a notify function.
 */
void blkcopy_kcopyd_client_drain(struct blkcopy_kcopyd_client *kc);

struct blkcopy_kcopyd_stats {
	__u64 bytes_offloaded;	/* copied by the devices */
	__u64 bytes_emulated;	/* copied through the host (fallback) */
};

/* What @kc's copies have moved so far, each destination counted. */
void blkcopy_kcopyd_client_stats(struct blkcopy_kcopyd_client *kc,
				 struct blkcopy_kcopyd_stats *stats);
/*
 * Copy @from to each of @dests (1..BLKCOPY_KCOPYD_MAX_REGIONS regions of the
 * same size), each offloaded where a provider can. @fn(@context) is called
 * once all are done, in process context, one at a time per client. May
 * sleep (throttling). Returns 0, or a negative errno without calling @fn.
 * The devices must stay open until @fn has been called.
 */
int blkcopy_kcopyd_copy(struct blkcopy_kcopyd_client *kc,
			const struct blkcopy_region *from,
			unsigned int num_dests, const struct blkcopy_region *dests,
			unsigned int flags, blkcopy_kcopyd_notify_fn fn,
			void *context);

/* --- Provider interface (the bottom of the stack) -------------------------- */

/* Why a copy half ended without copying; see Documentation/blkcopy.rst. */
enum blkcopy_reason {
	BLKCOPY_FALLBACK_NO_PROVIDER = 0,	/* no provider for the device */
	BLKCOPY_FALLBACK_CROSS_DEVICE = 1,	/* provider cannot copy between the devices */
	BLKCOPY_FALLBACK_UNPAIRED = 2,		/* part of the write half found no source */
	BLKCOPY_FALLBACK_DEVICE_ERROR = 3,	/* the device command failed */
	BLKCOPY_FALLBACK_DISABLED = 4,		/* the caller asked for no offload */
	BLKCOPY_FALLBACK_LIMITS = 5,		/* beyond what the device accepts */
	BLKCOPY_FALLBACK_NR
};

struct blkcopy_limits {
	__u64 max_bytes;	/* per device command */
	__u64 max_range_bytes;	/* per source range */
	__u32 max_src_ranges;	/* source ranges per device command */
	__u32 provider_id;	/* BLKCOPY_PROVIDER_* (uapi) */
};

struct blkcopy_src_range {
	sector_t sector;	/* on the source disk (whole-disk sectors) */
	__u32 nr_sects;
	__u32 pad;
};

/*
 * Every callback gets the @private pointer its provider was registered
 * with (the provider's state: no provider needs a global).
 */
struct blkcopy_provider_ops {
	const char *name;
	struct module *owner;
	/* Does the provider copy on @disk? Fill @lim if so. */
	bool (*probe)(void *private, struct gendisk *disk, struct blkcopy_limits *lim);
	/* Can one command of @dst's device copy from @src? (NULL: never.) */
	bool (*can_copy)(void *private, struct gendisk *src, struct gendisk *dst);
	/*
	 * Copy @src (@nr_src ranges, within the probed limits, on @src_disk)
	 * to the range of @dst_bio, a REQ_OP_COPY_WRITE piece addressed to a
	 * whole disk the provider probed. End @dst_bio with bio_endio(): status
	 * 0 when the device copied, BLK_STS_NOTSUPP (after
	 * blkcopy_set_reason()) when the core should fall back.
	 */
	void (*submit)(void *private, struct bio *dst_bio, struct gendisk *src_disk,
		       const struct blkcopy_src_range *src, unsigned int nr_src);
};

/* --- Copy-aware stacking layers ------------------------------------------ */

enum blkcopy_map_result {
	BLKCOPY_MAP_NOT_MINE = 0,	/* the layer does not map this sector */
	BLKCOPY_MAP_REMAPPED = 1,	/* the half was re-addressed: route it on */
	BLKCOPY_MAP_DONE = 2,		/* the layer took the half (ended or resubmitted it) */
};

struct blkcopy_stacking_ops {
	const char *name;
	struct module *owner;
	/*
	 * A copy half (or piece) addressed to @disk: if the layer maps its
	 * first sector, re-address it (blkcopy_remap_half()) to the device
	 * below, carving off with blkcopy_split_half() and resubmitting with
	 * blkcopy_submit_half() the part its mapping covers when the half
	 * reaches past it, and return BLKCOPY_MAP_REMAPPED. Called in process
	 * context.
	 */
	int (*map_half)(struct gendisk *disk, struct bio *half);
};

int blkcopy_register_stacking(const struct blkcopy_stacking_ops *ops);
void blkcopy_unregister_stacking(const struct blkcopy_stacking_ops *ops);
/* Carve the first @bytes off a copy half into a new half (NULL: no memory). */
struct bio *blkcopy_split_half(struct bio *half, unsigned int bytes);
/* Re-address a copy half to @bdev at @sector. */
void blkcopy_remap_half(struct bio *half, struct block_device *bdev, sector_t sector);
/*
 * Route a copy half down the stack (the core owns it again). Called from
 * map_half(), the half is queued and routed once map_half() has returned
 * (routing never recurses: each stacking level would add its frames to
 * the submitter's stack).
 */
void blkcopy_submit_half(struct bio *half);
/*
 * Keep the mapping a layer just applied to @half in force: @release(@arg)
 * is called once, in process context, when the copy no longer depends on
 * it (all halves of its offload attempt have ended). A layer that must not
 * change its mapping under a copy (a table swap) waits for its holds.
 * Returns 0, or -ENOMEM (then the layer must not map the half).
 */
int blkcopy_hold(struct bio *half, void (*release)(void *arg), void *arg);

int blkcopy_register_provider(const struct blkcopy_provider_ops *ops, void *private);
void blkcopy_unregister_provider(const struct blkcopy_provider_ops *ops);
void blkcopy_set_reason(struct bio *bio, enum blkcopy_reason reason);

#endif /* _LINUX_BLKCOPY_H */
