// SPDX-License-Identifier: GPL-2.0

//! The fallback's buffers, and the reserve that keeps copies going when
//! memory is short.
//!
//! A copy's fallback buffers are allocated when its fallback starts,
//! opportunistically: `GFP_NOIO | __GFP_NORETRY | __GFP_NOWARN` (the
//! fallback is on the I/O path, and its writes may be what frees memory),
//! and counted in the pool whose limit bounds all copies together
//! ([`PoolPages`], released when the buffer is dropped, on every path).
//!
//! A copy that gets no buffer at all takes one of the reserve's, which are
//! allocated when the module loads, as a mempool's elements are:
//! [`RESERVE_BUFS`] buffers of [`RESERVE_CHUNK`] bytes. A copy holds at
//! most one, makes progress with it, and gives it back when its fallback
//! ends. A copy that finds the reserve empty waits for a buffer to come
//! back without blocking the thread that steps it (its worker may be the
//! rescuer of a memory-reclaim workqueue): [`Reserve::take`] queues it and
//! [`Reserve::give`] kicks it, as dm-kcopyd's jobs wait for pages.

use kernel::alloc::{flags::{GFP_KERNEL, __GFP_NOWARN}, KVec};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;
use kernel::types::Opaque;

use crate::kernel_ext::bindings;
use crate::kernel_ext::bio::BufPage;
use crate::kernel_ext::NoIo;
use crate::stats;

/// Buffers the reserve holds.
pub(crate) const RESERVE_BUFS: usize = 4;
/// Bytes of a reserve buffer (a multiple of every logical block size up
/// to 64 KiB).
pub(crate) const RESERVE_CHUNK: usize = 64 << 10;
const RESERVE_PAGES: usize = RESERVE_CHUNK / kernel::page::PAGE_SIZE;

/// Pages counted in the fallback's pool (debugfs `blkcopy/pool`), given
/// back when dropped.
struct PoolPages(usize);

impl PoolPages {
    /// `pages` if the pool stays within its limit.
    fn reserve(pages: usize) -> Option<Self> {
        // Built only when reserved: a `PoolPages` releases its pages when
        // dropped (`then_some` would build, and drop, one on failure too).
        stats::pool_reserve(pages).then(|| Self(pages))
    }

    /// `pages` regardless of the limit (a copy's first buffer).
    fn force(pages: usize) -> Self {
        stats::pool_force(pages);
        Self(pages)
    }
}

impl Drop for PoolPages {
    fn drop(&mut self) {
        stats::pool_release(self.0);
    }
}

