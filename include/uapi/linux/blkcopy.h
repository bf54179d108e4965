/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * blkcopy user API: copy between block devices through /dev/blkcopy,
 * offloaded to the device where it can copy (NVMe Copy, SCSI EXTENDED COPY),
 * otherwise by an in-kernel read/write copy. See Documentation/blkcopy.rst.
 *
 * Every structure starts with its size (the caller sets it to sizeof the
 * structure it was built with; that is its version), has explicit padding,
 * and ends in reserved fields that must be zero.
 */
#ifndef _UAPI_LINUX_BLKCOPY_H
#define _UAPI_LINUX_BLKCOPY_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define BLKCOPY_IOC_MAGIC	0xBC

/* One range of a copy. Offsets are bytes relative to the device as opened
 * (partition-relative for a partition). */
struct blkcopy_range {
	__u64 src_offset;
	__u64 dst_offset;
	__u64 length;
	__u64 reserved;		/* must be zero */
};

/* Fail with EOPNOTSUPP rather than copy through the host. */
#define BLKCOPY_FLAG_OFFLOAD_ONLY	(1U << 0)
/* Do not try the device: copy through the host (benchmarks, comparisons). */
#define BLKCOPY_FLAG_NO_OFFLOAD		(1U << 1)
#define BLKCOPY_FLAGS_ALL	(BLKCOPY_FLAG_OFFLOAD_ONLY | BLKCOPY_FLAG_NO_OFFLOAD)

/* Most ranges one BLKCOPY call takes. */
#define BLKCOPY_MAX_RANGES	256

/*
 * Which check refused a copy (struct blkcopy_error.rule). BLKCOPY,
 * BLKCOPY_URING_COPY and the CLI name the rule; the errno stays what it
 * was. "value" is what the check compared with, where it says so.
 */
#define BLKCOPY_ERROR_NONE		0	/* no check refused it */
#define BLKCOPY_ERROR_STRUCT		1	/* size, pad or reserved field of the command */
#define BLKCOPY_ERROR_FLAGS		2	/* unknown flags, or OFFLOAD_ONLY with NO_OFFLOAD */
#define BLKCOPY_ERROR_NR_RANGES		3	/* not 1 .. value (BLKCOPY_MAX_RANGES) */
#define BLKCOPY_ERROR_SRC_FD		4	/* src_fd: no block device open for reading */
#define BLKCOPY_ERROR_DST_FD		5	/* dst_fd: no block device open for writing */
#define BLKCOPY_ERROR_DST_READ_ONLY	6	/* the destination device is read-only */
#define BLKCOPY_ERROR_DST_SWAP		7	/* the destination is an active swap device */
#define BLKCOPY_ERROR_RANGE_RESERVED	8	/* a range's reserved field is set */
#define BLKCOPY_ERROR_ZERO_LENGTH	9	/* a range of length 0 */
#define BLKCOPY_ERROR_ALIGNMENT		10	/* offset or length not a multiple of value
						 * (the larger logical block size) */
#define BLKCOPY_ERROR_OVERFLOW		11	/* offset + length past 2^64 (EOVERFLOW) */
#define BLKCOPY_ERROR_SRC_END		12	/* source range ends past value (its size) */
#define BLKCOPY_ERROR_DST_END		13	/* destination range ends past value (its size) */
#define BLKCOPY_ERROR_OVERLAP_SRC	14	/* destination overlaps the source of range
						 * value on the same disk */
#define BLKCOPY_ERROR_OVERLAP_DST	15	/* destination overlaps the destination of
						 * range value */
#define BLKCOPY_ERROR_OVERLAP_BELOW	16	/* a destination overlaps a source or another
						 * destination on a disk below a stacking layer
						 * (at byte value of that disk) */
#define BLKCOPY_ERROR_NOT_OFFLOADED	17	/* OFFLOAD_ONLY: value bytes could not be
						 * offloaded (EOPNOTSUPP) */
#define BLKCOPY_ERROR_WOULD_BLOCK	18	/* issued non-blocking, with source cache to
						 * write back or destination cache to drop */

/* error.range when the rule is not about one range. */
#define BLKCOPY_NO_RANGE	0xffffffffU

/* All zero when no check refused the copy. */
struct blkcopy_error {
	__u32 rule;		/* BLKCOPY_ERROR_* */
	__u32 range;		/* index of the range refused, or BLKCOPY_NO_RANGE */
	__u64 value;		/* what the check compared with (see the rule) */
};

