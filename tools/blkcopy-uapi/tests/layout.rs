// SPDX-License-Identifier: GPL-2.0

//! The Rust structures and ioctl numbers match the C uAPI header, as the
//! host's C compiler lays it out.

use std::mem::{offset_of, size_of};
use std::process::Command;

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
         blkcopy_info.pair_reason {}\nblkcopy_info.reserved {}\nflags {} {} {}\n",
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
    );
    assert_eq!(out, want);
    let _ = std::fs::remove_dir_all(&dir);
}
