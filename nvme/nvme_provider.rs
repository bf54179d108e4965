// SPDX-License-Identifier: GPL-2.0

//! blkcopy_nvme: the NVMe provider of blkcopy.
//!
//! Claims NVMe namespace disks whose controller supports Copy (ONCS bit 8)
//! and turns each write-half piece the core pairs into one NVMe Copy
//! command (opcode 19h) within the destination namespace's MSSRL, MCL and
//! MSRC: with source range descriptor format 0 within one namespace, and
//! with format 2h (each range names its source namespace) between two
//! namespaces of one controller whose LBA formats allow it, when the
//! controller supports format 2h (OCFS) and the provider could enable it
//! in Host Behavior Support (CDFE). Documentation/blkcopy-nvme.rst.
//!
//! Multipath head devices (`CONFIG_NVME_MULTIPATH=y` with a controller in
//! a multi-controller subsystem) are claimed: their commands go to a usable
//! path of the head, chosen as the nvme driver chooses one for I/O.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;

#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/nvme.rs"]
mod nvme;

use kernel_ext::bindings;
use kernel_ext::debugfs::{self, Show, Text};
use kernel_ext::drain::Drain;
use kernel_ext::provider::{self, DiskCache};
use nvme::{CopyLimits, DescFormat, LbaFormat, SourceRange};

module! {
    type: NvmeProvider,
    name: "blkcopy_nvme",
    author: "blkcopy developers",
    description: "blkcopy provider: NVMe Copy",
    license: "GPL",
}

/// What discovery found about one namespace disk.
#[derive(Clone, Copy)]
struct NsInfo {
    name: [u8; 32],
    nsid: u32,
    lba_shift: u32,
    oncs: u16,
    ocfs: u16,
    limits: CopyLimits,
    lbaf: LbaFormat,
    /// Format 2h was on (CDFE) in the controller's Host Behavior Support
    /// when the namespace was discovered.
    cross: bool,
}

impl NsInfo {
    fn copy_capable(&self) -> bool {
        self.oncs & nvme::ONCS_COPY != 0 && self.limits.mssrl > 0 && self.limits.mcl > 0
    }

    /// Whether one Copy command on this (destination) namespace can copy
    /// from `src`, another namespace attached to the controller the
    /// command goes to, with descriptor format 2h.
    fn copies_from(&self, src: &NsInfo) -> bool {
        self.copy_capable() && src.copy_capable() && self.cross && self.lbaf.cross_namespace_with(&src.lbaf)
    }
}

/// A namespace to send commands to, referenced while this lives: a
/// namespace disk's own, or a usable path of a multipath head
/// (nvme/blkcopy_nvme_shim.c).
struct NsRef(NonNull<bindings::nvme_ns>);

impl NsRef {
    /// `disk`'s namespace or, for a head, a usable path.
    fn of(disk: *mut bindings::gendisk) -> Option<Self> {
        // SAFETY: `disk` is live (the core holds a device of it open).
        NonNull::new(unsafe { bindings::blkcopy_nvme_ns_get(disk) }).map(Self)
    }

    /// `disk`'s namespace, or a usable path of it, on controller `ctrl`.
    fn on(disk: *mut bindings::gendisk, ctrl: *mut c_void) -> Option<Self> {
        // SAFETY: as above; `ctrl` is only compared.
        NonNull::new(unsafe { bindings::blkcopy_nvme_ns_on(disk, ctrl) }).map(Self)
    }

    fn as_ptr(&self) -> *mut bindings::nvme_ns {
        self.0.as_ptr()
    }

    /// The namespace's controller, as an identity.
    fn ctrl(&self) -> *mut c_void {
        // SAFETY: referenced.
        unsafe { bindings::blkcopy_nvme_ctrl(self.as_ptr()) }
    }
}

impl Drop for NsRef {
    fn drop(&mut self) {
        // SAFETY: the reference `of`/`on` took (process context: the
        // provider's callbacks run there).
        unsafe { bindings::blkcopy_nvme_ns_put(self.as_ptr()) };
    }
}

/// The provider: its discovery cache, counters and commands in flight.
#[pin_data]
struct NvmeCopy {
    #[pin]
    cache: DiskCache<NsInfo>,
    commands: AtomicU64,
    ranges: AtomicU64,
    blocks: AtomicU64,
    errors: AtomicU64,
    /// Commands of format 2h among `commands`.
    cross_commands: AtomicU64,
    /// A format 2h command was refused as an invalid field: its
    /// controller's CDFE was cleared (the nvme driver rewrites Host
    /// Behavior Support when it resets a controller). Set from completions
    /// (any context); the next pairing turns format 2h on again.
    cdfe_lost: AtomicBool,
    /// Copy commands in flight.
    inflight: Drain,
}

