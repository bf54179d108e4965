/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C shim of the blkcopy SCSI provider: SCSI midlayer calls whose
 * arguments and helpers are macros and static inlines (scsi_cmnd, request
 * setup, scsi_execute_cmd arguments), which Rust cannot reach.
 */
#ifndef _BLKCOPY_SCSI_SHIM_H
#define _BLKCOPY_SCSI_SHIM_H

#include <linux/types.h>

struct scsi_device;

/* Where a SCSI disk sits: its host, channel, target id and LUN. */
struct blkcopy_scsi_addr {
	u32 host;
	u32 channel;
	u32 id;
	u32 pad;
	u64 lun;
	u32 block_size;
	u8 inquiry_byte5;	/* 3PC is bit 3 */
	u8 pad2[3];
};

#define BLKCOPY_SCSI_SENSE_LEN 96

typedef void (*blkcopy_scsi_done_t)(void *ctx, int result, const u8 *sense,
				    u32 sense_len, u8 blk_status);

struct scsi_device *blkcopy_scsi_sdev(struct gendisk *disk);
void blkcopy_scsi_addr(struct scsi_device *sdev, struct blkcopy_scsi_addr *a);
int blkcopy_scsi_vpd(struct scsi_device *sdev, u8 page, void *buf, int len);
int blkcopy_scsi_exec_in(struct scsi_device *sdev, const u8 *cdb, void *buf,
			 u32 len, u8 *sense);
int blkcopy_scsi_exec_out_async(struct scsi_device *sdev, const u8 *cdb,
				void *param, u32 len, u32 timeout_ms,
				blkcopy_scsi_done_t done, void *ctx);

#endif /* _BLKCOPY_SCSI_SHIM_H */
