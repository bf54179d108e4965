// SPDX-License-Identifier: GPL-2.0

//! Raw bindings: the kernel crate's, plus the project's own for headers the
//! kernel crate does not bind (see `rust/bindings/bindings_helper.h`).
//!
//! The generated file binds only items declared in the allowlisted headers
//! (`--no-recursive-allowlist`); every other type it names resolves to the
//! kernel crate's definition through the glob import, so pointers passed
//! between the two sets of bindings have one type.

#![allow(
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

pub use kernel::bindings::*;
use kernel::ffi;

include!("../bindings/blkcopy_bindings_generated.rs");
