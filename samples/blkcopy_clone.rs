// SPDX-License-Identifier: GPL-2.0

//! blkcopy_clone: a sample clone/hydration device-mapper target on blkcopy's
//! kcopyd adapter.
//!
//! Table line:
//!
//! ```text
//! <start> <len> blkcopy-clone <source> <destination> <region_sectors>
//!     [<#opt_args> [no_hydration] [hydration_threshold <n>] [hydration_batch_size <n>]]
//! ```
//!
//! The mapped device presents the destination while it is being hydrated
//! from the (read-only) source, region by region, like dm-clone: reads of
//! a region not yet hydrated come from the source; a write to one first
//! copies the region, unless it overwrites all of it (then it only has to
//! reach the destination); a background pass copies every region. Copies
//! go through `kernel_ext::kcopyd` (the adapter of blkcopy.ko), so each is
//! offloaded to the device where a provider can, and copied through the
//! host otherwise. Which regions are hydrated is kept in memory only: see
//! Documentation/admin-guide/device-mapper/blkcopy-clone.rst.

use core::fmt::Write;
use core::ptr::null_mut;
use core::sync::atomic::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVVec, KVec};
use kernel::c_str;
use kernel::{new_condvar, new_mutex};
use kernel::prelude::*;
use kernel::str::CStr;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::workqueue::{impl_has_work, new_work, Work, WorkItem};

#[path = "../rust/kernel_ext/mod.rs"]
mod kernel_ext;

use kernel_ext::bindings;
use kernel_ext::block::Bdev;
use kernel_ext::dm::{self, BioList, Devices, DmBio, DmDev, Mapped, StatusOut, StatusType, TargetRef};
use kernel_ext::kcopyd::{self, CopyDone, Region};
use kernel_ext::workqueue::OwnedQueue;
use kernel_ext::NoIo;

module! {
    type: CloneModule,
    name: "blkcopy_clone",
    author: "blkcopy developers",
    description: "blkcopy-clone: sample clone/hydration target on the blkcopy kcopyd adapter",
    license: "GPL",
}

/// Region states.
const UNHYDRATED: u8 = 0;
const HYDRATING: u8 = 1;
const HYDRATED: u8 = 2;

/// Smallest and largest region, in sectors (4 KiB, 1 GiB), as dm-clone.
const MIN_REGION: u64 = 8;
const MAX_REGION: u64 = 1 << 21;
/// Default background hydration: copies in flight, and bytes per copy.
const DEFAULT_THRESHOLD: u32 = 4;
const DEFAULT_BATCH_BYTES: u64 = 4 << 20;
/// Copies the client lets on-demand hydration start beyond the background
/// threshold.
const ON_DEMAND_JOBS: u32 = 16;

/// What the lock protects.
struct Inner {
    /// Writes waiting for their region's hydration.
    deferred: BioList,
    /// Where the background pass looks for the next region.
    cursor: u64,
    /// Background hydration wanted (`no_hydration`, messages).
    enabled: bool,
    /// Suspended or being destroyed: no background copy starts.
    stopped: bool,
    /// Background copies in flight.
    bg_inflight: u32,
    threshold: u32,
    batch: u64,
}

/// A line's state, shared with its copies and work items.
#[pin_data]
struct Shared {
    /// The line's devices: open while the line holds its `DmDev`s, which
    /// it drops only after `destroy` quiesced everything that uses these.
    src: Bdev<'static>,
    dst: Bdev<'static>,
    /// The line's first sector on the mapped device.
    begin: u64,
    /// The line's length, in sectors.
    len: u64,
    /// log2 of the region size in sectors.
    shift: u32,
    state: KVVec<AtomicU8>,
    hydrated: AtomicU64,
    hydrating: AtomicU64,
    /// Failed hydrations (copies or overwrites).
    errors: AtomicU64,
    #[pin]
    inner: Mutex<Inner>,
    /// Signalled when `Inner::bg_inflight` drops to zero.
    #[pin]
    bg_idle: CondVar,
    /// Before `wq`: its notifications queue work on `wq`.
    client: kcopyd::Client,
    /// Ordered: the background pass and the release of deferred writes.
    wq: OwnedQueue,
    #[pin]
    hydrate_work: Work<Shared, 0>,
    #[pin]
    release_work: Work<Shared, 1>,
}

