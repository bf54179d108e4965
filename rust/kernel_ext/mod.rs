// SPDX-License-Identifier: GPL-2.0

//! Kernel interfaces blkcopy needs that the 6.12 `kernel` crate lacks.
//!
//! Each blkcopy module is its own crate and includes this directory with
//! `#[path = "../rust/kernel_ext/mod.rs"] mod kernel_ext;`. Raw FFI stays in
//! [`bindings`]; drivers use the safe wrappers next to it.

// The items are the API the modules use, so they are `pub`; inside any one
// module crate the directory is a private module, which makes them
// unreachable from outside that crate by construction.
#![allow(unreachable_pub)]
// Each module uses the part of this library it needs.
#![allow(dead_code)]

pub mod bindings;
pub mod bio;
pub mod block;
pub mod completion;
pub mod debugfs;
pub mod dm;
pub mod drain;
pub mod kcopyd;
pub mod miscdev;
pub mod provider;
pub mod uring_cmd;
pub mod workqueue;

/// A scope in which allocations do not start I/O (`memalloc_noio_save()`):
/// for code on the I/O path that calls allocating interfaces.
pub struct NoIo(u32, core::marker::PhantomData<*mut ()>);

impl NoIo {
    /// Enters the scope until the guard is dropped.
    pub fn enter() -> Self {
        // SAFETY: no preconditions; restored by `drop` on this task.
        Self(unsafe { bindings::blkcopy_memalloc_noio_save() }, core::marker::PhantomData)
    }
}

impl Drop for NoIo {
    fn drop(&mut self) {
        // SAFETY: the flags `enter` saved, on the same task (the guard is
        // not `Send`).
        unsafe { bindings::blkcopy_memalloc_noio_restore(self.0) };
    }
}

/// Error codes the 6.12 kernel crate does not declare.
pub mod code {
    use super::bindings;
    use kernel::error::Error;

    /// `EOVERFLOW`: value too large for defined data type.
    pub fn eoverflow() -> Error {
        Error::from_errno(-(bindings::EOVERFLOW as i32))
    }

    /// `ECANCELED`: operation canceled.
    pub fn ecanceled() -> Error {
        Error::from_errno(-(bindings::ECANCELED as i32))
    }

    /// `EOPNOTSUPP`: operation not supported.
    pub fn eopnotsupp() -> Error {
        Error::from_errno(-(bindings::EOPNOTSUPP as i32))
    }
}
