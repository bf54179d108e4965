// SPDX-License-Identifier: GPL-2.0

//! Runs every bad input of the BLKCOPY and BLKCOPY_INFO ioctls that the
//! uAPI documents and checks the errno each gets, and for a copy the rule
//! the kernel names (`struct blkcopy_error`: rule, range, value). Used by the VM test
//! tests/vm/cases/120-uapi-errors.sh, which also checks that none of them
//! changed a byte of the destination. With `--ring`, the same copies go
//! through io_uring (BLKCOPY_URING_COPY, its errno in the CQE), followed by
//! the malformed commands only the ring has.
//!
//! usage: blkcopy-uapi-check [--ring] SRC DST SRC4K PART_SMALL FILE
//!   SRC, DST   two 512-byte-block devices (DST gets the failed copies)
//!   SRC4K      a 4096-byte-block device
//!   PART_SMALL a partition of DST's disk, at most 64 MiB
//!   FILE       a regular file

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;

use blkcopy_uapi::uring::{UringCancel, UringCopy, UringResult, CANCEL_ALL, URING_CANCEL, URING_COPY};
use blkcopy_uapi::*;
use blkcopy_uapi_check::{errno_name, ioctl, res_errno, ring_cmd, Ring};

fn raw(ctl: &File, cmd: u64, arg: *mut libc::c_void) -> i32 {
    ioctl(ctl.as_raw_fd(), cmd, arg)
}

/// The ring the copies go through (`--ring`), or none (the ioctl).
static RING: std::sync::Mutex<Option<RefCell<Ring>>> = std::sync::Mutex::new(None);

/// BLKCOPY's arguments as a BLKCOPY_URING_COPY command: the same fields,
/// the ranges always through the pointer (a size that is not the
/// ioctl's stays as wrong for the ring).
fn as_uring(a: &Args) -> UringCopy {
    let size = if a.size as usize == std::mem::size_of::<Args>() { std::mem::size_of::<UringCopy>() as u32 } else { a.size };
    UringCopy {
        size,
        flags: a.flags,
        src_fd: a.src_fd,
        dst_fd: a.dst_fd,
        ranges: a.ranges,
        nr_ranges: a.nr_ranges,
        pad: a.pad,
        reserved: a.reserved.iter().fold(0, |x, r| x | r),
        ..Default::default()
    }
}

/// How a copy ended: its errno, and the rule the kernel named.
type Outcome = (i32, Refusal);

/// The refusal a check should name.
fn rule(rule: Rule, range: u32, value: u64) -> Refusal {
    Refusal { rule: rule as u32, range, value }
}

/// No rule named (the command could not be read, or an errno no check
/// gives).
const NONE: Refusal = Refusal { rule: 0, range: 0, value: 0 };

fn copy_with(ctl: &File, mut a: Args, ranges: &mut [Range]) -> Outcome {
    if a.ranges == 0 && !ranges.is_empty() {
        a.ranges = ranges.as_mut_ptr() as u64;
    }
    if let Some(ring) = RING.lock().unwrap().as_ref() {
        let mut out = UringResult::default();
        let mut c = as_uring(&a);
        c.result = &mut out as *mut UringResult as u64;
        c.result_size = std::mem::size_of::<UringResult>() as u32;
        let errno = res_errno(ring_cmd(&mut ring.borrow_mut(), ctl.as_raw_fd(), URING_COPY, &c).0);
        return (errno, out.error);
    }
    let errno = raw(ctl, BLKCOPY, &mut a as *mut Args as *mut _);
    (errno, a.error)
}

