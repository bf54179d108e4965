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
	__u64 reserved[4];	/* must be zero */
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

#define BLKCOPY		_IOWR(BLKCOPY_IOC_MAGIC, 1, struct blkcopy_args)
#define BLKCOPY_INFO	_IOWR(BLKCOPY_IOC_MAGIC, 2, struct blkcopy_info)

#endif /* _UAPI_LINUX_BLKCOPY_H */