impl NvmeCopy {
    /// The namespace behind `disk`, with its (cached) discovery data.
    fn ns_info(&self, disk: *mut bindings::gendisk) -> Option<(NsRef, NsInfo)> {
        let ns = NsRef::of(disk)?;
        let info = self.cache.get(disk, || identify(disk, &ns))?;
        Some((ns, info))
    }
}

fn identify(disk: *mut bindings::gendisk, ns: &NsRef) -> Option<NsInfo> {
    let mut buf = KVec::<u8>::with_capacity(4096, GFP_KERNEL).ok()?;
    buf.extend_with(4096, 0, GFP_KERNEL).ok()?;
    // SAFETY: `ns` is live; `buf` is a 4096-byte kmalloc buffer.
    if unsafe { bindings::blkcopy_nvme_identify(ns.as_ptr(), true, buf.as_mut_ptr() as *mut c_void) } != 0 {
        return None;
    }
    let (oncs, ocfs) = nvme::parse_id_ctrl(&buf)?;
    // SAFETY: as above.
    if unsafe { bindings::blkcopy_nvme_identify(ns.as_ptr(), false, buf.as_mut_ptr() as *mut c_void) } != 0 {
        return None;
    }
    let limits = nvme::parse_id_ns(&buf)?;
    let lbaf = nvme::parse_lba_format(&buf)?;
    let cross = ocfs & nvme::FORMAT_2 != 0 && enable_format_2(ns);
    Some(NsInfo {
        name: provider::disk_name(disk),
        // SAFETY: `ns` is live.
        nsid: unsafe { bindings::blkcopy_nvme_nsid(ns.as_ptr()) },
        // SAFETY: `ns` is live.
        lba_shift: unsafe { bindings::blkcopy_nvme_lba_shift(ns.as_ptr()) },
        oncs,
        ocfs,
        limits,
        lbaf,
        cross,
    })
}

/// Turns descriptor format 2h on in the Host Behavior Support of `ns`'s
/// controller (CDFE), keeping every other field as the controller reports
/// it (what the nvme driver set). True when it is on. Synchronous admin
/// commands: process context.
fn enable_format_2(ns: &NsRef) -> bool {
    let Ok(mut hbs) = KVec::<u8>::with_capacity(nvme::HOST_BEHAVIOR_SIZE, GFP_KERNEL) else { return false };
    if hbs.extend_with(nvme::HOST_BEHAVIOR_SIZE, 0, GFP_KERNEL).is_err() {
        return false;
    }
    // SAFETY: `ns` is live; `hbs` is a kmalloc buffer of the structure's size.
    if unsafe { bindings::blkcopy_nvme_host_behavior(ns.as_ptr(), false, hbs.as_mut_ptr() as *mut c_void) } != 0 {
        return false;
    }
    match nvme::enable_formats(&mut hbs, nvme::FORMAT_2) {
        Some(false) => true,
        // SAFETY: as above.
        Some(true) => unsafe { bindings::blkcopy_nvme_host_behavior(ns.as_ptr(), true, hbs.as_mut_ptr() as *mut c_void) == 0 },
        None => false,
    }
}

/// One Copy command in flight.
struct Cmd {
    /// The provider that issued it (its registration waits for the
    /// command's completion before the provider goes).
    provider: NonNull<NvmeCopy>,
    bio: *mut bindings::bio,
    _desc: KVec<u8>,
    nr: u64,
    blocks: u64,
    /// Format 2h (between namespaces).
    cross: bool,
    /// In-flight units the command holds (`blkcopy_nvme_slot_get`).
    units: u32,
}

#[vtable]
impl provider::Provider for NvmeCopy {
    const NAME: &'static CStr = c_str!("nvme");

    fn probe(&self, disk: *mut bindings::gendisk) -> Option<bindings::blkcopy_limits> {
        let (_, info) = self.ns_info(disk)?;
        if !info.copy_capable() {
            return None;
        }
        let (max_bytes, max_range, ranges) = info.limits.in_bytes(info.lba_shift);
        Some(bindings::blkcopy_limits {
            max_bytes,
            max_range_bytes: max_range,
            max_src_ranges: ranges,
            provider_id: bindings::BLKCOPY_PROVIDER_NVME,
        })
    }

    fn can_copy(&self, src: *mut bindings::gendisk, dst: *mut bindings::gendisk) -> bool {
        if src == dst {
            return self.ns_info(dst).is_some_and(|(_, d)| d.copy_capable());
        }
        let (Some((_, s)), Some((dns, d))) = (self.ns_info(src), self.ns_info(dst)) else { return false };
        // The source must be attached to the controller the command goes to.
        if NsRef::on(src, dns.ctrl()).is_none() {
            return false;
        }
        if self.cdfe_lost.swap(false, Ordering::AcqRel) && d.cross {
            // Discovery found format 2h on; a reset turned it off since.
            enable_format_2(&dns);
        }
        d.copies_from(&s)
    }