fn main() {
    let mut argv: Vec<String> = std::env::args().collect();
    let via_ring = argv.get(1).is_some_and(|a| a == "--ring");
    if via_ring {
        argv.remove(1);
        *RING.lock().unwrap() = Some(RefCell::new(Ring::builder().build(8).expect("io_uring with 128-byte SQEs")));
    }
    if argv.len() != 6 {
        eprintln!("usage: blkcopy-uapi-check [--ring] SRC DST SRC4K PART_SMALL FILE");
        std::process::exit(2);
    }
    let open = |p: &str, w: bool, r: bool| OpenOptions::new().read(r).write(w).open(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let ctl = open("/dev/blkcopy", true, true);
    let src = open(&argv[1], false, true);
    let dst = open(&argv[2], true, true);
    let src_wo = open(&argv[1], true, false);
    let dst_ro = open(&argv[2], false, true);
    let src4k = open(&argv[3], false, true);
    let part = open(&argv[4], true, true);
    let file = open(&argv[5], true, true);
    let rd = {
        let mut p = [0i32; 2];
        // SAFETY: `p` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        p[0]
    };
    let good = |s: i32, d: i32| Args {
        size: std::mem::size_of::<Args>() as u32,
        src_fd: s,
        dst_fd: d,
        nr_ranges: 1,
        ..Default::default()
    };
    let (s, d) = (src.as_raw_fd(), dst.as_raw_fd());
    let r1 = || [Range { src_offset: 0, dst_offset: 1 << 20, length: 1 << 20, reserved: 0 }];
    let part_size = {
        let mut sz = 0u64;
        const BLKGETSIZE64: u64 = (2u64 << 30) | (8 << 16) | (0x12 << 8) | 114;
        // SAFETY: writes one u64.
        unsafe { libc::ioctl(part.as_raw_fd(), BLKGETSIZE64 as _, &mut sz as *mut u64) };
        sz
    };

    let fails = std::cell::Cell::new(0);
    let check = |name: &str, got: i32, want: i32| {
        let ok = got == want;
        println!("{} {name}: {} (want {})", if ok { "ok" } else { "FAIL" }, errno_name(got), errno_name(want));
        if !ok {
            fails.set(fails.get() + 1);
        }
    };
    // A copy: the errno, and the rule with its range and value.
    let check_copy = |name: &str, got: Outcome, want: i32, want_rule: Refusal| {
        let show = |r: &Refusal| match Rule::from_code(r.rule) {
            Some(Rule::None) | None if r.rule == 0 => "no rule".to_string(),
            x => format!("{} range {} value {}", x.map_or("?", |x| x.name()), r.range as i32, r.value),
        };
        let ok = got.0 == want && got.1 == want_rule;
        println!(
            "{} {name}: {}, {} (want {}, {})",
            if ok { "ok" } else { "FAIL" },
            errno_name(got.0),
            show(&got.1),
            errno_name(want),
            show(&want_rule)
        );
        if !ok {
            fails.set(fails.get() + 1);
        }
    };

    let n = NO_RANGE;
    // Header fields. A command of another size is not read as this one:
    // no rule comes back.
    check_copy("size zero", copy_with(&ctl, Args { size: 0, ..good(s, d) }, &mut r1()), libc::EINVAL, NONE);
    check_copy("size larger", copy_with(&ctl, Args { size: 4096, ..good(s, d) }, &mut r1()), libc::EINVAL, NONE);
    check_copy("unknown flag", copy_with(&ctl, Args { flags: 1 << 7, ..good(s, d) }, &mut r1()), libc::EINVAL, rule(Rule::Flags, n, 0));
    check_copy(
        "offload-only with no-offload",
        copy_with(&ctl, Args { flags: FLAG_OFFLOAD_ONLY | FLAG_NO_OFFLOAD, ..good(s, d) }, &mut r1()),
        libc::EINVAL,
        rule(Rule::Flags, n, 0),
    );
    check_copy("pad nonzero", copy_with(&ctl, Args { pad: 1, ..good(s, d) }, &mut r1()), libc::EINVAL, rule(Rule::Struct, n, 0));
    check_copy(
        "reserved nonzero",
        copy_with(&ctl, Args { reserved: [0, 7], ..good(s, d) }, &mut r1()),
        libc::EINVAL,
        rule(Rule::Struct, n, 0),
    );
    let mr = MAX_RANGES as u64;
    check_copy("no ranges", copy_with(&ctl, Args { nr_ranges: 0, ..good(s, d) }, &mut r1()), libc::EINVAL, rule(Rule::NrRanges, n, mr));
    let mut many = vec![Range::default(); MAX_RANGES + 1];
    check_copy(
        "too many ranges",
        copy_with(&ctl, Args { nr_ranges: (MAX_RANGES + 1) as u32, ..good(s, d) }, &mut many),
        libc::EINVAL,
        rule(Rule::NrRanges, n, mr),
    );
    let mut rr = [r1()[0], r1()[0]];
    rr[1].reserved = 1;
    check_copy(
        "range reserved nonzero",
        copy_with(&ctl, Args { nr_ranges: 2, ..good(s, d) }, &mut rr),
        libc::EINVAL,
        rule(Rule::RangeReserved, 1, 0),
    );

    // Descriptors.
    let sfd = rule(Rule::SrcFd, n, 0);
    let dfd = rule(Rule::DstFd, n, 0);
    check_copy("source fd not open", copy_with(&ctl, good(1000, d), &mut r1()), libc::EBADF, sfd);
    check_copy("destination fd negative", copy_with(&ctl, good(s, -1), &mut r1()), libc::EBADF, dfd);
    check_copy("source is a regular file", copy_with(&ctl, good(file.as_raw_fd(), d), &mut r1()), libc::ENOTBLK, sfd);
    check_copy("destination is a regular file", copy_with(&ctl, good(s, file.as_raw_fd()), &mut r1()), libc::ENOTBLK, dfd);
    check_copy("source is a pipe", copy_with(&ctl, good(rd, d), &mut r1()), libc::ENOTBLK, sfd);
    check_copy("source opened write-only", copy_with(&ctl, good(src_wo.as_raw_fd(), d), &mut r1()), libc::EBADF, sfd);
    check_copy("destination opened read-only", copy_with(&ctl, good(s, dst_ro.as_raw_fd()), &mut r1()), libc::EBADF, dfd);
    // BLKROSET on the destination, then back.
    {
        const BLKROSET: u64 = (0x12 << 8) | 93;
        let mut one: libc::c_int = 1;
        // SAFETY: BLKROSET reads an int.
        assert_eq!(unsafe { libc::ioctl(d, BLKROSET as _, &mut one as *mut libc::c_int) }, 0);
        check_copy(
            "destination read-only device",
            copy_with(&ctl, good(s, d), &mut r1()),
            libc::EPERM,
            rule(Rule::DstReadOnly, n, 0),
        );
        let mut zero: libc::c_int = 0;
        // SAFETY: as above.
        assert_eq!(unsafe { libc::ioctl(d, BLKROSET as _, &mut zero as *mut libc::c_int) }, 0);
    }

    // Ranges.
    let rg = |so: u64, d_: u64, l: u64| [Range { src_offset: so, dst_offset: d_, length: l, reserved: 0 }];
    let size_of_dev = |f: &File| {
        let mut sz = 0u64;
        const BLKGETSIZE64: u64 = (2u64 << 30) | (8 << 16) | (0x12 << 8) | 114;
        // SAFETY: writes one u64.
        unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64 as _, &mut sz as *mut u64) };
        sz
    };
    let (src_size, dst_size) = (size_of_dev(&src), size_of_dev(&dst));
    // (Writes 64 KiB at 100 MiB of DST, outside what 120 digests.) The error fields are output only: what the caller left there is
    // ignored.
    check_copy(
        "error fields set on input",
        copy_with(&ctl, Args { error: rule(Rule::Flags, 7, 7), ..good(s, d) }, &mut rg(0, 100 << 20, 65536)),
        0,
        NONE,
    );
    check_copy("zero length", copy_with(&ctl, good(s, d), &mut rg(0, 1 << 20, 0)), libc::EINVAL, rule(Rule::ZeroLength, 0, 0));
    check_copy("misaligned offset", copy_with(&ctl, good(s, d), &mut rg(100, 1 << 20, 4096)), libc::EINVAL, rule(Rule::Alignment, 0, 512));
    check_copy("misaligned length", copy_with(&ctl, good(s, d), &mut rg(0, 1 << 20, 1000)), libc::EINVAL, rule(Rule::Alignment, 0, 512));
    let s4 = src4k.as_raw_fd();
    check_copy(
        "aligned to 512 but not to the larger 4096",
        copy_with(&ctl, good(s4, d), &mut rg(0, (1 << 20) + 512, 4096)),
        libc::EINVAL,
        rule(Rule::Alignment, 0, 4096),
    );
    check_copy(
        "offset + length overflows",
        copy_with(&ctl, good(s, d), &mut rg(u64::MAX - 511, 1 << 20, 1024)),
        libc::EOVERFLOW,
        rule(Rule::Overflow, 0, 0),
    );
    check_copy(
        "beyond the end of the source",
        copy_with(&ctl, good(s, d), &mut rg((u64::MAX / 2) & !511, 1 << 20, 512)),
        libc::EINVAL,
        rule(Rule::SrcEnd, 0, src_size),
    );
    let mut third_past_end = [rg(0, 1 << 20, 4096)[0], rg(8192, 2 << 20, 4096)[0], rg(16384, dst_size - 4096, 8192)[0]];
    check_copy(
        "range 2 beyond the end of the destination",
        copy_with(&ctl, Args { nr_ranges: 3, ..good(s, d) }, &mut third_past_end),
        libc::EINVAL,
        rule(Rule::DstEnd, 2, dst_size),
    );
    check_copy(
        "beyond the end of a partition",
        copy_with(&ctl, good(s, part.as_raw_fd()), &mut rg(0, part_size - 4096, 8192)),
        libc::EINVAL,
        rule(Rule::DstEnd, 0, part_size),
    );
    check_copy(
        "overlap on one device",
        copy_with(&ctl, good(d, d), &mut rg(1 << 20, (1 << 20) + 4096, 65536)),
        libc::EINVAL,
        rule(Rule::OverlapSrc, 0, 0),
    );
    let mut cross = [
        Range { src_offset: 0, dst_offset: 8 << 20, length: 1 << 20, reserved: 0 },
        Range { src_offset: 8 << 20, dst_offset: 16 << 20, length: 1 << 20, reserved: 0 },
    ];
    check_copy(
        "a destination overlaps another range's source",
        copy_with(&ctl, Args { nr_ranges: 2, ..good(d, d) }, &mut cross),
        libc::EINVAL,
        rule(Rule::OverlapSrc, 0, 1),
    );
    let mut two_dst = [
        Range { src_offset: 0, dst_offset: 8 << 20, length: 1 << 20, reserved: 0 },
        Range { src_offset: 4 << 20, dst_offset: (8 << 20) + 4096, length: 4096, reserved: 0 },
    ];
    check_copy(
        "two destinations overlap",
        copy_with(&ctl, Args { nr_ranges: 2, ..good(s, d) }, &mut two_dst),
        libc::EINVAL,
        rule(Rule::OverlapDst, 1, 0),
    );
    check_copy("ranges pointer invalid", copy_with(&ctl, Args { ranges: 8, ..good(s, d) }, &mut []), libc::EFAULT, NONE);
    if via_ring {
        ring_only(&ctl, s, d, &check);
    } else {
        check("args pointer invalid", raw(&ctl, BLKCOPY, 8 as *mut _), libc::EFAULT);
        check("unknown ioctl", raw(&ctl, BLKCOPY + 0x100, std::ptr::null_mut()), libc::ENOTTY);
    }

    if via_ring {
        println!("{} failed", fails.get());
        std::process::exit(if fails.get() == 0 { 0 } else { 1 });
    }

    // BLKCOPY_INFO.
    let info = |fd: i32, fd2: i32, f: u32| {
        let mut i = Info { size: std::mem::size_of::<Info>() as u32, fd, fd2, flags: f, ..Default::default() };
        raw(&ctl, BLKCOPY_INFO, &mut i as *mut Info as *mut _)
    };
    check("info ok", info(s, d, 0), 0);
    check("info flags nonzero", info(s, -1, 1), libc::EINVAL);
    check("info fd2 bad", info(s, -2, 0), libc::EINVAL);
    check("info of a regular file", info(file.as_raw_fd(), -1, 0), libc::ENOTBLK);
    check("info of a closed fd", info(1000, -1, 0), libc::EBADF);

    // BLKCOPY_STATS.
    let stats = |f: &dyn Fn(&mut Stats)| {
        let mut st = Stats::default();
        f(&mut st);
        raw(&ctl, BLKCOPY_STATS, &mut st as *mut Stats as *mut _)
    };
    check("stats of device 0", stats(&|_| ()), 0);
    check("stats by fd", stats(&|st| (st.flags, st.fd) = (STATS_BY_FD, s)), 0);
    check("stats past the last device", stats(&|st| st.index = 1 << 20), libc::ENOENT);
    check("stats size wrong", stats(&|st| st.size = 8), libc::EINVAL);
    check("stats unknown flag", stats(&|st| st.flags = 2), libc::EINVAL);
    check("stats reserved nonzero", stats(&|st| st.reserved[3] = 1), libc::EINVAL);
    check("stats of a regular file", stats(&|st| (st.flags, st.fd) = (STATS_BY_FD, file.as_raw_fd())), libc::ENOTBLK);
    check("stats of a closed fd", stats(&|st| (st.flags, st.fd) = (STATS_BY_FD, 1000)), libc::EBADF);
    check("stats pointer invalid", raw(&ctl, BLKCOPY_STATS, 8 as *mut _), libc::EFAULT);

    println!("{} failed", fails.get());
    std::process::exit(if fails.get() == 0 { 0 } else { 1 });
}

