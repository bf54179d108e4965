// SPDX-License-Identifier: GPL-2.0

//! blkcopy_linear: the `blkcopy-linear` device-mapper target.
//!
//! Table line, exactly like dm-linear: `<start> <len> blkcopy-linear
//! <dev_path> <offset>`. Normal I/O is remapped like dm-linear does. Copy
//! halves (which never pass through dm's own bio path) are remapped by the
//! same mapping through blkcopy's stacking hook: a half addressed to a
//! mapped device is re-addressed to the device below, split at the end of a
//! table line, and routed on. Only lines of this target remap copy halves;
//! a part of a half that falls on a line of another target is not mapped
//! here and is copied through the host. See
//! Documentation/admin-guide/device-mapper/blkcopy-linear.rst.

use core::fmt::Write;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::c_str;
use kernel::ffi::c_int;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::Mutex;

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;

use kernel_ext::bindings;
use kernel_ext::block::Bdev;
use kernel_ext::drain::Drain;
use kernel_ext::dm::{self, Devices, DmBio, DmDev, Mapped, StatusOut, StatusType, TargetRef};

module! {
    type: LinearModule,
    name: "blkcopy_linear",
    author: "blkcopy developers",
    description: "blkcopy-linear: dm-linear that carries copy bios",
    license: "GPL",
}

/// One table line.
struct Linear {
    dev: DmDev,
    /// `dev`'s device, for bios and copy halves remapped to it: open while
    /// the line holds `dev`, which dm destroys only after every bio of the
    /// table has ended, and suspension waits for the copy halves (holds).
    bdev: Bdev<'static>,
    /// Offset on the device, in sectors.
    start: u64,
    /// Copies whose halves this line mapped and whose offload attempt is
    /// not over (their device commands use the mapping).
    holds: Drain,
}

/// A live line, as the copy-half hook sees it.
#[derive(Clone, Copy)]
struct Live {
    disk: usize,
    begin: u64,
    len: u64,
    bdev: Bdev<'static>,
    start: u64,
    /// The line's `holds` (alive while the line is live, and until its
    /// holds are released: suspension waits for them).
    holds: *const Drain,
}

// SAFETY: `holds` points to an atomic counter; `bdev` is a device handle.
unsafe impl Send for Live {}

#[pin_data]
struct LiveLines {
    #[pin]
    lines: Mutex<KVec<Live>>,
}

/// The module's live lines. A module static because dm constructs, resumes
/// and suspends lines with no context of the module that registered the
/// target type (`dm_target_type` has no private pointer), and the lines
/// must reach the list the stacking hook reads.
static LIVE: AtomicPtr<LiveLines> = AtomicPtr::new(null_mut());

fn live() -> &'static LiveLines {
    // SAFETY: published before the target type and the stacking hook are
    // registered, withdrawn after both are unregistered.
    unsafe { &*LIVE.load(Ordering::Acquire) }
}

fn parse_u64(s: &CStr) -> Option<u64> {
    let t = core::str::from_utf8(s.as_bytes()).ok()?;
    t.parse::<u64>().ok()
}

#[vtable]
impl dm::Target for Linear {
    const NAME: &'static CStr = c_str!("blkcopy-linear");
    const VERSION: [u32; 3] = [1, 1, 0];
    // dm-linear's flags but zoned: a copy half written into a sequential
    // zone would need zone-append semantics the copy path does not have,
    // so the target stays off host-managed zoned devices (dm refuses the
    // table).
    const FEATURES: u32 = dm::feature::PASSES_INTEGRITY | dm::feature::NOWAIT | dm::feature::PASSES_CRYPTO;

    fn ctr(ti: &mut TargetRef, args: &[&CStr]) -> Result<Self> {
        if args.len() != 2 {
            ti.set_error(c_str!("Invalid argument count"));
            return Err(EINVAL);
        }
        let Some(start) = parse_u64(args[1]) else {
            ti.set_error(c_str!("Invalid device sector"));
            return Err(EINVAL);
        };
        let dev = ti.get_device(args[0]).inspect_err(|_| ti.set_error(c_str!("Device lookup failed")))?;
        ti.pass_all_bio_kinds();
        ti.flush_bypasses_map();
        // SAFETY: see the field: used only while the line holds `dev`.
        let bdev = unsafe { dev.bdev().assume_open() };
        Ok(Linear { dev, bdev, start, holds: Drain::new() })
    }

