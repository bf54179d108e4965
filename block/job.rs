// SPDX-License-Identifier: GPL-2.0

//! A copy job: one or more ranges from a source to a destination device,
//! tried as copy-bio pairs first, with an in-kernel read/write fallback for
//! every part the pairs did not copy.
//!
//! A job is a state machine driven by its work item, or by whoever waits
//! for it (a BLKCOPY caller, `drive`) or steps it (an io_uring command, in
//! its submitting task, `JobStepper`). Bio completions (in any context,
//! interrupts included) only push the bio onto the job's lock-free
//! completion list and have the job stepped; everything else happens in a
//! step, one at a time:
//!
//! 1. `Start`: the read halves go down the stack (one `REQ_OP_COPY_READ`
//!    bio per segment: a caller's range, in pieces of at most 1 GiB), and
//!    with them a locating write half per pair (consecutive segments with
//!    contiguous destinations, up to 1 GiB). Neither does I/O: each piece
//!    records where it lands on the disk at the bottom, and a read half
//!    also records its source in its pair's token (unless offload is
//!    disabled: then the read halves only locate too).
//! 2. `ReadHalves`: once they all ended, the landings are checked
//!    (`landing::first_conflict`): a destination overlapping the source or
//!    another destination on a disk below ends the job with `EINVAL`,
//!    before anything was written. Then the write halves go down, one per
//!    pair whose read halves recorded a source.
//! 3. `WriteHalves`: once they all ended, what the device copied is known.
//! 4. `Fallback`: every byte not offloaded is copied by reads and writes
//!    through a bounded set of buffers, chunk by chunk, pipelined.
//! 5. The caller is notified with the status and byte counts.

use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KBox, KVec};
use kernel::c_str;
use kernel::{new_mutex, new_spinlock};
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow, Mutex, SpinLock};
use kernel::types::Opaque;
use kernel::workqueue::{impl_has_work, new_work, Work, WorkItem};

use crate::command::{self, Command, Limits, SrcRange};
use crate::copy::{refuse, Checked, CopyResult, Reason, Rule, FLAG_NO_OFFLOAD, FLAG_OFFLOAD_ONLY};
use crate::extent::ExtentSet;
use crate::fallback::Fallback;
use crate::fallback_mem::Reserve;
use crate::kernel_ext::bindings;
use crate::kernel_ext::bio::{Bio, BioSet};
use crate::kernel_ext::block::Bdev;
use crate::kernel_ext::completion::Completion;
use crate::kernel_ext::workqueue::OwnedQueue;
use crate::kernel_ext::NoIo;
use crate::landing::{self, Landing};
use crate::pairing::Sources;
use crate::range::CopyRange;
use crate::route::{self, HalfCtx, HalfKind, Registry, RoutedCopy, HALF_MAX, MAX_CMD_RANGES};
use crate::stats;

/// Source extents one token records (more pieces fall back).
pub(crate) const TOKEN_EXTENTS: usize = 16;
/// Extents of copied bytes a job tracks (its fallback's work list has at
/// most one more gap).
const COPIED_EXTENTS: usize = 128;

/// Internal (never from a caller's flags): only locate where the source
/// lands below the stacking layers ([`Located`]); copies and counts nothing.
const FLAG_LOCATE: u32 = 1 << 31;

/// What every job uses: set up when the module loads
/// (block/blkcopy_main.rs), torn down after the last job has ended, and
/// handed to each job by the front end that starts it.
#[pin_data]
pub(crate) struct Core {
    /// First, so it is destroyed (draining all queued work) first.
    wq: OwnedQueue,
    #[pin]
    bioset: BioSet<BioCtx>,
    #[pin]
    registry: Registry,
    #[pin]
    stats: stats::Registry,
    /// The fallback's memory reserve.
    #[pin]
    reserve: Reserve,
}

impl Core {
    pub(crate) fn new() -> Result<impl PinInit<Self, Error>> {
        // The queue may reclaim memory: the fallback's writes free memory.
        let wq = OwnedQueue::new(c_str!("blkcopy"), bindings::wq_flags_WQ_MEM_RECLAIM, 0)?;
        let reserve = Reserve::new(CopyJob::reserve_waiters_kick)?;
        Ok(try_pin_init!(Core {
            wq,
            bioset <- BioSet::new(64),
            registry <- Registry::new(),
            stats <- stats::Registry::new(),
            reserve <- reserve,
        }))
    }

    /// The providers and stacking layers.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Per-device statistics.
    pub(crate) fn stats(&self) -> &stats::Registry {
        &self.stats
    }
}

/// Who is told how a job ended (the job knows none of its front ends).
/// Called once, in process context, with no lock of the job held.
pub(crate) trait CopyDone: Send + Sync {
    fn copy_done(&self, res: &CopyResult);
}

/// A process waiting for a job (the BLKCOPY ioctl). It also drives the
/// job: the job's I/O completions wake it (`event`) and it runs the job's
/// steps, so that a completion costs one wake-up, as for a process doing
/// its own I/O, rather than a work item's and then the waiter's.
#[pin_data]
pub(crate) struct Waiter {
    #[pin]
    done: Completion,
    /// Something for the driving process to do.
    #[pin]
    event: Completion,
    /// What the job reported (read once `done` has completed).
    #[pin]
    res: SpinLock<CopyResult>,
}

impl Waiter {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Waiter {
                done <- Completion::new(),
                event <- Completion::new(),
                res <- new_spinlock!(CopyResult::default()),
            }),
            GFP_KERNEL,
        )
    }


    pub(crate) fn result(&self) -> CopyResult {
        *self.res.lock()
    }
}

