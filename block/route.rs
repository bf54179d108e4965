// SPDX-License-Identifier: GPL-2.0

//! Routing of copy halves, and the providers at the bottom of the stack.
//!
//! Copy halves are never given to `submit_bio()`: 6.12's block layer would
//! refuse the unknown operation, and no driver that does not understand
//! copies may see one. Instead [`submit_half`] walks the stack itself:
//!
//! - a partition is remapped to its whole disk, as the block layer does;
//! - a disk that a registered provider claims takes the half: a read-half
//!   piece records where its data lives in the copy's token, a write-half
//!   piece is paired with the recorded sources and, where the provider can
//!   copy between the two disks, handed to the provider as one device
//!   command;
//! - anything else ends with `BLK_STS_NOTSUPP` and a [`Reason`], and the job
//!   copies that part through the host.
//!
//! The router does not know jobs: it sees a half's context through
//! [`HalfCtx`] and asks the copy a half belongs to for what it needs
//! through [`RoutedCopy`] (the job implements both). Which commands a
//! write piece becomes is planned by `logic/src/command.rs`.

use core::ops::DerefMut;
use core::ptr::NonNull;

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::command::{Command, Limits, SrcRange};
use crate::copy::Reason;
use crate::kernel_ext::bindings;
use crate::kernel_ext::bio::Bio;
use crate::kernel_ext::drain::Drain;

/// Which piece of which half a bio is: `off` is its offset within its
/// pair's destination run. A locating half only records where it lands.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HalfKind {
    pub(crate) pair: u32,
    pub(crate) off: u64,
    pub(crate) write: bool,
    pub(crate) locate: bool,
}

/// The context of a copy's bios (their bio set's front pad), as the
/// router reads and updates it.
pub(crate) trait HalfCtx: Send + Sized + 'static {
    /// The copy the bios belong to.
    type Copy: RoutedCopy<Ctx = Self>;

    /// The copy this bio belongs to.
    fn copy(&self) -> &Arc<Self::Copy>;

    /// Which half piece the bio is; `None` for a bio of another kind.
    fn half(&self) -> Option<HalfKind>;

    /// Makes the bio another piece of its half.
    fn set_half(&mut self, kind: HalfKind);

    /// Why the piece ends without copying (read when it ends).
    fn set_reason(&mut self, reason: Reason);

    /// A new bio of the same copy like `half` (device, operation, sector,
    /// context), without pages, counted by its copy as in flight.
    fn alloc_like(half: &Bio<Self>) -> Result<Bio<Self>>;
}

/// What the router asks of the copy a half belongs to.
pub(crate) trait RoutedCopy: Send + Sync + 'static {
    /// The context of the copy's bios.
    type Ctx: HalfCtx<Copy = Self>;

    /// The providers and stacking layers the copy is routed through.
    fn registry(&self) -> &Registry;

    /// Records where a piece of the source (`dst` false) or of the
    /// destination lands: `len` bytes at byte `pos` of `disk`.
    fn record_landing(&self, disk: u64, pos: u64, len: u64, dst: bool);

    /// Records where a read-half piece's data lives (`pos`: a byte offset
    /// on `disk`) in its pair's token; false when the token is full.
    fn record_source(&self, pair: u32, off: u64, len: u64, disk: u64, pos: u64) -> bool;

    /// Queues a half for routing; true when the caller is to run the
    /// routing pass ([`RoutedCopy::take_queued_halves`] until empty, then
    /// [`RoutedCopy::end_routing`]), false when a pass is running.
    fn queue_half(&self, half: Bio<Self::Ctx>) -> bool;

    /// The queued halves, oldest first (the pass's owner only); those not
    /// routed when the iterator is dropped fall back.
    fn take_queued_halves(&self) -> impl Iterator<Item = Bio<Self::Ctx>>;

    /// Whether halves wait in the routing queue.
    fn halves_queued(&self) -> bool;

    /// Ends a routing pass; true when halves were queued meanwhile and the
    /// caller owns a new pass.
    fn end_routing(&self) -> bool;

    /// The buffer a device command's source ranges are built in (a copy's
    /// routing passes are serialised; it is kept off the stack).
    fn cmd_ranges(&self) -> impl DerefMut<Target = [bindings::blkcopy_src_range; MAX_CMD_RANGES]> + '_;

    /// The next command of the write-half piece `[off, off + len)` of pair
    /// `pair`, from the sources its read halves recorded
    /// (`command::next_command`).
    fn next_command(&self, pair: u32, off: u64, len: u64, lim: &Limits, put: impl FnMut(usize, SrcRange)) -> Command;
}