impl_has_work! {
    impl HasWork<Self, 0> for Shared { self.hydrate_work }
    impl HasWork<Self, 1> for Shared { self.release_work }
}

/// The background pass: starts copies until the threshold is reached.
impl WorkItem<0> for Shared {
    type Pointer = Arc<Shared>;

    fn run(this: Arc<Shared>) {
        while let Some((first, last)) = this.next_batch() {
            this.hydrate(first, last, true);
        }
    }
}

/// Writes that waited for an overwrite go on (or fail with it).
impl WorkItem<1> for Shared {
    type Pointer = Arc<Shared>;

    fn run(this: Arc<Shared>) {
        this.release(|_| true);
    }
}

/// One hydration copy: regions `first..last`.
struct Hydration {
    shared: Arc<Shared>,
    first: u64,
    last: u64,
    background: bool,
}

impl CopyDone for Hydration {
    fn done(this: Arc<Self>, read_err: bool, write_err: u64) {
        this.shared.hydrated_range(this.first, this.last, !read_err && write_err == 0, this.background);
    }
}

impl Shared {
    fn nr_regions(&self) -> u64 {
        self.state.len() as u64
    }

    fn region_of(&self, sector: u64) -> u64 {
        (sector - self.begin) >> self.shift
    }

    /// Sectors of region `r` (the last one may be short).
    fn region_len(&self, r: u64) -> u64 {
        let start = r << self.shift;
        (1u64 << self.shift).min(self.len - start)
    }

    fn get(&self, r: u64) -> u8 {
        self.state.get(r as usize).map_or(HYDRATED, |s| s.load(Ordering::Acquire))
    }

    fn set(&self, r: u64, v: u8) {
        if let Some(s) = self.state.get(r as usize) {
            s.store(v, Ordering::Release);
        }
    }

    /// Re-addresses a bio of the line to the destination.
    fn to_dst(&self, bio: &mut DmBio) {
        let off = bio.sector() - self.begin;
        bio.set_target(self.dst, off);
    }

    /// Starts copying regions `first..last` (claimed: HYDRATING).
    fn hydrate(self: &Arc<Self>, first: u64, last: u64, background: bool) {
        let sectors = (first..last).map(|r| self.region_len(r)).sum();
        let from = Region { bdev: self.src, sector: first << self.shift, count: sectors };
        let to = Region { bdev: self.dst, sector: first << self.shift, count: sectors };
        let ctx = Arc::new(Hydration { shared: self.clone(), first, last, background }, GFP_KERNEL);
        let started = match ctx {
            Ok(c) => self.client.copy(&from, &[to], false, c),
            Err(e) => Err(e.into()),
        };
        if started.is_err() {
            self.hydrated_range(first, last, false, background);
        }
    }