impl CopyDone for Waiter {
    fn copy_done(&self, res: &CopyResult) {
        *self.res.lock() = *res;
        self.done.complete();
    }
}

/// Who steps a job in its own context (an io_uring command, in its
/// submitting task) instead of the job's work function.
pub(crate) trait JobStepper: CopyDone {
    /// Have [`CopyJob::step_now`] called soon, in process context. Any
    /// context, interrupts included; must not sleep.
    fn schedule_step(&self);
}

/// Who is told when the job ends.
pub(crate) enum Notify {
    /// A process that drives the job's steps and waits for it.
    Driver(Arc<Waiter>),
    /// Told from the job's work function.
    Done(Arc<dyn CopyDone>),
    /// Steps the job itself, first step included (after `start`), and is
    /// told from a step it ran.
    Stepped(Arc<dyn JobStepper>),
}

// A job's segments (each with a read half) and pairs (each with a write
// half over a destination run, sharing a token): planned by
// `logic/src/plan.rs`.
use crate::plan::{Pair, Seg, Step};

/// A stacking layer's hold on its mapping (`blkcopy_hold()`).
struct Hold {
    release: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
}

// SAFETY: the C API's contract makes `arg` usable from any process context.
unsafe impl Send for Hold {}

/// What a bio of the job is for; lives in the bio's front pad.
#[derive(Clone, Copy)]
pub(crate) enum IoKind {
    /// A piece of a pair's read or write half (routed by route.rs).
    Half(HalfKind),
    /// Fallback I/O of slot `slot`: `len` bytes at logical offset `loff`.
    FbRead { slot: u8, loff: u64, len: u32 },
    FbWrite { slot: u8, loff: u64, len: u32 },
}

/// Routing state of a job: halves waiting to be routed
/// (`route::submit_half`), linked by their context's `node` (free until the
/// half ends), and whether a routing pass of the job is running. A stacking
/// layer that resubmits a piece from its `map_half` queues it for the pass
/// further up the stack, so that routing never recurses (each level would
/// add its frames to the stack).
#[pin_data]
struct Routing {
    queue: Opaque<bindings::llist_head>,
    active: AtomicBool,
    /// The source ranges of the device command being built (a job's
    /// passes are serialised; kept off the stack).
    #[pin]
    cmd_ranges: Mutex<KBox<[bindings::blkcopy_src_range; MAX_CMD_RANGES]>>,
    /// Mappings stacking layers keep in force for the offload attempt.
    #[pin]
    holds: Mutex<KVec<Hold>>,
    /// Where the source and destination pieces landed, and whether a
    /// landing could not be recorded (no memory: the copy is refused).
    #[pin]
    landings: Mutex<KVec<Landing>>,
    landing_lost: AtomicBool,
}

/// A job's place in the fallback reserve's list of waiting jobs
/// (`fallback_mem::Reserve`).
struct ReserveWait {
    link: Opaque<bindings::llist_node>,
    /// On the list (then the list holds a reference to the job).
    waiting: AtomicBool,
}

/// Halves taken off a job's routing queue, oldest first.
struct QueuedHalves(*mut bindings::llist_node);

impl Iterator for QueuedHalves {
    type Item = JobBio;

    fn next(&mut self) -> Option<JobBio> {
        let n = self.0;
        if n.is_null() {
            return None;
        }
        // SAFETY: `n` is the node (the first field) of the context of a
        // queued half this list owns; `next` is read before handing it on.
        unsafe {
            self.0 = (*n).next;
            Some(JobBio::from_ctx(n as *mut BioCtx))
        }
    }
}

impl Drop for QueuedHalves {
    fn drop(&mut self) {
        // Halves never routed fall back (their job accounts them as ended).
        for mut b in self.by_ref() {
            b.ctx_mut().reason = Reason::Unpaired;
            b.end(bindings::BLKCOPY_STS_NOTSUPP);
        }
    }
}

/// Per-bio context (the bio set's front pad).
#[repr(C)]
pub(crate) struct BioCtx {
    /// Link on the job's completion list; first, so a node pointer is a
    /// context pointer.
    node: bindings::llist_node,
    pub(crate) job: Arc<CopyJob>,
    pub(crate) kind: IoKind,
    /// Why a copy half ended without copying (set by whoever ends it).
    pub(crate) reason: Reason,
}

// SAFETY: the llist node's pointer is only read and written through the
// lock-free llist functions (completion side) and by the work function
// that owns the list's contents; the other fields are `Send`.
unsafe impl Send for BioCtx {}

pub(crate) type JobBio = Bio<BioCtx>;

impl HalfCtx for BioCtx {
    type Copy = CopyJob;

    fn copy(&self) -> &Arc<CopyJob> {
        &self.job
    }

    fn half(&self) -> Option<HalfKind> {
        match self.kind {
            IoKind::Half(h) => Some(h),
            _ => None,
        }
    }

    fn set_half(&mut self, kind: HalfKind) {
        self.kind = IoKind::Half(kind);
    }

    fn set_reason(&mut self, reason: Reason) {
        self.reason = reason;
    }

