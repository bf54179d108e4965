// SPDX-License-Identifier: GPL-2.0

//! Counting users that something must wait out before it goes away: a
//! mapping's holds, a provider's commands in flight. The last user to leave
//! wakes whoever waits (`wait_var_event()`/`wake_up_var()`, as the kernel's
//! own drains do), instead of the waiter polling.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::bindings;

/// A count of users, and a wait for it to drop to zero.
pub struct Drain(AtomicUsize);

impl Drain {
    /// No users.
    pub const fn new() -> Self {
        Self(AtomicUsize::new(0))
    }

    /// A user arrives.
    pub fn enter(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// A user leaves; the last one wakes the waiter. Any context.
    pub fn leave(&self) {
        if self.0.fetch_sub(1, Ordering::SeqCst) == 1 {
            // SAFETY: the counter's address is the wait variable; waking
            // has no other precondition (any context).
            unsafe { bindings::blkcopy_drain_wake(self.0.as_ptr() as *mut _) };
        }
    }

    /// Users now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    /// Sleeps until no user is left. Process context.
    pub fn wait(&self) {
        // SAFETY: the counter lives as long as `self`; the wait reads it
        // (as an unsigned long, its layout) until it is zero.
        unsafe { bindings::blkcopy_drain_wait(self.0.as_ptr() as *mut _) };
    }
}