struct blkcopy_args {
	__u32 size;		/* in: sizeof(struct blkcopy_args) */
	__u32 flags;		/* in: BLKCOPY_FLAG_* */
	__s32 src_fd;		/* in: block device open for reading */
	__s32 dst_fd;		/* in: block device open for writing */
	__u64 ranges;		/* in: pointer to struct blkcopy_range[nr_ranges] */
	__u32 nr_ranges;	/* in: 1 .. BLKCOPY_MAX_RANGES */
	__u32 pad;		/* must be zero */
	__u64 bytes_copied;	/* out: length of the copied prefix of the ranges */
	__u64 bytes_offloaded;	/* out: bytes of it the device copied */
	struct blkcopy_error error; /* out: which check refused the copy
				     * (the arguments are written back unless
				     * they could not be read or have another
				     * size; ignored on input) */
	__u64 reserved[2];	/* must be zero */
};

/* Provider identifiers reported by BLKCOPY_INFO. */
#define BLKCOPY_PROVIDER_NONE	0
#define BLKCOPY_PROVIDER_NVME	1
#define BLKCOPY_PROVIDER_SCSI	2
#define BLKCOPY_PROVIDER_STACKED 3	/* a copy-aware stacking layer (dm) */

/* Why offload between two devices is not possible (pair_reason). */
#define BLKCOPY_REASON_NONE		0	/* offload possible */
#define BLKCOPY_REASON_NO_PROVIDER	1	/* a device has no copy provider */
#define BLKCOPY_REASON_CROSS_DEVICE	2	/* provider cannot copy between them */
#define BLKCOPY_REASON_BLOCK_SIZE	3	/* logical block sizes differ */

struct blkcopy_info {
	__u32 size;		/* in: sizeof(struct blkcopy_info) */
	__u32 flags;		/* in: must be zero */
	__s32 fd;		/* in: block device */
	__s32 fd2;		/* in: second block device, or -1 */
	__u32 provider;		/* out: BLKCOPY_PROVIDER_* of fd */
	__u32 logical_block_size; /* out: of fd */
	__u64 capacity;		/* out: bytes, of fd */
	__u64 max_copy_bytes;	/* out: per device command, 0 without provider */
	__u32 max_ranges;	/* out: source ranges per device command */
	__u32 pair_offload;	/* out: 1 if fd -> fd2 can be offloaded */
	__u32 pair_reason;	/* out: BLKCOPY_REASON_* when pair_offload is 0 */
	__u32 pad;		/* must be zero */
	__u64 reserved[4];	/* must be zero */
};

/*
 * Why bytes of a copy fell back to the host: the indexes of
 * blkcopy_stats.fallback[] (the provider interface's enum blkcopy_reason).
 */
#define BLKCOPY_STAT_NO_PROVIDER	0	/* a device has no copy provider */
#define BLKCOPY_STAT_CROSS_DEVICE	1	/* the provider cannot copy between them */
#define BLKCOPY_STAT_UNPAIRED		2	/* part of a write half found no source */
#define BLKCOPY_STAT_DEVICE_ERROR	3	/* the device command failed */
#define BLKCOPY_STAT_DISABLED		4	/* the caller asked for no offload */
#define BLKCOPY_STAT_LIMITS		5	/* beyond what the device accepts */
#define BLKCOPY_STATS_FALLBACKS		8	/* entries of fallback[] (6 used) */

/* BLKCOPY_STATS: look the device up by fd rather than by index. */
#define BLKCOPY_STATS_BY_FD	(1U << 0)

/*
 * BLKCOPY_STATS: the copy statistics of one block device since the blkcopy
 * module was loaded (a partition counts apart from its disk; a copy counts
 * on its source and on its destination). By index: the index-th device
 * that took part in a copy (ENOENT past the last; a device keeps its index
 * while the module is loaded). By fd: that device (all counters zero if no
 * copy touched it). See Documentation/ABI/testing/dev-blkcopy.
 */
struct blkcopy_stats {
	__u32 size;		/* in: sizeof(struct blkcopy_stats) */
	__u32 flags;		/* in: BLKCOPY_STATS_BY_FD or 0 */
	__s32 fd;		/* in: with BLKCOPY_STATS_BY_FD, a block device */
	__u32 index;		/* in: without it, which device */
	__u32 dev_major;	/* out: the device's number */
	__u32 dev_minor;
	char name[40];		/* out: its name as in /dev, NUL-terminated */
	__u64 copies;		/* out: copies it took part in */
	__u64 failures;		/* out: of them, those that failed */
	__u64 bytes_offloaded;	/* out: bytes the device copied */
	__u64 bytes_emulated;	/* out: bytes copied through the host */
	__u64 fallback[BLKCOPY_STATS_FALLBACKS]; /* out: bytes that fell back,
						  * by BLKCOPY_STAT_* */
	__u64 reserved[4];	/* must be zero */
};

