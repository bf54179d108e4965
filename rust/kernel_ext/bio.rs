// SPDX-License-Identifier: GPL-2.0

//! Bios from a private `bio_set`, each with a typed context in front of it
//! (the set's `front_pad`), as device-mapper does for its per-bio data.
//!
//! [`Bio`] owns one reference on a bio. Submitting or ending it hands that
//! reference to the block layer, and the end_io callback takes it back with
//! [`Bio::from_end_io`]. Dropping a [`Bio`] drops its context and puts it.

use core::marker::{PhantomData, PhantomPinned};
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use kernel::error::{code::*, Error, Result};
use kernel::init::PinInit;
use kernel::types::Opaque;

use super::bindings;
use super::block::Bdev;

/// A `bio_set` whose bios carry a `C` in front.
pub struct BioSet<C> {
    bs: Opaque<bindings::bio_set>,
    _ctx: PhantomData<C>,
    _pin: PhantomPinned,
}

// SAFETY: a `bio_set` is used concurrently by design (mempools); the
// context type only crosses threads inside bios, which require `C: Send`.
unsafe impl<C: Send> Sync for BioSet<C> {}
// SAFETY: as above.
unsafe impl<C: Send> Send for BioSet<C> {}

/// An end_io callback.
pub type EndIo = unsafe extern "C" fn(*mut bindings::bio);

impl<C> BioSet<C> {
    /// Bytes in front of each bio: the context, rounded up so that the bio
    /// that follows is aligned.
    const FRONT_PAD: usize = {
        let a = align_of::<bindings::bio>();
        // The bio_set's slab aligns allocations to at least 8 bytes, which
        // is where the context sits.
        assert!(align_of::<C>() <= 8);
        (size_of::<C>() + a - 1) / a * a
    };

    /// A bio set with `pool` reserved bios (and bio_vecs) for progress under
    /// memory pressure.
    pub fn new(pool: u32) -> impl PinInit<Self, Error> {
        let init = move |slot: *mut Self| {
            // SAFETY: `slot` is valid for writes (pin_init contract); the
            // bio_set is initialised in place and never moved afterwards.
            // `bioset_init` expects zeroed memory (its users embed bio sets
            // in zeroed allocations).
            let ret = unsafe {
                let bs = Opaque::raw_get(core::ptr::addr_of_mut!((*slot).bs));
                core::ptr::write_bytes(bs, 0, 1);
                bindings::bioset_init(
                    bs,
                    pool,
                    Self::FRONT_PAD as u32,
                    bindings::BIOSET_NEED_BVECS as i32,
                )
            };
            kernel::error::to_result(ret)
        };
        // SAFETY: on success every field is initialised (the markers are
        // ZSTs); on failure `bioset_init` cleaned up after itself.
        unsafe { kernel::init::pin_init_from_closure(init) }
    }

    /// Allocates a bio for `bdev` with room for `nr_vecs` pages, operation
    /// `opf`, starting at `sector`, that calls `end_io` when it ends.
    pub fn alloc(
        &self,
        bdev: Bdev<'static>,
        nr_vecs: u16,
        opf: u32,
        sector: u64,
        end_io: EndIo,
        ctx: C,
        gfp: bindings::gfp_t,
    ) -> Result<Bio<C>> {
        // SAFETY: the bio_set is initialised; `bdev` is live (its contract).
        let bio = unsafe {
            bindings::bio_alloc_bioset(bdev.as_ptr(), nr_vecs, opf, gfp, self.bs.get())
        };
        let ptr = NonNull::new(bio).ok_or(ENOMEM)?;
        // SAFETY: the bio is ours; its front pad has room for a `C`.
        unsafe {
            Bio::<C>::ctx_ptr(ptr.as_ptr()).write(ctx);
            (*bio).bi_iter.bi_sector = sector;
            (*bio).bi_end_io = Some(end_io);
        }
        Ok(Bio { ptr, _ctx: PhantomData })
    }
}