    /// A hydration copy ended.
    fn hydrated_range(self: &Arc<Self>, first: u64, last: u64, ok: bool, background: bool) {
        let n = last - first;
        if ok {
            self.hydrated.fetch_add(n, Ordering::Relaxed);
        } else {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.hydrating.fetch_sub(n, Ordering::Relaxed);
        {
            let mut inner = self.inner.lock();
            for r in first..last {
                self.set(r, if ok { HYDRATED } else { UNHYDRATED });
            }
            if background {
                inner.bg_inflight -= 1;
                if inner.bg_inflight == 0 {
                    self.bg_idle.notify_all();
                }
                // A failed background copy stops the pass: it would only
                // fail again. Writes still hydrate their regions.
                if !ok {
                    inner.enabled = false;
                }
            }
        }
        // Writes waiting for these regions go on, or fail.
        self.release(|r| r >= first && r < last);
        if background && ok {
            self.kick();
        }
    }

    /// Sends on the deferred writes of regions `mine` selects whose
    /// hydration ended: to the destination if the region is hydrated,
    /// failed if its hydration failed.
    fn release(&self, mine: impl Fn(u64) -> bool) {
        let mut go = BioList::new();
        let mut fail = BioList::new();
        {
            let mut inner = self.inner.lock();
            let mut keep = BioList::new();
            while let Some(bio) = inner.deferred.pop() {
                let r = self.region_of(bio.sector());
                match (mine(r), self.get(r)) {
                    (true, HYDRATED) => go.push(bio),
                    (true, UNHYDRATED) => fail.push(bio),
                    _ => keep.push(bio),
                }
            }
            inner.deferred = keep;
        }
        while let Some(mut bio) = go.pop() {
            self.to_dst(&mut bio);
            bio.submit();
        }
        while let Some(bio) = fail.pop() {
            bio.end(bindings::BLKCOPY_STS_IOERR);
        }
    }

    /// Queues the background pass.
    fn kick(self: &Arc<Self>) {
        let _ = self.wq.queue().enqueue::<Arc<Shared>, 0>(self.clone());
    }

    /// Claims the next regions to copy in the background, if any.
    fn next_batch(&self) -> Option<(u64, u64)> {
        let mut inner = self.inner.lock();
        if !inner.enabled || inner.stopped || inner.bg_inflight >= inner.threshold {
            return None;
        }
        let n = self.nr_regions();
        if self.hydrated.load(Ordering::Relaxed) >= n {
            return None;
        }
        // From the cursor to the end, then from the start (regions a
        // failed write left behind).
        let start = inner.cursor.min(n);
        let first = Iterator::chain(start..n, 0..start).find(|&r| self.get(r) == UNHYDRATED)?;
        let mut last = first;
        while last < n && last - first < inner.batch && self.get(last) == UNHYDRATED {
            self.set(last, HYDRATING);
            last += 1;
        }
        self.hydrating.fetch_add(last - first, Ordering::Relaxed);
        inner.cursor = last;
        inner.bg_inflight += 1;
        Some((first, last))
    }

    /// Stops the background pass and waits for its copies.
    fn stop(&self) {
        let mut inner = self.inner.lock();
        inner.stopped = true;
        while inner.bg_inflight != 0 {
            // presuspend and the destructor may sleep.
            self.bg_idle.wait(&mut inner);
        }
    }
}

/// One table line.
struct Clone {
    /// First: dropped (after `destroy` quiesced it) while the devices are
    /// still open.
    shared: Arc<Shared>,
    src_dev: DmDev,
    dst_dev: DmDev,
    region: u64,
    no_hydration: bool,
}

/// Destinations of the live lines (one line per destination: a second
/// would keep its own, empty, idea of what is hydrated).
static DESTS: AtomicPtr<Dests> = AtomicPtr::new(null_mut());

#[pin_data]
struct Dests {
    #[pin]
    devs: Mutex<KVec<u32>>,
}

fn dests() -> &'static Dests {
    // SAFETY: published before the target type is registered, withdrawn
    // after it is unregistered.
    unsafe { &*DESTS.load(Ordering::Acquire) }
}

fn parse_u64(s: &CStr) -> Option<u64> {
    core::str::from_utf8(s.as_bytes()).ok()?.parse::<u64>().ok()
}

/// Optional arguments: (no_hydration, threshold, batch in regions).
fn parse_opts(ti: &mut TargetRef, args: &[&CStr], region: u64) -> Result<(bool, u32, u64)> {
    let mut no_hydration = false;
    let mut threshold = DEFAULT_THRESHOLD;
    let mut batch = (DEFAULT_BATCH_BYTES >> 9).div_ceil(region).max(1);
    let Some((count, rest)) = args.split_first() else {
        return Ok((no_hydration, threshold, batch));
    };
    let n = parse_u64(count).unwrap_or(u64::MAX);
    if n != rest.len() as u64 {
        ti.set_error(c_str!("Invalid number of optional arguments"));
        return Err(EINVAL);
    }
    let mut i = 0;
    while i < rest.len() {
        let key = rest[i].as_bytes();
        let val = rest.get(i + 1).and_then(|v| parse_u64(v));
        match (key, val) {
            (b"no_hydration", _) => {
                no_hydration = true;
                i += 1;
                continue;
            }
            (b"hydration_threshold", Some(v)) if (1..=64).contains(&v) => threshold = v as u32,
            (b"hydration_batch_size", Some(v)) if (1..=(1 << 16)).contains(&v) => batch = v,
            _ => {
                ti.set_error(c_str!("Invalid optional argument"));
                return Err(EINVAL);
            }
        }
        i += 2;
    }
    Ok((no_hydration, threshold, batch))
}

