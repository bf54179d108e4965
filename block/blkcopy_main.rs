// SPDX-License-Identifier: GPL-2.0

//! blkcopy: block-device copy offload core.
//!
//! Copies are pairs of copy bios routed down the stack to providers
//! (`route`), with an in-kernel read/write fallback for what they cannot
//! copy (`job`). User space copies through `/dev/blkcopy` (`ioctl`), kernel
//! code through `blkcopy_copy()` (`include/linux/blkcopy.h`). See
//! Documentation/blkcopy.rst.

use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::c_str;
use kernel::prelude::*;
use kernel::workqueue::Queue;

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;

// The no_std logic shared with the host tests (logic/src).
#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/extent.rs"]
mod extent;
mod fallback_mem;
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

mod ioctl;
mod job;
mod kcopyd;
mod route;
mod stats;

use kernel_ext::bindings;
use kernel_ext::bio::BioSet;
use kernel_ext::block::Bdev;
use kernel_ext::workqueue::OwnedQueue;
use kernel_ext::{debugfs, miscdev};

module! {
    type: BlkCopyModule,
    name: "blkcopy",
    author: "blkcopy developers",
    description: "Block-device copy offload core",
    license: "GPL",
}

/// State shared by every copy, reachable from bio completions and the C
/// API through [`CORE`].
#[pin_data]
struct Core {
    /// First, so it is destroyed (draining all queued work) first.
    wq: OwnedQueue,
    #[pin]
    bioset: BioSet<job::BioCtx>,
    #[pin]
    registry: route::Registry,
    #[pin]
    stats: stats::Registry,
    /// The fallback's memory reserve.
    #[pin]
    reserve: fallback_mem::Reserve,
}

/// The core, published once it is initialised and withdrawn before it is
/// torn down. Every user runs between those two points: jobs exist only
/// while an ioctl (which holds the module through its open file) or a
/// dependent module (which holds it through its symbol references) waits
/// for them.
static CORE: AtomicPtr<Core> = AtomicPtr::new(core::ptr::null_mut());

fn core_ref() -> &'static Core {
    // SAFETY: see `CORE`: non-null and live whenever any code path that
    // gets here runs.
    unsafe { &*CORE.load(Ordering::Acquire) }
}

pub(crate) fn bioset() -> &'static BioSet<job::BioCtx> {
    &core_ref().bioset
}

pub(crate) fn registry() -> &'static route::Registry {
    &core_ref().registry
}

pub(crate) fn stats_registry() -> &'static stats::Registry {
    &core_ref().stats
}

pub(crate) fn fallback_reserve() -> &'static fallback_mem::Reserve {
    &core_ref().reserve
}

pub(crate) fn workqueue() -> &'static Queue {
    core_ref().wq.queue()
}

/// The `/dev/blkcopy` control node.
struct ControlDevice;

impl miscdev::MiscDevice for ControlDevice {
    fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            ioctl::BLKCOPY => ioctl::copy(arg),
            ioctl::BLKCOPY_INFO => ioctl::info(arg),
            _ => Err(ENOTTY),
        }
    }
}

struct BlkCopyModule {
    // Dropped in this order: no new ioctls, no debugfs readers, then the core.
    _control: Pin<KBox<miscdev::Registration<ControlDevice>>>,
    _debugfs: debugfs::Dir,
    _core: Pin<KBox<Core>>,
}

impl kernel::Module for BlkCopyModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        // The queue may reclaim memory: the fallback's writes free memory.
        let wq = OwnedQueue::new(c_str!("blkcopy"), bindings::wq_flags_WQ_MEM_RECLAIM, 0)?;
        let core = KBox::pin_init(
            try_pin_init!(Core {
                wq,
                bioset <- BioSet::new(64),
                registry <- route::Registry::new(),
                stats <- stats::Registry::new(),
                reserve <- fallback_mem::Reserve::new()?,
            }),
            GFP_KERNEL,
        )?;
        CORE.store(&*core as *const Core as *mut Core, Ordering::Release);

        let mut dir = debugfs::Dir::new(c_str!("blkcopy"));
        dir.add::<stats::StatsFile>(c_str!("stats"), module)?;
        dir.add_writable::<stats::PoolFile>(c_str!("pool"), module)?;
        let control = KBox::pin_init(
            miscdev::Registration::new(c_str!("blkcopy"), ControlDevice, module),
            GFP_KERNEL,
        )?;
        pr_info!("/dev/blkcopy registered (minor {})\n", control.minor());
        Ok(Self { _control: control, _debugfs: dir, _core: core })
    }
}

impl Drop for BlkCopyModule {
    fn drop(&mut self) {
        CORE.store(core::ptr::null_mut(), Ordering::Release);
    }
}

// --- C API (include/linux/blkcopy.h; exported by block/blkcopy_exports.c) ---

