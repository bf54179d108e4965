// SPDX-License-Identifier: GPL-2.0
/*
 * C shim of the blkcopy NVMe provider.
 *
 * Why C: the NVMe host driver keeps its namespace and request structures in
 * a private header (drivers/nvme/host/nvme.h, in the kernel build tree, not
 * in installed headers), and 6.12 exports no interface to send an NVMe
 * command asynchronously from another module. These functions depend on
 * that private layout, as of 6.12:
 *
 * - struct nvme_ns: ->ctrl (also the identity of a namespace's controller:
 *   cross-namespace Copy is between namespaces of one controller), ->queue,
 *   ->disk, ->head (ns_id, lba_shift);
 *   a namespace disk's ->private_data is its struct nvme_ns;
 * - struct nvme_ctrl: ->admin_q, ->state (nvme_ctrl_state()), and ->device,
 *   the parent of every namespace disk, of class "nvme"; a multipath
 *   head's parent is the subsystem device, class "nvme-subsystem", and its
 *   ->private_data its struct nvme_ns_head (->list of paths under ->srcu,
 *   each a struct nvme_ns linked by ->siblings, with ->flags
 *   NVME_NS_ANA_PENDING/NVME_NS_READY, ->ana_state, ->kref);
 * - struct nvme_request (the request's PDU, nvme_req()): ->status.
 *
 * They use the exported nvme_init_request(), nvme_submit_sync_cmd(),
 * nvme_get_features() and nvme_set_features().
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/semaphore.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "nvme.h"	/* drivers/nvme/host/nvme.h of the kernel build */

#include "blkcopy_nvme_shim.h"

MODULE_IMPORT_NS(NVME_TARGET_PASSTHRU);	/* nvme_put_ns() */

#ifdef CONFIG_NVME_MULTIPATH
/* As multipath.c's nvme_path_is_disabled() (static there). */
static bool blkcopy_nvme_path_disabled(struct nvme_ns *ns)
{
	enum nvme_ctrl_state state = nvme_ctrl_state(ns->ctrl);

	if (state != NVME_CTRL_LIVE && state != NVME_CTRL_DELETING)
		return true;
	return test_bit(NVME_NS_ANA_PENDING, &ns->flags) ||
	       !test_bit(NVME_NS_READY, &ns->flags);
}

/*
 * A usable path of @head (on controller @on, when not NULL), referenced:
 * chosen as multipath.c's __nvme_find_path() chooses for I/O (not
 * exported): no disabled path, ANA optimized before non-optimized; the
 * NUMA distance and the round-robin and queue-depth policies are not
 * applied (a copy is one command per piece, and the fallback's I/O goes
 * through the head's own path selection).
 */
static struct nvme_ns *blkcopy_nvme_head_path(struct nvme_ns_head *head,
					      struct nvme_ctrl *on)
{
	struct nvme_ns *ns, *found = NULL, *fallback = NULL;
	int idx = srcu_read_lock(&head->srcu);

	list_for_each_entry_srcu(ns, &head->list, siblings,
				 srcu_read_lock_held(&head->srcu)) {
		if ((on && ns->ctrl != on) || blkcopy_nvme_path_disabled(ns))
			continue;
		if (ns->ana_state == NVME_ANA_OPTIMIZED && !found)
			found = ns;
		else if (ns->ana_state == NVME_ANA_NONOPTIMIZED && !fallback)
			fallback = ns;
	}
	if (!found)
		found = fallback;
	if (found && !kref_get_unless_zero(&found->kref))
		found = NULL;
	srcu_read_unlock(&head->srcu, idx);
	return found;
}
#endif

/*
 * The namespace to send @disk's commands to, on controller @ctrl when not
 * NULL, referenced (blkcopy_nvme_ns_put()): a namespace disk's own
 * (parent: its controller, class "nvme"); for a multipath head (parent:
 * the subsystem, class "nvme-subsystem") a usable path. NULL otherwise.
 */
