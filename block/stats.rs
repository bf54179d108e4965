// SPDX-License-Identifier: GPL-2.0

//! Statistics: per block device (the BLKCOPY_STATS ioctl, a stable ABI:
//! Documentation/ABI/testing/dev-blkcopy; also debugfs `blkcopy/stats`)
//! and for the fallback's buffer pool (debugfs `blkcopy/pool`). See
//! Documentation/blkcopy.rst.

use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::copy::{CopyResult, Reason};
use crate::kernel_ext::bindings;
use crate::kernel_ext::block::Bdev;
use crate::kernel_ext::debugfs::{Show, Store, Text};

/// Pages the fallback may hold for all jobs together (beyond the one
/// buffer every job gets to make progress): 32 MiB.
pub(crate) const POOL_LIMIT_PAGES: usize = 8192;

static POOL_IN_USE: AtomicUsize = AtomicUsize::new(0);
static POOL_PEAK: AtomicUsize = AtomicUsize::new(0);
static JOBS_ACTIVE: AtomicUsize = AtomicUsize::new(0);
static JOBS_TOTAL: AtomicUsize = AtomicUsize::new(0);
static RESERVE_IN_USE: AtomicUsize = AtomicUsize::new(0);
static RESERVE_TAKEN: AtomicUsize = AtomicUsize::new(0);

/// A buffer of the fallback's reserve was taken.
pub(crate) fn reserve_taken() {
    RESERVE_IN_USE.fetch_add(1, Ordering::AcqRel);
    RESERVE_TAKEN.fetch_add(1, Ordering::AcqRel);
}

/// A buffer of the fallback's reserve came back.
pub(crate) fn reserve_returned() {
    RESERVE_IN_USE.fetch_sub(1, Ordering::AcqRel);
}

fn note_peak(now: usize) {
    POOL_PEAK.fetch_max(now, Ordering::AcqRel);
}

/// Reserves `pages` from the pool if that stays within the limit.
pub(crate) fn pool_reserve(pages: usize) -> bool {
    let mut cur = POOL_IN_USE.load(Ordering::Acquire);
    loop {
        let Some(new) = cur.checked_add(pages).filter(|&n| n <= POOL_LIMIT_PAGES) else {
            return false;
        };
        match POOL_IN_USE.compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                note_peak(new);
                return true;
            }
            Err(c) => cur = c,
        }
    }
}

/// Takes `pages` regardless of the limit (a job's first buffer).
pub(crate) fn pool_force(pages: usize) {
    note_peak(POOL_IN_USE.fetch_add(pages, Ordering::AcqRel) + pages);
}

pub(crate) fn pool_release(pages: usize) {
    POOL_IN_USE.fetch_sub(pages, Ordering::AcqRel);
}

pub(crate) fn job_started() {
    JOBS_ACTIVE.fetch_add(1, Ordering::AcqRel);
    JOBS_TOTAL.fetch_add(1, Ordering::AcqRel);
}

/// Counters of one block device (as the caller named it: a partition
/// counts separately from its disk).
#[derive(Clone)]
pub(crate) struct DevStats {
    dev: u32,
    name: [u8; 40],
    name_len: usize,
    copies: u64,
    failures: u64,
    bytes_offloaded: u64,
    bytes_emulated: u64,
    fallback: [u64; Reason::COUNT],
}

/// All devices that took part in a copy since the module was loaded.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    devs: Mutex<KVec<DevStats>>,
}

impl Registry {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Registry { devs <- new_mutex!(KVec::new()) })
    }

    fn account(&self, bdev: Bdev<'_>, res: &CopyResult, emulated: u64, reasons: &[u64; Reason::COUNT]) {
        let mut devs = self.devs.lock();
        let i = match devs.iter().position(|d| d.dev == bdev.dev()) {
            Some(i) => i,
            None => {
                if devs.push(DevStats::zero(bdev), GFP_KERNEL).is_err() {
                    // No memory for a new entry: this copy goes uncounted.
                    return;
                }
                devs.len() - 1
            }
        };
        let d = &mut devs[i];
        d.copies += 1;
        if res.status != 0 {
            d.failures += 1;
        }
        d.bytes_offloaded += res.offloaded;
        d.bytes_emulated += emulated;
        for (a, b) in d.fallback.iter_mut().zip(reasons.iter()) {
            *a += b;
        }
    }
}

