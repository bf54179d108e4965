// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers linked into blkcopy.ko, and exported (GPL) for blkcopy's other
 * modules, whose Rust code shares rust/kernel_ext with the core.
 *
 * Only what Rust cannot do belongs here: build-time checks against the
 * kernel's C definitions, static inline functions and private structure
 * layouts. Each helper says why it is in C.
 */
#include <linux/bio.h>
#include <linux/blk_types.h>
#include <linux/blkdev.h>
#include <linux/build_bug.h>
#include <linux/export.h>
#include <linux/io_uring/cmd.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/wait_bit.h>

#include "../../include/linux/blkcopy.h"
#include "../../include/uapi/linux/blkcopy.h"
#include "blkcopy_helpers.h"

/* The in-kernel flags are the uAPI's: the ioctl passes them through. */
static_assert(BLKCOPY_OFFLOAD_ONLY == BLKCOPY_FLAG_OFFLOAD_ONLY);
static_assert(BLKCOPY_NO_OFFLOAD == BLKCOPY_FLAG_NO_OFFLOAD);

sector_t blkcopy_bdev_nr_sectors(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}
EXPORT_SYMBOL_GPL(blkcopy_bdev_nr_sectors);

unsigned int blkcopy_bdev_logical_block_size(struct block_device *bdev)
{
	return bdev_logical_block_size(bdev);
}
EXPORT_SYMBOL_GPL(blkcopy_bdev_logical_block_size);

bool blkcopy_bdev_read_only(struct block_device *bdev)
{
	return bdev_read_only(bdev);
}
EXPORT_SYMBOL_GPL(blkcopy_bdev_read_only);

struct block_device *blkcopy_bdev_whole(struct block_device *bdev)
{
	return bdev_whole(bdev);
}
EXPORT_SYMBOL_GPL(blkcopy_bdev_whole);

u8 blkcopy_bdev_partno(struct block_device *bdev)
{
	return bdev_partno(bdev);
}
EXPORT_SYMBOL_GPL(blkcopy_bdev_partno);

/* bio_set_dev() is a static inline (it also fixes up blk-cgroup state). */
void blkcopy_bio_set_dev(struct bio *bio, struct block_device *bdev)
{
	bio_set_dev(bio, bdev);
}
EXPORT_SYMBOL_GPL(blkcopy_bio_set_dev);

bool blkcopy_file_is_bdev(struct file *file)
{
	return S_ISBLK(file_inode(file)->i_mode);
}
EXPORT_SYMBOL_GPL(blkcopy_file_is_bdev);

bool blkcopy_file_is_swap(struct file *file)
{
	return IS_SWAPFILE(file->f_mapping->host);
}
EXPORT_SYMBOL_GPL(blkcopy_file_is_swap);

void blkcopy_init_completion(struct completion *c)
{
	init_completion(c);
}
EXPORT_SYMBOL_GPL(blkcopy_init_completion);

bool blkcopy_llist_add(struct llist_node *node, struct llist_head *head)
{
	return llist_add(node, head);
}
EXPORT_SYMBOL_GPL(blkcopy_llist_add);

struct llist_node *blkcopy_llist_del_all(struct llist_head *head)
{
	return llist_del_all(head);
}
EXPORT_SYMBOL_GPL(blkcopy_llist_del_all);

bool blkcopy_llist_empty(struct llist_head *head)
{
	return llist_empty(head);
}
EXPORT_SYMBOL_GPL(blkcopy_llist_empty);

void blkcopy_drain_wait(unsigned long *count)
{
	wait_var_event(count, READ_ONCE(*count) == 0);
}
EXPORT_SYMBOL_GPL(blkcopy_drain_wait);

void blkcopy_drain_wake(unsigned long *count)
{
	/* Orders the caller's decrement before the check for waiters. */
	smp_mb();
	wake_up_var(count);
}
EXPORT_SYMBOL_GPL(blkcopy_drain_wake);

unsigned int blkcopy_memalloc_noio_save(void)
{
	return memalloc_noio_save();
}
EXPORT_SYMBOL_GPL(blkcopy_memalloc_noio_save);

