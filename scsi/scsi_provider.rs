// SPDX-License-Identifier: GPL-2.0

//! blkcopy_scsi: the SCSI provider of blkcopy.
//!
//! Claims SCSI disks whose logical unit reports third-party copy (INQUIRY
//! 3PC), has an NAA designator (VPD 83h) and whose copy manager reports,
//! through RECEIVE COPY RESULTS (operating parameters), identification
//! (E4h) CSCD and block-to-block (02h) segment descriptors. Each paired
//! write-half piece becomes one EXTENDED COPY (LID1) sent to the
//! destination LU: within one LU, or between two LUs behind the same SCSI
//! target port (for LIO: the same I_T nexus), with equal block sizes.
//!
//! Limits come from the Third-party Copy VPD page (8Fh) when the unit has
//! one, else from the operating parameters (LIO has no 8Fh); SNLID only
//! exists in the latter.

use core::ffi::c_void;
use core::fmt::Write;
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;

#[allow(dead_code, unreachable_pub)]
#[path = "../logic/src/scsi.rs"]
mod scsi;

use kernel_ext::bindings;
use kernel_ext::debugfs::{self, Show, Text};
use kernel_ext::drain::Drain;
use kernel_ext::provider::{self, DiskCache};
use scsi::{CopyParams, Segment};

module! {
    type: ScsiProvider,
    name: "blkcopy_scsi",
    author: "blkcopy developers",
    description: "blkcopy provider: SCSI EXTENDED COPY (LID1)",
    license: "GPL",
}

/// Time a copy manager gets for one EXTENDED COPY.
const XCOPY_TIMEOUT_MS: u32 = 60_000;

/// Where a disk sits (`struct blkcopy_scsi_addr`).
#[derive(Clone, Copy)]
struct Addr {
    host: u32,
    channel: u32,
    id: u32,
    lun: u64,
    block_size: u32,
}

/// What discovery found about one SCSI disk.
#[derive(Clone, Copy)]
struct LuInfo {
    name: [u8; 32],
    addr: Addr,
    tpc: bool,
    naa: Option<[u8; 16]>,
    params: Option<CopyParams>,
    /// The limits came from VPD page 8Fh (else from RECEIVE COPY RESULTS).
    vpd_8f: bool,
    /// The LU answered EXTENDED COPY with INVALID COMMAND OPERATION CODE:
    /// it is not sent another one (until the module is reloaded).
    refused: bool,
}

impl LuInfo {
    fn claimed(&self) -> bool {
        self.tpc && self.naa.is_some() && self.params.is_some_and(|p| p.usable(false)) && !self.refused
    }

    fn same_target(&self, o: &LuInfo) -> bool {
        self.addr.host == o.addr.host && self.addr.channel == o.addr.channel && self.addr.id == o.addr.id
    }
}

/// What the provider's commands did (debugfs `blkcopy_scsi/luns`).
#[derive(Default)]
struct Counters {
    commands: AtomicU64,
    segments: AtomicU64,
    blocks: AtomicU64,
    max_command_blocks: AtomicU64,
    illegal_request: AtomicU64,
    copy_aborted: AtomicU64,
    other_errors: AtomicU64,
    refusals: AtomicU64,
    last_sense: AtomicU64,
}

#[pin_data]
struct XcopyProvider {
    #[pin]
    cache: DiskCache<LuInfo>,
    list_id: AtomicU8,
    counters: Counters,
    /// A unit that refused EXTENDED COPY, recorded by a completion and
    /// applied at the next probe ([`XcopyProvider::set_refused_later`]).
    refused: AtomicPtr<bindings::gendisk>,
    refused_seq: AtomicU64,
    /// EXTENDED COPY commands in flight.
    inflight: Drain,
}

impl XcopyProvider {
    fn lu_info(&self, disk: *mut bindings::gendisk) -> Option<(NonNull<bindings::scsi_device>, LuInfo)> {
        // SAFETY: `disk` is live (the core holds a device of it open).
        let sdev = NonNull::new(unsafe { bindings::blkcopy_scsi_sdev(disk) })?;
        let info = self.cache.get(disk, || discover(disk, sdev))?;
        Some((sdev, info))
    }
}