/// The malformed commands only the ring has. The one copy that succeeds
/// (to learn that a bad result pointer fails it after the copy) writes
/// 64 KiB at 100 MiB of DST, outside what 120 digests.
fn ring_only(ctl: &File, s: i32, d: i32, check: &impl Fn(&str, i32, i32)) {
    let c = ctl.as_raw_fd();
    let guard = RING.lock().unwrap();
    let mut ring = guard.as_ref().unwrap().borrow_mut();
    let uc = |so: u64, d_: u64, l: u64| UringCopy {
        size: std::mem::size_of::<UringCopy>() as u32,
        src_fd: s,
        dst_fd: d,
        src_offset: so,
        dst_offset: d_,
        length: l,
        ..Default::default()
    };
    let mut r = |op: u32, cmd: &dyn Fn() -> UringCopy| res_errno(ring_cmd(&mut ring, c, op, &cmd()).0);
    check("inline range misaligned", r(URING_COPY, &|| uc(100, 1 << 20, 4096)), libc::EINVAL);
    check("inline range beyond the end", r(URING_COPY, &|| uc((u64::MAX / 2) & !511, 1 << 20, 512)), libc::EINVAL);
    let mut one = [Range { src_offset: 0, dst_offset: 1 << 20, length: 4096, reserved: 0 }];
    let p = one.as_mut_ptr() as u64;
    check(
        "inline range and a ranges pointer",
        r(URING_COPY, &|| UringCopy { ranges: p, nr_ranges: 1, ..uc(0, 1 << 20, 4096) }),
        libc::EINVAL,
    );
    check("ranges pointer with no ranges", r(URING_COPY, &|| UringCopy { ranges: p, ..uc(0, 0, 0) }), libc::EINVAL);
    check("inline range of length zero", r(URING_COPY, &|| uc(0, 1 << 20, 0)), libc::EINVAL);
    check("reserved nonzero", r(URING_COPY, &|| UringCopy { reserved: 1, ..uc(0, 1 << 20, 4096) }), libc::EINVAL);
    check("pad2 nonzero", r(URING_COPY, &|| UringCopy { pad2: 1, ..uc(0, 1 << 20, 4096) }), libc::EINVAL);
    let rs = std::mem::size_of::<UringResult>() as u32;
    let mut out = UringResult::default();
    let op = &mut out as *mut UringResult as u64;
    check("result without result_size", r(URING_COPY, &|| UringCopy { result: op, ..uc(0, 100 << 20, 65536) }), libc::EINVAL);
    check("result_size without result", r(URING_COPY, &|| UringCopy { result_size: rs, ..uc(0, 100 << 20, 65536) }), libc::EINVAL);
    check(
        "result_size of the first layout (16)",
        r(URING_COPY, &|| UringCopy { result: op, result_size: 16, ..uc(0, 100 << 20, 65536) }),
        libc::EINVAL,
    );
    check("unknown command", r(URING_COPY + 0x10, &|| uc(0, 1 << 20, 4096)), libc::ENOTTY);
    // A bad result pointer: the copy is done (its length in the CQE), and
    // the CQE says EFAULT.
    let (res, copied) = ring_cmd(&mut ring, c, URING_COPY, &UringCopy { result: 8, result_size: rs, ..uc(0, 100 << 20, 65536) });
    check("result pointer invalid", res_errno(res), libc::EFAULT);
    check("result pointer invalid: bytes copied in the CQE", if copied == 65536 { 0 } else { libc::EIO }, 0);
    let (res, copied) = ring_cmd(&mut ring, c, URING_COPY, &UringCopy { result: op, result_size: rs, ..uc(0, 100 << 20, 65536) });
    check("inline copy", res_errno(res), 0);
    check(
        "inline copy: result written, bytes in the CQE",
        if copied == 65536 && out.bytes_copied == 65536 && out.error == Refusal::default() { 0 } else { libc::EIO },
        0,
    );
    // BLKCOPY_URING_CANCEL.
    let cancel = |size: u32, flags: u32, reserved: u64| UringCancel { size, flags, user_data: 0x1234, reserved: [0, reserved] };
    let cs = std::mem::size_of::<UringCancel>() as u32;
    check("cancel: nothing to cancel", res_errno(ring_cmd(&mut ring, c, URING_CANCEL, &cancel(cs, 0, 0)).0), libc::ENOENT);
    check("cancel all: nothing to cancel", res_errno(ring_cmd(&mut ring, c, URING_CANCEL, &cancel(cs, CANCEL_ALL, 0)).0), libc::ENOENT);
    check("cancel: size wrong", res_errno(ring_cmd(&mut ring, c, URING_CANCEL, &cancel(cs + 8, 0, 0)).0), libc::EINVAL);
    check("cancel: unknown flag", res_errno(ring_cmd(&mut ring, c, URING_CANCEL, &cancel(cs, 2, 0)).0), libc::EINVAL);
    check("cancel: reserved nonzero", res_errno(ring_cmd(&mut ring, c, URING_CANCEL, &cancel(cs, 0, 1)).0), libc::EINVAL);
    drop(ring);
    // A ring with 64-byte SQEs: the command area has 16 bytes.
    let mut small: io_uring::IoUring = io_uring::IoUring::new(4).expect("io_uring");
    let e = io_uring::opcode::UringCmd16::new(io_uring::types::Fd(c), URING_COPY).build().user_data(1);
    // SAFETY: the entry points to nothing.
    unsafe { small.submission().push(&e).expect("sq") };
    small.submit_and_wait(1).expect("io_uring_enter");
    let res = small.completion().next().expect("cqe").result();
    check("64-byte SQE ring", res_errno(res), libc::EINVAL);
}
