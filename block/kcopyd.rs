// SPDX-License-Identifier: GPL-2.0

//! A kcopyd adapter: `dm_kcopyd_copy()` semantics on top of blkcopy copies.
//!
//! A client (`blkcopy_kcopyd_client_create()`) copies one source region to
//! up to [`MAX_REGIONS`] destination regions per call. Each destination is
//! one blkcopy copy, so each is offloaded where a provider can, and copied
//! through the host otherwise. When every destination has finished, the
//! caller's notify function runs with `read_err` (the source could not be
//! read) and `write_err` (one bit per destination that could not be
//! written), on the client's own ordered workqueue: never in interrupt
//! context, one at a time per client, as kcopyd's callbacks run on its
//! thread. A client has at most `max_jobs` calls in flight; further calls
//! wait (the throttling kcopyd's clients rely on).
//!
//! Without `BLKCOPY_KCOPYD_IGNORE_ERROR`, the first failed destination
//! stops the others (they end early, their bits unset unless they failed
//! too); with it, every destination is copied as far as it can be.

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::c_str;
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::workqueue::{impl_has_work, new_work, Queue, Work, WorkItem};
use kernel::{new_condvar, new_mutex};

use crate::copy::{self, CopyResult};
use crate::job::{CopyDone, CopyJob, Core, Notify};
use crate::kernel_ext::bindings;
use crate::kernel_ext::block::Bdev;
use crate::kernel_ext::workqueue::OwnedQueue;

/// Most destination regions per call (`DM_KCOPYD_MAX_REGIONS`).
pub(crate) const MAX_REGIONS: usize = 8;

/// A client.
#[pin_data]
pub(crate) struct Client {
    core: &'static Core,
    #[pin]
    inflight: Mutex<usize>,
    #[pin]
    idle: CondVar,
    max_jobs: usize,
    /// Bytes the devices copied, and bytes copied through the host, over
    /// the client's life (every destination counted).
    offloaded: AtomicU64,
    emulated: AtomicU64,
    /// Ordered: the notify functions of one client run one at a time.
    wq: OwnedQueue,
}

impl Client {
    pub(crate) fn new(core: &'static Core, max_jobs: usize) -> Result<Arc<Client>> {
        let wq = OwnedQueue::ordered(c_str!("blkcopy_kcopyd"), bindings::wq_flags_WQ_MEM_RECLAIM)?;
        Arc::pin_init(
            pin_init!(Client {
                core,
                inflight <- new_mutex!(0),
                idle <- new_condvar!(),
                max_jobs: max_jobs.max(1),
                offloaded: AtomicU64::new(0),
                emulated: AtomicU64::new(0),
                wq,
            }),
            GFP_KERNEL,
        )
    }

    fn queue(&self) -> &Queue {
        self.wq.queue()
    }

    /// Waits for a free slot (throttling), then takes it.
    fn enter(&self) {
        let mut n = self.inflight.lock();
        while *n >= self.max_jobs {
            self.idle.wait(&mut n);
        }
        *n += 1;
    }

    fn leave(&self) {
        let mut n = self.inflight.lock();
        *n -= 1;
        self.idle.notify_all();
    }

    /// Waits until no call is in flight: every call made before has been
    /// notified, and its notify function has returned.
    pub(crate) fn drain(&self) {
        {
            let mut n = self.inflight.lock();
            while *n != 0 {
                self.idle.wait(&mut n);
            }
        }
        // The work items that notified may still hold a reference on the
        // client after leaving; let them return, so that the last
        // reference is never dropped on the client's own queue (whose
        // destruction would then wait for itself).
        self.wq.flush();
    }

    /// (bytes offloaded, bytes copied through the host) so far.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.offloaded.load(Ordering::Relaxed), self.emulated.load(Ordering::Relaxed))
    }
}

/// The caller's notify function and context.
#[derive(Clone, Copy)]
struct NotifyFn {
    f: unsafe extern "C" fn(i32, kernel::ffi::c_ulong, *mut c_void),
    context: *mut c_void,
}

/// One `blkcopy_kcopyd_copy()` call.
#[pin_data]
pub(crate) struct KJob {
    client: Arc<Client>,
    notify: NotifyFn,
    ignore_error: bool,
    left: AtomicUsize,
    read_err: AtomicBool,
    write_err: AtomicUsize,
    /// The destination copies, kept until this call has notified, so that
    /// an error on one can stop the others.
    #[pin]
    jobs: Mutex<KVec<Arc<CopyJob>>>,
    #[pin]
    work: Work<KJob>,
}

// SAFETY: the context pointer is the caller's, usable from process context
// by the API's contract; the rest is thread-safe.
unsafe impl Send for KJob {}
// SAFETY: as above.
unsafe impl Sync for KJob {}

impl_has_work! {
    impl HasWork<Self> for KJob { self.work }
}

impl WorkItem for KJob {
    type Pointer = Arc<KJob>;

