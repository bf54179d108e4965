// SPDX-License-Identifier: GPL-2.0
/*
 * blkcopy_kcopyd_sample: a C consumer of blkcopy's kcopyd adapter.
 *
 * Loading it copies count sectors from src at src_sector to each device
 * of dsts at the matching dst_sectors entry with one
 * blkcopy_kcopyd_copy() call, waits for the notification and logs
 * read_err, write_err and the context the notification ran in:
 *
 *   insmod blkcopy_kcopyd_sample.ko src=/dev/nvme0n1 src_sector=0 count=2048 \
 *          dsts=/dev/nvme0n1,/dev/sdb dst_sectors=8192,0 [ignore_error=1]
 *
 * With calls=N (and one destination) it instead makes N calls back to
 * back on a client limited to 2 copies in flight, the N-th to
 * dst_sectors + N * count, and logs the most calls that were ever
 * outstanding (returned but not yet notified; the throttle must keep it at
 * 2) and whether two notifications ever ran at the same time.
 */
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/delay.h>
#include <linux/preempt.h>

#include "../include/linux/blkcopy.h"

static char *src;
static char *dsts[BLKCOPY_KCOPYD_MAX_REGIONS];
static int num_dsts;
static ulong dst_sectors[BLKCOPY_KCOPYD_MAX_REGIONS];
static int num_dst_sectors;
static ulong src_sector, count;
static bool ignore_error;
static uint calls;
module_param(calls, uint, 0444);
module_param(src, charp, 0444);
module_param_array(dsts, charp, &num_dsts, 0444);
module_param_array(dst_sectors, ulong, &num_dst_sectors, 0444);
module_param(src_sector, ulong, 0444);
module_param(count, ulong, 0444);
module_param(ignore_error, bool, 0444);

struct sample_wait {
	struct completion done;
	int read_err;
	unsigned long write_err;
	bool in_irq;
};

static void sample_notify(int read_err, unsigned long write_err, void *context)
{
	struct sample_wait *w = context;

	w->read_err = read_err;
	w->write_err = write_err;
	w->in_irq = in_interrupt();
	complete(&w->done);
}

static atomic_t notified, in_notify, overlapped, errors;

static void throttle_notify(int read_err, unsigned long write_err, void *context)
{
	if (atomic_inc_return(&in_notify) > 1)
		atomic_set(&overlapped, 1);
	if (read_err || write_err)
		atomic_inc(&errors);
	msleep(20);	/* a slow consumer: notifications must not overlap */
	atomic_dec(&in_notify);
	atomic_inc(&notified);
}

/* N calls on a client that allows 2 in flight. */
static int throttle_test(struct blkcopy_region *from, struct blkcopy_region *to)
{
	struct blkcopy_kcopyd_client *kc = blkcopy_kcopyd_client_create(2);
	int i, ret = 0, outstanding, most = 0;

	if (!kc)
		return -ENOMEM;
	for (i = 0; i < calls; i++) {
		struct blkcopy_region d = *to;

		d.sector += (sector_t)i * count;
		ret = blkcopy_kcopyd_copy(kc, from, 1, &d, 0, throttle_notify, NULL);
		if (ret)
			break;
		outstanding = i + 1 - atomic_read(&notified);
		most = max(most, outstanding);
	}
	blkcopy_kcopyd_client_destroy(kc);
	pr_info("blkcopy_kcopyd_sample: calls=%u notified=%d most_outstanding=%d overlapped=%d errors=%d ret=%d\n",
		calls, atomic_read(&notified), most, atomic_read(&overlapped),
		atomic_read(&errors), ret);
	return ret;
}

static int __init blkcopy_kcopyd_sample_init(void)
{
	struct blkcopy_region from, to[BLKCOPY_KCOPYD_MAX_REGIONS];
	struct file *files[BLKCOPY_KCOPYD_MAX_REGIONS + 1] = { };
	struct blkcopy_kcopyd_client *kc;
	struct sample_wait w;
	int i, ret;

	if (!src || !num_dsts || num_dsts != num_dst_sectors)
		return -EINVAL;
	files[0] = bdev_file_open_by_path(src, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(files[0]))
		return PTR_ERR(files[0]);
	from = (struct blkcopy_region){ file_bdev(files[0]), src_sector, count };
	for (i = 0; i < num_dsts; i++) {
		files[i + 1] = bdev_file_open_by_path(dsts[i], BLK_OPEN_WRITE, NULL, NULL);
		if (IS_ERR(files[i + 1])) {
			ret = PTR_ERR(files[i + 1]);
			files[i + 1] = NULL;
			goto out;
		}
		to[i] = (struct blkcopy_region){ file_bdev(files[i + 1]), dst_sectors[i], count };
	}
	if (calls) {
		ret = throttle_test(&from, &to[0]);
		goto out;
	}
	kc = blkcopy_kcopyd_client_create(2);
	if (!kc) {
		ret = -ENOMEM;
		goto out;
	}
	init_completion(&w.done);
	ret = blkcopy_kcopyd_copy(kc, &from, num_dsts, to,
				  ignore_error ? BLKCOPY_KCOPYD_IGNORE_ERROR : 0,
				  sample_notify, &w);
	if (!ret) {
		wait_for_completion(&w.done);
		pr_info("blkcopy_kcopyd_sample: read_err=%d write_err=%#lx context=%s\n",
			w.read_err, w.write_err, w.in_irq ? "irq" : "process");
	} else {
		pr_info("blkcopy_kcopyd_sample: not started: %d\n", ret);
	}
	blkcopy_kcopyd_client_destroy(kc);
out:
	for (i = 0; i <= num_dsts; i++)
		if (files[i])
			fput(files[i]);
	return ret;
}

static void __exit blkcopy_kcopyd_sample_exit(void)
{
}

module_init(blkcopy_kcopyd_sample_init);
module_exit(blkcopy_kcopyd_sample_exit);
MODULE_DESCRIPTION("blkcopy kcopyd adapter sample (C consumer)");
MODULE_LICENSE("GPL");