static struct nvme_ns *blkcopy_nvme_ns_find(struct gendisk *disk, void *ctrl)
{
	struct device *parent = disk_to_dev(disk)->parent;
	struct nvme_ns *ns;

	if (!parent || !parent->class)
		return NULL;
	if (!strcmp(parent->class->name, "nvme")) {
		ns = disk->private_data;
		if ((ctrl && ns->ctrl != ctrl) || !kref_get_unless_zero(&ns->kref))
			return NULL;
		return ns;
	}
#ifdef CONFIG_NVME_MULTIPATH
	if (!strcmp(parent->class->name, "nvme-subsystem"))
		return blkcopy_nvme_head_path(disk->private_data, ctrl);
#endif
	return NULL;
}

struct nvme_ns *blkcopy_nvme_ns_get(struct gendisk *disk)
{
	return blkcopy_nvme_ns_find(disk, NULL);
}

struct nvme_ns *blkcopy_nvme_ns_on(struct gendisk *disk, void *ctrl)
{
	return blkcopy_nvme_ns_find(disk, ctrl);
}

/* Process context: the last reference frees the namespace. */
void blkcopy_nvme_ns_put(struct nvme_ns *ns)
{
	nvme_put_ns(ns);
}

u32 blkcopy_nvme_nsid(struct nvme_ns *ns)
{
	return ns->head->ns_id;
}

u32 blkcopy_nvme_lba_shift(struct nvme_ns *ns)
{
	return ns->head->lba_shift;
}

/* Identify Controller (@ctrl) or Identify Namespace into @buf (4096 bytes,
 * from kmalloc). Synchronous: process context only. */
int blkcopy_nvme_identify(struct nvme_ns *ns, bool ctrl, void *buf)
{
	struct nvme_command c = { };

	c.identify.opcode = nvme_admin_identify;
	c.identify.nsid = cpu_to_le32(ctrl ? 0 : ns->head->ns_id);
	c.identify.cns = ctrl ? NVME_ID_CNS_CTRL : NVME_ID_CNS_NS;
	return nvme_submit_sync_cmd(ns->ctrl->admin_q, &c, buf,
				    NVME_IDENTIFY_DATA_SIZE);
}

/* The controller of @ns, as an identity only (never dereferenced by the
 * caller). */
void *blkcopy_nvme_ctrl(struct nvme_ns *ns)
{
	return ns->ctrl;
}

/*
 * Get (@set false) or Set Features Host Behavior Support of @ns's
 * controller from/into @buf (512 bytes, from kmalloc). Synchronous:
 * process context only. The caller sets only what it owns in the data the
 * controller returned (the nvme driver sets ACRE and LBAFEE itself, on
 * every controller (re)initialisation, which also clears the rest).
 */
int blkcopy_nvme_host_behavior(struct nvme_ns *ns, bool set, void *buf)
{
	size_t len = sizeof(struct nvme_feat_host_behavior);

	if (set)
		return nvme_set_features(ns->ctrl, NVME_FEAT_HOST_BEHAVIOR, 0, buf, len, NULL);
	return nvme_get_features(ns->ctrl, NVME_FEAT_HOST_BEHAVIOR, 0, buf, len, NULL);
}

/*
 * Fault injection for tests: the next N Copy commands carry source range
 * descriptor format Fh, which a controller rejects (Invalid Field), so
 * that the core's handling of a failed device command can be tested
 * against a real device error.
 */
/*
 * Copy data the provider keeps in flight, in MiB over all namespaces (0: no
 * limit). A copy command occupies the device's copy engine for long; more
 * data in flight than it works on at once only queues there, next to the
 * normal I/O it slows down. Measured on QEMU 7.2 under TCG (the benchmark
 * issue, three runs each): a 1 GiB copy, 32 commands of 32 MiB, ran at
 * 0.53-0.62x the speed of the same commands sent one after another from
 * userspace when all were in flight at once, at 0.90-1.05x with 32 MiB in
 * flight. Counting MiB rather than commands keeps many small copies in
 * flight.
 */