#[vtable]
impl dm::Target for Clone {
    const NAME: &'static CStr = c_str!("blkcopy-clone");
    const VERSION: [u32; 3] = [1, 0, 0];

    fn ctr(ti: &mut TargetRef, args: &[&CStr]) -> Result<Self> {
        if args.len() < 3 {
            ti.set_error(c_str!("Invalid argument count"));
            return Err(EINVAL);
        }
        let region = parse_u64(args[2]).unwrap_or(0);
        if !region.is_power_of_two() || !(MIN_REGION..=MAX_REGION).contains(&region) {
            ti.set_error(c_str!("Invalid region size"));
            return Err(EINVAL);
        }
        let (no_hydration, threshold, batch) = parse_opts(ti, &args[3..], region)?;
        if !ti.writable() {
            ti.set_error(c_str!("The destination must be writable"));
            return Err(EINVAL);
        }
        let dst_dev = ti.get_device(args[1]).inspect_err(|_| ti.set_error(c_str!("Destination lookup failed")))?;
        // The source in the table's mode, like every other open of a
        // table, or read-only where it cannot be written. Not read-only
        // first: a later open of the same device in a wider mode (the
        // destination here, or another line) makes dm replace its
        // `dm_dev`, and the one this line holds would be freed under it.
        let src_dev = match ti.get_device(args[0]) {
            Ok(d) => d,
            Err(_) => ti.get_device_read_only(args[0]).inspect_err(|_| ti.set_error(c_str!("Source lookup failed")))?,
        };
        // SAFETY: used by `Shared` only, whose users `destroy` ends before
        // the line drops `src_dev` and `dst_dev` (see `Shared::src`).
        let (src, dst) = unsafe { (src_dev.bdev().assume_open(), dst_dev.bdev().assume_open()) };
        if src.dev() == dst.dev() {
            ti.set_error(c_str!("Source and destination are the same device"));
            return Err(EINVAL);
        }
        if src.nr_sectors() < ti.len() || dst.nr_sectors() < ti.len() {
            ti.set_error(c_str!("Device too small"));
            return Err(EINVAL);
        }
        let bytes = region << 9;
        if bytes % u64::from(src.logical_block_size()) != 0 || bytes % u64::from(dst.logical_block_size()) != 0 {
            ti.set_error(c_str!("Region size not a multiple of the logical block sizes"));
            return Err(EINVAL);
        }
        ti.set_max_io_len(region).inspect_err(|_| ti.set_error(c_str!("Invalid region size")))?;
        ti.pass_flushes();

        let nr = ti.len().div_ceil(region);
        let mut state = KVVec::with_capacity(nr as usize, GFP_KERNEL)?;
        for _ in 0..nr {
            state.push(AtomicU8::new(UNHYDRATED), GFP_KERNEL)?;
        }
        let client = kcopyd::Client::new(threshold + ON_DEMAND_JOBS)?;
        let wq = OwnedQueue::ordered(c_str!("blkcopy_clone"), bindings::wq_flags_WQ_MEM_RECLAIM)?;
        let (begin, len) = (ti.begin(), ti.len());
        let shared = Arc::pin_init(
            pin_init!(Shared {
                src,
                dst,
                begin,
                len,
                shift: region.trailing_zeros(),
                state,
                hydrated: AtomicU64::new(0),
                hydrating: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                inner <- new_mutex!(Inner {
                    deferred: BioList::new(),
                    cursor: 0,
                    enabled: !no_hydration,
                    stopped: true,
                    bg_inflight: 0,
                    threshold,
                    batch,
                }),
                bg_idle <- new_condvar!("Shared::bg_idle"),
                client,
                wq,
                hydrate_work <- new_work!("Shared::hydrate_work"),
                release_work <- new_work!("Shared::release_work"),
            }),
            GFP_KERNEL,
        )?;
        {
            let mut devs = dests().devs.lock();
            if devs.iter().any(|&d| d == dst.dev()) {
                ti.set_error(c_str!("Destination already used by a blkcopy-clone table"));
                return Err(EBUSY);
            }
            // A free slot (0: no device has dev_t 0), or a new one.
            match devs.iter_mut().find(|d| **d == 0) {
                Some(slot) => *slot = dst.dev(),
                None => devs.push(dst.dev(), GFP_KERNEL)?,
            }
        }
        Ok(Clone { shared, src_dev, dst_dev, region, no_hydration })
    }