    fn alloc_like(half: &JobBio) -> Result<JobBio> {
        let c = half.ctx();
        c.job.alloc_bio(half.bdev(), 0, half.op(), half.sector(), c.kind, c.reason)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Start,
    ReadHalves,
    WriteHalves,
    Fallback,
    Done,
}

struct State {
    phase: Phase,
    /// The fallback's work list and buffers have been set up.
    planned: bool,
    status: i32,
    /// Logical bytes the device copied. (The sets are boxed: 3 KiB
    /// together, they would make every move of the state a large stack
    /// frame.)
    offloaded: KBox<ExtentSet<64>>,
    /// Logical bytes copied (offloaded or by the fallback).
    copied: KBox<ExtentSet<COPIED_EXTENTS>>,
    /// What the device did not copy is copied by the fallback engine.
    fb: Fallback,
    /// Bytes that fell back, by reason.
    reasons: [u64; Reason::COUNT],
    /// A read of the source failed.
    read_failed: bool,
    /// Which check refused the copy, when one did (below the top: landings,
    /// offload only).
    rule: Rule,
    /// The caller's notification, taken by the step that finished the job
    /// and delivered after the state lock is released.
    ending: Option<(Notify, CopyResult)>,
}

/// A copy job.
#[pin_data]
pub(crate) struct CopyJob {
    core: &'static Core,
    src: Bdev<'static>,
    dst: Bdev<'static>,
    flags: u32,
    segs: KVec<Seg>,
    pairs: KVec<Pair>,
    total: u64,
    /// Pairing state per pair (the token its halves share).
    #[pin]
    tokens: Mutex<KVec<Sources<TOKEN_EXTENTS>>>,
    #[pin]
    state: Mutex<State>,
    /// Bios that ended, waiting for the work function.
    done: Opaque<bindings::llist_head>,
    /// Bios allocated and not yet accounted by the work function.
    inflight: AtomicUsize,
    cancel: AtomicBool,
    /// A thread is in `step` and looks at `done` again before it leaves:
    /// `end_io` need not queue the work function.
    stepping: AtomicBool,
    /// The waiting process that drives the job (`Waiter`), while `driven`.
    driver: Option<Arc<Waiter>>,
    driven: AtomicBool,
    /// Who steps the job instead of its work function.
    stepper: Option<Arc<dyn JobStepper>>,
    #[pin]
    notify: Mutex<Option<Notify>>,
    #[pin]
    routing: Routing,
    /// Waiting for a buffer of the fallback's reserve.
    reserve_wait: ReserveWait,
    #[pin]
    work: Work<CopyJob>,
}

// SAFETY: `done` is only used through the lock-free llist functions.
unsafe impl Sync for CopyJob {}
// SAFETY: as above; the other fields are `Send`.
unsafe impl Send for CopyJob {}

impl_has_work! {
    impl HasWork<Self> for CopyJob { self.work }
}

impl WorkItem for CopyJob {
    type Pointer = Arc<CopyJob>;

    fn run(this: Arc<CopyJob>) {
        this.step();
    }
}

impl CopyJob {
    /// Starts copying `ranges` (validated by the caller) from `src` to
    /// `dst`.
    ///
    /// # Safety
    ///
    /// `src` and `dst` stay open until `notify` has been told (the job's
    /// last I/O has ended by then).
    pub(crate) unsafe fn start(
        core: &'static Core,
        src: Bdev<'_>,
        dst: Bdev<'_>,
        ranges: &[CopyRange],
        flags: u32,
        notify: Notify,
    ) -> Result<Arc<CopyJob>> {
        // SAFETY: open until the job notifies (the contract), and the job
        // uses them only until then.
        let (src, dst) = unsafe { (src.assume_open(), dst.assume_open()) };
        let driver = match &notify {
            Notify::Driver(w) => Some(w.clone()),
            _ => None,
        };
        let stepper = match &notify {
            Notify::Stepped(t) => Some(t.clone()),
            _ => None,
        };
        let inline = driver.is_some() || stepper.is_some();
        let mut segs = KVec::new();
        let mut pairs: KVec<Pair> = KVec::new();
        // MUTATION (Documentation/testing.rst, never in a real build): the
        // last range is copied one 4 KiB block longer than asked.
        #[cfg(blkcopy_mutation = "dst_overrun")]
        let longer = {
            let mut v = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
            for r in ranges {
                v.push(*r, GFP_KERNEL)?;
            }
            if let Some(r) = v.last_mut() {
                r.len += 4096;
            }
            v
        };
        #[cfg(blkcopy_mutation = "dst_overrun")]
        let ranges: &[CopyRange] = &longer;
        let mut plan = crate::plan::plan(ranges, HALF_MAX, TOKEN_EXTENTS);
        for step in plan.by_ref() {
            let seg = match step {
                Step::NewPair(pair, seg) => {
                    pairs.push(pair, GFP_KERNEL)?;
                    seg
                }
                Step::Extend(seg) => {
                    if let Some(q) = pairs.last_mut() {
                        q.len += seg.len;
                    }
                    seg
                }
            };
            segs.push(seg, GFP_KERNEL)?;
        }
        let lstart = plan.total();
        let mut tokens = KVec::with_capacity(pairs.len(), GFP_KERNEL)?;
        for q in pairs.iter() {
            tokens.push(Sources::new(q.len), GFP_KERNEL)?;
        }
        let state = State {
            phase: Phase::Start,
            planned: false,
            status: 0,
            offloaded: KBox::new_uninit(GFP_KERNEL)?.write(ExtentSet::new()),
            copied: KBox::new_uninit(GFP_KERNEL)?.write(ExtentSet::new()),
            // The copied set has at most its capacity of extents, so at
            // most one more gap.
            fb: Fallback::new(COPIED_EXTENTS + 1)?,
            reasons: [0; Reason::COUNT],
            read_failed: false,
            rule: Rule::NONE,
            ending: None,
        };
        let cmd_ranges = KBox::new_uninit(GFP_KERNEL)?.write(
            core::array::from_fn(|_| bindings::blkcopy_src_range::default()),
        );
        // Room for every piece's landing unless layers split them.
        let landings = KVec::with_capacity(segs.len() + pairs.len(), GFP_KERNEL)?;
        let routing = pin_init!(Routing {
            queue: Opaque::new(bindings::llist_head { first: core::ptr::null_mut() }),
            active: AtomicBool::new(false),
            cmd_ranges <- new_mutex!(cmd_ranges),
            holds <- new_mutex!(KVec::new()),
            landings <- new_mutex!(landings),
            landing_lost: AtomicBool::new(false),
        });
        let job = Arc::pin_init(
            pin_init!(CopyJob {
                core,
                src,
                dst,
                flags,
                segs,
                pairs,
                total: lstart,
                tokens <- new_mutex!(tokens),
                state <- new_mutex!(state),
                done: Opaque::new(bindings::llist_head { first: core::ptr::null_mut() }),
                inflight: AtomicUsize::new(0),
                cancel: AtomicBool::new(false),
                stepping: AtomicBool::new(false),
                driven: AtomicBool::new(driver.is_some()),
                driver,
                stepper,
                notify <- new_mutex!(Some(notify)),
                routing <- routing,
                reserve_wait: ReserveWait {
                    link: Opaque::new(bindings::llist_node { next: core::ptr::null_mut() }),
                    waiting: AtomicBool::new(false),
                },
                work <- new_work!("CopyJob::work"),
            }),
            GFP_KERNEL,
        )?;
        if flags & FLAG_LOCATE == 0 {
            stats::job_started();
        }
        // A job with a waiting process is stepped by `drive`, and one with
        // a stepper by `step_now`, first step included: not from here,
        // whose frame holds the job's state while it is built (stacking
        // layers and the device driver below need the stack). Callbacks
        // must never run before `start` returns.
        if !inline {
            job.kick();
        }
        Ok(job)
    }