    fn run(this: Arc<KJob>) {
        // Every destination has ended: their jobs are no longer needed.
        drop(core::mem::replace(&mut *this.jobs.lock(), KVec::new()));
        let read_err = i32::from(this.read_err.load(Ordering::Acquire));
        let write_err = this.write_err.load(Ordering::Acquire) as kernel::ffi::c_ulong;
        // SAFETY: the caller's notify function with its context, called
        // once, in process context, serialised by the ordered queue.
        unsafe { (this.notify.f)(read_err, write_err, this.notify.context) };
        this.client.leave();
    }
}

/// One destination of a call, told how its copy ended.
struct Dest {
    kjob: Arc<KJob>,
    index: u32,
}

impl CopyDone for Dest {
    fn copy_done(&self, res: &CopyResult) {
        self.kjob.dest_done(self.index, res);
    }
}

impl KJob {
    /// A destination's copy ended (called from the copy's work function).
    fn dest_done(self: &Arc<Self>, index: u32, res: &CopyResult) {
        let c = &self.client;
        c.offloaded.fetch_add(res.offloaded, Ordering::Relaxed);
        c.emulated.fetch_add(res.copied.saturating_sub(res.offloaded), Ordering::Relaxed);
        // A copy stopped because another destination failed is not an
        // error of its own.
        let stopped = res.status == EINTR.to_errno() && !self.ignore_error;
        if res.status != 0 && !stopped {
            if res.read_failed {
                self.read_err.store(true, Ordering::Release);
            } else {
                self.write_err.fetch_or(1 << index, Ordering::AcqRel);
            }
            if !self.ignore_error {
                for j in self.jobs.lock().iter() {
                    j.cancel();
                }
            }
        }
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _ = self.client.queue().enqueue(self.clone());
        }
    }
}

/// `blkcopy_kcopyd_copy()`: copies `from` (device, sector, count) to each
/// of `dests` (device, sector, count), all of `count` sectors.
pub(crate) fn copy(
    client: &Arc<Client>,
    from: (Bdev<'static>, u64, u64),
    dests: &[(Bdev<'static>, u64, u64)],
    ignore_error: bool,
    f: unsafe extern "C" fn(i32, kernel::ffi::c_ulong, *mut c_void),
    context: *mut c_void,
) -> Result {
    if dests.is_empty() || dests.len() > MAX_REGIONS {
        return Err(EINVAL);
    }
    let (sb, ss, count) = from;
    let mut ranges = KVec::with_capacity(dests.len(), GFP_KERNEL)?;
    for &(db, ds, dc) in dests {
        if dc != count || count == 0 {
            return Err(EINVAL);
        }
        // (Offsets past 64 bits are EINVAL here, as dm-kcopyd's callers
        // never see EOVERFLOW.)
        let r = copy::sectors(ss, ds, count).map_err(|_| EINVAL)?;
        copy::check(sb, db, core::slice::from_ref(&r))?;
        ranges.push(r, GFP_KERNEL)?;
    }
    let mut keep = KVec::with_capacity(dests.len(), GFP_KERNEL)?;
    client.enter();
    let kjob = Arc::pin_init(
        pin_init!(KJob {
            client: client.clone(),
            notify: NotifyFn { f, context },
            ignore_error,
            left: AtomicUsize::new(dests.len()),
            read_err: AtomicBool::new(false),
            write_err: AtomicUsize::new(0),
            jobs <- new_mutex!(KVec::new()),
            work <- new_work!("KJob::work"),
        }),
        GFP_KERNEL,
    );
    let kjob = match kjob {
        Ok(k) => k,
        Err(e) => {
            client.leave();
            return Err(e);
        }
    };
    for (i, (&(db, _, _), r)) in dests.iter().zip(ranges.iter()).enumerate() {
        let index = i as u32;
        let started = Arc::new(Dest { kjob: kjob.clone(), index }, GFP_KERNEL).map_err(Error::from).and_then(|d| {
            // SAFETY: the client's caller keeps the devices open until
            // notified (the contract of `blkcopy_kcopyd_copy()`), which
            // happens only after every job of the call has told its `Dest`.
            unsafe { CopyJob::start(client.core, sb, db, core::slice::from_ref(r), 0, Notify::Done(d)) }
        });
        match started {
            // Cannot fail: the capacity was reserved.
            Ok(j) => drop(keep.push(j, GFP_KERNEL)),
            // Not started: that destination is not written.
            Err(_) => kjob.dest_done(index, &CopyResult { status: ENOMEM.to_errno(), ..Default::default() }),
        }
    }
    // Stop-on-error needs the jobs; a destination that already failed
    // could not stop the ones started after it, so stop them now.
    let failed = kjob.write_err.load(Ordering::Acquire) != 0 || kjob.read_err.load(Ordering::Acquire);
    if failed && !ignore_error {
        for j in keep.iter() {
            j.cancel();
        }
    }
    *kjob.jobs.lock() = keep;
    Ok(())
}