    fn map(&self, _ti: &TargetRef, mut bio: DmBio) -> Mapped {
        let sh = &self.shared;
        bio.set_tag(0);
        if bio.size() == 0 {
            // An empty flush: the destination holds everything written.
            bio.set_target(sh.dst, 0);
            return Mapped::Remapped(bio);
        }
        let r = sh.region_of(bio.sector());
        if sh.get(r) == HYDRATED {
            sh.to_dst(&mut bio);
            return Mapped::Remapped(bio);
        }
        if !bio.is_write() {
            // Not hydrated (or being hydrated): the source has the data.
            let off = bio.sector() - sh.begin;
            bio.set_target(sh.src, off);
            return Mapped::Remapped(bio);
        }
        let mut inner = sh.inner.lock();
        match sh.get(r) {
            HYDRATED => {
                drop(inner);
                sh.to_dst(&mut bio);
                Mapped::Remapped(bio)
            }
            HYDRATING => {
                inner.deferred.push(bio);
                Mapped::Submitted
            }
            _ => {
                sh.set(r, HYDRATING);
                sh.hydrating.fetch_add(1, Ordering::Relaxed);
                let whole = bio.op() == bindings::req_op_REQ_OP_WRITE
                    && bio.sector() - sh.begin == r << sh.shift
                    && u64::from(bio.size()) == sh.region_len(r) << 9;
                if whole {
                    // Overwrites the region: no copy needed; the region is
                    // hydrated when the write has reached the destination.
                    drop(inner);
                    bio.set_tag(r + 1);
                    sh.to_dst(&mut bio);
                    return Mapped::Remapped(bio);
                }
                inner.deferred.push(bio);
                drop(inner);
                // The write waits for the region's copy; allocations on
                // this path must not recurse into I/O.
                let _noio = NoIo::enter();
                sh.hydrate(r, r + 1, false);
                Mapped::Submitted
            }
        }
    }

    fn end_io(&self, _ti: &TargetRef, bio: &DmBio, status: &mut u8) {
        let tag = bio.tag();
        if tag == 0 {
            return;
        }
        // An overwrite ended (perhaps in interrupt context: atomics only,
        // the waiting writes go on from the work item).
        let sh = &self.shared;
        let ok = *status == 0;
        if ok {
            sh.hydrated.fetch_add(1, Ordering::Relaxed);
        } else {
            sh.errors.fetch_add(1, Ordering::Relaxed);
        }
        sh.hydrating.fetch_sub(1, Ordering::Relaxed);
        sh.set(tag - 1, if ok { HYDRATED } else { UNHYDRATED });
        let _ = sh.wq.queue().enqueue::<Arc<Shared>, 1>(sh.clone());
    }

