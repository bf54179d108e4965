// SPDX-License-Identifier: GPL-2.0

//! The in-kernel C API (include/linux/blkcopy.h; the symbols are exported
//! by block/blkcopy_exports.c): copies, provider and stacking-layer
//! registration, the stacking layers' half operations, and the kcopyd
//! adapter's client calls. A front end, like the ioctl: it checks its
//! arguments and calls the job, the router and the kcopyd adapter.

use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::prelude::*;
use kernel::sync::Arc;

use crate::copy::{self, CopyResult, Reason};
use crate::job::{CopyDone, CopyJob, Core, JobBio, Notify};
use crate::kcopyd;
use crate::kernel_ext::bindings;
use crate::kernel_ext::block::Bdev;
use crate::route;

/// The core, published once it is initialised and withdrawn before it is
/// torn down. C callers pass no context: every C API entry finds the core
/// here, and runs between those two points (jobs exist only while an
/// ioctl, which holds the module through its open file, or a dependent
/// module, which holds it through its symbol references, waits for them).
static CORE: AtomicPtr<Core> = AtomicPtr::new(core::ptr::null_mut());

/// Publishes the core to the C API.
pub(crate) fn publish(core: &'static Core) {
    CORE.store(core as *const Core as *mut Core, Ordering::Release);
}

/// Withdraws the core (module exit).
pub(crate) fn withdraw() {
    CORE.store(core::ptr::null_mut(), Ordering::Release);
}

fn core() -> &'static Core {
    // SAFETY: see `CORE`: non-null and live whenever any C API entry runs.
    unsafe { &*CORE.load(Ordering::Acquire) }
}

/// A `blkcopy_copy()` caller's end_io.
struct EndIo {
    f: unsafe extern "C" fn(*const bindings::blkcopy_result, *mut c_void),
    private: *mut c_void,
}

// SAFETY: the C API's contract makes `private` usable from any context.
unsafe impl Send for EndIo {}
// SAFETY: as above; the callback is called once.
unsafe impl Sync for EndIo {}

impl CopyDone for EndIo {
    fn copy_done(&self, res: &CopyResult) {
        let r = bindings::blkcopy_result {
            status: res.status,
            flags: if res.read_failed { bindings::BLKCOPY_RESULT_READ_ERROR } else { 0 },
            bytes_copied: res.copied,
            bytes_offloaded: res.offloaded,
        };
        // SAFETY: the C API caller's callback, called once, in process
        // context, with a result that lives for the call.
        unsafe { (self.f)(&r, self.private) };
    }
}

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
    let started = copy::check_flags(flags)
        .map_err(Error::from)
        .and_then(|()| copy::sectors(src_sector, dst_sector, nr_sects))
        .and_then(|r| copy::check(s, d, core::slice::from_ref(&r)).map(|()| r).map_err(Error::from))
        .and_then(|r| Ok((r, Arc::new(EndIo { f, private }, GFP_KERNEL)?)))
        .and_then(|(r, done)| {
            // SAFETY: open until `end_io` is called, which is the job's
            // notify.
            unsafe { CopyJob::start(core(), s, d, core::slice::from_ref(&r), flags, Notify::Done(done)) }
        });
    c_ret(started.map(drop))
}

/// See `blkcopy_register_provider()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `ops` points to an ops table that stays valid until unregistered, and
/// its callbacks may be called with `private` until then.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_register_provider(
    ops: *const bindings::blkcopy_provider_ops,
    private: *mut c_void,
) -> i32 {
    c_ret(core().registry().register(ops, private))
}

/// See `blkcopy_unregister_provider()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `ops` was registered with `blkcopy_register_provider()`.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_unregister_provider(ops: *const bindings::blkcopy_provider_ops) {
    core().registry().unregister(ops);
}

/// See `blkcopy_register_stacking()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `ops` points to an ops table that stays valid until unregistered.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_register_stacking(ops: *const bindings::blkcopy_stacking_ops) -> i32 {
    c_ret(core().registry().register_stacking(ops))
}

/// See `blkcopy_unregister_stacking()` in include/linux/blkcopy.h.
///
/// # Safety
///
/// `ops` was registered with `blkcopy_register_stacking()`.
#[no_mangle]
pub unsafe extern "C" fn blkcopy_unregister_stacking(ops: *const bindings::blkcopy_stacking_ops) {
    core().registry().unregister_stacking(ops);
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
    let mut b = core::mem::ManuallyDrop::new(unsafe { JobBio::from_end_io(half) });
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
    let mut h = core::mem::ManuallyDrop::new(unsafe { JobBio::from_end_io(half) });
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
    route::submit_half(unsafe { JobBio::from_end_io(half) });
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
    let job = unsafe { &(*JobBio::ctx_of(half)).job };
    c_ret(job.hold(release, arg))
}

/// See `blkcopy_kcopyd_client_create()` in include/linux/blkcopy.h.
#[no_mangle]
pub extern "C" fn blkcopy_kcopyd_client_create(max_jobs: u32) -> *mut bindings::blkcopy_kcopyd_client {
    let n = if max_jobs == 0 { 8 } else { max_jobs as usize };
    match kcopyd::Client::new(core(), n) {
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
    unsafe { (*JobBio::ctx_of(bio)).reason = Reason::from_c(reason) };
}
