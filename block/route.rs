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

use core::ptr::NonNull;

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::job::{IoKind, JobBio};
use crate::kernel_ext::bindings;
use crate::kernel_ext::drain::Drain;

/// Why part of a copy was not offloaded (`enum blkcopy_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Reason {
    NoProvider = 0,
    CrossDevice = 1,
    Unpaired = 2,
    DeviceError = 3,
    Disabled = 4,
    Limits = 5,
}

impl Reason {
    pub(crate) const COUNT: usize = 6;
    pub(crate) const ALL: [Reason; Self::COUNT] = [
        Reason::NoProvider,
        Reason::CrossDevice,
        Reason::Unpaired,
        Reason::DeviceError,
        Reason::Disabled,
        Reason::Limits,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Reason::NoProvider => "no_provider",
            Reason::CrossDevice => "cross_device",
            Reason::Unpaired => "unpaired",
            Reason::DeviceError => "device_error",
            Reason::Disabled => "disabled",
            Reason::Limits => "limits",
        }
    }

    pub(crate) fn from_c(r: u32) -> Reason {
        Self::ALL.get(r as usize).copied().unwrap_or(Reason::DeviceError)
    }
}

/// A registered provider.
#[derive(Clone, Copy)]
struct Provider(NonNull<bindings::blkcopy_provider_ops>);

// SAFETY: the ops table is immutable and lives until unregistered, which
// waits for every call pinned by a `Pinned` to end.
unsafe impl Send for Provider {}

impl Provider {
    fn ops(&self) -> &bindings::blkcopy_provider_ops {
        // SAFETY: see the `Send` impl: valid while registered, and callers
        // use it through a `Pinned`, which unregistering waits out.
        unsafe { self.0.as_ref() }
    }

    fn probe(&self, disk: *mut bindings::gendisk) -> Option<bindings::blkcopy_limits> {
        let mut lim = bindings::blkcopy_limits::default();
        let probe = self.ops().probe?;
        // SAFETY: `disk` is live (it belongs to an open device of a job).
        unsafe { probe(disk, &mut lim) }.then_some(lim)
    }

