// SPDX-License-Identifier: GPL-2.0
/*
 * blkcopy_sample: a C consumer of the in-kernel copy API.
 *
 * Loading it copies nr_sects sectors from src (at src_sector) to dst (at
 * dst_sector) with blkcopy_copy(), waits for the asynchronous completion,
 * logs the result and fails the load with the copy's error, if any:
 *
 *   insmod blkcopy_sample.ko src=/dev/nvme0n1 dst=/dev/nvme0n2 \
 *          src_sector=0 dst_sector=2048 nr_sects=8192 [flags=N]
 *
 * It stays loaded after a successful copy only to be removed again; it is
 * a sample and a test of the C interface, not a tool.
 */
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/fs.h>
#include <linux/module.h>

#include "../include/linux/blkcopy.h"

static char *src, *dst;
static ulong src_sector, dst_sector, nr_sects;
static uint flags;
module_param(src, charp, 0444);
module_param(dst, charp, 0444);
module_param(src_sector, ulong, 0444);
module_param(dst_sector, ulong, 0444);
module_param(nr_sects, ulong, 0444);
module_param(flags, uint, 0444);

struct sample_wait {
	struct completion done;
	struct blkcopy_result res;
};

static void sample_end_io(const struct blkcopy_result *res, void *private)
{
	struct sample_wait *w = private;

	w->res = *res;
	complete(&w->done);
}

static int __init blkcopy_sample_init(void)
{
	struct file *sf, *df;
	struct sample_wait w;
	int ret;

	if (!src || !dst)
		return -EINVAL;
	sf = bdev_file_open_by_path(src, BLK_OPEN_READ, NULL, NULL);
	if (IS_ERR(sf))
		return PTR_ERR(sf);
	df = bdev_file_open_by_path(dst, BLK_OPEN_WRITE, NULL, NULL);
	if (IS_ERR(df)) {
		fput(sf);
		return PTR_ERR(df);
	}
	init_completion(&w.done);
	ret = blkcopy_copy(file_bdev(sf), src_sector, file_bdev(df), dst_sector,
			   nr_sects, flags, sample_end_io, &w);
	if (!ret) {
		wait_for_completion(&w.done);
		ret = w.res.status;
		pr_info("blkcopy_sample: status %d copied %llu offloaded %llu\n",
			w.res.status, w.res.bytes_copied, w.res.bytes_offloaded);
	} else {
		pr_info("blkcopy_sample: not started: %d\n", ret);
	}
	fput(df);
	fput(sf);
	return ret;
}

static void __exit blkcopy_sample_exit(void)
{
}

module_init(blkcopy_sample_init);
module_exit(blkcopy_sample_exit);
MODULE_DESCRIPTION("blkcopy in-kernel API sample (C consumer)");
MODULE_LICENSE("GPL");
