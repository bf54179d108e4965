// SPDX-License-Identifier: GPL-2.0

//! blkcopy: block-device copy offload core.
//!
//! The modules of block/, bottom to top (each uses only those above it in
//! this list, and `kernel_ext` and the `logic/` files):
//!
//! - `copy`: what every part shares: fallback reasons, a copy's result,
//!   flags, the checks every entry point makes.
//! - `stats`: per-device counters and the fallback pool's counters.
//! - `fallback_mem`: the fallback's buffers and their reserve.
//! - `route`: copy halves down the stack to providers, through the
//!   stacking layers; sees a copy only through `RoutedCopy`/`HalfCtx`.
//! - `fallback`: the fallback engine (work list, chunks, buffers).
//! - `job`: a copy job: halves, landings check, fallback, notification
//!   through the `CopyDone` trait; `Core`, what every job uses.
//! - front ends: `ioctl` (/dev/blkcopy), `uring` (/dev/blkcopy's io_uring
//!   commands; uses `ioctl`'s checks), `kcopyd` (the kcopyd adapter),
//!   `c_api` (include/linux/blkcopy.h).
//! - this file: the module, which sets up the `Core` and the front ends.
//!
//! See Documentation/blkcopy.rst ("Reading the code").

// `pin_init!` of a `CopyJob` (many fields) recurses deeper than the
// default limit.
#![recursion_limit = "256"]

use kernel::c_str;
use kernel::prelude::*;

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;

// Pure logic, shared with the userspace tools and host tests (logic/):
// compiled into each module that uses it, whose crate uses part of it.
#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/command.rs"]
mod command;
#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/extent.rs"]
mod extent;
#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/landing.rs"]
mod landing;
#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/pairing.rs"]
mod pairing;
#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/plan.rs"]
mod plan;
#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/range.rs"]
mod range;
#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/split.rs"]
mod split;

mod copy;
mod stats;
mod fallback_mem;
mod route;
mod fallback;
mod job;
mod ioctl;
mod uring;
mod kcopyd;
// Its functions are the module's exported symbols (block/blkcopy_exports.c).
pub mod c_api;

use kernel::sync::Arc;
use kernel_ext::uring_cmd::{Issued, UringCmd};
use kernel_ext::{debugfs, miscdev};

module! {
    type: BlkCopyModule,
    name: "blkcopy",
    author: "blkcopy developers",
    description: "Block-device copy offload core",
    license: "GPL",
}

/// The `/dev/blkcopy` control node.
struct ControlDevice {
    core: &'static job::Core,
    /// Asynchronous copies in progress (for cancellation).
    uring_copies: Arc<uring::InProgress>,
}

#[vtable]
impl miscdev::MiscDevice for ControlDevice {
    type CmdData = uring::UringCopy;

    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            ioctl::BLKCOPY => ioctl::copy(self.core, arg),
            ioctl::BLKCOPY_INFO => ioctl::info(self.core, arg),
            ioctl::BLKCOPY_STATS => ioctl::stats(self.core, arg),
            _ => Err(ENOTTY),
        }
    }

    fn uring_cmd(&self, cmd: UringCmd<'_, uring::UringCopy>) -> Result<Issued> {
        match cmd.op() {
            uring::URING_COPY => uring::copy(self.core, &self.uring_copies, cmd),
            uring::URING_CANCEL => uring::cancel(&self.uring_copies, cmd),
            _ => Err(ENOTTY),
        }
    }
}

struct BlkCopyModule {
    // Dropped in this order: no new ioctls, no debugfs readers, then the core.
    _control: Pin<KBox<miscdev::Registration<ControlDevice>>>,
    _debugfs: debugfs::Dir,
    _core: Pin<KBox<job::Core>>,
}

impl kernel::Module for BlkCopyModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let core = KBox::pin_init(job::Core::new()?, GFP_KERNEL)?;
        // SAFETY: the core is pinned and dropped last (field order), after
        // the control device and debugfs files that reference it are gone,
        // and, through `c_api::withdraw`, after the C API stopped handing
        // it out; every job has ended by then (see `c_api::core`).
        let core_ref: &'static job::Core = unsafe { &*(&*core as *const job::Core) };
        c_api::publish(core_ref);

        let mut dir = debugfs::Dir::new(c_str!("blkcopy"));
        dir.add(c_str!("stats"), core_ref.stats(), module)?;
        dir.add_writable(c_str!("pool"), &stats::PoolFile, module)?;
        let control = KBox::pin_init(
            miscdev::Registration::new(c_str!("blkcopy"), ControlDevice { core: core_ref, uring_copies: uring::in_progress()? }, module),
            GFP_KERNEL,
        )?;
        pr_info!("/dev/blkcopy registered (minor {})\n", control.minor());
        Ok(Self { _control: control, _debugfs: dir, _core: core })
    }
}

impl Drop for BlkCopyModule {
    fn drop(&mut self) {
        c_api::withdraw();
    }
}