impl<C> Drop for BioSet<C> {
    fn drop(&mut self) {
        // SAFETY: initialised by `new`; every bio of the set has been put
        // before the owner drops it (the owner waits for its I/O).
        unsafe { bindings::bioset_exit(self.bs.get()) };
    }
}

/// One bio of a [`BioSet<C>`].
pub struct Bio<C> {
    ptr: NonNull<bindings::bio>,
    _ctx: PhantomData<C>,
}

// SAFETY: a bio may be completed and freed on any CPU; the context must be
// `Send` for that.
unsafe impl<C: Send> Send for Bio<C> {}

impl<C> Bio<C> {
    fn ctx_ptr(bio: *mut bindings::bio) -> *mut C {
        (bio as *mut u8).wrapping_sub(BioSet::<C>::FRONT_PAD) as *mut C
    }

    /// Takes back the reference handed over by [`Bio::submit`] or
    /// [`Bio::end`].
    ///
    /// # Safety
    ///
    /// `bio` must be the argument of an end_io callback of a bio allocated
    /// from a `BioSet<C>`, and this must be called once for it.
    pub unsafe fn from_end_io(bio: *mut bindings::bio) -> Self {
        // SAFETY: non-null per the contract.
        Self { ptr: unsafe { NonNull::new_unchecked(bio) }, _ctx: PhantomData }
    }

    /// Takes back the reference of the bio whose context is at `ctx`.
    ///
    /// # Safety
    ///
    /// Same as [`Bio::from_end_io`], for the bio `ctx` belongs to.
    pub unsafe fn from_ctx(ctx: *mut C) -> Self {
        let bio = (ctx as *mut u8).wrapping_add(BioSet::<C>::FRONT_PAD) as *mut bindings::bio;
        // SAFETY: per the contract, `bio` is the end_io argument.
        unsafe { Self::from_end_io(bio) }
    }

    /// The context of the bio at `bio`, without taking ownership (for
    /// end_io callbacks that only record and defer).
    ///
    /// # Safety
    ///
    /// `bio` must be a live bio of a `BioSet<C>`.
    pub unsafe fn ctx_of(bio: *mut bindings::bio) -> *mut C {
        Self::ctx_ptr(bio)
    }

    /// The raw bio, for FFI.
    pub fn as_ptr(&self) -> *mut bindings::bio {
        self.ptr.as_ptr()
    }

    /// The context.
    pub fn ctx(&self) -> &C {
        // SAFETY: written at allocation, dropped only in `drop`.
        unsafe { &*Self::ctx_ptr(self.as_ptr()) }
    }

    /// The context, mutably.
    pub fn ctx_mut(&mut self) -> &mut C {
        // SAFETY: as in `ctx`; `&mut self` makes the access exclusive.
        unsafe { &mut *Self::ctx_ptr(self.as_ptr()) }
    }

    /// The operation (`REQ_OP_*`).
    pub fn op(&self) -> u32 {
        // SAFETY: the bio is live while we own it.
        unsafe { (*self.as_ptr()).bi_opf & bindings::BLKCOPY_REQ_OP_MASK }
    }

