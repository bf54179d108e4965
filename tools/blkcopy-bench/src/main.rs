// SPDX-License-Identifier: GPL-2.0

//! `blkcopy-bench`: measures one way of copying between block devices and
//! prints one JSON line. `scripts/bench.sh` runs it over a matrix of
//! devices, sizes and concurrency in one VM boot.
//!
//! ```text
//! blkcopy-bench MODE SRC DST --size N [--copies N] [--jobs N] [--queue-depth N]
//!               [--src-offset N] [--dst-offset N] [--span N] [--bs N]
//! ```
//!
//! MODE:
//! - `offload`: the BLKCOPY ioctl (offloaded where a provider can);
//! - `uring`: the same copies as BLKCOPY_URING_COPY commands from one
//!   thread, `--queue-depth` of them in flight on one io_uring ring
//!   (`--jobs` does not apply);
//! - `latency-pair`: one thread alternating, copy by copy, a BLKCOPY
//!   copy and a BLKCOPY_URING_COPY copy alone on its ring (queue depth
//!   1): the two latencies side by side under the same conditions (under
//!   TCG the emulated device's speed drifts over seconds, which separate
//!   runs measure as a difference). `lat_*` are the io_uring copies',
//!   `sync_lat_*` the ioctl's;
//! - `fallback`: BLKCOPY with `BLKCOPY_FLAG_NO_OFFLOAD` (the in-kernel
//!   read/write copy);
//! - `userspace`: `pread`/`pwrite` with O_DIRECT in `--bs` blocks (default
//!   1 MiB), what `dd iflag=direct oflag=direct bs=1M` does;
//! - `nvme-raw`: NVMe Copy commands straight from userspace (the
//!   passthrough ioctl), split as the NVMe provider splits them (one
//!   namespace: SRC and DST are the same device);
//! - `sg-raw`: EXTENDED COPY (LID1) commands straight from userspace
//!   (SG_IO), split as the SCSI provider splits them.
//!
//! `blkcopy-bench wait-hydrated NAME FIELD [--timeout SECS]` waits until
//! field FIELD of the device-mapper device NAME's status, numbered as
//! `dmsetup status` prints it (start, length and target type first), reads
//! `n/n` (every region hydrated). It asks the kernel every 10 ms through
//! the DM_TABLE_STATUS ioctl: a shell loop of `dmsetup status` would start
//! processes all along the hydration it measures, and under TCG take the
//! CPUs the emulated device copies with.
//!
//! `--copies` copies of `--size` bytes (default 1) run on `--jobs` threads
//! (default 1); copy *i* is at offset `(i * size) % span` from each base
//! offset (`--span` defaults to `copies * size`). Measured: wall time,
//! per-copy latency, guest CPU time (`/proc/stat`), sectors read and
//! written on SRC and DST as the initiator counts them
//! (`/sys/class/block/*/stat`), bytes the kernel reported offloaded.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use blkcopy_logic::nvme::{self, CopyLimits, SourceRange};
use blkcopy_logic::scsi;
use blkcopy_uapi::uring::{CopyRing, Event};
use blkcopy_uapi::{Control, Range, FLAG_NO_OFFLOAD};

const USAGE: &str = "usage: blkcopy-bench offload|uring|latency-pair|fallback|userspace|nvme-raw|sg-raw SRC DST --size N
                     [--copies N] [--jobs N] [--queue-depth N] [--src-offset N] [--dst-offset N] [--span N] [--bs N]
       blkcopy-bench wait-hydrated NAME FIELD [--timeout SECS]";

struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

fn parse_size(s: &str) -> Result<u64, Fail> {
    blkcopy_uapi::parse_size(s).map_err(Fail)
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Offload,
    Uring,
    LatencyPair,
    Fallback,
    Userspace,
    NvmeRaw,
    SgRaw,
}

/// One copy: source and destination byte offsets.
#[derive(Clone, Copy)]
struct Job {
    src: u64,
    dst: u64,
}