    fn map(&self, ti: &TargetRef, mut bio: DmBio) -> Mapped {
        // Like dm-linear: re-address the bio to the device below. An empty
        // bio (the flush dm sends to every line of a table whose lines do
        // not all let flushes bypass map) names no sector of the line and
        // goes to the device as it is. dm sends no data bio outside the
        // line; one that came anyway ends with an error rather than wrap
        // around to another place on the device.
        if bio.size() == 0 {
            bio.set_target(self.bdev, self.start);
            return Mapped::Remapped(bio);
        }
        match bio.sector().checked_sub(ti.begin()).and_then(|off| self.start.checked_add(off)) {
            Some(sector) => {
                bio.set_target(self.bdev, sector);
                Mapped::Remapped(bio)
            }
            None => Mapped::Kill(bio),
        }
    }

    fn status(&self, _ti: &TargetRef, kind: StatusType, out: &mut StatusOut) {
        let name = core::str::from_utf8(self.dev.name().as_bytes()).unwrap_or("?");
        let _ = match kind {
            StatusType::Info => Ok(()),
            StatusType::Table => write!(out, "{} {}", name, self.start),
            StatusType::Ima => write!(
                out,
                "target_name=blkcopy-linear,target_version=1.1.0,device_name={},start={};",
                name, self.start
            ),
        };
    }

    fn iterate_devices(&self, ti: &TargetRef, devices: &mut Devices) {
        devices.visit(&self.dev, self.start, ti.len());
    }

    fn resume(&self, ti: &TargetRef) {
        let l = Live {
            disk: ti.disk() as usize,
            begin: ti.begin(),
            len: ti.len(),
            bdev: self.bdev,
            start: self.start,
            holds: &self.holds,
        };
        let mut lines = live().lines.lock();
        let key = (l.disk, l.begin);
        // A resumed line replaces whatever was live at its place.
        let mut kept = KVec::new();
        for x in lines.iter().filter(|x| (x.disk, x.begin) != key) {
            if kept.push(*x, GFP_KERNEL).is_err() {
                return;
            }
        }
        if kept.push(l, GFP_KERNEL).is_ok() {
            *lines = kept;
        }
    }

    fn ioctl_device(&self, ti: &TargetRef) -> Option<(Bdev<'_>, bool)> {
        // Like dm-linear: ioctls go to the device below; only when the
        // line maps all of it may they be unrestricted.
        let b = self.dev.bdev();
        Some((b, self.start != 0 || ti.len() != b.nr_sectors()))
    }

    fn presuspend(&self, _ti: &TargetRef) {
        // No new copy is mapped through the line; the copies mapped
        // through it finish their device commands before the table can be
        // swapped, so that none uses a mapping that is no longer the
        // table's.
        forget(self);
        self.drain();
    }

    fn destroy(&self, _ti: &TargetRef) {
        forget(self);
        self.drain();
    }
}

impl Linear {
    fn drain(&self) {
        // presuspend and the destructor may sleep.
        self.holds.wait();
    }
}

/// Releases a hold taken by `map_half` (called by blkcopy once the copy's
/// offload attempt is over).
unsafe extern "C" fn release_hold(arg: *mut core::ffi::c_void) {
    // SAFETY: `arg` is a line's `holds`, alive until its holds drain.
    unsafe { (*(arg as *const Drain)).leave() };
}

/// The line stops carrying copy halves (suspend, or destruction). Only
/// this line's own entry goes: on a table swap dm resumes the new table
/// (whose lines replace the old ones at the same places) before it
/// destroys the old one, so a removal by place would drop the new lines.
fn forget(line: &Linear) {
    let me: *const Drain = &line.holds;
    let mut lines = live().lines.lock();
    if !lines.iter().any(|x| x.holds == me) {
        return;
    }
    let mut kept = KVec::new();
    for x in lines.iter().filter(|x| x.holds != me) {
        // Without memory the list keeps the line: halves may still be
        // remapped through it until it is replaced, as before.
        if kept.push(*x, GFP_KERNEL).is_err() {
            return;
        }
    }
    *lines = kept;
}