#define BLKCOPY		_IOWR(BLKCOPY_IOC_MAGIC, 1, struct blkcopy_args)
#define BLKCOPY_INFO	_IOWR(BLKCOPY_IOC_MAGIC, 2, struct blkcopy_info)
#define BLKCOPY_STATS	_IOWR(BLKCOPY_IOC_MAGIC, 3, struct blkcopy_stats)

/*
 * Asynchronous copies through io_uring: IORING_OP_URING_CMD on /dev/blkcopy,
 * on a ring set up with IORING_SETUP_SQE128 (the command lives in the SQE's
 * 80-byte cmd area; on a 64-byte-SQE ring every command fails with EINVAL).
 * sqe->cmd_op selects the command; unknown ones fail with ENOTTY.
 *
 * BLKCOPY_URING_COPY makes every check BLKCOPY makes, with the same errnos,
 * when it is issued, and then returns without waiting for the copy. Its CQE
 * is posted after the copy has ended (nothing is written after it):
 *   cqe->res	0, or -errno as BLKCOPY would fail (-ECANCELED when it was
 *		cancelled before it finished);
 *   big_cqe[0]	on IORING_SETUP_CQE32 rings: bytes_copied, the length of
 *		the copied prefix of the ranges (also on failure);
 *   result	if not 0, struct blkcopy_uring_result (result_size must be its
 *		size) is written there before the CQE is posted (-EFAULT in
 *		cqe->res if it cannot be), also when a check refused the copy
 *		at issue (once the command's size and result_size are right).
 * See Documentation/blkcopy.rst ("Asynchronous copies: io_uring").
 */
struct blkcopy_uring_copy {
	__u32 size;		/* sizeof(struct blkcopy_uring_copy) */
	__u32 flags;		/* BLKCOPY_FLAG_* */
	__s32 src_fd;		/* block device open for reading */
	__s32 dst_fd;		/* block device open for writing */
	__u64 ranges;		/* pointer to struct blkcopy_range[nr_ranges], */
	__u32 nr_ranges;	/* 1 .. BLKCOPY_MAX_RANGES; or both 0: */
	__u32 pad;		/* must be zero */
	__u64 src_offset;	/* the one range inline (else all three 0) */
	__u64 dst_offset;
	__u64 length;
	__u64 result;		/* 0, or pointer to struct blkcopy_uring_result */
	__u32 result_size;	/* sizeof(struct blkcopy_uring_result) with a
				 * result pointer, else 0 */
	__u32 pad2;		/* must be zero */
	__u64 reserved;		/* must be zero */
};

struct blkcopy_uring_result {
	__u64 bytes_copied;	/* length of the copied prefix of the ranges */
	__u64 bytes_offloaded;	/* bytes of it the device copied */
	struct blkcopy_error error; /* which check refused the copy */
};

/* Cancel every matching copy, not only the first. */
#define BLKCOPY_CANCEL_ALL	(1U << 0)

/*
 * BLKCOPY_URING_CANCEL: stop the copies issued on the same ring whose SQE
 * carried user_data (IORING_OP_ASYNC_CANCEL does not reach commands of
 * drivers in Linux 6.12). A cancelled copy stops issuing, waits for what it
 * has in flight, and completes with -ECANCELED and its copied prefix (or 0
 * if it finished meanwhile). cqe->res: how many copies were asked to stop,
 * or -ENOENT if none was in progress.
 */
struct blkcopy_uring_cancel {
	__u32 size;		/* sizeof(struct blkcopy_uring_cancel) */
	__u32 flags;		/* BLKCOPY_CANCEL_ALL */
	__u64 user_data;	/* of the copies to cancel */
	__u64 reserved[2];	/* must be zero */
};

#define BLKCOPY_URING_COPY	_IOWR(BLKCOPY_IOC_MAGIC, 0x80, struct blkcopy_uring_copy)
#define BLKCOPY_URING_CANCEL	_IOW(BLKCOPY_IOC_MAGIC, 0x81, struct blkcopy_uring_cancel)

#endif /* _UAPI_LINUX_BLKCOPY_H */
