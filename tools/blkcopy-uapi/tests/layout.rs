// SPDX-License-Identifier: GPL-2.0

//! The Rust structures and ioctl numbers match the C uAPI header, as the
//! host's C compiler lays it out.

use std::mem::{offset_of, size_of};
use std::process::Command;

use blkcopy_uapi::uring::*;
use blkcopy_uapi::*;

#[test]
fn matches_the_c_header() {
    let dir = std::env::temp_dir().join(format!("blkcopy-layout-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hdr = concat!(env!("CARGO_MANIFEST_DIR"), "/../../include/uapi/linux/blkcopy.h");
    let c = dir.join("layout.c");
    std::fs::write(
        &c,
        format!(
            r#"#include <stdio.h>
#include <stddef.h>
#include "{hdr}"
#define F(s, f) printf(#s "." #f " %zu\n", offsetof(struct s, f))
int main(void) {{
    printf("args %zu\nrange %zu\ninfo %zu\n", sizeof(struct blkcopy_args),
           sizeof(struct blkcopy_range), sizeof(struct blkcopy_info));
    printf("BLKCOPY %lu\nBLKCOPY_INFO %lu\n", (unsigned long)BLKCOPY, (unsigned long)BLKCOPY_INFO);
    F(blkcopy_args, ranges); F(blkcopy_args, nr_ranges); F(blkcopy_args, bytes_copied);
    F(blkcopy_args, bytes_offloaded); F(blkcopy_args, reserved);
    F(blkcopy_info, capacity); F(blkcopy_info, max_copy_bytes); F(blkcopy_info, max_ranges);
    F(blkcopy_info, pair_reason); F(blkcopy_info, reserved);
    printf("flags %u %u %u\n", BLKCOPY_FLAG_OFFLOAD_ONLY, BLKCOPY_FLAG_NO_OFFLOAD, BLKCOPY_MAX_RANGES);
    printf("uring_copy %zu\nuring_result %zu\nuring_cancel %zu\n", sizeof(struct blkcopy_uring_copy),
           sizeof(struct blkcopy_uring_result), sizeof(struct blkcopy_uring_cancel));
    printf("URING_COPY %lu\nURING_CANCEL %lu\nCANCEL_ALL %u\n", (unsigned long)BLKCOPY_URING_COPY,
           (unsigned long)BLKCOPY_URING_CANCEL, BLKCOPY_CANCEL_ALL);
    F(blkcopy_uring_copy, ranges); F(blkcopy_uring_copy, nr_ranges); F(blkcopy_uring_copy, src_offset);
    F(blkcopy_uring_copy, length); F(blkcopy_uring_copy, result); F(blkcopy_uring_copy, reserved);
    F(blkcopy_uring_result, bytes_offloaded); F(blkcopy_uring_cancel, user_data); F(blkcopy_uring_cancel, reserved);
    F(blkcopy_args, error); F(blkcopy_uring_copy, result_size); F(blkcopy_uring_result, error);
    printf("error %zu\n", sizeof(struct blkcopy_error));
    F(blkcopy_error, range); F(blkcopy_error, value);
    printf("stats %zu\nBLKCOPY_STATS %lu\n", sizeof(struct blkcopy_stats), (unsigned long)BLKCOPY_STATS);
    F(blkcopy_stats, index); F(blkcopy_stats, name); F(blkcopy_stats, copies); F(blkcopy_stats, fallback);
    F(blkcopy_stats, reserved);
    printf("stat consts %u %u %u %u\n", BLKCOPY_STATS_FALLBACKS, BLKCOPY_STATS_BY_FD, BLKCOPY_STAT_DISABLED, BLKCOPY_STAT_LIMITS);
    return 0;
}}
"#
        ),
    )
    .unwrap();
    let exe = dir.join("layout");
    let st = Command::new("cc").arg("-o").arg(&exe).arg(&c).status().expect("a C compiler");
    assert!(st.success(), "compiling the header failed");
    let out = String::from_utf8(Command::new(&exe).output().unwrap().stdout).unwrap();
    let want = format!(
        "args {}\nrange {}\ninfo {}\nBLKCOPY {}\nBLKCOPY_INFO {}\n\
         blkcopy_args.ranges {}\nblkcopy_args.nr_ranges {}\nblkcopy_args.bytes_copied {}\n\
         blkcopy_args.bytes_offloaded {}\nblkcopy_args.reserved {}\n\
         blkcopy_info.capacity {}\nblkcopy_info.max_copy_bytes {}\nblkcopy_info.max_ranges {}\n\
         blkcopy_info.pair_reason {}\nblkcopy_info.reserved {}\nflags {} {} {}\n\
         uring_copy {}\nuring_result {}\nuring_cancel {}\nURING_COPY {}\nURING_CANCEL {}\nCANCEL_ALL {}\n\
         blkcopy_uring_copy.ranges {}\nblkcopy_uring_copy.nr_ranges {}\nblkcopy_uring_copy.src_offset {}\n\
         blkcopy_uring_copy.length {}\nblkcopy_uring_copy.result {}\nblkcopy_uring_copy.reserved {}\n\
         blkcopy_uring_result.bytes_offloaded {}\nblkcopy_uring_cancel.user_data {}\nblkcopy_uring_cancel.reserved {}\n\
         blkcopy_args.error {}\nblkcopy_uring_copy.result_size {}\nblkcopy_uring_result.error {}\nerror {}\n\
         blkcopy_error.range {}\nblkcopy_error.value {}\n\
         stats {}\nBLKCOPY_STATS {}\nblkcopy_stats.index {}\nblkcopy_stats.name {}\nblkcopy_stats.copies {}\n\
         blkcopy_stats.fallback {}\nblkcopy_stats.reserved {}\nstat consts {} {} {} {}\n",
        size_of::<Args>(),
        size_of::<Range>(),
        size_of::<Info>(),
        BLKCOPY,
        BLKCOPY_INFO,
        offset_of!(Args, ranges),
        offset_of!(Args, nr_ranges),
        offset_of!(Args, bytes_copied),
        offset_of!(Args, bytes_offloaded),
        offset_of!(Args, reserved),
        offset_of!(Info, capacity),
        offset_of!(Info, max_copy_bytes),
        offset_of!(Info, max_ranges),
        offset_of!(Info, pair_reason),
        offset_of!(Info, reserved),
        FLAG_OFFLOAD_ONLY,
        FLAG_NO_OFFLOAD,
        MAX_RANGES,
        size_of::<UringCopy>(),
        size_of::<UringResult>(),
        size_of::<UringCancel>(),
        URING_COPY,
        URING_CANCEL,
        CANCEL_ALL,
        offset_of!(UringCopy, ranges),
        offset_of!(UringCopy, nr_ranges),
        offset_of!(UringCopy, src_offset),
        offset_of!(UringCopy, length),
        offset_of!(UringCopy, result),
        offset_of!(UringCopy, reserved),
        offset_of!(UringResult, bytes_offloaded),
        offset_of!(UringCancel, user_data),
        offset_of!(UringCancel, reserved),
        offset_of!(Args, error),
        offset_of!(UringCopy, result_size),
        offset_of!(UringResult, error),
        size_of::<Refusal>(),
        offset_of!(Refusal, range),
        offset_of!(Refusal, value),
        size_of::<Stats>(),
        BLKCOPY_STATS,
        offset_of!(Stats, index),
        offset_of!(Stats, name),
        offset_of!(Stats, copies),
        offset_of!(Stats, fallback),
        offset_of!(Stats, reserved),
        STATS_FALLBACKS,
        STATS_BY_FD,
        FALLBACK_REASONS.iter().position(|r| *r == "disabled").unwrap(),
        FALLBACK_REASONS.iter().position(|r| *r == "limits").unwrap(),
    );
    assert_eq!(out, want);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every `BLKCOPY_ERROR_*` of the header is a [`Rule`] with its number and
/// name, and there is no other.
#[test]
fn rules_match_the_c_header() {
    let hdr = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../include/uapi/linux/blkcopy.h")).unwrap();
    let mut seen = Vec::new();
    for l in hdr.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let ["#define", name, num, ..] = f.as_slice() {
            if let Some(n) = name.strip_prefix("BLKCOPY_ERROR_") {
                let code: u32 = num.parse().unwrap();
                let rule = Rule::from_code(code).unwrap_or_else(|| panic!("{name} ({code}) is no Rule"));
                assert_eq!(rule.name(), n.to_lowercase(), "{name}");
                seen.push(code);
            }
        }
    }
    assert_eq!(seen, (0..Rule::ALL.len() as u32).collect::<Vec<_>>());
    assert!(Rule::ALL.iter().enumerate().all(|(i, r)| *r as usize == i));
}