void blkcopy_memalloc_noio_restore(unsigned int flags)
{
	memalloc_noio_restore(flags);
}
EXPORT_SYMBOL_GPL(blkcopy_memalloc_noio_restore);

/*
 * Why C: the check is against the kernel's enum req_op as this kernel's
 * compiler sees it. Every 6.12 operation is listed by name; a copy op that
 * reused one of their values would be a duplicate case label, which fails
 * the build. REQ_OP_LAST pins the set: a kernel that adds operations fails
 * here until the list (and the choice of copy op values) is reviewed.
 */
static_assert(REQ_OP_LAST == 36, "enum req_op changed: review REQ_OP_COPY_*");
static_assert((REQ_OP_COPY_READ & 1) == 0, "the read half must not be a write op");
static_assert((REQ_OP_COPY_WRITE & 1) == 1, "the write half must be a write op");
static_assert((int)REQ_OP_COPY_WRITE < (int)REQ_OP_LAST, "copy ops must stay below REQ_OP_LAST");
static_assert((unsigned int)REQ_OP_COPY_WRITE <= (__force unsigned int)REQ_OP_MASK,
	      "copy ops must fit REQ_OP_BITS");

static inline __maybe_unused bool blkcopy_op_is_free(unsigned int op)
{
	switch (op) {
	case REQ_OP_READ:
	case REQ_OP_WRITE:
	case REQ_OP_FLUSH:
	case REQ_OP_DISCARD:
	case REQ_OP_SECURE_ERASE:
	case REQ_OP_ZONE_APPEND:
	case REQ_OP_WRITE_ZEROES:
	case REQ_OP_ZONE_OPEN:
	case REQ_OP_ZONE_CLOSE:
	case REQ_OP_ZONE_FINISH:
	case REQ_OP_ZONE_RESET:
	case REQ_OP_ZONE_RESET_ALL:
	case REQ_OP_DRV_IN:
	case REQ_OP_DRV_OUT:
	case REQ_OP_LAST:
		return false;
	case REQ_OP_COPY_READ:
	case REQ_OP_COPY_WRITE:
		return true;
	}
	return false;
}

bool blkcopy_file_range_needs_writeback(struct file *file, loff_t start, loff_t end)
{
	return filemap_range_needs_writeback(file->f_mapping, start, end);
}
EXPORT_SYMBOL_GPL(blkcopy_file_range_needs_writeback);

struct file *blkcopy_uring_cmd_file(struct io_uring_cmd *cmd)
{
	return cmd->file;
}
EXPORT_SYMBOL_GPL(blkcopy_uring_cmd_file);

u32 blkcopy_uring_cmd_cmd_op(struct io_uring_cmd *cmd)
{
	return cmd->cmd_op;
}
EXPORT_SYMBOL_GPL(blkcopy_uring_cmd_cmd_op);

/* Valid during the issue call only (the SQE may be in the shared ring). */
const void *blkcopy_uring_cmd_payload(struct io_uring_cmd *cmd)
{
	return io_uring_sqe_cmd(cmd->sqe);
}
EXPORT_SYMBOL_GPL(blkcopy_uring_cmd_payload);

void *blkcopy_uring_cmd_pdu(struct io_uring_cmd *cmd)
{
	/* rust/kernel_ext/uring_cmd.rs keeps one pointer there. */
	BUILD_BUG_ON(sizeof(cmd->pdu) < sizeof(void *));
	return cmd->pdu;
}
EXPORT_SYMBOL_GPL(blkcopy_uring_cmd_pdu);

u64 blkcopy_uring_cmd_user_data(struct io_uring_cmd *cmd)
{
	return cmd_to_io_kiocb(cmd)->cqe.user_data;
}
EXPORT_SYMBOL_GPL(blkcopy_uring_cmd_user_data);

const void *blkcopy_uring_cmd_ring(struct io_uring_cmd *cmd)
{
	return cmd_to_io_kiocb(cmd)->ctx;
}
EXPORT_SYMBOL_GPL(blkcopy_uring_cmd_ring);