static unsigned int max_copy_mib = 32;
module_param(max_copy_mib, uint, 0444);
MODULE_PARM_DESC(max_copy_mib, "MiB of NVMe Copy commands in flight at most (0: no limit)");

/*
 * Why C: sema_init() is a static inline, the limit a module parameter.
 * A command takes one unit per MiB; units are taken under a mutex, so
 * that two takers never each hold part of what they need.
 */
static struct semaphore copy_units;
static DEFINE_MUTEX(copy_units_lock);

void blkcopy_nvme_slots_init(void)
{
	sema_init(&copy_units, max_copy_mib);
}

/* Waits until @bytes may be in flight (process context); returns the
 * units taken, for blkcopy_nvme_slot_put(). */
unsigned int blkcopy_nvme_slot_get(u64 bytes)
{
	unsigned int i, units;

	if (!max_copy_mib)
		return 0;
	units = clamp_t(u64, DIV_ROUND_UP_ULL(bytes, SZ_1M), 1, max_copy_mib);
	mutex_lock(&copy_units_lock);
	for (i = 0; i < units; i++)
		down(&copy_units);
	mutex_unlock(&copy_units_lock);
	return units;
}

/* Gives back what blkcopy_nvme_slot_get() took (any context). */
void blkcopy_nvme_slot_put(unsigned int units)
{
	while (units--)
		up(&copy_units);
}

static unsigned int inject_invalid_format;
module_param(inject_invalid_format, uint, 0644);
MODULE_PARM_DESC(inject_invalid_format,
		 "send the next N Copy commands with an invalid descriptor format (testing)");

struct blkcopy_nvme_cmd {
	blkcopy_nvme_done_t done;
	void *ctx;
};

static enum rq_end_io_ret blkcopy_nvme_end_io(struct request *rq,
					      blk_status_t err)
{
	struct blkcopy_nvme_cmd *cmd = rq->end_io_data;

	cmd->done(cmd->ctx, nvme_req(rq)->status, (__force u8)err);
	kfree(cmd);
	return RQ_END_IO_FREE;
}

/*
 * Issue an NVMe Copy to @ns: destination @sdlba, command dword 12 @cdw12,
 * source range descriptors @desc (kmalloc'ed, @desc_len bytes, alive until
 * @done). Asynchronous: @done(@ctx, NVMe status, block status) is called
 * once from the completion path. Returns 0 or a negative errno (then @done
 * is not called). May sleep.
 */
int blkcopy_nvme_copy(struct nvme_ns *ns, u64 sdlba, u32 cdw12, void *desc,
		      u32 desc_len, blkcopy_nvme_done_t done, void *ctx)
{
	struct nvme_command c = { };
	struct blkcopy_nvme_cmd *cmd;
	struct request *rq;
	int ret;

	cmd = kmalloc(sizeof(*cmd), GFP_NOIO);
	if (!cmd)
		return -ENOMEM;
	cmd->done = done;
	cmd->ctx = ctx;

	c.common.opcode = 0x19;		/* Copy */
	c.common.nsid = cpu_to_le32(ns->head->ns_id);
	c.common.cdw10 = cpu_to_le32(lower_32_bits(sdlba));
	c.common.cdw11 = cpu_to_le32(upper_32_bits(sdlba));
	if (READ_ONCE(inject_invalid_format)) {
		WRITE_ONCE(inject_invalid_format, inject_invalid_format - 1);
		cdw12 |= 0xf << 8;
	}
	c.common.cdw12 = cpu_to_le32(cdw12);

	rq = blk_mq_alloc_request(ns->queue, nvme_req_op(&c), 0);
	if (IS_ERR(rq)) {
		kfree(cmd);
		return PTR_ERR(rq);
	}
	nvme_init_request(rq, &c);
	ret = blk_rq_map_kern(ns->queue, rq, desc, desc_len, GFP_NOIO);
	if (ret) {
		blk_mq_free_request(rq);
		kfree(cmd);
		return ret;
	}
	rq->end_io = blkcopy_nvme_end_io;
	rq->end_io_data = cmd;
	blk_execute_rq_nowait(rq, false);
	return 0;
}
