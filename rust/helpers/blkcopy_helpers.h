/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C helpers of blkcopy's modules, callable from Rust. Each exists because
 * Rust cannot reach the thing it wraps: a static inline function or a
 * macro. (Constants bindgen cannot evaluate are in bindings_helper.h.)
 */
#ifndef _BLKCOPY_HELPERS_H
#define _BLKCOPY_HELPERS_H

#include <linux/blk_types.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/completion.h>

/* Static inline block device accessors (include/linux/blkdev.h). */
sector_t blkcopy_bdev_nr_sectors(struct block_device *bdev);
unsigned int blkcopy_bdev_logical_block_size(struct block_device *bdev);
bool blkcopy_bdev_read_only(struct block_device *bdev);
struct block_device *blkcopy_bdev_whole(struct block_device *bdev);
u8 blkcopy_bdev_partno(struct block_device *bdev);

/* bio_set_dev(). */
void blkcopy_bio_set_dev(struct bio *bio, struct block_device *bdev);

/* S_ISBLK(file_inode(file)->i_mode), and IS_SWAPFILE on it. */
bool blkcopy_file_is_bdev(struct file *file);
bool blkcopy_file_is_swap(struct file *file);

/* init_completion() is a static inline. */
void blkcopy_init_completion(struct completion *c);

/* llist_add(), llist_del_all() and llist_empty() are static inlines. */
bool blkcopy_llist_add(struct llist_node *node, struct llist_head *head);
struct llist_node *blkcopy_llist_del_all(struct llist_head *head);
bool blkcopy_llist_empty(struct llist_head *head);

/*
 * wait_var_event() is a macro, and wake_up_var() needs a full barrier
 * after the store it publishes: waiting for a counter (a Rust AtomicUsize,
 * laid out as an unsigned long) to drop to zero, and waking its waiter.
 */
void blkcopy_drain_wait(unsigned long *count);
void blkcopy_drain_wake(unsigned long *count);

/* memalloc_noio_save() and memalloc_noio_restore() are static inlines. */
unsigned int blkcopy_memalloc_noio_save(void);
void blkcopy_memalloc_noio_restore(unsigned int flags);

/* filemap_range_needs_writeback() on a file's page cache is a static inline. */
bool blkcopy_file_range_needs_writeback(struct file *file, loff_t start, loff_t end);

/*
 * struct io_uring_cmd is opaque to the 6.12 kernel crate, and the request it
 * is embedded in (struct io_kiocb, cmd_to_io_kiocb()) is reached only by
 * static inlines: its file, the SQE's command area, its inline driver data
 * (pdu), the user_data of its SQE and the ring it was issued on.
 */
struct io_uring_cmd;
struct file *blkcopy_uring_cmd_file(struct io_uring_cmd *cmd);
u32 blkcopy_uring_cmd_cmd_op(struct io_uring_cmd *cmd);
const void *blkcopy_uring_cmd_payload(struct io_uring_cmd *cmd);
void *blkcopy_uring_cmd_pdu(struct io_uring_cmd *cmd);
u64 blkcopy_uring_cmd_user_data(struct io_uring_cmd *cmd);
const void *blkcopy_uring_cmd_ring(struct io_uring_cmd *cmd);
#endif /* _BLKCOPY_HELPERS_H */