/// Jiffies of all CPUs: (busy, total), from the first line of /proc/stat.
fn cpu_jiffies() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = s.lines().next().unwrap_or("").split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// (sectors read, sectors written) of the whole disk holding `path`.
fn io_sectors(path: &str) -> (u64, u64) {
    let name = std::fs::canonicalize(path).ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let Some(name) = name else { return (0, 0) };
    let s = std::fs::read_to_string(format!("/sys/class/block/{name}/stat")).unwrap_or_default();
    let v: Vec<u64> = s.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    (v.get(2).copied().unwrap_or(0), v.get(6).copied().unwrap_or(0))
}

fn logical_block_size(f: &File) -> Result<u32, Fail> {
    let mut v: libc::c_int = 0;
    // SAFETY: BLKSSZGET writes one int.
    if unsafe { libc::ioctl(f.as_raw_fd(), libc::BLKSSZGET, &mut v) } != 0 {
        return Err(Fail(format!("BLKSSZGET: {}", std::io::Error::last_os_error())));
    }
    Ok(v as u32)
}

/// `struct nvme_passthru_cmd` (include/uapi/linux/nvme_ioctl.h).
#[repr(C)]
#[derive(Default)]
struct NvmeCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}

const fn nvme_ioc(nr: u64) -> u64 {
    (3 << 30) | ((std::mem::size_of::<NvmeCmd>() as u64) << 16) | ((b'N' as u64) << 8) | nr
}
const NVME_IOCTL_ID: u64 = ((b'N' as u64) << 8) | 0x40;
const NVME_IOCTL_ADMIN_CMD: u64 = nvme_ioc(0x41);
const NVME_IOCTL_IO_CMD: u64 = nvme_ioc(0x43);

fn nvme_submit(fd: RawFd, req: u64, cmd: &mut NvmeCmd) -> Result<(), Fail> {
    // SAFETY: a valid passthrough command whose buffer outlives the call.
    let r = unsafe { libc::ioctl(fd, req as _, cmd as *mut NvmeCmd) };
    match r {
        0 => Ok(()),
        r if r < 0 => Err(Fail(format!("NVMe ioctl: {}", std::io::Error::last_os_error()))),
        r => Err(Fail(format!("NVMe command failed: status {r:#x}"))),
    }
}

/// The namespace's id and Copy limits.
fn nvme_limits(f: &File) -> Result<(u32, CopyLimits), Fail> {
    // SAFETY: NVME_IOCTL_ID takes no argument.
    let nsid = unsafe { libc::ioctl(f.as_raw_fd(), NVME_IOCTL_ID as _) };
    if nsid <= 0 {
        return Err(Fail("not an NVMe namespace".into()));
    }
    let mut id = vec![0u8; 4096];
    let mut c = NvmeCmd {
        opcode: 0x06,
        nsid: nsid as u32,
        addr: id.as_mut_ptr() as u64,
        data_len: 4096,
        ..Default::default()
    };
    nvme_submit(f.as_raw_fd(), NVME_IOCTL_ADMIN_CMD, &mut c)?;
    let lim = nvme::parse_id_ns(&id).ok_or_else(|| Fail("Identify Namespace".into()))?;
    if lim.mcl == 0 || lim.mssrl == 0 {
        return Err(Fail("the namespace does not support Copy".into()));
    }
    Ok((nsid as u32, lim))
}