/// 0 or a negative errno, as the C API returns them.
fn c_ret(r: Result) -> i32 {
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// See `blkcopy_copy()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `src` and `dst` are open block devices that stay open until `end_io`
/// has been called; `end_io` may be called with `private` from process
/// context.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_copy(
    src: *mut bindings::block_device,
    src_sector: u64,
    dst: *mut bindings::block_device,
    dst_sector: u64,
    nr_sects: u64,
    flags: u32,
    end_io: bindings::blkcopy_end_io_t,
    private: *mut c_void,
) -> i32 {
    let (Some(s), Some(d), Some(f)) = (NonNull::new(src), NonNull::new(dst), end_io) else {
        return EINVAL.to_errno();
    };
    // SAFETY: the caller keeps both devices open until `end_io` has been
    // called (function contract).
    let (s, d): (Bdev<'static>, Bdev<'static>) = unsafe { (Bdev::from_raw(s), Bdev::from_raw(d)) };
    let all = bindings::BLKCOPY_OFFLOAD_ONLY | bindings::BLKCOPY_NO_OFFLOAD;
    if flags & !all != 0 || flags == all {
        return EINVAL.to_errno();
    }
    let (Some(so), Some(dof), Some(len)) =
        (src_sector.checked_mul(512), dst_sector.checked_mul(512), nr_sects.checked_mul(512))
    else {
        return kernel_ext::code::eoverflow().to_errno();
    };
    let r = [range::CopyRange { src: so, dst: dof, len }];
    if let Err((_, e)) = range::check_ranges(&r, &ioctl::geom(s), &ioctl::geom(d)) {
        return ioctl::range_errno(e).to_errno();
    }
    // SAFETY: open until `end_io` is called, which is the job's notify.
    match unsafe { job::CopyJob::start(s, d, &r, flags, job::Notify::Callback { f, private }) } {
        Ok(_) => 0,
        Err(e) => e.to_errno(),
    }
}

/// See `blkcopy_register_provider()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `ops` points to an ops table that stays valid until unregistered.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_register_provider(ops: *const bindings::blkcopy_provider_ops) -> i32 {
    c_ret(registry().register(ops))
}

/// See `blkcopy_unregister_provider()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `ops` was registered with `blkcopy_register_provider()`.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_unregister_provider(ops: *const bindings::blkcopy_provider_ops) {
    registry().unregister(ops);
}

/// See `blkcopy_register_stacking()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `ops` points to an ops table that stays valid until unregistered.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_register_stacking(ops: *const bindings::blkcopy_stacking_ops) -> i32 {
    c_ret(registry().register_stacking(ops))
}

/// See `blkcopy_unregister_stacking()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `ops` was registered with `blkcopy_register_stacking()`.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_unregister_stacking(ops: *const bindings::blkcopy_stacking_ops) {
    registry().unregister_stacking(ops);
}

/// See `blkcopy_split_half()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `half` is a copy half handed to a stacking layer's `map_half`, longer
/// than `bytes`, and `bytes` is a multiple of 512.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_split_half(half: *mut bindings::bio, bytes: u32) -> *mut bindings::bio {
    // SAFETY: per the contract a live half of the core's bio set; the
    // caller keeps owning it (the temporary handle is not dropped).
    let mut b = core::mem::ManuallyDrop::new(unsafe { job::JobBio::from_end_io(half) });
    if bytes == 0 || bytes >= b.size() || bytes % 512 != 0 {
        return core::ptr::null_mut();
    }
    match route::split_front(&mut b, bytes) {
        Ok(front) => front.into_raw(),
        Err(_) => core::ptr::null_mut(),
    }
}

/// See `blkcopy_remap_half()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `half` is a copy half owned by the caller; `bdev` is an open device the
/// caller keeps open while copies may be routed through it.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_remap_half(half: *mut bindings::bio, bdev: *mut bindings::block_device, sector: u64) {
    let Some(b) = NonNull::new(bdev) else { return };
    // SAFETY: per the contract; the temporary handle is not dropped.
    let mut h = core::mem::ManuallyDrop::new(unsafe { job::JobBio::from_end_io(half) });
    // SAFETY: per the contract `bdev` stays open.
    h.set_bdev(unsafe { Bdev::from_raw(b) });
    h.set_sector(sector);
}

/// See `blkcopy_submit_half()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `half` is a copy half the caller owns (from `blkcopy_split_half()`);
/// ownership passes to the core.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_submit_half(half: *mut bindings::bio) {
    // SAFETY: per the contract.
    route::submit_half(unsafe { job::JobBio::from_end_io(half) });
}

/// See `blkcopy_hold()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `half` is a copy half handed to a stacking layer's `map_half`;
/// `release(arg)` may be called once from process context.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_hold(
    half: *mut bindings::bio,
    release: Option<unsafe extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
) -> i32 {
    let Some(release) = release else { return EINVAL.to_errno() };
    // SAFETY: per the contract a live half of the core's bio set, whose
    // context names its job.
    let job = unsafe { &(*job::JobBio::ctx_of(half)).job };
    c_ret(job.hold(release, arg))
}