    /// Asks the job to stop issuing new I/O; it ends once what is in
    /// flight has ended (status `EINTR` unless it had finished).
    pub(crate) fn cancel(&self) {
        self.cancel.store(true, Ordering::Release);
        self.kick_borrowed();
    }

    /// Has the job stepped again: by its driving process, or by the work
    /// function.
    fn kick(self: &Arc<Self>) {
        if let Some(t) = &self.stepper {
            t.schedule_step();
            return;
        }
        if let Some(w) = &self.driver {
            // Ordered with `drive`'s hand-over: either this sees the
            // process still driving, or the process queued the work
            // function after it stopped.
            if self.driven.load(Ordering::SeqCst) {
                w.event.complete();
                return;
            }
        }
        // Already queued: the queued run will see the new state.
        let _ = self.core.wq.queue().enqueue(self.clone());
    }

    fn kick_borrowed(&self) {
        // SAFETY: `self` is always inside an `Arc<CopyJob>` (jobs are only
        // created by `start`), and the caller holds a reference.
        let arc: Arc<CopyJob> = unsafe { ArcBorrow::from_raw(self) }.into();
        arc.kick();
    }

    /// Runs the job's steps as far as they go now (jobs started with
    /// `Notify::Stepped`: their first step after `start`, then each time
    /// the stepper was asked to). Process context.
    pub(crate) fn step_now(self: &Arc<Self>) {
        self.step();
    }

    /// Runs the job's steps in the waiting process until it ends (jobs
    /// started with a `Waiter`). A fatal signal stops issuing I/O: the work
    /// function takes over and this waits for what is in flight (it uses
    /// the caller's file references) before returning.
    pub(crate) fn drive(self: &Arc<Self>) {
        let Some(w) = self.driver.clone() else { return };
        // The first step (routing the halves, which usually end at once,
        // and issuing the device commands) runs in the caller's context.
        self.step();
        // `done` is only waited for below, after the hand-over.
        while !w.done.is_done() {
            if w.event.wait_killable().is_err() {
                self.driven.store(false, Ordering::SeqCst);
                self.cancel();
                w.done.wait();
                return;
            }
            self.step();
        }
    }

    /// End_io of every bio of a job (any context): record and defer.
    ///
    /// # Safety
    ///
    /// `bio` is a bio of the core's bio set, allocated by a job.
    pub(crate) unsafe extern "C" fn end_io(bio: *mut bindings::bio) {
        // SAFETY: per the contract the bio has a live `BioCtx`, whose job
        // reference keeps the job alive until the node is on the list; the
        // work function may take and free the bio as soon as it is, so the
        // job is referenced separately for the kick. Ownership of the bio
        // stays with the list until the work function takes it back.
        let job = unsafe {
            let ctx = JobBio::ctx_of(bio);
            let job = (*ctx).job.clone();
            bindings::blkcopy_llist_add(core::ptr::addr_of_mut!((*ctx).node), job.done.get());
            job
        };
        // Ordered after the (fully ordered) list insertion: either a
        // stepping thread sees the node when it looks again, or this sees
        // that no thread is stepping and queues the work function.
        if !job.stepping.load(Ordering::SeqCst) {
            job.kick();
        }
    }

    fn seg_of(&self, loff: u64) -> Option<(usize, &Seg)> {
        self.segs.iter().enumerate().find(|(_, s)| loff >= s.lstart && loff < s.lstart + s.len)
    }