/// One copy as NVMe Copy commands, as the provider splits it: commands of
/// at most MCL blocks, each with ranges of at most MSSRL blocks, at most
/// MSRC + 1 of them. Returns the number of commands.
fn nvme_copy(fd: RawFd, nsid: u32, lim: &CopyLimits, lbs: u64, j: Job, len: u64) -> Result<u64, Fail> {
    let (src, dst, mut left) = (j.src / lbs, j.dst / lbs, len / lbs);
    let mut done = 0u64;
    let mut cmds = 0;
    let mut buf = vec![0u8; (usize::from(lim.msrc) + 1) * nvme::DESC_SIZE];
    while left > 0 {
        let mut ranges = Vec::new();
        let mut in_cmd = 0u64;
        while left > 0 && ranges.len() <= usize::from(lim.msrc) && in_cmd < u64::from(lim.mcl) {
            let n = left.min(u64::from(lim.mssrl)).min(u64::from(lim.mcl) - in_cmd);
            ranges.push(SourceRange { slba: src + done + in_cmd, nlb: n as u32 });
            in_cmd += n;
            left -= n;
        }
        let used = nvme::encode_descriptors(&ranges, nvme::DescFormat::F0, &mut buf).map_err(|e| Fail(format!("{e:?}")))?;
        let sdlba = dst + done;
        let mut c = NvmeCmd {
            opcode: nvme::OPC_COPY,
            nsid,
            addr: buf.as_mut_ptr() as u64,
            data_len: used as u32,
            cdw10: sdlba as u32,
            cdw11: (sdlba >> 32) as u32,
            cdw12: nvme::cdw12(ranges.len(), nvme::DescFormat::F0),
            ..Default::default()
        };
        nvme_submit(fd, NVME_IOCTL_IO_CMD, &mut c)?;
        done += in_cmd;
        cmds += 1;
    }
    Ok(cmds)
}

/// An O_DIRECT-aligned buffer.
struct Aligned {
    ptr: *mut u8,
    len: usize,
}

impl Aligned {
    fn new(len: usize) -> Result<Self, Fail> {
        let mut p: *mut libc::c_void = std::ptr::null_mut();
        // SAFETY: posix_memalign writes the pointer on success.
        if unsafe { libc::posix_memalign(&mut p, 4096, len) } != 0 {
            return Err(Fail("out of memory".into()));
        }
        Ok(Self { ptr: p as *mut u8, len })
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: from posix_memalign.
        unsafe { libc::free(self.ptr as *mut libc::c_void) };
    }
}

fn userspace_copy(src: RawFd, dst: RawFd, buf: &Aligned, j: Job, len: u64) -> Result<(), Fail> {
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len as u64) as usize;
        // SAFETY: `buf` has `len` >= n bytes.
        let r = unsafe { libc::pread(src, buf.ptr as *mut libc::c_void, n, (j.src + done) as i64) };
        if r != n as isize {
            return Err(Fail(format!("read: {}", std::io::Error::last_os_error())));
        }
        // SAFETY: as above.
        let w = unsafe { libc::pwrite(dst, buf.ptr as *const libc::c_void, n, (j.dst + done) as i64) };
        if w != n as isize {
            return Err(Fail(format!("write: {}", std::io::Error::last_os_error())));
        }
        done += n as u64;
    }
    Ok(())
}

/// `struct sg_io_hdr` (include/scsi/sg.h).
#[repr(C)]
struct SgIoHdr {
    interface_id: i32,
    dxfer_direction: i32,
    cmd_len: u8,
    mx_sb_len: u8,
    iovec_count: u16,
    dxfer_len: u32,
    dxferp: *mut libc::c_void,
    cmdp: *const u8,
    sbp: *mut u8,
    timeout: u32,
    flags: u32,
    pack_id: i32,
    usr_ptr: *mut libc::c_void,
    status: u8,
    masked_status: u8,
    msg_status: u8,
    sb_len_wr: u8,
    host_status: u16,
    driver_status: u16,
    resid: i32,
    duration: u32,
    info: u32,
}

const SG_IO: u64 = 0x2285;
const SG_DXFER_TO_DEV: i32 = -2;
const SG_DXFER_FROM_DEV: i32 = -3;