    fn can_copy(&self, src: *mut bindings::gendisk, dst: *mut bindings::gendisk) -> bool {
        match self.ops().can_copy {
            // SAFETY: both disks are live (devices of a running job).
            Some(f) => unsafe { f(src, dst) },
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

    pub(crate) fn register(&self, ops: *const bindings::blkcopy_provider_ops) -> Result {
        let p = Provider(NonNull::new(ops as *mut _).ok_or(EINVAL)?);
        if p.ops().submit.is_none() || p.ops().probe.is_none() {
            return Err(EINVAL);
        }
        let mut v = self.providers.lock();
        if v.0.iter().flatten().any(|q| q.0 == p.0) {
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
                if matches!(s, Some(q) if q.0.as_ptr() as *const _ == ops) {
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

fn end_notsupp(mut bio: JobBio, reason: Reason) {
    bio.ctx_mut().reason = reason;
    bio.end(bindings::BLKCOPY_STS_NOTSUPP);
}

/// Carves the first `bytes` of a copy-half piece off into a new piece
/// (also for stacking layers, through the C API).
pub(crate) fn split_front(bio: &mut JobBio, bytes: u32) -> Result<JobBio> {
    let IoKind::Half { pair, off, write, locate } = bio.ctx().kind else {
        return Err(EINVAL);
    };
    let job = bio.ctx().job.clone();
    let mut front = job.alloc_bio(bio.bdev(), 0, bio.op(), bio.sector(), bio.ctx().kind, bio.ctx().reason)?;
    front.set_size(bytes);
    bio.set_sector(bio.sector() + u64::from(bytes >> 9));
    bio.set_size(bio.size() - bytes);
    bio.ctx_mut().kind = IoKind::Half { pair, off: off + u64::from(bytes), write, locate };
    Ok(front)
}

/// What the stacking layers did with a half.
enum Stacked {
    /// No layer maps it: it is at the bottom.
    Bottom(JobBio),
    /// A layer took it.
    Taken,
}

/// Lets the stacking layers remap a half until it reaches the bottom.
fn through_layers(mut bio: JobBio) -> Stacked {
    let reg = crate::registry();
    for _ in 0..MAX_DEPTH {
        let bdev = bio.bdev();
        if bdev.is_partition() {
            bio.set_sector(bio.sector() + bdev.start_sect());
            bio.set_bdev(bdev.whole());
        }
        let disk = bio.bdev().disk();
        let layers = *reg.stacking.lock();
        let job = bio.ctx().job.clone();
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
pub(crate) fn submit_half(bio: JobBio) {
    let job = bio.ctx().job.clone();
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
fn route_half(bio: JobBio) {
    // At the bottom the half is on a whole disk: `through_layers` remapped
    // partitions at every level.
    let bio = match through_layers(bio) {
        Stacked::Bottom(b) => b,
        Stacked::Taken => return,
    };
    let disk = bio.bdev().disk();
    let IoKind::Half { pair, off, write, locate } = bio.ctx().kind else {
        return end_notsupp(bio, Reason::Unpaired);
    };
    let job = bio.ctx().job.clone();
    // Where the piece lands decides whether the copy may run at all
    // (`CopyJob::check_landings`): recorded for every source piece and
    // every locating destination piece, provider or not.
    if !write || locate {
        job.record_landing(disk as u64, bio.sector() << 9, u64::from(bio.size()), write);
    }
    if locate {
        return bio.end(0);
    }
    let Some((pinned, lim)) = crate::registry().claiming(disk) else {
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
fn pair_write(
    bio: JobBio,
    p: Provider,
    lim: bindings::blkcopy_limits,
    pair: u32,
    off: u64,
    disk: *mut bindings::gendisk,
) {
    let job = bio.ctx().job.clone();
    let max_bytes = lim.max_bytes.clamp(512, crate::job::HALF_MAX);
    let max_range = lim.max_range_bytes.clamp(512, max_bytes) & !511;
    let max_ranges = (lim.max_src_ranges as usize).clamp(1, MAX_CMD_RANGES);
    let mut pos = off;
    let mut rest = Some(bio);
    while let Some(mut cur) = rest.take() {
        let left = u64::from(cur.size());
        // The next command: as many paired segments as the limits allow,
        // all from one source disk; or the unpaired run at its start.
        let mut srcs = job.cmd_ranges();
        let (mut n, mut len, mut src_disk, mut unpaired) = (0usize, 0u64, 0u64, false);
        job.with_sources(pair, |sources| {
            for s in sources.pair(pos, left.min(max_bytes)) {
                match s.src {
                    None if n == 0 => {
                        unpaired = true;
                        len = s.len;
                        break;
                    }
                    None => break,
                    Some((d, spos)) => {
                        if n > 0 && d != src_disk {
                            break;
                        }
                        src_disk = d;
                        // A source extent longer than a range may be is
                        // several ranges of one command.
                        let mut done = 0;
                        while done < s.len && n < max_ranges {
                            let l = (s.len - done).min(max_range);
                            srcs[n] = bindings::blkcopy_src_range {
                                sector: (spos + done) >> 9,
                                nr_sects: (l >> 9) as u32,
                                pad: 0,
                            };
                            n += 1;
                            done += l;
                        }
                        len += done;
                        if done < s.len || n == max_ranges {
                            break;
                        }
                    }
                }
            }
        });
        if len == 0 {
            // Nothing recorded reaches this far (cannot happen for a valid
            // token); do not loop.
            return end_notsupp(cur, Reason::Unpaired);
        }
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
        if unpaired {
            end_notsupp(cmd, Reason::Unpaired);
        } else if !p.can_copy(src_disk as *mut bindings::gendisk, disk) {
            end_notsupp(cmd, Reason::CrossDevice);
        } else if let Some(submit) = p.ops().submit {
            // SAFETY: `cmd` is a write-half piece on a disk `p` probed, and
            // `srcs[..n]` lie on `src_disk` within the probed limits; the
            // provider ends the bio exactly once, which hands it back to
            // the job through its end_io.
            unsafe { submit(cmd.into_raw(), src_disk as *mut bindings::gendisk, srcs.as_ptr(), n as u32) };
        }
    }
}

/// Most source ranges the core puts in one provider command.
pub(crate) const MAX_CMD_RANGES: usize = 128;
