// SPDX-License-Identifier: GPL-2.0

//! `blkcopy info`: BLKCOPY_INFO about a device, and about copying from it
//! to a second one.

use std::fs::File;
use std::os::fd::AsRawFd;

use clap::Args;
use serde::Serialize;

use crate::Fail;

#[derive(Args)]
pub(crate) struct InfoArgs {
    /// The block device.
    dev: String,
    /// A second block device: is a copy from DEV to it offloaded?
    dev2: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// `blkcopy info --json`.
#[derive(Serialize)]
struct InfoReport<'a> {
    device: &'a str,
    provider: &'static str,
    logical_block_size: u32,
    capacity: u64,
    max_copy_bytes: u64,
    max_ranges: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pair_offload: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pair_reason: Option<&'static str>,
}

pub(crate) fn run(a: InfoArgs) -> Result<(), Fail> {
    let open = |d: &str| File::open(d).map_err(|e| Fail(format!("{d}: {e}")));
    let f1 = open(&a.dev)?;
    let f2 = a.dev2.as_deref().map(open).transpose()?;
    let ctl = crate::control()?;
    let i = ctl.info(f1.as_raw_fd(), f2.as_ref().map(|f| f.as_raw_fd()))?;
    let r = InfoReport {
        device: &a.dev,
        provider: blkcopy_uapi::provider_name(i.provider),
        logical_block_size: i.logical_block_size,
        capacity: i.capacity,
        max_copy_bytes: i.max_copy_bytes,
        max_ranges: i.max_ranges,
        to: a.dev2.as_deref(),
        pair_offload: a.dev2.as_ref().map(|_| i.pair_offload != 0),
        pair_reason: a.dev2.as_ref().map(|_| blkcopy_uapi::reason_name(i.pair_reason)),
    };
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    println!("{}: provider {}, {} bytes, {}-byte blocks", r.device, r.provider, r.capacity, r.logical_block_size);
    if i.provider != 0 {
        println!("  max {} bytes and {} source ranges per device command", r.max_copy_bytes, r.max_ranges);
    }
    if let Some(d2) = r.to {
        if i.pair_offload != 0 {
            println!("  copy to {d2}: offloaded");
        } else {
            println!("  copy to {d2}: through the host ({})", blkcopy_uapi::reason_name(i.pair_reason));
        }
    }
    Ok(())
}
