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

#endif /* _LINUX_BLKCOPY_H */