fn discover(disk: *mut bindings::gendisk, sdev: NonNull<bindings::scsi_device>) -> Option<LuInfo> {
    let mut a = bindings::blkcopy_scsi_addr::default();
    // SAFETY: `sdev` is live while its disk is.
    unsafe { bindings::blkcopy_scsi_addr(sdev.as_ptr(), &mut a) };
    let tpc = scsi::inquiry_3pc(&[0, 0, 0, 0, 0, a.inquiry_byte5]);
    let addr = Addr { host: a.host, channel: a.channel, id: a.id, lun: a.lun, block_size: a.block_size };
    let mut info = LuInfo { name: provider::disk_name(disk), addr, tpc, naa: None, params: None, vpd_8f: false, refused: false };
    if !tpc {
        return Some(info);
    }
    let mut buf = KVec::<u8>::with_capacity(512, GFP_KERNEL).ok()?;
    buf.extend_with(512, 0, GFP_KERNEL).ok()?;
    // SAFETY: `buf` has 512 bytes.
    if unsafe { bindings::blkcopy_scsi_vpd(sdev.as_ptr(), 0x83, buf.as_mut_ptr() as *mut c_void, 512) } == 0 {
        info.naa = scsi::find_naa(&buf);
    }
    // Limits: the Third-party Copy VPD page when the unit has one, else
    // (LIO) RECEIVE COPY RESULTS operating parameters, which must agree.
    buf.iter_mut().for_each(|b| *b = 0);
    // SAFETY: `buf` has 512 bytes.
    if unsafe { bindings::blkcopy_scsi_vpd(sdev.as_ptr(), 0x8f, buf.as_mut_ptr() as *mut c_void, 512) } == 0 {
        info.params = scsi::parse_vpd_8f(&buf);
        info.vpd_8f = info.params.is_some();
    }
    let mut sense = [0u8; bindings::BLKCOPY_SCSI_SENSE_LEN as usize];
    buf.iter_mut().for_each(|b| *b = 0);
    let cdb = scsi::rcr_cdb(512);
    // SAFETY: `cdb` is 16 bytes, `buf` 512, `sense` the shim's length.
    let ret = unsafe {
        bindings::blkcopy_scsi_exec_in(sdev.as_ptr(), cdb.as_ptr(), buf.as_mut_ptr() as *mut c_void, 512, sense.as_mut_ptr())
    };
    if ret == 0 {
        if let Some(rcr) = scsi::parse_rcr(&buf) {
            match info.params.as_mut() {
                // SNLID is only in the operating parameters.
                Some(p) => p.snlid = rcr.snlid,
                None => info.params = Some(rcr),
            }
        }
    }
    Some(info)
}

#[vtable]
impl provider::Provider for XcopyProvider {
    const NAME: &'static CStr = c_str!("scsi");

    fn probe(&self, disk: *mut bindings::gendisk) -> Option<bindings::blkcopy_limits> {
        self.apply_refusals();
        let (_, info) = self.lu_info(disk)?;
        let (true, Some(p)) = (info.claimed(), info.params) else { return None };
        let (seg, n) = p.limits(info.addr.block_size);
        Some(bindings::blkcopy_limits {
            max_bytes: seg * u64::from(n),
            max_range_bytes: seg,
            max_src_ranges: n,
            provider_id: bindings::BLKCOPY_PROVIDER_SCSI,
        })
    }

    fn can_copy(&self, src: *mut bindings::gendisk, dst: *mut bindings::gendisk) -> bool {
        let (Some((_, s)), Some((_, d))) = (self.lu_info(src), self.lu_info(dst)) else { return false };
        if !s.claimed() || !d.claimed() || s.addr.block_size != d.addr.block_size {
            return false;
        }
        src == dst || (s.same_target(&d) && d.params.is_some_and(|p| p.usable(true)))
    }

    fn submit(&self, piece: &provider::Piece<'_>) -> core::result::Result<(), u32> {
        self.build_and_issue(piece)
    }

    fn inflight(&self) -> &Drain {
        &self.inflight
    }
}

struct Cmd {
    /// The provider that issued it (its registration waits for the
    /// command's completion before the provider goes).
    provider: NonNull<XcopyProvider>,
    bio: *mut bindings::bio,
    disk: *mut bindings::gendisk,
    _param: KVec<u8>,
    segments: u64,
    blocks: u64,
}