    fn step(self: &Arc<Self>) {
        // The caller is told with no lock of the job held, as dm-kcopyd
        // calls its notify functions: a callback may start copies, take
        // its own locks, or drop the last reference to the job.
        if let Some((notify, res)) = self.step_locked() {
            Self::notify(notify, &res);
        }
    }

    /// Steps under the state lock; returns the caller's notification once
    /// the job has finished.
    fn step_locked(self: &Arc<Self>) -> Option<(Notify, CopyResult)> {
        let mut st = self.state.lock();
        loop {
            self.stepping.store(true, Ordering::SeqCst);
            if st.phase == Phase::Done {
                self.stepping.store(false, Ordering::SeqCst);
                return st.ending.take();
            }
            // SAFETY: `done` is a valid llist head; the nodes on it are the
            // `node` fields of `BioCtx`s of bios handed to `end_io`.
            let mut node = unsafe { bindings::blkcopy_llist_del_all(self.done.get()) };
            while !node.is_null() {
                // SAFETY: as above; `next` is read before the bio is freed.
                let (bio, next) = unsafe { (JobBio::from_ctx(node as *mut BioCtx), (*node).next) };
                self.completed(&mut st, bio);
                node = next;
            }
            let again = self.advance(&mut st);
            self.stepping.store(false, Ordering::SeqCst);
            // SAFETY: as above.
            if !again && unsafe { bindings::blkcopy_llist_empty(self.done.get()) } {
                return st.ending.take();
            }
        }
    }

    /// Accounts one ended bio.
    fn completed(self: &Arc<Self>, st: &mut State, bio: JobBio) {
        self.inflight.fetch_sub(1, Ordering::AcqRel);
        let ok = bio.status() == 0;
        let kind = bio.ctx().kind;
        match kind {
            // Locating halves copy nothing; where they landed is recorded.
            IoKind::Half(HalfKind { locate: true, .. }) => {}
            IoKind::Half(HalfKind { pair, off, write, locate: false }) => {
                let len = u64::from(bio.size());
                let s = self.pairs[pair as usize];
                if !ok {
                    let reason = if bio.status() == bindings::BLKCOPY_STS_NOTSUPP {
                        bio.ctx().reason
                    } else {
                        Reason::DeviceError
                    };
                    // A read half that found no source and the write half
                    // of the same bytes would count twice: count writes
                    // only where a source had been recorded.
                    if !write || self.tokens.lock()[pair as usize].pair(off, len).any(|p| p.src.is_some()) {
                        st.reasons[reason as usize] += len;
                    }
                } else if write {
                    let l = s.lstart + off;
                    // An extent the set cannot hold is copied again by the
                    // fallback: wasteful, never wrong.
                    if st.offloaded.insert(l, len).is_ok() {
                        let _ = st.copied.insert(l, len);
                    }
                }
            }
            IoKind::FbRead { slot, loff, len } => {
                if !ok || self.cancel.load(Ordering::Acquire) || st.status != 0 {
                    if !ok && st.status == 0 {
                        st.status = EIO.to_errno();
                        st.read_failed = true;
                    }
                    st.fb.release(slot, 0);
                } else {
                    // MUTATION (Documentation/testing.rst, never in a real
                    // build): the second chunk is read and never written.
                    #[cfg(blkcopy_mutation = "fallback_skip_chunk")]
                    if loff == crate::fallback::FB_CHUNK as u64 {
                        let _ = st.copied.insert(loff, u64::from(len));
                        st.fb.release(slot, len);
                        drop(bio);
                        return;
                    }
                    // Reuse the slot's pages for the write.
                    drop(bio);
                    if let Err(e) = self.submit_fb(&st.fb, slot, loff, len, true) {
                        st.status = e.to_errno();
                        st.fb.release(slot, 0);
                    }
                    return;
                }
            }
            IoKind::FbWrite { slot, loff, len } => {
                if ok {
                    let _ = st.copied.insert(loff, u64::from(len));
                    st.fb.release(slot, len);
                } else {
                    if st.status == 0 {
                        st.status = EIO.to_errno();
                    }
                    st.fb.release(slot, 0);
                }
            }
        }
        drop(bio);
    }