    fn status(&self, _ti: &TargetRef, kind: StatusType, out: &mut StatusOut) {
        let sh = &self.shared;
        fn name(d: &DmDev) -> &str {
            core::str::from_utf8(d.name().as_bytes()).unwrap_or("?")
        }
        let (enabled, threshold, batch) = {
            let i = sh.inner.lock();
            (i.enabled, i.threshold, i.batch)
        };
        let _ = match kind {
            StatusType::Info => {
                let st = sh.client.stats();
                write!(
                    out,
                    "{} {}/{} {} {} {} {} {}",
                    self.region,
                    sh.hydrated.load(Ordering::Relaxed),
                    sh.nr_regions(),
                    sh.hydrating.load(Ordering::Relaxed),
                    st.offloaded,
                    st.emulated,
                    sh.errors.load(Ordering::Relaxed),
                    if enabled { "hydration" } else { "no_hydration" }
                )
            }
            StatusType::Table => {
                let _ = write!(out, "{} {} {} ", name(&self.src_dev), name(&self.dst_dev), self.region);
                if self.no_hydration {
                    write!(out, "5 no_hydration hydration_threshold {} hydration_batch_size {}", threshold, batch)
                } else {
                    write!(out, "4 hydration_threshold {} hydration_batch_size {}", threshold, batch)
                }
            }
            StatusType::Ima => write!(
                out,
                "target_name=blkcopy-clone,target_version=1.0.0,source={},destination={},region_size={};",
                name(&self.src_dev),
                name(&self.dst_dev),
                self.region
            ),
        };
    }

    fn iterate_devices(&self, ti: &TargetRef, devices: &mut Devices) {
        // As dm-clone: both devices, so that the clone's queue limits
        // suit reads that go to the source as well as the destination.
        devices.visit(&self.src_dev, 0, ti.len());
        devices.visit(&self.dst_dev, 0, ti.len());
    }

    fn message(&self, _ti: &TargetRef, args: &[&CStr]) -> Result {
        let sh = &self.shared;
        let mut inner = sh.inner.lock();
        match args {
            [m] if m.as_bytes() == b"enable_hydration" => inner.enabled = true,
            [m] if m.as_bytes() == b"disable_hydration" => inner.enabled = false,
            [m, v] if m.as_bytes() == b"hydration_threshold" => match parse_u64(v) {
                Some(n) if (1..=64).contains(&n) => inner.threshold = n as u32,
                _ => return Err(EINVAL),
            },
            [m, v] if m.as_bytes() == b"hydration_batch_size" => match parse_u64(v) {
                Some(n) if (1..=(1 << 16)).contains(&n) => inner.batch = n,
                _ => return Err(EINVAL),
            },
            _ => return Err(EINVAL),
        }
        drop(inner);
        sh.kick();
        Ok(())
    }

    fn resume(&self, _ti: &TargetRef) {
        self.shared.inner.lock().stopped = false;
        self.shared.kick();
    }

    fn presuspend(&self, _ti: &TargetRef) {
        // Writes still hydrate their regions while dm waits for them; only
        // the background pass stops.
        self.shared.stop();
    }

    fn destroy(&self, _ti: &TargetRef) {
        let sh = &self.shared;
        sh.stop();
        // No bio is in flight (dm destroys only idle tables), so nothing
        // but the pass's own items can be queued: let them end, then the
        // copies and their notifications, then what those queued. After
        // that, no work item or copy holds `shared`: the line's reference
        // is the last one, dropped with the line.
        sh.wq.flush();
        sh.client.drain();
        sh.wq.flush();
        let dev = sh.dst.dev();
        for d in dests().devs.lock().iter_mut().filter(|d| **d == dev) {
            *d = 0;
        }
    }
}

struct CloneModule {
    _target: dm::Registration<Clone>,
    _dests: Pin<KBox<Dests>>,
}

impl kernel::Module for CloneModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let d = KBox::pin_init(pin_init!(Dests { devs <- new_mutex!(KVec::new()) }), GFP_KERNEL)?;
        DESTS.store(&*d as *const Dests as *mut Dests, Ordering::Release);
        let target = dm::Registration::<Clone>::new(module)?;
        pr_info!("blkcopy-clone target registered\n");
        Ok(Self { _target: target, _dests: d })
    }
}