/// blkcopy's stacking hook: remap a copy half addressed to a mapped device
/// whose line at that sector is ours.
unsafe extern "C" fn map_half(disk: *mut bindings::gendisk, half: *mut bindings::bio) -> c_int {
    // SAFETY: the core passes a live half it owns during the call.
    let (sector, size) = unsafe { ((*half).bi_iter.bi_sector, u64::from((*half).bi_iter.bi_size)) };
    let line = {
        let lines = live().lines.lock();
        let l = lines.iter().find(|l| l.disk == disk as usize && sector >= l.begin && sector < l.begin + l.len).copied();
        // Counted while the line is surely live: a suspension that removes
        // it afterwards waits for this hold.
        if let Some(l) = &l {
            // SAFETY: a live line's counter.
            unsafe { (*l.holds).enter() };
        }
        l
    };
    let Some(l) = line else {
        return bindings::blkcopy_map_result_BLKCOPY_MAP_NOT_MINE as c_int;
    };
    // SAFETY: `half` is the core's; the release runs once, later.
    if unsafe { bindings::blkcopy_hold(half, Some(release_hold), l.holds as *mut core::ffi::c_void) } != 0 {
        // SAFETY: the hold taken above, not handed to the core.
        unsafe { (*l.holds).leave() };
        return bindings::blkcopy_map_result_BLKCOPY_MAP_NOT_MINE as c_int;
    }
    let left = (l.begin + l.len - sector) << 9;
    let target = l.start + (sector - l.begin);
    // MUTATION (Documentation/testing.rst, never in a real build): copy
    // halves are remapped one 4 KiB block further than the table says.
    #[cfg(blkcopy_mutation = "linear_off_by_one_block")]
    let target = target + 8;
    if size > left {
        // The half reaches past this line: route the part the line maps
        // on, and let the core map the rest (the next line, or nothing).
        // SAFETY: `half` is longer than `left`, a multiple of 512.
        let front = unsafe { bindings::blkcopy_split_half(half, left as u32) };
        if front.is_null() {
            return bindings::blkcopy_map_result_BLKCOPY_MAP_NOT_MINE as c_int;
        }
        // SAFETY: `front` is ours; `l.bdev` is held open by the live line.
        unsafe {
            bindings::blkcopy_remap_half(front, l.bdev.as_ptr(), target);
            bindings::blkcopy_submit_half(front);
        }
        return bindings::blkcopy_map_result_BLKCOPY_MAP_REMAPPED as c_int;
    }
    // SAFETY: as above, for the whole half.
    unsafe { bindings::blkcopy_remap_half(half, l.bdev.as_ptr(), target) };
    bindings::blkcopy_map_result_BLKCOPY_MAP_REMAPPED as c_int
}

struct StackingOps(bindings::blkcopy_stacking_ops);

// SAFETY: immutable function pointer, static name and module pointer.
unsafe impl Sync for StackingOps {}
// SAFETY: as above.
unsafe impl Send for StackingOps {}

struct LinearModule {
    _target: dm::Registration<Linear>,
    stacking: KBox<StackingOps>,
    _live: Pin<KBox<LiveLines>>,
}

impl kernel::Module for LinearModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let lines = KBox::pin_init(pin_init!(LiveLines { lines <- new_mutex!(KVec::new()) }), GFP_KERNEL)?;
        LIVE.store(&*lines as *const LiveLines as *mut LiveLines, Ordering::Release);
        let stacking = KBox::new(
            StackingOps(bindings::blkcopy_stacking_ops {
                name: c_str!("blkcopy-linear").as_char_ptr(),
                owner: module.as_ptr(),
                map_half: Some(map_half),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: the ops live in `stacking` until unregistered in `drop`.
        let ret = unsafe { bindings::blkcopy_register_stacking(&stacking.0) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        let target = match dm::Registration::<Linear>::new(module) {
            Ok(t) => t,
            Err(e) => {
                // SAFETY: registered just above.
                unsafe { bindings::blkcopy_unregister_stacking(&stacking.0) };
                return Err(e);
            }
        };
        pr_info!("blkcopy-linear target registered\n");
        Ok(Self { _target: target, stacking, _live: lines })
    }
}

impl Drop for LinearModule {
    fn drop(&mut self) {
        // SAFETY: registered in `init`. No table uses the target type any
        // more (dm holds the module while one does).
        unsafe { bindings::blkcopy_unregister_stacking(&self.stacking.0) };
    }
}
