// SPDX-License-Identifier: GPL-2.0

//! The kcopyd adapter of blkcopy.ko (`blkcopy_kcopyd_*()` in
//! include/linux/blkcopy.h), for Rust consumers.
//!
//! A [`Client`] is what `dm_kcopyd_client_create()` returns for kcopyd:
//! copies go through it, at most `max_jobs` at a time, and their
//! notifications run one at a time on the client's own context, in process
//! context. A copy's notification is a [`CopyDone`] implementation that
//! receives back the [`Arc`] it was started with, so the context of a copy
//! lives exactly until it has been notified.

use core::ffi::c_void;
use core::ptr::NonNull;

use kernel::error::{code::*, Error, Result};
use kernel::ffi::{c_int, c_ulong};
use kernel::sync::Arc;

use super::bindings;
use super::block::Bdev;

/// Most destinations of one copy.
pub const MAX_DESTS: usize = bindings::BLKCOPY_KCOPYD_MAX_REGIONS as usize;

/// A region of a device, in 512-byte sectors.
#[derive(Clone, Copy)]
pub struct Region {
    pub bdev: Bdev<'static>,
    pub sector: u64,
    pub count: u64,
}

impl Region {
    fn raw(&self) -> bindings::blkcopy_region {
        bindings::blkcopy_region { bdev: self.bdev.as_ptr(), sector: self.sector, count: self.count }
    }
}

/// The end of a copy.
pub trait CopyDone: Send + Sync + 'static {
    /// The copy has ended. `read_err`: the source could not be read;
    /// `write_err`: bit `i` is set when destination `i` could not be
    /// written. Runs in process context, one at a time per client.
    fn done(this: Arc<Self>, read_err: bool, write_err: u64);
}

/// What a client's copies have moved so far (every destination counted).
#[derive(Clone, Copy, Default)]
pub struct Stats {
    /// Bytes the devices copied.
    pub offloaded: u64,
    /// Bytes copied through the host.
    pub emulated: u64,
}

/// A kcopyd client, destroyed (after its copies have been notified) on drop.
pub struct Client {
    kc: NonNull<bindings::blkcopy_kcopyd_client>,
}

// SAFETY: the adapter's clients are used from any thread.
unsafe impl Send for Client {}
// SAFETY: as above; every operation is internally synchronised.
unsafe impl Sync for Client {}

unsafe extern "C" fn notify<T: CopyDone>(read_err: c_int, write_err: c_ulong, context: *mut c_void) {
    // SAFETY: `context` is the reference `Client::copy` leaked for this
    // copy; the adapter notifies each copy exactly once.
    let this = unsafe { Arc::from_raw(context as *const T) };
    T::done(this, read_err != 0, write_err as u64);
}

impl Client {
    /// A client with at most `max_jobs` copies in flight.
    pub fn new(max_jobs: u32) -> Result<Self> {
        // SAFETY: no preconditions.
        let kc = unsafe { bindings::blkcopy_kcopyd_client_create(max_jobs) };
        Ok(Self { kc: NonNull::new(kc).ok_or(ENOMEM)? })
    }

    /// Copies `from` to each of `dests` (regions of `from.count` sectors),
    /// each offloaded where a provider can. `ctx` is handed to
    /// [`CopyDone::done`] when all are done; on error it is dropped and
    /// nothing is notified. Sleeps while the client has `max_jobs` copies
    /// in flight. The devices must stay open until the notification.
    pub fn copy<T: CopyDone>(&self, from: &Region, dests: &[Region], ignore_error: bool, ctx: Arc<T>) -> Result {
        if dests.is_empty() || dests.len() > MAX_DESTS {
            return Err(EINVAL);
        }
        let mut raw: [bindings::blkcopy_region; MAX_DESTS] = core::array::from_fn(|_| from.raw());
        for (r, d) in raw.iter_mut().zip(dests) {
            *r = d.raw();
        }
        let flags = if ignore_error { bindings::BLKCOPY_KCOPYD_IGNORE_ERROR } else { 0 };
        let context = Arc::into_raw(ctx) as *mut c_void;
        // SAFETY: a live client; the regions are valid for the call; the
        // devices stay open (contract above); `notify::<T>` takes back the
        // reference leaked into `context`.
        let ret = unsafe {
            bindings::blkcopy_kcopyd_copy(
                self.kc.as_ptr(),
                &from.raw(),
                dests.len() as u32,
                raw.as_ptr(),
                flags,
                Some(notify::<T>),
                context,
            )
        };
        if ret != 0 {
            // SAFETY: not notified on error: the reference is still ours.
            drop(unsafe { Arc::from_raw(context as *const T) });
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Waits until every copy started before has been notified. Must not
    /// be called from a [`CopyDone::done`] of this client.
    pub fn drain(&self) {
        // SAFETY: a live client.
        unsafe { bindings::blkcopy_kcopyd_client_drain(self.kc.as_ptr()) };
    }

    /// Bytes moved so far.
    pub fn stats(&self) -> Stats {
        let mut s = bindings::blkcopy_kcopyd_stats { bytes_offloaded: 0, bytes_emulated: 0 };
        // SAFETY: a live client; `s` is valid for writes.
        unsafe { bindings::blkcopy_kcopyd_client_stats(self.kc.as_ptr(), &mut s) };
        Stats { offloaded: s.bytes_offloaded, emulated: s.bytes_emulated }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // SAFETY: created in `new`, not used after. Dropping a client from
        // one of its own notifications would wait for itself: its owners
        // keep it out of `CopyDone` contexts.
        unsafe { bindings::blkcopy_kcopyd_client_destroy(self.kc.as_ptr()) };
    }
}