/// A registered provider: its ops and the private pointer its callbacks
/// get.
#[derive(Clone, Copy)]
struct Provider {
    ops: NonNull<bindings::blkcopy_provider_ops>,
    private: *mut core::ffi::c_void,
}

// SAFETY: the ops table is immutable and, like the provider's private
// data, lives until unregistered, which waits for every call pinned by a
// `Pinned` to end; providers' callbacks may be called from any process.
unsafe impl Send for Provider {}

impl Provider {
    fn ops(&self) -> &bindings::blkcopy_provider_ops {
        // SAFETY: see the `Send` impl: valid while registered, and callers
        // use it through a `Pinned`, which unregistering waits out.
        unsafe { self.ops.as_ref() }
    }

    fn probe(&self, disk: *mut bindings::gendisk) -> Option<bindings::blkcopy_limits> {
        let mut lim = bindings::blkcopy_limits::default();
        let probe = self.ops().probe?;
        // SAFETY: `disk` is live (it belongs to an open device of a job);
        // `private` is the provider's, live while registered.
        unsafe { probe(self.private, disk, &mut lim) }.then_some(lim)
    }

    fn can_copy(&self, src: *mut bindings::gendisk, dst: *mut bindings::gendisk) -> bool {
        match self.ops().can_copy {
            // SAFETY: both disks are live (devices of a running job); the
            // private pointer as in `probe`.
            Some(f) => unsafe { f(self.private, src, dst) },
            None => false,
        }
    }
}

/// Most providers registered at once.
const MAX_PROVIDERS: usize = 8;

/// The registered providers, by slot.
struct Providers([Option<Provider>; MAX_PROVIDERS]);

/// A provider pinned for calls into it: unregistering it waits until every
/// `Pinned` of it is dropped. No lock is held meanwhile, so a provider that
/// sleeps (discovery commands, a full queue, its in-flight budget) delays
/// only the copies that use it.
struct Pinned<'r> {
    p: Provider,
    users: &'r Drain,
}

impl Drop for Pinned<'_> {
    fn drop(&mut self) {
        self.users.leave();
    }
}

/// A registered copy-aware stacking layer.
#[derive(Clone, Copy)]
struct Stacking(NonNull<bindings::blkcopy_stacking_ops>);

// SAFETY: the ops table is immutable and lives while registered; calls
// into it hold a reference on its module.
unsafe impl Send for Stacking {}

/// Most stacking layers registered at once.
const MAX_STACKING: usize = 4;
/// Deepest stack a copy half is routed through.
const MAX_DEPTH: usize = 16;

/// The providers, whose lock is held only to look them up and pin them
/// (`Pinned`: calls into a provider hold no lock, and unregistering waits
/// for them); and the stacking layers, which are called without a lock
/// (they route pieces on themselves) but with a reference on their module.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    providers: Mutex<Providers>,
    /// Calls pinned into each slot's provider (entered under `providers`,
    /// left without it).
    users: [Drain; MAX_PROVIDERS],
    #[pin]
    stacking: Mutex<[Option<Stacking>; MAX_STACKING]>,
}