    /// The device the bio is addressed to.
    pub fn bdev(&self) -> Bdev<'static> {
        // SAFETY: the bio was allocated for, and is only re-addressed to,
        // devices whose handles say they stay open while used
        // (`Bdev<'static>`); a bio addressed to one is such a use.
        unsafe { Bdev::from_raw(NonNull::new_unchecked((*self.as_ptr()).bi_bdev)) }
    }

    /// Re-addresses the bio. Only for bios that are never submitted with
    /// `submit_bio` (copy halves), which need no blk-cgroup association.
    pub fn set_bdev(&mut self, bdev: Bdev<'static>) {
        // SAFETY: the bio is live while we own it.
        unsafe { (*self.as_ptr()).bi_bdev = bdev.as_ptr() };
    }

    /// First sector.
    pub fn sector(&self) -> u64 {
        // SAFETY: the bio is live while we own it.
        unsafe { (*self.as_ptr()).bi_iter.bi_sector }
    }

    /// Sets the first sector.
    pub fn set_sector(&mut self, sector: u64) {
        // SAFETY: the bio is live while we own it.
        unsafe { (*self.as_ptr()).bi_iter.bi_sector = sector };
    }

    /// Size in bytes.
    pub fn size(&self) -> u32 {
        // SAFETY: the bio is live while we own it.
        unsafe { (*self.as_ptr()).bi_iter.bi_size }
    }

    /// Sets the size of a bio without data pages (copy halves).
    pub fn set_size(&mut self, bytes: u32) {
        // SAFETY: the bio is live while we own it.
        unsafe { (*self.as_ptr()).bi_iter.bi_size = bytes };
    }

    /// Completion status (`blk_status_t`).
    pub fn status(&self) -> u8 {
        // SAFETY: the bio is live while we own it.
        unsafe { (*self.as_ptr()).bi_status }
    }

    /// Adds `len` bytes of `page` from `offset`. `page` must stay allocated
    /// until the bio has ended.
    pub fn add_page(&mut self, page: &BufPage, len: u32, offset: u32) -> Result {
        // SAFETY: the bio is live and not yet submitted; `page` is live.
        let added = unsafe { bindings::bio_add_page(self.as_ptr(), page.as_ptr(), len, offset) };
        if added as u32 == len {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }

    /// Submits the bio to its device; it comes back through its end_io.
    pub fn submit(self) {
        let bio = self.as_ptr();
        core::mem::forget(self);
        // SAFETY: the bio is fully set up; ownership passes to the block
        // layer, which hands it to end_io.
        unsafe { bindings::submit_bio(bio) };
    }

    /// Hands the bio to C code that will end it (its end_io takes it back).
    pub fn into_raw(self) -> *mut bindings::bio {
        let bio = self.as_ptr();
        core::mem::forget(self);
        bio
    }

    /// Ends the bio with `status` without I/O: its end_io runs now.
    pub fn end(self, status: u8) {
        let bio = self.as_ptr();
        core::mem::forget(self);
        // SAFETY: ownership passes to end_io, called by `bio_endio`.
        unsafe {
            (*bio).bi_status = status;
            bindings::bio_endio(bio);
        }
    }
}

impl<C> Drop for Bio<C> {
    fn drop(&mut self) {
        // SAFETY: we own the bio and its context; after this neither is used.
        unsafe {
            core::ptr::drop_in_place(Self::ctx_ptr(self.as_ptr()));
            bindings::bio_put(self.as_ptr());
        }
    }
}

/// A page for bio data, allocated with caller-chosen GFP flags (the
/// kernel crate's `Page` takes only the flags it names, which lack
/// `GFP_NOIO` and `__GFP_NORETRY`). Freed on drop.
///
/// # Invariants
///
/// `0` is an order-0 page this value owns.
pub struct BufPage(NonNull<bindings::page>);

// SAFETY: a page may be used and freed from any thread.
unsafe impl Send for BufPage {}
// SAFETY: `&BufPage` only gives its address.
unsafe impl Sync for BufPage {}

impl BufPage {
    /// A new page; `None` if the allocation with `gfp` failed.
    pub fn alloc(gfp: bindings::gfp_t) -> Option<Self> {
        // SAFETY: any flags; may sleep if they allow it.
        NonNull::new(unsafe { bindings::alloc_pages(gfp, 0) }).map(Self)
    }

    /// The page, for FFI.
    pub fn as_ptr(&self) -> *mut bindings::page {
        self.0.as_ptr()
    }
}

impl Drop for BufPage {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own this order-0 page.
        unsafe { bindings::__free_pages(self.0.as_ptr(), 0) };
    }
}