/// See `blkcopy_kcopyd_client_create()` in include/linux/blkcopy.h.
#[no_mangle]
pub extern "C" fn blkcopy_kcopyd_client_create(max_jobs: u32) -> *mut bindings::blkcopy_kcopyd_client {
    let n = if max_jobs == 0 { 8 } else { max_jobs as usize };
    match kcopyd::Client::new(n) {
        Ok(c) => c.into_raw() as *mut bindings::blkcopy_kcopyd_client,
        Err(_) => core::ptr::null_mut(),
    }
}

/// See `blkcopy_kcopyd_client_destroy()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `kc` came from `blkcopy_kcopyd_client_create()` and is not used after.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_kcopyd_client_destroy(kc: *mut bindings::blkcopy_kcopyd_client) {
    if kc.is_null() {
        return;
    }
    // SAFETY: the reference `create` handed out.
    let c = unsafe { kernel::sync::Arc::from_raw(kc as *const kcopyd::Client) };
    c.drain();
}

/// See `blkcopy_kcopyd_client_drain()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `kc` is a live client.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_kcopyd_client_drain(kc: *mut bindings::blkcopy_kcopyd_client) {
    if let Some(c) = NonNull::new(kc as *mut kcopyd::Client) {
        // SAFETY: a live client (contract).
        unsafe { c.as_ref() }.drain();
    }
}

/// See `blkcopy_kcopyd_client_stats()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `kc` is a live client; `stats` is valid for writes.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_kcopyd_client_stats(
    kc: *mut bindings::blkcopy_kcopyd_client,
    stats: *mut bindings::blkcopy_kcopyd_stats,
) {
    let (Some(c), false) = (NonNull::new(kc as *mut kcopyd::Client), stats.is_null()) else { return };
    // SAFETY: a live client (contract).
    let (offloaded, emulated) = unsafe { c.as_ref() }.stats();
    // SAFETY: valid for writes (contract).
    unsafe { *stats = bindings::blkcopy_kcopyd_stats { bytes_offloaded: offloaded, bytes_emulated: emulated } };
}

/// See `blkcopy_kcopyd_copy()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `kc` is a live client; `from` and `dests[..num_dests]` are valid regions
/// of devices that stay open until `fn_` has been called.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_kcopyd_copy(
    kc: *mut bindings::blkcopy_kcopyd_client,
    from: *const bindings::blkcopy_region,
    num_dests: u32,
    dests: *const bindings::blkcopy_region,
    flags: u32,
    fn_: bindings::blkcopy_kcopyd_notify_fn,
    context: *mut c_void,
) -> i32 {
    let (Some(f), false, false) = (fn_, kc.is_null(), from.is_null() || dests.is_null()) else {
        return EINVAL.to_errno();
    };
    if num_dests == 0 || num_dests as usize > kcopyd::MAX_REGIONS || flags & !bindings::BLKCOPY_KCOPYD_IGNORE_ERROR != 0 {
        return EINVAL.to_errno();
    }
    let region = |r: &bindings::blkcopy_region| -> Option<(Bdev<'static>, u64, u64)> {
        // SAFETY: the caller keeps the device open until notified (contract).
        NonNull::new(r.bdev).map(|b| (unsafe { Bdev::from_raw(b) }, r.sector, r.count))
    };
    // SAFETY: per the contract, valid regions.
    let (from, dests) = unsafe { (&*from, core::slice::from_raw_parts(dests, num_dests as usize)) };
    let Some(src) = region(from) else { return EINVAL.to_errno() };
    let mut d = [(src.0, 0u64, 0u64); kcopyd::MAX_REGIONS];
    for (slot, r) in d.iter_mut().zip(dests) {
        match region(r) {
            Some(x) => *slot = x,
            None => return EINVAL.to_errno(),
        }
    }
    // SAFETY: a live client: borrow its reference without consuming it.
    let client = unsafe { kernel::sync::ArcBorrow::from_raw(kc as *const kcopyd::Client) };
    let client: kernel::sync::Arc<kcopyd::Client> = client.into();
    let ignore = flags & bindings::BLKCOPY_KCOPYD_IGNORE_ERROR != 0;
    c_ret(kcopyd::copy(&client, src, &d[..num_dests as usize], ignore, f, context))
}

/// See `blkcopy_set_reason()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `bio` is a copy-half piece handed to a provider's `submit`, not yet ended.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_set_reason(bio: *mut bindings::bio, reason: u32) {
    // SAFETY: per the contract, a live bio of the core's bio set, which has
    // a `BioCtx` in front; the provider owns it until it ends it.
    unsafe { (*job::JobBio::ctx_of(bio)).reason = route::Reason::from_c(reason) };
}
