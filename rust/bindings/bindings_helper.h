/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers blkcopy binds with its own bindgen step (scripts/gen-bindings.sh),
 * because the kernel crate of an unmodified 6.12 tree does not bind them.
 * Only items declared in the headers listed in rust/bindings/allowlist are
 * generated; everything else comes from the kernel crate's bindings.
 */
#include <linux/miscdevice.h>
#include <linux/fs.h>

#include "../../include/linux/blkcopy.h"