impl Registry {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Registry {
            providers <- new_mutex!(Providers([None; MAX_PROVIDERS])),
            users: core::array::from_fn(|_| Drain::new()),
            stacking <- new_mutex!([None; MAX_STACKING]),
        })
    }

    /// Every registered provider, pinned.
    fn pinned(&self) -> [Option<Pinned<'_>>; MAX_PROVIDERS] {
        let v = self.providers.lock();
        core::array::from_fn(|i| {
            v.0[i].map(|p| {
                self.users[i].enter();
                Pinned { p, users: &self.users[i] }
            })
        })
    }

    /// The first provider that copies on `disk`, pinned, with its limits
    /// (the other providers are unpinned once asked).
    fn claiming(&self, disk: *mut bindings::gendisk) -> Option<(Pinned<'_>, bindings::blkcopy_limits)> {
        let mut found = None;
        for pin in self.pinned().into_iter().flatten() {
            if found.is_none() {
                if let Some(lim) = pin.p.probe(disk) {
                    found = Some((pin, lim));
                }
            }
        }
        found
    }

    pub(crate) fn register(&self, ops: *const bindings::blkcopy_provider_ops, private: *mut core::ffi::c_void) -> Result {
        let p = Provider { ops: NonNull::new(ops as *mut _).ok_or(EINVAL)?, private };
        if p.ops().submit.is_none() || p.ops().probe.is_none() {
            return Err(EINVAL);
        }
        let mut v = self.providers.lock();
        if v.0.iter().flatten().any(|q| q.ops == p.ops) {
            return Err(EEXIST);
        }
        // A slot whose last provider's calls have all ended: an unregister
        // still waiting on the slot waits for no newcomer.
        let free = (0..MAX_PROVIDERS).find(|&i| v.0[i].is_none() && self.users[i].count() == 0).ok_or(ENOSPC)?;
        v.0[free] = Some(p);
        Ok(())
    }

    /// Removes a provider; returns once no call into it is in progress.
    pub(crate) fn unregister(&self, ops: *const bindings::blkcopy_provider_ops) {
        let mut slot = None;
        {
            let mut v = self.providers.lock();
            for (i, s) in v.0.iter_mut().enumerate() {
                if matches!(s, Some(q) if q.ops.as_ptr() as *const _ == ops) {
                    *s = None;
                    slot = Some(i);
                }
            }
        }
        // Nobody pins it any more; the calls pinned before end.
        if let Some(i) = slot {
            self.users[i].wait();
        }
    }

    pub(crate) fn register_stacking(&self, ops: *const bindings::blkcopy_stacking_ops) -> Result {
        let l = Stacking(NonNull::new(ops as *mut _).ok_or(EINVAL)?);
        let mut v = self.stacking.lock();
        if v.iter().flatten().any(|q| q.0 == l.0) {
            return Err(EEXIST);
        }
        *v.iter_mut().find(|s| s.is_none()).ok_or(ENOSPC)? = Some(l);
        Ok(())
    }

    pub(crate) fn unregister_stacking(&self, ops: *const bindings::blkcopy_stacking_ops) {
        for s in self.stacking.lock().iter_mut() {
            if matches!(s, Some(q) if q.0.as_ptr() as *const _ == ops) {
                *s = None;
            }
        }
    }

    /// The provider claiming `disk`, with its limits, for the BLKCOPY_INFO
    /// ioctl.
    pub(crate) fn limits(&self, disk: *mut bindings::gendisk) -> Option<bindings::blkcopy_limits> {
        self.claiming(disk).map(|(_, lim)| lim)
    }

    /// Whether a provider can copy from `src` to `dst` in one command.
    pub(crate) fn pair_possible(&self, src: *mut bindings::gendisk, dst: *mut bindings::gendisk) -> bool {
        self.pinned().iter().flatten().any(|p| p.p.probe(dst).is_some() && p.p.can_copy(src, dst))
    }
}

fn end_notsupp<C: HalfCtx>(mut bio: Bio<C>, reason: Reason) {
    bio.ctx_mut().set_reason(reason);
    bio.end(bindings::BLKCOPY_STS_NOTSUPP);
}

