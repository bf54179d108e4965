// SPDX-License-Identifier: GPL-2.0

//! Workqueues a module owns (the 6.12 kernel crate only wraps the system
//! ones): allocated with `alloc_workqueue`, destroyed (after draining) on
//! drop.

use core::ptr::NonNull;

use kernel::error::{code::*, Result};
use kernel::str::CStr;
use kernel::workqueue::Queue;

use super::bindings;

/// An owned workqueue.
pub struct OwnedQueue {
    wq: NonNull<bindings::workqueue_struct>,
}

// SAFETY: workqueues are made to be used from any thread.
unsafe impl Send for OwnedQueue {}
// SAFETY: as above.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// A queue named `name` with `WQ_*` `flags` and at most `max_active`
    /// items running at once (0: the default).
    pub fn new(name: &'static CStr, flags: u32, max_active: i32) -> Result<Self> {
        // SAFETY: `name` is a static string without format conversions.
        let wq = unsafe { bindings::alloc_workqueue(name.as_char_ptr(), flags, max_active) };
        Ok(Self { wq: NonNull::new(wq).ok_or(ENOMEM)? })
    }

    /// A queue whose items run one at a time, in order.
    pub fn ordered(name: &'static CStr, flags: u32) -> Result<Self> {
        Self::new(name, bindings::wq_flags_WQ_UNBOUND | bindings::wq_flags___WQ_ORDERED | flags, 1)
    }

    /// The queue, to enqueue work items on.
    pub fn queue(&self) -> &Queue {
        // SAFETY: the queue lives until `self` is dropped.
        unsafe { Queue::from_raw(self.wq.as_ptr()) }
    }
}

impl OwnedQueue {
    /// Waits until every work item queued before the call has finished.
    /// Must not be called from a work item of this queue.
    pub fn flush(&self) {
        // SAFETY: the queue is live; flushing may sleep (callers are in
        // process context by the contract above).
        unsafe { bindings::__flush_workqueue(self.wq.as_ptr()) };
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // SAFETY: allocated in `new`; destroying drains queued work first.
        unsafe { bindings::destroy_workqueue(self.wq.as_ptr()) };
    }
}
