// SPDX-License-Identifier: GPL-2.0

//! What every blkcopy provider module needs: its ops table, registration
//! with the core (which drains the provider's commands on removal), a
//! per-disk cache of discovery results, and ending the write-half pieces
//! the core hands it.

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::error::{Error, Result};
use kernel::init::PinInit;
use kernel::new_mutex;
use kernel::prelude::{pin_data, pin_init};
use kernel::sync::Mutex;

use super::bindings;
use super::drain::Drain;

/// A provider's ops table, as a static.
#[repr(transparent)]
pub struct Ops(pub bindings::blkcopy_provider_ops);

// SAFETY: immutable function pointers and a static name.
unsafe impl Sync for Ops {}

/// A registered provider. Dropping it unregisters the ops (which waits for
/// calls into them in progress) and then waits until every command the
/// provider issued has completed (`inflight` drained), because their
/// completions run code of the provider's module.
pub struct Registration {
    ops: &'static Ops,
    inflight: &'static Drain,
}

impl Registration {
    /// Registers `ops` with the core. `inflight` counts the provider's
    /// commands in flight.
    pub fn new(ops: &'static Ops, inflight: &'static Drain) -> Result<Self> {
        // SAFETY: `ops` is static and valid for as long as it is registered.
        let ret = unsafe { bindings::blkcopy_register_provider(&ops.0) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(Self { ops, inflight })
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `new`; returns once no call is in progress.
        unsafe { bindings::blkcopy_unregister_provider(&self.ops.0) };
        self.inflight.wait();
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
pub unsafe fn submit_piece(
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