/// Carves the first `bytes` of a copy-half piece off into a new piece
/// (also for stacking layers, through the C API).
pub(crate) fn split_front<C: HalfCtx>(bio: &mut Bio<C>, bytes: u32) -> Result<Bio<C>> {
    let Some(kind) = bio.ctx().half() else {
        return Err(EINVAL);
    };
    let mut front = C::alloc_like(bio)?;
    front.set_size(bytes);
    bio.set_sector(bio.sector() + u64::from(bytes >> 9));
    bio.set_size(bio.size() - bytes);
    bio.ctx_mut().set_half(HalfKind { off: kind.off + u64::from(bytes), ..kind });
    Ok(front)
}

/// What the stacking layers did with a half.
enum Stacked<C> {
    /// No layer maps it: it is at the bottom.
    Bottom(Bio<C>),
    /// A layer took it.
    Taken,
}

/// Lets the stacking layers remap a half until it reaches the bottom.
fn through_layers<C: HalfCtx>(mut bio: Bio<C>) -> Stacked<C> {
    let job = bio.ctx().copy().clone();
    let reg = job.registry();
    for _ in 0..MAX_DEPTH {
        let bdev = bio.bdev();
        if bdev.is_partition() {
            bio.set_sector(bio.sector() + bdev.start_sect());
            bio.set_bdev(bdev.whole());
        }
        let disk = bio.bdev().disk();
        let layers = *reg.stacking.lock();
        let queued_before = job.halves_queued();
        let mut remapped = false;
        for l in layers.iter().flatten() {
            // SAFETY: registered ops are valid while registered, and the
            // module reference keeps them valid during the call.
            let ops = unsafe { l.0.as_ref() };
            let Some(map) = ops.map_half else { continue };
            // SAFETY: `owner` is the layer's module (or null).
            if !ops.owner.is_null() && !unsafe { bindings::try_module_get(ops.owner) } {
                continue;
            }
            // SAFETY: `disk` is live (a device of the job, or below one a
            // layer holds); the half is live and ours during the call.
            let r = unsafe { map(disk, bio.as_ptr()) } as u32;
            if !ops.owner.is_null() {
                // SAFETY: the reference taken above.
                unsafe { bindings::module_put(ops.owner) };
            }
            match r {
                bindings::blkcopy_map_result_BLKCOPY_MAP_REMAPPED => {
                    remapped = true;
                    break;
                }
                bindings::blkcopy_map_result_BLKCOPY_MAP_DONE => {
                    // The layer owns the half now.
                    core::mem::forget(bio);
                    return Stacked::Taken;
                }
                _ => {}
            }
        }
        if !remapped {
            return Stacked::Bottom(bio);
        }
        // The layer carved a front piece off and queued it: the rest goes
        // after it, so that the pieces reach the device in order. (Every
        // such requeue follows a split, which shortens the half: routing
        // ends.)
        if !queued_before && job.halves_queued() {
            // Inside the routing pass (`route_half`): only queues.
            let _ = job.queue_half(bio);
            return Stacked::Taken;
        }
    }
    end_notsupp(bio, Reason::Unpaired);
    Stacked::Taken
}

/// Sends a copy half (or a piece of one) down the stack. A stacking layer
/// resubmitting a piece from its `map_half` only queues it: the pass
/// further up the stack routes it once the layer returned, so routing
/// never recurses, however deep the stack or however many pieces.
pub(crate) fn submit_half<C: HalfCtx>(bio: Bio<C>) {
    let job = bio.ctx().copy().clone();
    if !job.queue_half(bio) {
        return;
    }
    loop {
        loop {
            let mut halves = job.take_queued_halves().peekable();
            if halves.peek().is_none() {
                break;
            }
            for b in halves {
                route_half(b);
            }
        }
        if !job.end_routing() {
            break;
        }
    }
}

