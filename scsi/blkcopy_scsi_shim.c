// SPDX-License-Identifier: GPL-2.0
/*
 * C shim of the blkcopy SCSI provider.
 *
 * Why C: finding a disk's scsi_device (to_scsi_device() is a macro),
 * setting up a passthrough scsi_cmnd (the request's PDU, blk_mq_rq_to_pdu()
 * and scsi_req_init-style setup are static inlines) and scsi_execute_cmd()'s
 * argument structure are not reachable from Rust. Only exported, public
 * SCSI midlayer interfaces are used (the headers in include/scsi/).
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <scsi/scsi_cmnd.h>
#include <scsi/scsi_device.h>
#include <scsi/scsi_host.h>

#include "blkcopy_scsi_shim.h"

/* The scsi_device of an sd disk, or NULL (the disk's parent device is the
 * scsi_device's generic device for sd). */
struct scsi_device *blkcopy_scsi_sdev(struct gendisk *disk)
{
	struct device *parent = disk_to_dev(disk)->parent;

	if (!parent || !scsi_is_sdev_device(parent))
		return NULL;
	return to_scsi_device(parent);
}

void blkcopy_scsi_addr(struct scsi_device *sdev, struct blkcopy_scsi_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->host = sdev->host->host_no;
	a->channel = sdev->channel;
	a->id = sdev->id;
	a->lun = sdev->lun;
	a->block_size = sdev->sector_size;
	a->inquiry_byte5 = sdev->inquiry && sdev->inquiry_len > 5 ? sdev->inquiry[5] : 0;
}

int blkcopy_scsi_vpd(struct scsi_device *sdev, u8 page, void *buf, int len)
{
	return scsi_get_vpd_page(sdev, page, buf, len);
}

/*
 * A data-in command, synchronous (process context), with the midlayer's
 * retries for unit attentions. Returns the SCSI result (0: good; negative:
 * errno) and fills @sense (BLKCOPY_SCSI_SENSE_LEN bytes).
 */
int blkcopy_scsi_exec_in(struct scsi_device *sdev, const u8 *cdb, void *buf,
			 u32 len, u8 *sense)
{
	const struct scsi_exec_args args = {
		.sense = sense,
		.sense_len = BLKCOPY_SCSI_SENSE_LEN,
	};

	memset(sense, 0, BLKCOPY_SCSI_SENSE_LEN);
	return scsi_execute_cmd(sdev, cdb, REQ_OP_DRV_IN, buf, len, 30 * HZ, 3,
				&args);
}

/*
 * Fault injection for tests: the next N EXTENDED COPY commands name a
 * source LU that does not exist (the first CSCD descriptor's NAA is
 * altered), which a copy manager answers with COPY ABORTED, so that the
 * handling of a real target error can be tested.
 */
static unsigned int inject_unknown_source;
module_param(inject_unknown_source, uint, 0644);
MODULE_PARM_DESC(inject_unknown_source,
		 "name an unknown source LU in the next N EXTENDED COPY commands (testing)");

struct blkcopy_scsi_cmd {
	blkcopy_scsi_done_t done;
	void *ctx;
};

static enum rq_end_io_ret blkcopy_scsi_end_io(struct request *rq,
					      blk_status_t err)
{
	struct scsi_cmnd *scmd = blk_mq_rq_to_pdu(rq);
	struct blkcopy_scsi_cmd *cmd = rq->end_io_data;

	cmd->done(cmd->ctx, scmd->result, scmd->sense_buffer, scmd->sense_len,
		  (__force u8)err);
	kfree(cmd);
	return RQ_END_IO_FREE;
}

/*
 * A data-out command (EXTENDED COPY), asynchronous, never retried by the
 * midlayer (a target that refuses it must not see it again and again).
 * @param (kmalloc'ed, @len bytes) must stay allocated until @done, which
 * is called once from the completion path. Returns 0 or a negative errno
 * (then @done is not called). May sleep.
 */
int blkcopy_scsi_exec_out_async(struct scsi_device *sdev, const u8 *cdb,
				void *param, u32 len, u32 timeout_ms,
				blkcopy_scsi_done_t done, void *ctx)
{
	struct blkcopy_scsi_cmd *cmd;
	struct scsi_cmnd *scmd;
	struct request *rq;
	int ret;

	if (READ_ONCE(inject_unknown_source) && len >= 16 + 24) {
		WRITE_ONCE(inject_unknown_source, inject_unknown_source - 1);
		((u8 *)param)[16 + 23] ^= 0xff;	/* last byte of the first NAA */
	}
	cmd = kmalloc(sizeof(*cmd), GFP_NOIO);
	if (!cmd)
		return -ENOMEM;
	cmd->done = done;
	cmd->ctx = ctx;
	rq = scsi_alloc_request(sdev->request_queue, REQ_OP_DRV_OUT, 0);
	if (IS_ERR(rq)) {
		kfree(cmd);
		return PTR_ERR(rq);
	}
	ret = blk_rq_map_kern(sdev->request_queue, rq, param, len, GFP_NOIO);
	if (ret) {
		blk_mq_free_request(rq);
		kfree(cmd);
		return ret;
	}
	scmd = blk_mq_rq_to_pdu(rq);
	memcpy(scmd->cmnd, cdb, 16);
	scmd->cmd_len = 16;
	scmd->allowed = 0;
	rq->timeout = msecs_to_jiffies(timeout_ms);
	rq->cmd_flags |= REQ_FAILFAST_DEV | REQ_FAILFAST_TRANSPORT | REQ_FAILFAST_DRIVER;
	rq->end_io = blkcopy_scsi_end_io;
	rq->end_io_data = cmd;
	blk_execute_rq_nowait(rq, false);
	return 0;
}