    /// Moves the job on as far as it can; true when halves it submitted
    /// all ended already (their completions are on `done`: go on).
    fn advance(self: &Arc<Self>, st: &mut State) -> bool {
        loop {
            match st.phase {
                Phase::Start => {
                    st.phase = Phase::ReadHalves;
                    let locate_only = self.flags & (FLAG_NO_OFFLOAD | FLAG_LOCATE) != 0;
                    for i in 0..self.segs.len() {
                        if let Err(e) = self.submit_read_half(i, locate_only) {
                            st.status = e.to_errno();
                            break;
                        }
                    }
                    // (A job that only locates its source has no destination:
                    // its source is its destination, located once.)
                    let locate_dst = self.flags & FLAG_LOCATE == 0;
                    for i in 0..self.pairs.len() {
                        if st.status != 0 || !locate_dst {
                            break;
                        }
                        if let Err(e) = self.submit_write_half(i, true) {
                            st.status = e.to_errno();
                        }
                    }
                    return !self.busy();
                }
                Phase::ReadHalves => {
                    if self.busy() {
                        return false;
                    }
                    if self.flags & FLAG_LOCATE != 0 {
                        // The layers' holds stay until the caller is done
                        // with the disks (`Located`).
                        st.phase = Phase::Done;
                        continue;
                    }
                    if st.status == 0 {
                        if let Err(r) = self.check_landings() {
                            st.status = r.errno.to_errno();
                            st.rule = r.rule;
                        }
                    }
                    if st.status != 0 {
                        // Nothing was written: the copy ends here.
                        st.phase = Phase::Done;
                        continue;
                    }
                    if self.flags & FLAG_NO_OFFLOAD != 0 {
                        st.reasons[Reason::Disabled as usize] += self.total;
                        self.release_holds();
                        st.phase = Phase::Fallback;
                        continue;
                    }
                    st.phase = Phase::WriteHalves;
                    let cancelled = self.cancel.load(Ordering::Acquire);
                    for i in 0..self.pairs.len() {
                        if cancelled {
                            break;
                        }
                        let has_src = self.tokens.lock()[i].recorded() > 0;
                        if has_src {
                            if let Err(e) = self.submit_write_half(i, false) {
                                st.status = e.to_errno();
                                break;
                            }
                        }
                    }
                    return !self.busy();
                }
                Phase::WriteHalves => {
                    if self.busy() {
                        return false;
                    }
                    // Every half has ended: the layers' mappings are no
                    // longer needed (the fallback's I/O goes through the
                    // layers like any I/O).
                    self.release_holds();
                    st.phase = Phase::Fallback;
                }
                Phase::Fallback => {
                    if !st.planned {
                        st.planned = true;
                        if let Err(r) = self.plan_fallback(st) {
                            st.status = r.errno.to_errno();
                            st.rule = r.rule;
                        }
                    }
                    let work_left = st.fb.work_left();
                    if st.status == 0 && !self.cancel.load(Ordering::Acquire) && work_left && !st.fb.has_buffers() {
                        // None when memory is short and the reserve is
                        // empty: the job is kicked when a buffer is back.
                        if let Err(e) = st.fb.take_buffers(self.block_size(), &self.core.reserve, |head| self.wait_for_reserve(head)) {
                            st.status = e.to_errno();
                        }
                    }
                    if st.status == 0 && !self.cancel.load(Ordering::Acquire) {
                        if let Err(e) = self.fill_slots(st) {
                            st.status = e.to_errno();
                        }
                    }
                    let work_left = st.fb.work_left();
                    let stopping = st.status != 0 || self.cancel.load(Ordering::Acquire);
                    if !self.busy() && (!work_left || stopping) {
                        st.phase = Phase::Done;
                        continue;
                    }
                    return false;
                }
                Phase::Done => {
                    self.finish(st);
                    return false;
                }
            }
        }
    }

    /// The larger logical block size of the two devices: the fallback's
    /// buffers hold whole blocks of both.
    fn block_size(&self) -> usize {
        self.src.logical_block_size().max(self.dst.logical_block_size()) as usize
    }

    fn busy(&self) -> bool {
        self.inflight.load(Ordering::Acquire) != 0
    }

    /// Allocates a bio of this job; it counts as in flight until the work
    /// function has accounted its end.
    pub(crate) fn alloc_bio(
        self: &Arc<Self>,
        bdev: Bdev<'static>,
        nr_vecs: u16,
        op: u32,
        sector: u64,
        kind: IoKind,
        reason: Reason,
    ) -> Result<JobBio> {
        let ctx = BioCtx {
            node: bindings::llist_node { next: core::ptr::null_mut() },
            job: self.clone(),
            kind,
            reason,
        };
        let bio = self.core.bioset.alloc(bdev, nr_vecs, op, sector, Self::end_io, ctx, bindings::BLKCOPY_GFP_NOIO)?;
        self.inflight.fetch_add(1, Ordering::AcqRel);
        Ok(bio)
    }

    /// Sends segment `i`'s read half down the stack: it records where the
    /// segment's source lands and, unless `locate`, in its pair's token.
    fn submit_read_half(self: &Arc<Self>, i: usize, locate: bool) -> Result {
        let s = self.segs[i];
        let off = s.lstart - self.pairs[s.pair as usize].lstart;
        let kind = IoKind::Half(HalfKind { pair: s.pair, off, write: false, locate });
        let op = bindings::blkcopy_req_op_REQ_OP_COPY_READ;
        let mut bio = self.alloc_bio(self.src, 0, op, s.src >> 9, kind, Reason::NoProvider)?;
        bio.set_size(s.len as u32);
        route::submit_half(bio);
        Ok(())
    }

    /// Sends pair `i`'s write half down the stack (`locate`: only to
    /// record where the destination lands).
    fn submit_write_half(self: &Arc<Self>, i: usize, locate: bool) -> Result {
        let p = self.pairs[i];
        let kind = IoKind::Half(HalfKind { pair: i as u32, off: 0, write: true, locate });
        let op = bindings::blkcopy_req_op_REQ_OP_COPY_WRITE;
        let mut bio = self.alloc_bio(self.dst, 0, op, p.dst >> 9, kind, Reason::NoProvider)?;
        bio.set_size(p.len as u32);
        route::submit_half(bio);
        Ok(())
    }

    /// Whether the copy may write: every piece landed where no destination
    /// overlaps a source or another destination (`EINVAL` otherwise, and
    /// `ENOMEM` when a landing could not be recorded).
    fn check_landings(&self) -> Checked<()> {
        if self.routing.landing_lost.load(Ordering::Acquire) {
            return Err(ENOMEM.into());
        }
        let mut landings = self.routing.landings.lock();
        match landing::first_conflict(&mut landings) {
            None => Ok(()),
            Some((a, b)) => {
                pr_debug!(
                    "copy refused: destination overlaps {} on the disk below ({}+{} and {}+{} bytes)\n",
                    if a.dst && b.dst { "another destination" } else { "the source" },
                    a.start,
                    a.len,
                    b.start,
                    b.len
                );
                // The destination piece, where it overlaps.
                let at = if b.dst { b.start } else { a.start };
                Err(refuse(EINVAL, Rule::of(bindings::BLKCOPY_ERROR_OVERLAP_BELOW).with_value(at)))
            }
        }
    }