enum Origin {
    Pool(#[allow(dead_code)] PoolPages),
    /// Given back to this reserve when dropped.
    Reserve(&'static Reserve),
}

/// A fallback buffer: the pages of one chunk.
pub(crate) struct Buffer {
    pages: KVec<BufPage>,
    origin: Origin,
}

impl Buffer {
    /// `npages` new pages counted in the pool (`first`: regardless of its
    /// limit); `None` without memory, or at the pool's limit. (Not inlined:
    /// tests/vm/cases/155-* fails the page allocations made from here.)
    #[inline(never)]
    pub(crate) fn alloc(npages: usize, first: bool) -> Option<Self> {
        let pool = if first { PoolPages::force(npages) } else { PoolPages::reserve(npages)? };
        let _noio = NoIo::enter();
        let mut pages = KVec::new();
        pages.reserve(npages, GFP_KERNEL | __GFP_NOWARN).ok()?;
        for _ in 0..npages {
            // Within the capacity reserved above: does not allocate.
            pages.push(BufPage::alloc(bindings::BLKCOPY_GFP_FALLBACK)?, GFP_KERNEL).ok()?;
        }
        Some(Self { pages, origin: Origin::Pool(pool) })
    }

    /// The pages.
    pub(crate) fn pages(&self) -> &[BufPage] {
        &self.pages
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Origin::Reserve(r) = self.origin {
            r.give(core::mem::replace(&mut self.pages, KVec::new()));
        }
    }
}

/// The reserve: buffers allocated at load time, and the copies waiting
/// for one.
#[pin_data(PinnedDrop)]
pub(crate) struct Reserve {
    /// The buffers not in use (a slot per buffer: giving one back never
    /// allocates).
    #[pin]
    free: Mutex<[Option<KVec<BufPage>>; RESERVE_BUFS]>,
    /// Copies waiting for a buffer, linked through their reserve link
    /// (queued by [`Reserve::take`]'s `wait`), each holding a reference to
    /// its copy. Added to and emptied under `free`'s lock: no wake-up is
    /// lost.
    waiters: Opaque<bindings::llist_head>,
    /// Tells the copies of a list taken off `waiters` to try again.
    kick: WaitersKick,
}

/// Tells the copies of a list of waiters (their reserve links, first
/// node given) that a buffer came back.
///
/// # Safety
///
/// Called with a list of links queued by the `wait` of [`Reserve::take`],
/// each with the reference its copy took for the list.
pub(crate) type WaitersKick = unsafe fn(*mut bindings::llist_node);

// SAFETY: `waiters` is only used under `free`'s lock through the llist
// functions; the rest is `Sync`.
unsafe impl Sync for Reserve {}
// SAFETY: as above.
unsafe impl Send for Reserve {}

impl Reserve {
    /// Allocates the reserve's buffers; waiting copies are told with
    /// `kick` (the copies' owner knows what their links belong to).
    pub(crate) fn new(kick: WaitersKick) -> Result<impl PinInit<Self>> {
        let mut bufs: [Option<KVec<BufPage>>; RESERVE_BUFS] = Default::default();
        for b in bufs.iter_mut() {
            let mut pages = KVec::with_capacity(RESERVE_PAGES, GFP_KERNEL)?;
            for _ in 0..RESERVE_PAGES {
                pages.push(BufPage::alloc(bindings::BLKCOPY_GFP_KERNEL).ok_or(ENOMEM)?, GFP_KERNEL)?;
            }
            *b = Some(pages);
        }
        Ok(pin_init!(Reserve {
            free <- new_mutex!(bufs),
            waiters: Opaque::new(bindings::llist_head { first: core::ptr::null_mut() }),
            kick,
        }))
    }

    /// A reserve buffer; `None` when none is free: then `wait` is called
    /// with the list of waiting copies (under the reserve's lock) to queue
    /// its copy's link, and the copy is kicked once a buffer comes back.
    pub(crate) fn take(&'static self, wait: impl FnOnce(*mut bindings::llist_head)) -> Option<Buffer> {
        let mut free = self.free.lock();
        if let Some(pages) = free.iter_mut().find_map(Option::take) {
            stats::reserve_taken();
            return Some(Buffer { pages, origin: Origin::Reserve(self) });
        }
        wait(self.waiters.get());
        None
    }

    /// A reserve buffer comes back: the copies waiting try again.
    fn give(&self, pages: KVec<BufPage>) {
        let waiting = {
            let mut free = self.free.lock();
            // A buffer taken from the reserve left its slot empty.
            if let Some(slot) = free.iter_mut().find(|b| b.is_none()) {
                *slot = Some(pages);
            }
            stats::reserve_returned();
            // SAFETY: a valid llist head, used under the lock.
            unsafe { bindings::blkcopy_llist_del_all(self.waiters.get()) }
        };
        // SAFETY: the nodes are reserve links of waiting copies, each with
        // the reference its `wait` took.
        unsafe { (self.kick)(waiting) };
    }
}

#[pinned_drop]
impl PinnedDrop for Reserve {
    fn drop(self: Pin<&mut Self>) {
        // No copy exists when the core goes; nothing can be waiting.
        // SAFETY: a valid llist head.
        let waiting = unsafe { bindings::blkcopy_llist_del_all(self.waiters.get()) };
        // SAFETY: as in `give`.
        unsafe { (self.kick)(waiting) };
    }
}