/// Routes one half: through the stacking layers to the provider below.
fn route_half<C: HalfCtx>(bio: Bio<C>) {
    // At the bottom the half is on a whole disk: `through_layers` remapped
    // partitions at every level.
    let bio = match through_layers(bio) {
        Stacked::Bottom(b) => b,
        Stacked::Taken => return,
    };
    let disk = bio.bdev().disk();
    let Some(HalfKind { pair, off, write, locate }) = bio.ctx().half() else {
        return end_notsupp(bio, Reason::Unpaired);
    };
    let job = bio.ctx().copy().clone();
    // Where the piece lands decides whether the copy may run at all
    // (`CopyJob::check_landings`): recorded for every source piece and
    // every locating destination piece, provider or not.
    if !write || locate {
        job.record_landing(disk as u64, bio.sector() << 9, u64::from(bio.size()), write);
    }
    if locate {
        return bio.end(0);
    }
    let Some((pinned, lim)) = job.registry().claiming(disk) else {
        return end_notsupp(bio, Reason::NoProvider);
    };
    if !write {
        // Read half at the bottom: record where this part of the source is.
        drop(pinned);
        if job.record_source(pair, off, u64::from(bio.size()), disk as u64, bio.sector() << 9) {
            bio.end(0);
        } else {
            end_notsupp(bio, Reason::Unpaired);
        }
        return;
    }
    pair_write(bio, pinned.p, lim, pair, off, disk);
    drop(pinned);
}

/// Write half at the bottom: pair each part with its recorded source and
/// hand what the provider can copy to it, one device command per piece.
fn pair_write<C: HalfCtx>(
    bio: Bio<C>,
    p: Provider,
    lim: bindings::blkcopy_limits,
    pair: u32,
    off: u64,
    disk: *mut bindings::gendisk,
) {
    let job = bio.ctx().copy().clone();
    let lim = Limits::new(lim.max_bytes, lim.max_range_bytes, lim.max_src_ranges, HALF_MAX, MAX_CMD_RANGES);
    let mut pos = off;
    let mut rest = Some(bio);
    while let Some(mut cur) = rest.take() {
        let left = u64::from(cur.size());
        // The next command: as many paired segments as the limits allow,
        // all from one source disk; or the unpaired run at its start.
        let mut srcs = job.cmd_ranges();
        let next = job.next_command(pair, pos, left, &lim, |i, r| {
            srcs[i] = bindings::blkcopy_src_range { sector: r.pos >> 9, nr_sects: (r.len >> 9) as u32, pad: 0 };
        });
        let (len, src_disk, n) = match next {
            Command::Copy { len, ranges, src_dev } => (len, src_dev, ranges),
            Command::Unpaired { len } => (len, 0, 0),
            // Nothing recorded reaches this far (cannot happen for a valid
            // token); do not loop.
            Command::Empty => return end_notsupp(cur, Reason::Unpaired),
        };
        let cmd = if len < left {
            match split_front(&mut cur, len as u32) {
                Ok(front) => {
                    rest = Some(cur);
                    front
                }
                // No memory to split: the rest falls back.
                Err(_) => return end_notsupp(cur, Reason::Limits),
            }
        } else {
            cur
        };
        pos += len;
        if n == 0 {
            end_notsupp(cmd, Reason::Unpaired);
        } else if !p.can_copy(src_disk as *mut bindings::gendisk, disk) {
            end_notsupp(cmd, Reason::CrossDevice);
        } else if let Some(submit) = p.ops().submit {
            // SAFETY: `cmd` is a write-half piece on a disk `p` probed, and
            // `srcs[..n]` lie on `src_disk` within the probed limits; the
            // provider ends the bio exactly once, which hands it back to
            // the copy through its end_io.
            unsafe { submit(p.private, cmd.into_raw(), src_disk as *mut bindings::gendisk, srcs.as_ptr(), n as u32) };
        }
    }
}

/// Most source ranges the core puts in one provider command.
pub(crate) const MAX_CMD_RANGES: usize = 128;

/// Largest copy half: `bi_size` is 32 bits, and smaller halves keep the
/// per-token state small.
pub(crate) const HALF_MAX: u64 = 1 << 30;
