// SPDX-License-Identifier: GPL-2.0

//! blkcopy: block-device copy offload core.
//!
//! This module owns `/dev/blkcopy`. The copy core (copy bios, routing,
//! providers, fallback and the BLKCOPY ioctl) is described in
//! `Documentation/blkcopy.rst`.

use kernel::c_str;
use kernel::prelude::*;

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;

use kernel_ext::miscdev;

module! {
    type: BlkCopyModule,
    name: "blkcopy",
    author: "blkcopy developers",
    description: "Block-device copy offload core",
    license: "GPL",
}

/// The `/dev/blkcopy` control node.
struct ControlDevice;

impl miscdev::MiscDevice for ControlDevice {
    fn ioctl(&self, _cmd: u32, _arg: usize) -> Result<isize> {
        // No ioctl is implemented yet; the copy core adds BLKCOPY.
        Err(ENOTTY)
    }
}

struct BlkCopyModule {
    _control: Pin<KBox<miscdev::Registration<ControlDevice>>>,
}

impl kernel::Module for BlkCopyModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let control = KBox::pin_init(
            miscdev::Registration::new(c_str!("blkcopy"), ControlDevice, module),
            GFP_KERNEL,
        )?;
        pr_info!("/dev/blkcopy registered (minor {})\n", control.minor());
        Ok(Self { _control: control })
    }
}
