// SPDX-License-Identifier: GPL-2.0

//! Kernel interfaces blkcopy needs that the 6.12 `kernel` crate lacks.
//!
//! Each blkcopy module is its own crate and includes this directory with
//! `#[path = "../rust/kernel_ext/mod.rs"] mod kernel_ext;`. Raw FFI stays in
//! [`bindings`]; drivers use the safe wrappers next to it.

pub mod bindings;
pub mod miscdev;
