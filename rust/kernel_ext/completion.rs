// SPDX-License-Identifier: GPL-2.0

//! `struct completion` (include/linux/completion.h): one-shot events to
//! wait for.

use kernel::error::{code::*, Result};
use kernel::init::PinInit;
use kernel::types::Opaque;

use super::bindings;

/// A completion.
#[repr(transparent)]
pub struct Completion {
    c: Opaque<bindings::completion>,
}

// SAFETY: completions are made to be signalled and waited for from any
// context (they have their own lock).
unsafe impl Sync for Completion {}
// SAFETY: as above.
unsafe impl Send for Completion {}

impl Completion {
    /// A completion that has not happened yet.
    pub fn new() -> impl PinInit<Self> {
        // SAFETY: `init_completion` initialises the whole structure in place.
        unsafe {
            kernel::init::pin_init_from_closure(|slot: *mut Self| {
                bindings::blkcopy_init_completion(Opaque::raw_get(core::ptr::addr_of_mut!((*slot).c)));
                Ok::<(), core::convert::Infallible>(())
            })
        }
    }

    /// Signals the event (callable from any context, including interrupts).
    pub fn complete(&self) {
        // SAFETY: initialised by `new`.
        unsafe { bindings::complete(self.c.get()) };
    }

    /// Waits for the event; a fatal signal ends the wait with `ERESTARTSYS`.
    pub fn wait_killable(&self) -> Result {
        // SAFETY: initialised by `new`.
        let ret = unsafe { bindings::wait_for_completion_killable(self.c.get()) };
        if ret == 0 {
            Ok(())
        } else {
            Err(ERESTARTSYS)
        }
    }

    /// Whether the event was signalled and not yet waited for.
    pub fn is_done(&self) -> bool {
        // SAFETY: initialised by `new`.
        unsafe { bindings::completion_done(self.c.get()) }
    }

    /// Waits for the event, ignoring signals.
    pub fn wait(&self) {
        // SAFETY: initialised by `new`.
        unsafe { bindings::wait_for_completion(self.c.get()) };
    }
}