    fn submit(&self, piece: &provider::Piece<'_>) -> core::result::Result<(), u32> {
        self.build_and_issue(piece)
    }

    fn inflight(&self) -> &Drain {
        &self.inflight
    }
}

impl NvmeCopy {
    fn build_and_issue(&self, piece: &provider::Piece<'_>) -> core::result::Result<(), u32> {
        let (bio, disk, sector, src_disk, src) = (piece.bio, piece.disk, piece.sector, piece.src_disk, piece.src);
        let limits_reason = bindings::blkcopy_reason_BLKCOPY_FALLBACK_LIMITS;
        let cross_reason = bindings::blkcopy_reason_BLKCOPY_FALLBACK_CROSS_DEVICE;
        let dev_err = bindings::blkcopy_reason_BLKCOPY_FALLBACK_DEVICE_ERROR;
        let Some((ns, info)) = self.ns_info(disk) else { return Err(limits_reason) };
        if !info.copy_capable() {
            return Err(cross_reason);
        }
        // Between namespaces: format 2h, each range naming the source
        // namespace, whose MSSRL bounds every range too.
        let (fmt, src_mssrl) = if disk == src_disk {
            (DescFormat::F0, info.limits.mssrl)
        } else {
            match (self.ns_info(src_disk), NsRef::on(src_disk, ns.ctrl())) {
                (Some((_, s)), Some(_)) if info.copies_from(&s) => (DescFormat::F2 { snsid: s.nsid }, s.limits.mssrl),
                _ => return Err(cross_reason),
            }
        };
        let shift = info.lba_shift - 9;
        let mut ranges = KVec::with_capacity(src.len(), GFP_KERNEL).map_err(|_| limits_reason)?;
        for r in src {
            let nlb = u64::from(r.nr_sects) >> shift;
            let nlb = u32::try_from(nlb).map_err(|_| limits_reason)?;
            if nlb > u32::from(src_mssrl) {
                return Err(limits_reason);
            }
            ranges.push(SourceRange { slba: r.sector >> shift, nlb }, GFP_KERNEL).map_err(|_| limits_reason)?;
        }
        let blocks = info.limits.check(&ranges).map_err(|_| limits_reason)?;
        let mut desc = KVec::<u8>::with_capacity(ranges.len() * nvme::DESC_SIZE, GFP_KERNEL).map_err(|_| limits_reason)?;
        desc.extend_with(ranges.len() * nvme::DESC_SIZE, 0, GFP_KERNEL).map_err(|_| limits_reason)?;
        nvme::encode_descriptors(&ranges, fmt, &mut desc).map_err(|_| limits_reason)?;
        let desc_ptr = desc.as_mut_ptr() as *mut c_void;
        let desc_len = desc.len() as u32;
        let cmd = Cmd {
            provider: NonNull::from(self),
            bio,
            _desc: desc,
            nr: ranges.len() as u64,
            blocks,
            cross: fmt != DescFormat::F0,
            units: 0,
        };
        let mut cmd = KBox::new(cmd, GFP_KERNEL).map_err(|_| limits_reason)?;
        // Room for the command's data (at most `max_copy_mib` in flight),
        // given back when it completes.
        // SAFETY: process context (the core submits pieces from there).
        cmd.units = unsafe { bindings::blkcopy_nvme_slot_get(blocks << info.lba_shift) };
        let units = cmd.units;
        let ctx = KBox::into_raw(cmd) as *mut c_void;
        self.inflight.enter();
        let cdw12 = nvme::cdw12(ranges.len(), fmt);
        // SAFETY: `ns` is live; `desc_ptr` stays allocated (owned by the
        // command) until `done` runs; `ctx` is handed to `done` once.
        #[cfg(not(blkcopy_mutation = "nvme_no_issue"))]
        let ret = unsafe {
            bindings::blkcopy_nvme_copy(ns.as_ptr(), sector >> shift, cdw12, desc_ptr, desc_len, Some(done), ctx)
        };
        // MUTATION (Documentation/testing.rst, never in a real build): the
        // command is reported done without being issued.
        #[cfg(blkcopy_mutation = "nvme_no_issue")]
        let ret = {
            let _ = (ns, desc_ptr, desc_len, sector, shift, cdw12);
            // SAFETY: `ctx` is handed to `done` once, as the device would.
            unsafe { done(ctx, 0, 0) };
            0
        };
        if ret != 0 {
            // SAFETY: not issued: `done` will not run, the command is ours.
            drop(unsafe { KBox::from_raw(ctx as *mut Cmd) });
            self.inflight.leave();
            // SAFETY: the units taken above.
            unsafe { bindings::blkcopy_nvme_slot_put(units) };
            self.errors.fetch_add(1, Ordering::Relaxed);
            return Err(dev_err);
        }
        Ok(())
    }
}