/// One SCSI command through SG_IO; `to_dev`: `buf` is data out.
fn sg_cmd(fd: RawFd, cdb: &[u8], buf: &mut [u8], to_dev: bool) -> Result<(), Fail> {
    let mut sense = [0u8; 64];
    let mut h = SgIoHdr {
        interface_id: b'S' as i32,
        dxfer_direction: if to_dev { SG_DXFER_TO_DEV } else { SG_DXFER_FROM_DEV },
        cmd_len: cdb.len() as u8,
        mx_sb_len: sense.len() as u8,
        iovec_count: 0,
        dxfer_len: buf.len() as u32,
        dxferp: buf.as_mut_ptr() as *mut libc::c_void,
        cmdp: cdb.as_ptr(),
        sbp: sense.as_mut_ptr(),
        timeout: 600_000,
        flags: 0,
        pack_id: 0,
        usr_ptr: std::ptr::null_mut(),
        status: 0,
        masked_status: 0,
        msg_status: 0,
        sb_len_wr: 0,
        host_status: 0,
        driver_status: 0,
        resid: 0,
        duration: 0,
        info: 0,
    };
    // SAFETY: the header's buffers outlive the synchronous call.
    if unsafe { libc::ioctl(fd, SG_IO as _, &mut h as *mut SgIoHdr) } != 0 {
        return Err(Fail(format!("SG_IO: {}", std::io::Error::last_os_error())));
    }
    if h.status != 0 || h.host_status != 0 || h.driver_status != 0 {
        let sk = scsi::decode_sense(&sense[..usize::from(h.sb_len_wr)]);
        return Err(Fail(format!("SCSI command {:#04x} failed: status {:#x}, sense {sk:x?}", cdb[0], h.status)));
    }
    Ok(())
}

/// What EXTENDED COPY needs of a LU: its NAA designator, the copy
/// manager's parameters, and its block size.
struct XcopyTarget {
    naa: [u8; 16],
    params: scsi::CopyParams,
}

fn xcopy_target(f: &File) -> Result<XcopyTarget, Fail> {
    let fd = f.as_raw_fd();
    let mut vpd = vec![0u8; 512];
    sg_cmd(fd, &[0x12, 1, 0x83, 0x02, 0x00, 0], &mut vpd, false)?;
    let naa = scsi::find_naa(&vpd).ok_or_else(|| Fail("no NAA designator (VPD 83h)".into()))?;
    let mut rcr = vec![0u8; 1024];
    sg_cmd(fd, &scsi::rcr_cdb(rcr.len() as u32), &mut rcr, false)?;
    let params = scsi::parse_rcr(&rcr).ok_or_else(|| Fail("RECEIVE COPY RESULTS: no operating parameters".into()))?;
    Ok(XcopyTarget { naa, params })
}

/// One copy as EXTENDED COPY (LID1) commands, split as the SCSI provider
/// splits them: segments of at most the copy manager's segment length,
/// as many per command as it accepts. Returns the number of commands.
fn sg_copy(dst: &File, t: &(XcopyTarget, XcopyTarget), lbs: u64, j: Job, len: u64) -> Result<u64, Fail> {
    let two = t.0.naa != t.1.naa;
    let (seg_bytes, nseg) = t.0.params.limits(lbs as u32);
    let seg_blocks = (seg_bytes / lbs).min(u64::from(scsi::MAX_SEGMENT_BLOCKS)).max(1);
    let (mut done, mut cmds) = (0u64, 0u64);
    let total = len / lbs;
    let mut buf = vec![0u8; scsi::param_len(two, nseg as usize)];
    while done < total {
        let mut segs = Vec::new();
        while done < total && segs.len() < nseg as usize {
            let n = (total - done).min(seg_blocks);
            segs.push(scsi::Segment { src_lba: j.src / lbs + done, dst_lba: j.dst / lbs + done, blocks: n as u16 });
            done += n;
        }
        let used = scsi::build_param_list(
            &t.0.naa,
            two.then_some(&t.1.naa),
            lbs as u32,
            &segs,
            t.0.params.list_id(cmds as u8),
            &mut buf,
        )
        .map_err(|e| Fail(format!("{e:?}")))?;
        sg_cmd(dst.as_raw_fd(), &scsi::xcopy_cdb(used as u32), &mut buf[..used], true)?;
        cmds += 1;
    }
    Ok(cmds)
}