impl DevStats {
    /// A device no copy touched.
    fn zero(bdev: Bdev<'_>) -> DevStats {
        let mut name = [0u8; 40];
        let name_len = bdev.name(&mut name).len();
        DevStats {
            dev: bdev.dev(),
            name,
            name_len,
            copies: 0,
            failures: 0,
            bytes_offloaded: 0,
            bytes_emulated: 0,
            fallback: [0; Reason::COUNT],
        }
    }

    /// The counters as BLKCOPY_STATS returns them (into `out`'s output
    /// fields).
    pub(crate) fn to_uapi(&self, out: &mut bindings::blkcopy_stats) {
        out.dev_major = self.dev >> 20;
        out.dev_minor = self.dev & 0xfffff;
        out.name = [0; 40];
        // The name leaves room for the NUL.
        for (o, &c) in out.name.iter_mut().zip(self.name[..self.name_len.min(39)].iter()) {
            *o = c as _;
        }
        out.copies = self.copies;
        out.failures = self.failures;
        out.bytes_offloaded = self.bytes_offloaded;
        out.bytes_emulated = self.bytes_emulated;
        out.fallback = [0; bindings::BLKCOPY_STATS_FALLBACKS as usize];
        out.fallback[..Reason::COUNT].copy_from_slice(&self.fallback);
    }
}

impl Registry {
    /// The counters of the `i`-th device that took part in a copy.
    pub(crate) fn nth(&self, i: usize) -> Option<DevStats> {
        self.devs.lock().get(i).cloned()
    }

    /// The counters of `bdev` (zero if no copy touched it).
    pub(crate) fn of(&self, bdev: Bdev<'_>) -> DevStats {
        let found = self.devs.lock().iter().find(|d| d.dev == bdev.dev()).cloned();
        found.unwrap_or_else(|| DevStats::zero(bdev))
    }
}

impl Registry {
    /// Accounts a finished job on its source and destination devices.
    pub(crate) fn job_finished(
        &self,
        src: Bdev<'_>,
        dst: Bdev<'_>,
        res: &CopyResult,
        emulated: u64,
        reasons: &[u64; Reason::COUNT],
    ) {
        self.account(dst, res, emulated, reasons);
        if src.dev() != dst.dev() {
            self.account(src, res, emulated, reasons);
        }
        JOBS_ACTIVE.fetch_sub(1, Ordering::AcqRel);
    }
}

/// debugfs `blkcopy/stats`: one line per device, `key=value` fields.
impl Show for Registry {
    fn show(&self, out: &mut Text) -> core::fmt::Result {
        let devs = self.devs.lock();
        for d in devs.iter() {
            let name = core::str::from_utf8(&d.name[..d.name_len]).unwrap_or("?");
            write!(
                out,
                "dev={}:{} name={} copies={} failures={} bytes_offloaded={} bytes_emulated={}",
                d.dev >> 20,
                d.dev & 0xfffff,
                name,
                d.copies,
                d.failures,
                d.bytes_offloaded,
                d.bytes_emulated
            )?;
            for r in Reason::ALL {
                write!(out, " fallback_{}={}", r.name(), d.fallback[r as usize])?;
            }
            writeln!(out)?;
        }
        Ok(())
    }
}

/// debugfs `blkcopy/pool`: the fallback's buffer pool and job counts.
/// Writing `0` starts the peak afresh from the pages in use now, so that
/// a measurement reads the peak of its own copies.
pub(crate) struct PoolFile;

impl Store for PoolFile {
    fn store(&self, input: &[u8]) -> Result {
        let cmd = input.strip_suffix(b"\n").unwrap_or(input);
        if cmd != b"0" {
            return Err(EINVAL);
        }
        // A reservation between the two steps raises the peak itself (it
        // is at least what is in use after it).
        POOL_PEAK.store(0, Ordering::Release);
        note_peak(POOL_IN_USE.load(Ordering::Acquire));
        Ok(())
    }
}

impl Show for PoolFile {
    fn show(&self, out: &mut Text) -> core::fmt::Result {
        writeln!(
            out,
            "pages_in_use={} pages_peak={} pages_limit={} jobs_active={} jobs_total={} reserve_in_use={} reserve_taken={}",
            POOL_IN_USE.load(Ordering::Acquire),
            POOL_PEAK.load(Ordering::Acquire),
            POOL_LIMIT_PAGES,
            JOBS_ACTIVE.load(Ordering::Acquire),
            JOBS_TOTAL.load(Ordering::Acquire),
            RESERVE_IN_USE.load(Ordering::Acquire),
            RESERVE_TAKEN.load(Ordering::Acquire)
        )
    }
}
