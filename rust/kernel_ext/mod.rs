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
pub mod miscdev;
pub mod provider;
pub mod workqueue;

/// Error codes the 6.12 kernel crate does not declare.
pub mod code {
    use super::bindings;
    use kernel::error::Error;

    /// `EOVERFLOW`: value too large for defined data type.
    pub fn eoverflow() -> Error {
        Error::from_errno(-(bindings::EOVERFLOW as i32))
    }

    /// `EOPNOTSUPP`: operation not supported.
    pub fn eopnotsupp() -> Error {
        Error::from_errno(-(bindings::EOPNOTSUPP as i32))
    }
}