impl XcopyProvider {
fn build_and_issue(&self, piece: &provider::Piece<'_>) -> core::result::Result<(), u32> {
    let (bio, disk, sector, src_disk, src) = (piece.bio, piece.disk, piece.sector, piece.src_disk, piece.src);
    let limits = bindings::blkcopy_reason_BLKCOPY_FALLBACK_LIMITS;
    let cross = bindings::blkcopy_reason_BLKCOPY_FALLBACK_CROSS_DEVICE;
    let (Some((sdev, d)), Some((_, s))) = (self.lu_info(disk), self.lu_info(src_disk)) else { return Err(cross) };
    let (Some(params), Some(dnaa), Some(snaa)) = (d.params, d.naa, s.naa) else { return Err(cross) };
    let bs = d.addr.block_size;
    let per_sector = u64::from(bs >> 9).max(1);
    let mut segs = KVec::with_capacity(src.len(), GFP_KERNEL).map_err(|_| limits)?;
    let mut dst_lba = sector / per_sector;
    let mut blocks = 0u64;
    for r in src {
        let n = u64::from(r.nr_sects) / per_sector;
        let n16 = u16::try_from(n).map_err(|_| limits)?;
        segs.push(Segment { src_lba: r.sector / per_sector, dst_lba, blocks: n16 }, GFP_KERNEL).map_err(|_| limits)?;
        dst_lba += n;
        blocks += n;
    }
    let (_, max_segs) = params.limits(bs);
    if segs.len() > max_segs as usize {
        return Err(limits);
    }
    let two = src_disk != disk;
    let len = scsi::param_len(two, segs.len());
    let mut param = KVec::<u8>::with_capacity(len, GFP_KERNEL).map_err(|_| limits)?;
    param.extend_with(len, 0, GFP_KERNEL).map_err(|_| limits)?;
    let p = self;
    let id = params.list_id(p.list_id.fetch_add(1, Ordering::Relaxed));
    scsi::build_param_list(&snaa, two.then_some(&dnaa), bs, &segs, id, &mut param).map_err(|_| limits)?;
    let cdb = scsi::xcopy_cdb(len as u32);
    let param_ptr = param.as_mut_ptr() as *mut c_void;
    let cmd = KBox::new(Cmd { provider: NonNull::from(self), bio, disk, _param: param, segments: segs.len() as u64, blocks }, GFP_KERNEL)
        .map_err(|_| limits)?;
    let ctx = KBox::into_raw(cmd) as *mut c_void;
    self.inflight.enter();
    // SAFETY: `sdev` is live; `cdb` is 16 bytes; the parameter list stays
    // allocated (owned by the command) until `done`; `ctx` goes to `done`.
    let ret = unsafe {
        bindings::blkcopy_scsi_exec_out_async(sdev.as_ptr(), cdb.as_ptr(), param_ptr, len as u32, XCOPY_TIMEOUT_MS, Some(done), ctx)
    };
    if ret != 0 {
        // SAFETY: not issued: `done` will not run; the command is ours.
        drop(unsafe { KBox::from_raw(ctx as *mut Cmd) });
        self.inflight.leave();
        p.counters.other_errors.fetch_add(1, Ordering::Relaxed);
        return Err(bindings::blkcopy_reason_BLKCOPY_FALLBACK_DEVICE_ERROR);
    }
    Ok(())
}
}

