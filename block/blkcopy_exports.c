// SPDX-License-Identifier: GPL-2.0
/*
 * Symbol exports and soft dependencies of blkcopy.ko.
 *
 * Why C: the functions are implemented in Rust (block/c_api.rs) as
 * #[no_mangle] extern "C" functions; 6.12 has no way to export a symbol
 * from a Rust module, so the ksymtab entries are made here with the usual
 * macro, against the prototypes of include/linux/blkcopy.h. Likewise the
 * module! macro of 6.12 has no soft dependencies: MODULE_SOFTDEP is here.
 */
#include <linux/export.h>
#include <linux/module.h>

#include "../include/linux/blkcopy.h"

EXPORT_SYMBOL_GPL(blkcopy_copy);
EXPORT_SYMBOL_GPL(blkcopy_register_provider);
EXPORT_SYMBOL_GPL(blkcopy_unregister_provider);
EXPORT_SYMBOL_GPL(blkcopy_set_reason);
EXPORT_SYMBOL_GPL(blkcopy_register_stacking);
EXPORT_SYMBOL_GPL(blkcopy_unregister_stacking);
EXPORT_SYMBOL_GPL(blkcopy_split_half);
EXPORT_SYMBOL_GPL(blkcopy_remap_half);
EXPORT_SYMBOL_GPL(blkcopy_submit_half);
EXPORT_SYMBOL_GPL(blkcopy_hold);
EXPORT_SYMBOL_GPL(blkcopy_kcopyd_client_create);
EXPORT_SYMBOL_GPL(blkcopy_kcopyd_client_destroy);
EXPORT_SYMBOL_GPL(blkcopy_kcopyd_client_drain);
EXPORT_SYMBOL_GPL(blkcopy_kcopyd_client_stats);
EXPORT_SYMBOL_GPL(blkcopy_kcopyd_copy);

/*
 * `modprobe blkcopy` loads the providers and the device-mapper target
 * after the core (`make install` puts them where modprobe finds them);
 * each of them depends on the core's symbols, so loading one first loads
 * the core.
 */
MODULE_SOFTDEP("post: blkcopy_nvme blkcopy_scsi blkcopy_linear");