/// NVMe status (completion status field without the phase bit): Generic
/// Command Status, Invalid Field in Command (what a controller answers to
/// a descriptor format not enabled).
const STATUS_INVALID_FIELD: u16 = 0x002;

unsafe extern "C" fn done(ctx: *mut c_void, status: u16, blk_status: u8) {
    // SAFETY: `ctx` is the command `build_and_issue` leaked for us.
    let cmd = unsafe { KBox::from_raw(ctx as *mut Cmd) };
    // SAFETY: the provider outlives its commands (its registration waits
    // for them).
    let p = unsafe { cmd.provider.as_ref() };
    let ok = status == 0 && blk_status == 0;
    if ok {
        p.commands.fetch_add(1, Ordering::Relaxed);
        p.ranges.fetch_add(cmd.nr, Ordering::Relaxed);
        p.blocks.fetch_add(cmd.blocks, Ordering::Relaxed);
        if cmd.cross {
            p.cross_commands.fetch_add(1, Ordering::Relaxed);
        }
    } else {
        p.errors.fetch_add(1, Ordering::Relaxed);
        if cmd.cross && status & 0x7ff == STATUS_INVALID_FIELD {
            p.cdfe_lost.store(true, Ordering::Release);
        }
    }
    let res = if ok { Ok(()) } else { Err(bindings::blkcopy_reason_BLKCOPY_FALLBACK_DEVICE_ERROR) };
    // SAFETY: the piece this command was for, ended once, here.
    unsafe { provider::end_piece(cmd.bio, res) };
    let units = cmd.units;
    drop(cmd);
    p.inflight.leave();
    // SAFETY: the command's units; `up()` may be called from any context.
    unsafe { bindings::blkcopy_nvme_slot_put(units) };
}

/// debugfs `blkcopy_nvme/namespaces`: discovery results and counters.
impl Show for NvmeCopy {
    fn show(&self, out: &mut Text) -> core::fmt::Result {
        let p = self;
        p.cache.for_each(|i| {
            writeln!(
                out,
                "disk={} nsid={} lba_size={} oncs={:#x} copy={} ocfs={:#x} cross_ns={} mssrl={} mcl={} msrc={}",
                provider::name_str(&i.name),
                i.nsid,
                1u32 << i.lba_shift,
                i.oncs,
                u8::from(i.copy_capable()),
                i.ocfs,
                u8::from(i.cross),
                i.limits.mssrl,
                i.limits.mcl,
                i.limits.msrc
            )
        })?;
        writeln!(
            out,
            "commands={} ranges={} blocks={} errors={} cross_ns_commands={}",
            p.commands.load(Ordering::Relaxed),
            p.ranges.load(Ordering::Relaxed),
            p.blocks.load(Ordering::Relaxed),
            p.errors.load(Ordering::Relaxed),
            p.cross_commands.load(Ordering::Relaxed)
        )
    }
}

struct NvmeProvider {
    // Dropped in this order: unregister and drain, then the rest.
    _registration: provider::Registration<NvmeCopy>,
    _debugfs: debugfs::Dir,
    _provider: Pin<KBox<NvmeCopy>>,
}

impl kernel::Module for NvmeProvider {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let provider = KBox::pin_init(
            pin_init!(NvmeCopy {
                cache <- DiskCache::new(),
                commands: AtomicU64::new(0),
                ranges: AtomicU64::new(0),
                blocks: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                cross_commands: AtomicU64::new(0),
                cdfe_lost: AtomicBool::new(false),
                inflight: Drain::new(),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: the provider is pinned and dropped last (field order),
        // after the registration (which waits for its calls and commands)
        // and the debugfs file that use it.
        let p: &'static NvmeCopy = unsafe { &*(&*provider as *const NvmeCopy) };
        // SAFETY: before the provider is registered: no command yet.
        unsafe { bindings::blkcopy_nvme_slots_init() };
        let mut dir = debugfs::Dir::new(c_str!("blkcopy_nvme"));
        dir.add(c_str!("namespaces"), p, module)?;
        // SAFETY: `p` outlives the registration (see above).
        let registration = unsafe { provider::Registration::new(p) }?;
        pr_info!("NVMe Copy provider registered\n");
        Ok(Self { _registration: registration, _debugfs: dir, _provider: provider })
    }
}