unsafe extern "C" fn done(ctx: *mut c_void, result: i32, sense: *const u8, sense_len: u32, blk_status: u8) {
    // SAFETY: `ctx` is the command `build_and_issue` handed over.
    let cmd = unsafe { KBox::from_raw(ctx as *mut Cmd) };
    // SAFETY: the provider outlives its commands (its registration waits
    // for them).
    let p = unsafe { cmd.provider.as_ref() };
    let ok = result == 0 && blk_status == 0;
    if ok {
        p.counters.commands.fetch_add(1, Ordering::Relaxed);
        p.counters.segments.fetch_add(cmd.segments, Ordering::Relaxed);
        p.counters.blocks.fetch_add(cmd.blocks, Ordering::Relaxed);
        p.counters.max_command_blocks.fetch_max(cmd.blocks, Ordering::Relaxed);
    } else {
        let s = if sense.is_null() {
            &[][..]
        } else {
            // SAFETY: the midlayer's sense buffer of `sense_len` bytes,
            // valid during the completion callback.
            unsafe { core::slice::from_raw_parts(sense, (sense_len as usize).min(bindings::BLKCOPY_SCSI_SENSE_LEN as usize)) }
        };
        match scsi::decode_sense(s) {
            Some((key, asc, ascq)) => {
                p.counters.last_sense.store(u64::from(key) << 16 | u64::from(asc) << 8 | u64::from(ascq), Ordering::Relaxed);
                match key {
                    scsi::SENSE_ILLEGAL_REQUEST => {
                        p.counters.illegal_request.fetch_add(1, Ordering::Relaxed);
                        if asc == scsi::ASC_INVALID_OPCODE {
                            // The target does not do EXTENDED COPY (any more):
                            // no retry storm, no further commands to it.
                            p.counters.refusals.fetch_add(1, Ordering::Relaxed);
                            p.set_refused_later(cmd.disk);
                        }
                    }
                    scsi::SENSE_COPY_ABORTED => {
                        p.counters.copy_aborted.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        p.counters.other_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            None => {
                p.counters.other_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let res = if ok { Ok(()) } else { Err(bindings::blkcopy_reason_BLKCOPY_FALLBACK_DEVICE_ERROR) };
    // SAFETY: the piece this command was for, ended once, here.
    unsafe { provider::end_piece(cmd.bio, res) };
    drop(cmd);
    p.inflight.leave();
}

impl XcopyProvider {
    /// Records a refusal. Completions may run in interrupt context, where the
    /// cache's mutex cannot be taken; the disk is remembered in lock-free
    /// slots, by address and `diskseq` (the disk may be gone by the time the
    /// refusal is applied, and another disk may reuse its address), and
    /// applied on the next discovery lookup. Two racing refusals can pair one's
    /// address with the other's sequence number: that matches no entry and
    /// loses a refusal (the next refused command records it again), never
    /// marks the wrong disk, since sequence numbers are never reused.
    fn set_refused_later(&self, disk: *mut bindings::gendisk) {
        // SAFETY: the completed command's piece holds the disk.
        self.refused_seq.store(unsafe { (*disk).diskseq }, Ordering::Release);
        self.refused.store(disk, Ordering::Release);
    }

    fn apply_refusals(&self) {
        let d = self.refused.swap(null_mut(), Ordering::AcqRel);
        if !d.is_null() {
            let seq = self.refused_seq.load(Ordering::Acquire);
            self.cache.update(d as usize, seq, |i| i.refused = true);
        }
    }
}

/// debugfs `blkcopy_scsi/luns`: discovery results and counters.

fn hex(out: &mut Text, b: &[u8]) -> core::fmt::Result {
    b.iter().try_for_each(|x| write!(out, "{x:02x}"))
}

impl Show for XcopyProvider {
    fn show(&self, out: &mut Text) -> core::fmt::Result {
        self.apply_refusals();
        let p = self;
        p.cache.for_each(|i| {
            write!(
                out,
                "disk={} hctl={}:{}:{}:{} block_size={} 3pc={} claimed={} refused={} naa=",
                provider::name_str(&i.name),
                i.addr.host,
                i.addr.channel,
                i.addr.id,
                i.addr.lun,
                i.addr.block_size,
                u8::from(i.tpc),
                u8::from(i.claimed()),
                u8::from(i.refused)
            )?;
            match &i.naa {
                Some(naa) => hex(out, naa)?,
                None => write!(out, "none")?,
            }
            match &i.params {
                Some(c) => writeln!(
                    out,
                    " limits_from={} snlid={} max_cscd={} max_segments={} max_list_len={} max_segment_len={} held_data_limit={} max_concurrent={} e4_b2b={}",
                    if i.vpd_8f { "vpd_8f" } else { "rcr" },
                    u8::from(c.snlid),
                    c.max_cscd_descriptors,
                    c.max_segment_descriptors,
                    c.max_descriptor_list_len,
                    c.max_segment_len,
                    c.held_data_limit,
                    c.max_concurrent_copies,
                    u8::from(c.e4_and_b2b)
                ),
                None => writeln!(out, " params=none"),
            }
        })?;
        let ls = p.counters.last_sense.load(Ordering::Relaxed);
        writeln!(
            out,
            "commands={} segments={} blocks={} max_command_blocks={} illegal_request={} copy_aborted={} other_errors={} refusals={} last_sense={:02x}/{:02x}/{:02x}",
            p.counters.commands.load(Ordering::Relaxed),
            p.counters.segments.load(Ordering::Relaxed),
            p.counters.blocks.load(Ordering::Relaxed),
            p.counters.max_command_blocks.load(Ordering::Relaxed),
            p.counters.illegal_request.load(Ordering::Relaxed),
            p.counters.copy_aborted.load(Ordering::Relaxed),
            p.counters.other_errors.load(Ordering::Relaxed),
            p.counters.refusals.load(Ordering::Relaxed),
            (ls >> 16) & 0xff,
            (ls >> 8) & 0xff,
            ls & 0xff
        )
    }
}

struct ScsiProvider {
    // Dropped in this order: unregister and drain, then the rest.
    _registration: provider::Registration<XcopyProvider>,
    _debugfs: debugfs::Dir,
    _provider: Pin<KBox<XcopyProvider>>,
}

impl kernel::Module for ScsiProvider {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let provider = KBox::pin_init(
            pin_init!(XcopyProvider {
                cache <- DiskCache::new(),
                list_id: AtomicU8::new(0),
                counters: Counters::default(),
                refused: AtomicPtr::new(null_mut()),
                refused_seq: AtomicU64::new(0),
                inflight: Drain::new(),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: the provider is pinned and dropped last (field order),
        // after the registration (which waits for its calls and commands)
        // and the debugfs file that use it.
        let p: &'static XcopyProvider = unsafe { &*(&*provider as *const XcopyProvider) };
        let mut dir = debugfs::Dir::new(c_str!("blkcopy_scsi"));
        dir.add(c_str!("luns"), p, module)?;
        // SAFETY: `p` outlives the registration (see above).
        let registration = unsafe { provider::Registration::new(p) }?;
        pr_info!("SCSI EXTENDED COPY provider registered\n");
        Ok(Self { _registration: registration, _debugfs: dir, _provider: provider })
    }
}