    /// Plans the fallback's work (no allocation: its room was taken when
    /// the job was created).
    fn plan_fallback(&self, st: &mut State) -> Checked<()> {
        st.fb.plan(st.copied.gaps(self.total), self.block_size())?;
        if st.fb.work_left() && self.flags & FLAG_OFFLOAD_ONLY != 0 {
            st.fb.clear();
            let left = self.total.saturating_sub(st.offloaded.total());
            let rule = Rule::of(bindings::BLKCOPY_ERROR_NOT_OFFLOADED).with_value(left);
            return Err(refuse(crate::kernel_ext::code::eopnotsupp(), rule));
        }
        Ok(())
    }

    /// Waits for a reserve buffer: `head` is the reserve's list of waiting
    /// jobs (used under its lock). The job is kicked when a buffer is back.
    fn wait_for_reserve(self: &Arc<Self>, head: *mut bindings::llist_head) {
        if self.reserve_wait.waiting.swap(true, Ordering::AcqRel) {
            return;
        }
        let raw = Arc::into_raw(self.clone());
        // SAFETY: `raw` is a live job whose link is unused while `waiting`
        // (set above) is; the list keeps the reference `into_raw` gave.
        unsafe { bindings::blkcopy_llist_add((*raw).reserve_wait.link.get(), head) };
    }

    /// Kicks the jobs of a list of waiting jobs taken off the reserve.
    ///
    /// # Safety
    ///
    /// `node` heads a list of reserve links of jobs queued by
    /// `wait_for_reserve`, each owning the reference it took.
    unsafe fn reserve_waiters_kick(mut node: *mut bindings::llist_node) {
        while !node.is_null() {
            let off = core::mem::offset_of!(CopyJob, reserve_wait.link);
            // SAFETY: per the contract `node` is a job's reserve link:
            // the job starts `off` bytes before it; `next` is read before
            // the job may be released.
            let job = unsafe {
                let next = (*node).next;
                let job = Arc::from_raw((node as *const u8).sub(off) as *const CopyJob);
                node = next;
                job
            };
            job.reserve_wait.waiting.store(false, Ordering::Release);
            job.kick();
        }
    }

    /// Starts reads into every idle buffer while work remains.
    fn fill_slots(self: &Arc<Self>, st: &mut State) -> Result {
        let seg_end = |loff| self.seg_of(loff).map(|(_, s)| s.lstart + s.len);
        while let Some((slot, loff, len)) = st.fb.next_read(seg_end) {
            if let Err(e) = self.submit_fb(&st.fb, slot, loff, len, false) {
                st.fb.release(slot, 0);
                return Err(e);
            }
        }
        Ok(())
    }

    fn submit_fb(self: &Arc<Self>, fb: &Fallback, slot: u8, loff: u64, len: u32, write: bool) -> Result {
        let (_, seg) = self.seg_of(loff).ok_or(EINVAL)?;
        let within = loff - seg.lstart;
        let (bdev, pos, op, kind) = if write {
            (self.dst, seg.dst + within, bindings::req_op_REQ_OP_WRITE, IoKind::FbWrite { slot, loff, len })
        } else {
            (self.src, seg.src + within, bindings::req_op_REQ_OP_READ, IoKind::FbRead { slot, loff, len })
        };
        let npages = (len as usize).div_ceil(PAGE_SIZE);
        let mut bio = self.alloc_bio(bdev, npages as u16, op, pos >> 9, kind, Reason::NoProvider)?;
        let mut left = len as usize;
        for page in fb.pages(slot).iter().take(npages) {
            let n = left.min(PAGE_SIZE);
            if let Err(e) = bio.add_page(page, n as u32, 0) {
                // Never submitted: account it as ended here.
                drop(bio);
                self.inflight.fetch_sub(1, Ordering::AcqRel);
                return Err(e);
            }
            left -= n;
        }
        bio.submit();
        Ok(())
    }

    /// Records a stacking layer's hold on its mapping; released once the
    /// offload attempt is over.
    pub(crate) fn hold(&self, release: unsafe extern "C" fn(*mut c_void), arg: *mut c_void) -> Result {
        self.routing.holds.lock().push(Hold { release, arg }, GFP_KERNEL)?;
        Ok(())
    }

    fn release_holds(&self) {
        let holds = core::mem::replace(&mut *self.routing.holds.lock(), KVec::new());
        for h in holds.iter() {
            // SAFETY: the layer's release callback with its argument,
            // called once, in process context.
            unsafe { (h.release)(h.arg) };
        }
    }

    fn finish(&self, st: &mut State) {
        // A locating job's holds stay with its `Located`.
        let locating = self.flags & FLAG_LOCATE != 0;
        if !locating {
            self.release_holds();
        }
        // The buffers go back to the pool, or to the reserve.
        st.fb.drop_buffers();
        let copied = st.copied.prefix();
        let mut status = st.status;
        if status == 0 && copied < self.total && !locating {
            status = if self.cancel.load(Ordering::Acquire) { EINTR.to_errno() } else { EIO.to_errno() };
        }
        let res = CopyResult { status, copied, offloaded: st.offloaded.total(), read_failed: st.read_failed, rule: st.rule };
        if !locating {
            self.core.stats.job_finished(self.src, self.dst, &res, st.fb.emulated(), &st.reasons);
        }
        st.ending = self.notify.lock().take().map(|n| (n, res));
    }