fn run(args: &[String]) -> Result<(), Fail> {
    let mut pos = Vec::new();
    let (mut size, mut copies, mut jobs, mut soff, mut doff, mut span, mut bs) = (None, 1u64, 1u64, 0u64, 0u64, None, 1u64 << 20);
    let mut qd = 1u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| Fail(format!("{a} needs a value")));
        match a.as_str() {
            "--size" => size = Some(parse_size(val()?)?),
            "--copies" => copies = parse_size(val()?)?,
            "--jobs" => jobs = parse_size(val()?)?,
            "--queue-depth" => qd = parse_size(val()?)?,
            "--src-offset" => soff = parse_size(val()?)?,
            "--dst-offset" => doff = parse_size(val()?)?,
            "--span" => span = Some(parse_size(val()?)?),
            "--bs" => bs = parse_size(val()?)?,
            s if s.starts_with('-') => return Err(Fail(format!("unknown option {s}\n{USAGE}"))),
            _ => pos.push(a.clone()),
        }
    }
    let [mode, src_path, dst_path] = pos.as_slice() else {
        return Err(Fail(USAGE.into()));
    };
    let mode = match mode.as_str() {
        "offload" => Mode::Offload,
        "uring" => Mode::Uring,
        "latency-pair" => Mode::LatencyPair,
        "fallback" => Mode::Fallback,
        "userspace" => Mode::Userspace,
        "nvme-raw" => Mode::NvmeRaw,
        "sg-raw" => Mode::SgRaw,
        m => return Err(Fail(format!("unknown mode {m}\n{USAGE}"))),
    };
    let size = size.ok_or_else(|| Fail("--size is required".into()))?;
    if mode == Mode::LatencyPair {
        qd = 1;
    }
    if matches!(mode, Mode::Uring | Mode::LatencyPair) {
        jobs = 1;
    }
    if size == 0 || copies == 0 || jobs == 0 || bs == 0 || qd == 0 || qd > 4096 {
        return Err(Fail("sizes and counts must be positive".into()));
    }
    let span = span.unwrap_or(size * copies).max(size);
    let direct = if mode == Mode::Userspace { libc::O_DIRECT } else { 0 };
    let src = OpenOptions::new().read(true).custom_flags(direct).open(src_path).map_err(|e| Fail(format!("{src_path}: {e}")))?;
    let dst = OpenOptions::new().read(true).write(true).custom_flags(direct).open(dst_path).map_err(|e| Fail(format!("{dst_path}: {e}")))?;
    if !src.metadata()?.file_type().is_block_device() || !dst.metadata()?.file_type().is_block_device() {
        return Err(Fail("SRC and DST must be block devices".into()));
    }
    let lbs = u64::from(logical_block_size(&src)?.max(logical_block_size(&dst)?));
    if size % lbs != 0 || soff % lbs != 0 || doff % lbs != 0 || span % size != 0 {
        return Err(Fail(format!("sizes and offsets must be multiples of {lbs} (span of size)")));
    }
    let ctl = match mode {
        Mode::Offload | Mode::Fallback | Mode::Uring | Mode::LatencyPair => Some(Control::open().map_err(|e| Fail(format!("/dev/blkcopy: {e}")))?),
        _ => None,
    };
    let sg = match mode {
        Mode::SgRaw => Some((xcopy_target(&src)?, xcopy_target(&dst)?)),
        _ => None,
    };
    let nvme = match mode {
        Mode::NvmeRaw => Some(nvme_limits(&src)?),
        _ => None,
    };
    let next = AtomicU64::new(0);
    let offloaded = AtomicU64::new(0);
    let commands = AtomicU64::new(0);
    let failures = AtomicUsize::new(0);
    let first_error = Mutex::new(None::<String>);
    // Counts a failed copy (or a ring that failed), keeping the first error.
    let failed = |e: String| {
        failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut f) = first_error.lock() {
            f.get_or_insert(e);
        }
    };
    let lat = Mutex::new(Vec::with_capacity(copies as usize));
    let mut sync_lat = Vec::new();
    let io0 = (io_sectors(src_path), io_sectors(dst_path));
    let cpu0 = cpu_jiffies();
    let start = Instant::now();
    if let (Mode::LatencyPair, Some(ctl)) = (mode, ctl.as_ref()) {
        // Even copies through BLKCOPY, odd ones through the ring.
        let r = (|| -> Result<(), Fail> {
            let mut ring = CopyRing::new(ctl, 1)?;
            let mut lat = lat.lock().map_err(|_| Fail("lock".into()))?;
            for i in 0..copies {
                let at = (i * size) % span;
                let range = [Range { src_offset: soff + at, dst_offset: doff + at, length: size, reserved: 0 }];
                let t = Instant::now();
                let c = if i % 2 == 0 {
                    let c = ctl.copy(src.as_raw_fd(), dst.as_raw_fd(), &range, 0).map_err(|e| Fail(format!("BLKCOPY: {}", e.error)))?;
                    sync_lat.push(t.elapsed().as_secs_f64() * 1e6);
                    c
                } else {
                    ring.push_copy(src.as_raw_fd(), dst.as_raw_fd(), &range, 0)?;
                    let ev = ring.wait(1)?;
                    let us = t.elapsed().as_secs_f64() * 1e6;
                    let c = match ev.as_slice() {
                        [Event::Copy { result: Ok(c), .. }] => *c,
                        [Event::Copy { result: Err(e), .. }] => return Err(Fail(format!("BLKCOPY_URING_COPY: {}", e.error))),
                        _ => return Err(Fail("not one copy's completion".into())),
                    };
                    lat.push(us);
                    c
                };
                offloaded.fetch_add(c.offloaded, Ordering::Relaxed);
            }
            Ok(())
        })();
        if let Err(e) = r {
            failed(e.0);
        }
    }
    if let (Mode::Uring, Some(ctl)) = (mode, ctl.as_ref()) {
        // One thread, `qd` copies in flight; latency from submission to
        // the CQE.
        let r = (|| -> Result<(), Fail> {
            let mut ring = CopyRing::new(ctl, qd as u32)?;
            let mut started = std::collections::HashMap::new();
            let mut lat = lat.lock().map_err(|_| Fail("lock".into()))?;
            let mut i = 0;
            while i < copies || ring.in_flight() > 0 {
                while i < copies && (ring.in_flight() as u64) < qd {
                    let at = (i * size) % span;
                    let range = [Range { src_offset: soff + at, dst_offset: doff + at, length: size, reserved: 0 }];
                    let id = ring.push_copy(src.as_raw_fd(), dst.as_raw_fd(), &range, 0)?;
                    started.insert(id, Instant::now());
                    i += 1;
                }
                for ev in ring.wait(1)? {
                    let Event::Copy { id, result } = ev else { continue };
                    let us = started.remove(&id).map_or(0.0, |t| t.elapsed().as_secs_f64() * 1e6);
                    match result {
                        Ok(c) => {
                            offloaded.fetch_add(c.offloaded, Ordering::Relaxed);
                            lat.push(us);
                        }
                        Err(e) => failed(format!("BLKCOPY_URING_COPY: {}", e.error)),
                    }
                }
            }
            Ok(())
        })();
        if let Err(e) = r {
            failed(e.0);
        }
    }
    std::thread::scope(|s| {
        for _ in 0..jobs.min(copies) {
            if matches!(mode, Mode::Uring | Mode::LatencyPair) {
                break;
            }
            s.spawn(|| {
                let buf = if mode == Mode::Userspace { Aligned::new(bs as usize).ok() } else { None };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= copies {
                        break;
                    }
                    let at = (i * size) % span;
                    let j = Job { src: soff + at, dst: doff + at };
                    let t = Instant::now();
                    let r: Result<(), Fail> = match mode {
                        Mode::Offload | Mode::Fallback | Mode::Uring | Mode::LatencyPair => {
                            let flags = if mode == Mode::Fallback { FLAG_NO_OFFLOAD } else { 0 };
                            let range = [Range { src_offset: j.src, dst_offset: j.dst, length: size, reserved: 0 }];
                            match ctl.as_ref().map(|c| c.copy(src.as_raw_fd(), dst.as_raw_fd(), &range, flags)) {
                                Some(Ok(c)) => {
                                    offloaded.fetch_add(c.offloaded, Ordering::Relaxed);
                                    Ok(())
                                }
                                Some(Err(e)) => Err(Fail(format!("BLKCOPY: {}", e.error))),
                                None => Err(Fail("no /dev/blkcopy".into())),
                            }
                        }
                        Mode::Userspace => match &buf {
                            Some(b) => userspace_copy(src.as_raw_fd(), dst.as_raw_fd(), b, j, size),
                            None => Err(Fail("out of memory".into())),
                        },
                        Mode::NvmeRaw => match &nvme {
                            Some((nsid, lim)) => nvme_copy(src.as_raw_fd(), *nsid, lim, lbs, j, size).map(|n| {
                                commands.fetch_add(n, Ordering::Relaxed);
                            }),
                            None => Err(Fail("no limits".into())),
                        },
                        Mode::SgRaw => match &sg {
                            Some(t) => sg_copy(&dst, t, lbs, j, size).map(|n| {
                                commands.fetch_add(n, Ordering::Relaxed);
                            }),
                            None => Err(Fail("no copy manager".into())),
                        },
                    };
                    let us = t.elapsed().as_secs_f64() * 1e6;
                    match r {
                        Ok(()) => lat.lock().map(|mut l| l.push(us)).unwrap_or(()),
                        Err(e) => failed(e.0),
                    }
                }
            });
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let cpu1 = cpu_jiffies();
    let io1 = (io_sectors(src_path), io_sectors(dst_path));
    if let Some(e) = first_error.lock().ok().and_then(|mut f| f.take()) {
        return Err(Fail(format!("{} of {copies} copies failed; first: {e}", failures.load(Ordering::Relaxed))));
    }
    let mut l = lat.into_inner().unwrap_or_default();
    l.sort_by(|a, b| a.total_cmp(b));
    sync_lat.sort_by(|a, b| a.total_cmp(b));
    let pct_of = |l: &[f64], p: f64| l.get(((l.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    let pct = |p: f64| pct_of(&l, p);
    let pair = if mode == Mode::LatencyPair {
        format!(",\"sync_lat_p50_us\":{:.1},\"sync_lat_p99_us\":{:.1}", pct_of(&sync_lat, 0.5), pct_of(&sync_lat, 0.99))
    } else {
        String::new()
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let same = std::fs::canonicalize(src_path).ok() == std::fs::canonicalize(dst_path).ok();
    let (read, written) = if same {
        (io1.0 .0 - io0.0 .0, io1.0 .1 - io0.0 .1)
    } else {
        (io1.0 .0 - io0.0 .0 + io1.1 .0 - io0.1 .0, io1.0 .1 - io0.0 .1 + io1.1 .1 - io0.1 .1)
    };
    let bytes = size * copies;
    println!(
        "{{\"mode\":\"{}\",\"size\":{size},\"copies\":{copies},\"jobs\":{jobs},\"queue_depth\":{qd},\"seconds\":{secs:.6},\"mib_per_s\":{:.3},\
\"lat_p50_us\":{:.1},\"lat_p99_us\":{:.1},\"cpu_busy_s\":{:.3},\"cpu_total_s\":{:.3},\"host_read_bytes\":{},\
\"host_written_bytes\":{},\"bytes_offloaded\":{},\"device_commands\":{}{pair}}}",
        pos[0],
        bytes as f64 / secs.max(1e-9) / (1 << 20) as f64,
        pct(0.5),
        pct(0.99),
        (cpu1.0 - cpu0.0) as f64 / hz,
        (cpu1.1 - cpu0.1) as f64 / hz,
        read * 512,
        written * 512,
        offloaded.load(Ordering::Relaxed),
        commands.load(Ordering::Relaxed),
    );
    Ok(())
}

/// `struct dm_ioctl` (include/uapi/linux/dm-ioctl.h), followed by the
/// data area.
#[repr(C)]
struct DmIoctl {
    version: [u32; 3],
    data_size: u32,
    data_start: u32,
    target_count: u32,
    open_count: i32,
    flags: u32,
    event_nr: u32,
    padding: u32,
    dev: u64,
    name: [u8; 128],
    uuid: [u8; 129],
    data: [u8; 7],
}

/// Header of each target's status in the data area (`struct dm_target_spec`).
const DM_TARGET_SPEC_SIZE: usize = 40;
const DM_BUFFER_FULL_FLAG: u32 = 1 << 8;
/// `DM_TABLE_STATUS`: `_IOWR(0xfd, 12, struct dm_ioctl)`.
const DM_TABLE_STATUS: u64 = (3 << 30) | ((std::mem::size_of::<DmIoctl>() as u64) << 16) | (0xfd << 8) | 12;

/// The status line of device-mapper device `name`'s first target, as
/// `dmsetup status` prints it after start, length and target type.
fn dm_status(ctl: RawFd, name: &str) -> Result<String, Fail> {
    const BUF: usize = 16384;
    #[repr(C, align(8))]
    struct Buf([u8; BUF]);
    let mut buf = Box::new(Buf([0; BUF]));
    let hdr = std::mem::size_of::<DmIoctl>();
    if name.len() >= 128 {
        return Err(Fail(format!("{name}: name too long")));
    }
    {
        // SAFETY: `buf` is 8-aligned and larger than `DmIoctl`, which is
        // plain integers and byte arrays (valid for all-zero bytes).
        let io = unsafe { &mut *(buf.0.as_mut_ptr() as *mut DmIoctl) };
        io.version = [4, 0, 0];
        io.data_size = BUF as u32;
        io.data_start = hdr as u32;
        io.name[..name.len()].copy_from_slice(name.as_bytes());
    }
    // SAFETY: DM_TABLE_STATUS reads and writes at most `data_size` bytes of
    // `buf`.
    if unsafe { libc::ioctl(ctl, DM_TABLE_STATUS as _, buf.0.as_mut_ptr()) } != 0 {
        return Err(Fail(format!("{name}: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: as above; the kernel filled the header in.
    let (start, flags, targets) = unsafe {
        let io = &*(buf.0.as_ptr() as *const DmIoctl);
        (io.data_start as usize, io.flags, io.target_count)
    };
    if flags & DM_BUFFER_FULL_FLAG != 0 || targets == 0 {
        return Err(Fail(format!("{name}: no status")));
    }
    let text = buf.0.get(start + DM_TARGET_SPEC_SIZE..).unwrap_or(&[]);
    let end = text.iter().position(|&c| c == 0).unwrap_or(text.len());
    Ok(String::from_utf8_lossy(&text[..end]).into_owned())
}

fn wait_hydrated(args: &[String]) -> Result<(), Fail> {
    let (mut pos, mut timeout) = (Vec::new(), 600u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--timeout" => timeout = parse_size(it.next().ok_or_else(|| Fail("--timeout needs a value".into()))?)?,
            s if s.starts_with('-') => return Err(Fail(format!("unknown option {s}\n{USAGE}"))),
            _ => pos.push(a.clone()),
        }
    }
    let [name, field] = pos.as_slice() else { return Err(Fail(USAGE.into())) };
    let field: usize = field.parse().map_err(|_| Fail(format!("bad field {field}")))?;
    if field < 4 {
        return Err(Fail("FIELD counts start, length and target type: 4 or more".into()));
    }
    let ctl = File::open("/dev/mapper/control").map_err(|e| Fail(format!("/dev/mapper/control: {e}")))?;
    let t0 = Instant::now();
    loop {
        let status = dm_status(ctl.as_raw_fd(), name)?;
        let v = status.split_whitespace().nth(field - 4).unwrap_or("");
        match v.split_once('/') {
            Some((a, b)) if a == b => return Ok(()),
            Some(_) => {}
            None => return Err(Fail(format!("{name}: field {field} of \"{status}\" is not n/m"))),
        }
        if t0.elapsed().as_secs() >= timeout {
            return Err(Fail(format!("{name}: not hydrated after {timeout} s: {status}")));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = if args.first().map(String::as_str) == Some("wait-hydrated") { wait_hydrated(&args[1..]) } else { run(&args) };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(m)) => {
            eprintln!("blkcopy-bench: {}", m.lines().next().unwrap_or(""));
            ExitCode::FAILURE
        }
    }
}
