// SPDX-License-Identifier: GPL-2.0

//! Pure logic of blkcopy, free of kernel and OS dependencies.
//!
//! The kernel modules include these files with `#[path]` (they are part of
//! each module's crate), the userspace tools depend on this crate, and host
//! `cargo test` and the fuzz targets exercise it directly. Nothing here
//! allocates or panics on any input.

#![no_std]
#![forbid(unsafe_code)]

pub mod command;
pub mod extent;
pub mod landing;
pub mod nvme;
pub mod pairing;
pub mod plan;
pub mod range;
pub mod scsi;
pub mod split;
