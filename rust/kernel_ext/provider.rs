// SPDX-License-Identifier: GPL-2.0

//! What every blkcopy provider module needs: the [`Provider`] trait its
//! state implements, registration with the core (which drains the
//! provider's commands on removal), a per-disk cache of discovery results,
//! and ending the write-half pieces the core hands it.

use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::error::{Error, Result, VTABLE_DEFAULT_ERROR};
use kernel::init::PinInit;
use kernel::new_mutex;
use kernel::prelude::{pin_data, pin_init, vtable};
use kernel::str::CStr;
use kernel::sync::Mutex;

use super::bindings;
use super::drain::Drain;

/// A blkcopy provider: the bottom-level hook for one kind of device
/// (`struct blkcopy_provider_ops`). The implementing type is the
/// provider's state; the core calls it through [`Registration`]'s ops
/// table, whose callbacks get a pointer to it (no provider needs a
/// global). `can_copy` is optional (`#[vtable]`): without it the core
/// pairs nothing, and every piece falls back as `cross_device`.
#[vtable]
pub trait Provider: Sized + Send + Sync + 'static {
    /// The provider's name (`ops.name`).
    const NAME: &'static CStr;

    /// Whether the provider copies on `disk` (live during the call), and
    /// its limits if so.
    fn probe(&self, disk: *mut bindings::gendisk) -> Option<bindings::blkcopy_limits>;

    /// Whether one command on `dst`'s device can copy from `src` (both
    /// live during the call).
    fn can_copy(&self, _src: *mut bindings::gendisk, _dst: *mut bindings::gendisk) -> bool {
        kernel::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Hands `piece` to the device: `Ok` when issued (the provider ends
    /// the piece from the command's completion, [`end_piece`]), or the
    /// reason to fall back (the piece is ended with it on return).
    fn submit(&self, piece: &Piece<'_>) -> core::result::Result<(), u32>;

    /// The provider's commands in flight: their completions run the
    /// provider's code, so unregistering waits until none is left.
    fn inflight(&self) -> &Drain;
}

/// The ops table of a [`Provider`] type.
struct OpsTable<T>(PhantomData<T>);

impl<T: Provider> OpsTable<T> {
    const OPS: bindings::blkcopy_provider_ops = bindings::blkcopy_provider_ops {
        name: T::NAME.as_char_ptr() as *const _,
        owner: core::ptr::null_mut(),
        probe: Some(Self::probe),
        can_copy: if T::HAS_CAN_COPY { Some(Self::can_copy) } else { None },
        submit: Some(Self::submit),
    };

    /// # Safety
    ///
    /// Called by the core with the private pointer of a [`Registration`]
    /// of `T` and a live disk; `lim` is valid for writes.
    unsafe extern "C" fn probe(
        private: *mut c_void,
        disk: *mut bindings::gendisk,
        lim: *mut bindings::blkcopy_limits,
    ) -> bool {
        // SAFETY: a registration's private pointer is its live provider.
        let this = unsafe { &*(private as *const T) };
        match this.probe(disk) {
            Some(l) => {
                // SAFETY: valid for writes (contract).
                unsafe { *lim = l };
                true
            }
            None => false,
        }
    }

    /// # Safety
    ///
    /// As for `probe`; both disks are live.
    unsafe extern "C" fn can_copy(
        private: *mut c_void,
        src: *mut bindings::gendisk,
        dst: *mut bindings::gendisk,
    ) -> bool {
        // SAFETY: a registration's private pointer is its live provider.
        unsafe { &*(private as *const T) }.can_copy(src, dst)
    }

    /// # Safety
    ///
    /// As for `probe`; the other arguments are those of a `submit` call
    /// from the core.
    unsafe extern "C" fn submit(
        private: *mut c_void,
        bio: *mut bindings::bio,
        src_disk: *mut bindings::gendisk,
        src: *const bindings::blkcopy_src_range,
        nr: u32,
    ) {
        // SAFETY: a registration's private pointer is its live provider.
        let this = unsafe { &*(private as *const T) };
        // SAFETY: the core's arguments to `submit`.
        unsafe { submit_piece(bio, src_disk, src, nr, |piece| this.submit(piece)) };
    }
}

/// A registered provider. Dropping it unregisters the ops (which waits for
/// calls into them in progress) and then waits until every command the
/// provider issued has completed ([`Provider::inflight`] drained), because
/// their completions run code of the provider's module.
pub struct Registration<T: Provider> {
    ops: &'static bindings::blkcopy_provider_ops,
    provider: NonNull<T>,
}

// SAFETY: only shares a `T`, which is `Sync`.
unsafe impl<T: Provider> Send for Registration<T> {}
// SAFETY: as above.
unsafe impl<T: Provider> Sync for Registration<T> {}

impl<T: Provider> Registration<T> {
    /// Registers `provider` with the core.
    ///
    /// # Safety
    ///
    /// `provider` outlives the registration (its callbacks may run until
    /// the registration has been dropped).
    pub unsafe fn new(provider: &T) -> Result<Self> {
        let ops: &'static bindings::blkcopy_provider_ops = &OpsTable::<T>::OPS;
        let private = provider as *const T as *mut c_void;
        // SAFETY: `ops` is static; `private` is valid until unregistered
        // (the contract), which `drop` does.
        let ret = unsafe { bindings::blkcopy_register_provider(ops, private) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(Self { ops, provider: NonNull::from(provider) })
    }
}

impl<T: Provider> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; returns once no call is in progress.
        unsafe { bindings::blkcopy_unregister_provider(self.ops) };
        // SAFETY: the provider outlives the registration (`new`'s contract).
        unsafe { self.provider.as_ref() }.inflight().wait();
    }
}

/// Ends a write-half piece handed to a provider's `submit`: copied by the
/// device, or to be copied by the core's fallback for `reason`.
///
/// # Safety
///
/// `bio` is a piece the core handed to `submit` and that was not ended yet.
pub unsafe fn end_piece(bio: *mut bindings::bio, result: core::result::Result<(), u32>) {
    // SAFETY: per the contract, a live piece we end exactly once.
    unsafe {
        match result {
            Ok(()) => (*bio).bi_status = 0,
            Err(reason) => {
                bindings::blkcopy_set_reason(bio, reason);
                (*bio).bi_status = bindings::BLKCOPY_STS_NOTSUPP;
            }
        }
        bindings::bio_endio(bio);
    }
}

/// Name of a disk (`disk_name`), NUL-padded.
pub fn disk_name(disk: *mut bindings::gendisk) -> [u8; 32] {
    let mut name = [0u8; 32];
    // SAFETY: the caller's disk is live; `disk_name` is fixed at creation.
    let dn = unsafe { &(*disk).disk_name };
    for (d, &c) in name.iter_mut().zip(dn.iter().take_while(|&&c| c != 0)) {
        *d = c as u8;
    }
    name
}

/// The name as text.
pub fn name_str(name: &[u8; 32]) -> &str {
    let n = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    core::str::from_utf8(&name[..n]).unwrap_or("?")
}

/// Most disks a [`DiskCache`] remembers.
const CACHE_MAX: usize = 256;

/// Discovery results per disk. A disk is known by its address and its
/// `diskseq`, so that a disk that goes away and another that reuses the
/// address are told apart.
#[pin_data]
pub struct DiskCache<T: Copy> {
    #[pin]
    entries: Mutex<KVec<(usize, u64, T)>>,
}

impl<T: Copy + Send> DiskCache<T> {
    /// An empty cache.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(DiskCache { entries <- new_mutex!(KVec::new()) })
    }

    /// The entry of `disk`, discovering it with `discover` the first time.
    /// Without memory for a new entry the disk is discovered again next
    /// time. Discovery (device commands, which may take long on a slow
    /// device) runs with no lock held: lookups for other disks go on; two
    /// first lookups of one disk may both discover it (the first result
    /// stays).
    pub fn get(&self, disk: *mut bindings::gendisk, discover: impl FnOnce() -> Option<T>) -> Option<T> {
        // SAFETY: the caller's disk is live; `diskseq` is fixed at creation.
        let seq = unsafe { (*disk).diskseq };
        let known = |e: &KVec<(usize, u64, T)>| e.iter().find(|(d, s, _)| *d == disk as usize && *s == seq).map(|x| x.2);
        if let Some(t) = known(&self.entries.lock()) {
            return Some(t);
        }
        let t = discover()?;
        let mut e = self.entries.lock();
        if let Some(t) = known(&e) {
            return Some(t);
        }
        // Entries of disks that went away are never looked up again; keep
        // the cache bounded by forgetting the oldest (rediscovered if live).
        let entry = (disk as usize, seq, t);
        if e.len() >= CACHE_MAX {
            let s = e.as_mut_slice();
            s.rotate_left(1);
            if let Some(last) = s.last_mut() {
                *last = entry;
            }
        } else {
            let _ = e.push(entry, GFP_KERNEL);
        }
        Some(t)
    }

    /// Changes the entry of the disk that was at address `disk` with
    /// sequence number `seq` (the disk need not be live any more).
    pub fn update(&self, disk: usize, seq: u64, f: impl Fn(&mut T)) {
        for (d, s, t) in self.entries.lock().iter_mut() {
            if *d == disk && *s == seq {
                f(t);
            }
        }
    }

    /// Calls `f` for every entry.
    pub fn for_each(&self, mut f: impl FnMut(&T) -> core::fmt::Result) -> core::fmt::Result {
        self.entries.lock().iter().try_for_each(|(_, _, t)| f(t))
    }
}