    /// Tells the caller how the job ended (no lock of the job held).
    fn notify(notify: Notify, res: &CopyResult) {
        match notify {
            Notify::Driver(w) => w.copy_done(res),
            Notify::Done(d) => d.copy_done(res),
            Notify::Stepped(t) => t.copy_done(res),
        }
    }
}

/// Where a device's blocks land below the stacking layers and partitions:
/// the distinct disks (the device's own disk where nothing remaps it), as
/// a copy's halves find them. The layers' mappings are held while this
/// lives, so the disks stay valid for probing providers.
pub(crate) struct Located {
    job: Arc<CopyJob>,
    disks: KVec<u64>,
}

impl Located {
    /// Locates all of `bdev` (a job that only locates: no I/O, no stats).
    pub(crate) fn new(core: &'static Core, bdev: Bdev<'_>) -> Result<Self> {
        let waiter = Waiter::new()?;
        let r = [CopyRange { src: 0, dst: 0, len: bdev.size() }];
        // SAFETY: the caller's device stays open during this call, and
        // `drive` returns only once the job has notified the waiter.
        let job = unsafe { CopyJob::start(core, bdev, bdev, &r, FLAG_LOCATE, Notify::Driver(waiter.clone())) }?;
        job.drive();
        // From here every return releases the holds (`Drop`).
        let mut this = Self { job, disks: KVec::new() };
        let status = waiter.result().status;
        if status != 0 {
            return Err(Error::from_errno(status));
        }
        for l in this.job.routing.landings.lock().iter() {
            if !this.disks.iter().any(|&d| d == l.disk) {
                this.disks.push(l.disk, GFP_KERNEL)?;
            }
        }
        Ok(this)
    }

    /// The disks, each live while `self` is.
    pub(crate) fn disks(&self) -> &[u64] {
        &self.disks
    }
}

impl Drop for Located {
    fn drop(&mut self) {
        self.job.release_holds();
    }
}

impl RoutedCopy for CopyJob {
    type Ctx = BioCtx;

    fn registry(&self) -> &Registry {
        &self.core.registry
    }

    fn record_landing(&self, disk: u64, pos: u64, len: u64, dst: bool) {
        let l = Landing { disk, start: pos, len, dst };
        // Routing runs on the I/O path (the job's work item among others).
        let _noio = NoIo::enter();
        if self.routing.landings.lock().push(l, GFP_KERNEL).is_err() {
            self.routing.landing_lost.store(true, Ordering::Release);
        }
    }

    fn record_source(&self, pair: u32, off: u64, len: u64, disk: u64, pos: u64) -> bool {
        self.tokens.lock()[pair as usize].record(off, len, disk, pos).is_ok()
    }

    fn queue_half(&self, bio: JobBio) -> bool {
        let raw = bio.into_raw();
        // SAFETY: a live bio of the job's set, handed to the queue; its
        // context's node links nothing until the half has ended.
        unsafe {
            let ctx = JobBio::ctx_of(raw);
            bindings::blkcopy_llist_add(core::ptr::addr_of_mut!((*ctx).node), self.routing.queue.get());
        }
        !self.routing.active.swap(true, Ordering::SeqCst)
    }

    fn take_queued_halves(&self) -> impl Iterator<Item = JobBio> {
        // SAFETY: a valid llist head; its nodes are contexts of queued
        // halves, which now belong to the returned list.
        let mut n = unsafe { bindings::blkcopy_llist_del_all(self.routing.queue.get()) };
        let mut oldest_first = core::ptr::null_mut();
        while !n.is_null() {
            // SAFETY: `n` is a node taken off the queue above.
            unsafe {
                let next = (*n).next;
                (*n).next = oldest_first;
                oldest_first = n;
                n = next;
            }
        }
        QueuedHalves(oldest_first)
    }

    fn halves_queued(&self) -> bool {
        // SAFETY: a valid llist head.
        !unsafe { bindings::blkcopy_llist_empty(self.routing.queue.get()) }
    }

    fn end_routing(&self) -> bool {
        self.routing.active.store(false, Ordering::SeqCst);
        self.halves_queued() && !self.routing.active.swap(true, Ordering::SeqCst)
    }

    fn cmd_ranges(&self) -> impl core::ops::DerefMut<Target = [bindings::blkcopy_src_range; MAX_CMD_RANGES]> + '_ {
        CmdRanges(self.routing.cmd_ranges.lock())
    }

    fn next_command(&self, pair: u32, off: u64, len: u64, lim: &Limits, put: impl FnMut(usize, SrcRange)) -> Command {
        let tokens = self.tokens.lock();
        match tokens.get(pair as usize) {
            Some(t) => command::next_command(t.pair(off, len.min(lim.max_bytes)), lim, put),
            None => Command::Empty,
        }
    }
}

/// The locked buffer of a job's device command source ranges.
struct CmdRanges<'a>(kernel::sync::lock::Guard<'a, KBox<[bindings::blkcopy_src_range; MAX_CMD_RANGES]>, kernel::sync::lock::mutex::MutexBackend>);

impl core::ops::Deref for CmdRanges<'_> {
    type Target = [bindings::blkcopy_src_range; MAX_CMD_RANGES];

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for CmdRanges<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
