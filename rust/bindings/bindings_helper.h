/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers blkcopy binds with its own bindgen step (scripts/gen-bindings.sh),
 * because the kernel crate of an unmodified 6.12 tree does not bind them.
 * Only the items selected by rust/bindings/allowlist are generated;
 * everything else comes from the kernel crate's bindings.
 */
#include <linux/blkdev.h>
#include <linux/debugfs.h>
#include <linux/device-mapper.h>
#include <linux/fs.h>
#include <linux/io_uring/cmd.h>
#include <linux/miscdevice.h>
#include <linux/pagemap.h>

#include "../../include/linux/blkcopy.h"
#include "../../include/uapi/linux/blkcopy.h"
#include "../helpers/blkcopy_helpers.h"
#include "../../nvme/blkcopy_nvme_shim.h"
#include "../../scsi/blkcopy_scsi_shim.h"

/*
 * Constants bindgen cannot evaluate as macros (they contain casts): these
 * definitions exist only for bindgen, which evaluates their initialisers.
 */
const blk_status_t BLKCOPY_STS_NOTSUPP = BLK_STS_NOTSUPP;
const blk_status_t BLKCOPY_STS_IOERR = BLK_STS_IOERR;
const unsigned int BLKCOPY_REQ_OP_MASK = (__force unsigned int)REQ_OP_MASK;
const gfp_t BLKCOPY_GFP_NOIO = GFP_NOIO;
const gfp_t BLKCOPY_GFP_KERNEL = GFP_KERNEL;
/* The fallback's opportunistic buffer pages (block/fallback_mem.rs). */
const gfp_t BLKCOPY_GFP_FALLBACK = GFP_NOIO | __GFP_NORETRY | __GFP_NOWARN;
const unsigned int BLKCOPY_FMODE_READ = (__force unsigned int)FMODE_READ;
const unsigned int BLKCOPY_FMODE_WRITE = (__force unsigned int)FMODE_WRITE;
/* How io_uring issues a command (enum io_uring_cmd_flags). */
const unsigned int BLKCOPY_IO_URING_F_NONBLOCK = IO_URING_F_NONBLOCK;
const unsigned int BLKCOPY_IO_URING_F_SQE128 = IO_URING_F_SQE128;
const unsigned int BLKCOPY_IO_URING_F_CANCEL = IO_URING_F_CANCEL;
const unsigned int BLKCOPY_IO_URING_F_TASK_DEAD = IO_URING_F_TASK_DEAD;