/// A write-half piece the core handed to a provider's `submit`.
pub struct Piece<'a> {
    /// The piece (a `REQ_OP_COPY_WRITE` bio on a whole disk).
    pub bio: *mut bindings::bio,
    /// Its disk and first sector: the destination.
    pub disk: *mut bindings::gendisk,
    pub sector: u64,
    /// The disk the sources are on, and the source ranges.
    pub src_disk: *mut bindings::gendisk,
    pub src: &'a [bindings::blkcopy_src_range],
}

/// The body of a provider's `submit`: runs `issue` for the piece, which
/// either hands it to the device (and ends it from the completion) or
/// returns the reason to fall back, with which the piece is ended here.
///
/// # Safety
///
/// The arguments are those of a `submit` call from the core.
unsafe fn submit_piece(
    bio: *mut bindings::bio,
    src_disk: *mut bindings::gendisk,
    src: *const bindings::blkcopy_src_range,
    nr: u32,
    issue: impl FnOnce(&Piece<'_>) -> core::result::Result<(), u32>,
) {
    // SAFETY: the core passes a live piece addressed to a whole disk, and
    // `nr` source ranges at `src`, valid during the call.
    let piece = unsafe {
        Piece {
            bio,
            disk: (*(*bio).bi_bdev).bd_disk,
            sector: (*bio).bi_iter.bi_sector,
            src_disk,
            src: core::slice::from_raw_parts(src, nr as usize),
        }
    };
    if let Err(reason) = issue(&piece) {
        // SAFETY: the piece was not handed to the device: end it here.
        unsafe { end_piece(bio, Err(reason)) };
    }
}
