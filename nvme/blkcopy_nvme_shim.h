/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C shim of the blkcopy NVMe provider: what needs the NVMe host driver's
 * private header (drivers/nvme/host/nvme.h), which Rust cannot bind.
 */
#ifndef _BLKCOPY_NVME_SHIM_H
#define _BLKCOPY_NVME_SHIM_H

#include <linux/types.h>

struct nvme_ns;

typedef void (*blkcopy_nvme_done_t)(void *ctx, u16 nvme_status, u8 blk_status);

struct nvme_ns *blkcopy_nvme_ns_get(struct gendisk *disk);
struct nvme_ns *blkcopy_nvme_ns_on(struct gendisk *disk, void *ctrl);
void blkcopy_nvme_ns_put(struct nvme_ns *ns);
u32 blkcopy_nvme_nsid(struct nvme_ns *ns);
u32 blkcopy_nvme_lba_shift(struct nvme_ns *ns);
int blkcopy_nvme_identify(struct nvme_ns *ns, bool ctrl, void *buf);
void *blkcopy_nvme_ctrl(struct nvme_ns *ns);
int blkcopy_nvme_host_behavior(struct nvme_ns *ns, bool set, void *buf);
int blkcopy_nvme_copy(struct nvme_ns *ns, u64 sdlba, u32 cdw12, void *desc,
		      u32 desc_len, blkcopy_nvme_done_t done, void *ctx);

/* Copy data in flight (module parameter max_copy_mib). */
void blkcopy_nvme_slots_init(void);
unsigned int blkcopy_nvme_slot_get(u64 bytes);
void blkcopy_nvme_slot_put(unsigned int units);
#endif /* _BLKCOPY_NVME_SHIM_H */
