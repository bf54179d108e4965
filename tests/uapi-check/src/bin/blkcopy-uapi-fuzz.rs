// SPDX-License-Identifier: GPL-2.0

//! `blkcopy-uapi-fuzz`: a bounded fuzzer of `/dev/blkcopy` (VM test helper).
//!
//! ```text
//! blkcopy-uapi-fuzz [--ring] SEED CALLS SRC DST PART FILE
//! ```
//!
//! With `--ring` the copies (well-formed and random) go through io_uring
//! as BLKCOPY_URING_COPY commands instead, the random ones 1 to 8 in flight
//! at a time (a well-formed one alone, its bytes compared), the
//! range sometimes inline in the SQE, sometimes with a result pointer (good
//! or bad), and now and then a command of random bytes (copy or cancel
//! opcode) or an unknown opcode: every CQE must carry a documented errno
//! and, for a copy that succeeded, exactly the bytes it asked for.
//!
//! Makes CALLS `BLKCOPY` / `BLKCOPY_INFO` calls from a deterministic
//! generator seeded with SEED: descriptors drawn from block devices opened
//! read-only, write-only and read-write, a partition, a regular file, both
//! ends of a pipe, /dev/null, a closed descriptor and -1; random offsets
//! (aligned, misaligned, near the end, past it, near 2^64), lengths (0,
//! small, misaligned, huge), range counts (0 to past the limit), flags and
//! reserved fields, sizes, and now and then a bad pointer. Lengths of
//! copies that could be valid stay small, so that the run ends by itself.
//! Prints the count of each outcome; exits 1 if an outcome is not one the
//! uAPI documents (Documentation/blkcopy.rst), or if the kernel reported
//! copying more than it was asked to. One call in ten is a well-formed
//! copy (aligned ranges inside the devices, destinations apart, any flags)
//! whose result must be success, or EOPNOTSUPP for an offload-only copy
//! that cannot be offloaded, and whose destination bytes are compared
//! with the source's.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;

use blkcopy_uapi::uring::{cmd_bytes, UringCopy, UringResult, URING_CANCEL, URING_COPY};
use blkcopy_uapi::{Args, Info, Range, Rule, BLKCOPY, BLKCOPY_INFO, MAX_RANGES};
use blkcopy_uapi_check::{errno_name, ioctl, res_errno, Ring};
use io_uring::{opcode, types};

/// xorshift64*: small, deterministic, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The outcomes Documentation/blkcopy.rst documents for these calls
/// (ENOMEM and EIO as any I/O may end).
fn documented(e: i32) -> bool {
    [
        0,
        libc::EINVAL,
        libc::EBADF,
        libc::ENOTBLK,
        libc::EPERM,
        libc::EOVERFLOW,
        libc::EFAULT,
        libc::EOPNOTSUPP,
        libc::ETXTBSY,
        libc::EINTR,
        libc::ENOMEM,
        libc::EIO,
    ]
    .contains(&e)
}

/// A copy sent through the ring, kept until its CQE.
struct Sent {
    /// "valid" or "copy".
    kind: &'static str,
    ranges: Vec<Range>,
    result: Box<UringResult>,
    /// Bytes asked for (a copy that succeeds copies exactly these).
    total: u64,
    flags: u32,
    /// Read back through this descriptor index of `keep` (valid copies).
    back: usize,
    /// Random command bytes or opcode: any documented errno.
    garbage: bool,
}

/// The copies of the ring mode, sent in batches.
struct RingFuzz {
    ring: Ring,
    ctl: RawFd,
    batch: Vec<(UringCopy, Sent, u32, Option<[u8; 80]>)>,
}

impl RingFuzz {
    fn add(&mut self, mut c: UringCopy, sent: Sent, op: u32, raw: Option<[u8; 80]>, rng: &mut Rng) {
        // The one range inline in the SQE now and then.
        if c.nr_ranges == 1 && c.ranges == sent.ranges.as_ptr() as u64 && rng.chance(30) {
            let r = sent.ranges[0];
            (c.ranges, c.nr_ranges, c.src_offset, c.dst_offset, c.length) = (0, 0, r.src_offset, r.dst_offset, r.length);
        }
        self.batch.push((c, sent, op, raw));
    }

    /// Sends the batch (when it has `want` commands) and checks every CQE.
    fn flush(&mut self, want: usize, keep: &[File], outcomes: &mut BTreeMap<(&'static str, &'static str), u64>, bad: &mut u64) {
        if self.batch.len() < want {
            return;
        }
        let mut sent = Vec::new();
        for (i, (mut c, mut s, op, raw)) in self.batch.drain(..).enumerate() {
            if c.result == 1 {
                c.result = &mut *s.result as *mut UringResult as u64;
            }
            let bytes = raw.unwrap_or_else(|| cmd_bytes(&c));
            let e = opcode::UringCmd80::new(types::Fd(self.ctl), op).cmd(bytes).build().user_data(i as u64);
            // SAFETY: what the command points to (`s`'s ranges and result)
            // lives in `sent` until every CQE of the batch is reaped.
            unsafe { self.ring.submission().push(&e).expect("sq") };
            sent.push(s);
        }
        let n = sent.len();
        let mut got = 0;
        while got < n {
            match self.ring.submit_and_wait(n - got) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e) => panic!("io_uring_enter: {e}"),
            }
            for c in self.ring.completion() {
                got += 1;
                let s = &sent[c.user_data() as usize];
                let e = res_errno(c.result());
                *outcomes.entry((s.kind, errno_name(e))).or_default() += 1;
                let copied = c.big_cqe()[0];
                let wrong = if s.kind == "valid" {
                    match e {
                        0 => !s.ranges.iter().all(|r| same(&keep[2], r.src_offset, &keep[s.back], r.dst_offset, r.length)),
                        libc::EOPNOTSUPP => s.flags != 1,
                        _ => true,
                    }
                } else {
                    !(documented(e) || (s.garbage && [libc::ENOTTY, libc::ENOENT].contains(&e)))
                        || (e == 0 && !s.garbage && (copied != s.total || s.result.bytes_copied != copied))
                        || s.result.bytes_offloaded > s.result.bytes_copied
                        || Rule::from_code(s.result.error.rule).is_none()
                        || (e == 0 && s.result.error.rule != 0)
                };
                if wrong {
                    eprintln!("ring {}: {} copied {copied} of {} (flags {})", s.kind, errno_name(e), s.total, s.flags);
                    *bad += 1;
                }
            }
        }
    }
}

/// `BLKGETSIZE64`: _IOR(0x12, 114, size_t).
const BLKGETSIZE64: u64 = (2 << 30) | (8 << 16) | (0x12 << 8) | 114;

fn size_of(path: &str) -> u64 {
    let f = File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut n: u64 = 0;
    // SAFETY: BLKGETSIZE64 writes one u64.
    if unsafe { libc::ioctl(f.as_raw_fd(), BLKGETSIZE64 as _, &mut n) } != 0 {
        n = f.metadata().map(|m| m.len()).unwrap_or(0);
    }
    n
}

/// `len` bytes at `a_off` of `a` equal those at `b_off` of `b`.
fn same(a: &File, a_off: u64, b: &File, b_off: u64, len: u64) -> bool {
    let (mut x, mut y) = (vec![0u8; len as usize], vec![0u8; len as usize]);
    a.read_exact_at(&mut x, a_off).is_ok() && b.read_exact_at(&mut y, b_off).is_ok() && x == y
}

fn main() {
    let mut argv: Vec<String> = std::env::args().collect();
    let via_ring = argv.get(1).is_some_and(|a| a == "--ring");
    if via_ring {
        argv.remove(1);
    }
    if argv.len() != 7 {
        eprintln!("usage: blkcopy-uapi-fuzz [--ring] SEED CALLS SRC DST PART FILE");
        std::process::exit(2);
    }
    let seed: u64 = argv[1].parse().unwrap_or(1).max(1);
    let calls: u64 = argv[2].parse().unwrap_or(10_000);
    let (src, dst, part, file) = (&argv[3], &argv[4], &argv[5], &argv[6]);
    let open = |p: &str, r: bool, w: bool| OpenOptions::new().read(r).write(w).open(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let ctl = open("/dev/blkcopy", true, true);
    // Every kind of descriptor; the files stay open for the whole run.
    let mut keep = vec![
        open(src, true, false),
        open(src, false, true),
        open(src, true, true),
        open(dst, true, false),
        open(dst, false, true),
        open(dst, true, true),
        open(part, true, true),
        open(part, true, false),
        open(file, true, true),
        open("/dev/null", true, true),
    ];
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0, "pipe");
    let closed = {
        let f = open(file, true, false);
        f.as_raw_fd()
        // dropped here: the number is closed (and not reused: `keep` is
        // complete before, and nothing is opened after)
    };
    let mut fds: Vec<RawFd> = keep.iter().map(|f| f.as_raw_fd()).collect();
    fds.extend_from_slice(&pipe);
    fds.push(closed);
    fds.push(-1);
    fds.push(9999);
    let sizes = [size_of(src), size_of(dst), size_of(part)];
    let mut rng = Rng(seed);
    let mut outcomes: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut bad = 0u64;
    let mut ring = via_ring.then(|| RingFuzz {
        ring: Ring::builder().setup_cqsize(64).build(16).expect("io_uring with 128-byte SQEs"),
        ctl: ctl.as_raw_fd(),
        batch: Vec::new(),
    });
    let mut batch_want = 1;
    let mut ranges = vec![Range::default(); MAX_RANGES + 8];
    for _ in 0..calls {
        let a_fd = fds[rng.below(fds.len() as u64) as usize];
        let b_fd = fds[rng.below(fds.len() as u64) as usize];
        if rng.chance(15) {
            let mut info = Info {
                size: std::mem::size_of::<Info>() as u32,
                fd: a_fd,
                fd2: if rng.chance(50) { b_fd } else { -1 },
                ..Default::default()
            };
            if rng.chance(10) {
                info.size = rng.below(256) as u32;
            }
            if rng.chance(10) {
                info.flags = rng.next() as u32;
            }
            if rng.chance(5) {
                info.reserved[rng.below(4) as usize] = rng.next();
            }
            let arg = if rng.chance(3) { 16usize as *mut libc::c_void } else { &mut info as *mut Info as *mut _ };
            let e = ioctl(ctl.as_raw_fd(), BLKCOPY_INFO, arg);
            *outcomes.entry(("info", errno_name(e))).or_default() += 1;
            if !documented(e) {
                eprintln!("BLKCOPY_INFO: undocumented errno {e}");
                bad += 1;
            }
            continue;
        }
        if rng.chance(10) {
            // A well-formed copy: the bytes it reports copied must be there.
            // Source: `keep` 0 or 2 (read-only or read-write SRC); destination:
            // 4, 5 (write-only, read-write DST) or 6 (the partition), read
            // back through 5 or 6; sizes 1 and 2 are DST's and PART's.
            let src_i = [0, 2][rng.below(2) as usize];
            let (dst_i, back_i, dst_size) = [(4, 5, sizes[1]), (5, 5, sizes[1]), (6, 6, sizes[2])][rng.below(3) as usize];
            let n = 1 + rng.below(4) as usize;
            let base = rng.below(dst_size / (64 << 10) - n as u64);
            for (k, r) in ranges.iter_mut().take(n).enumerate() {
                let len = 4096 * (1 + rng.below(16));
                let src_off = rng.below((sizes[0] - len) / 4096) * 4096;
                *r = Range { src_offset: src_off, dst_offset: (base + k as u64) * (64 << 10), length: len, reserved: 0 };
            }
            let mut a = Args {
                size: std::mem::size_of::<Args>() as u32,
                flags: rng.below(3) as u32,
                src_fd: keep[src_i].as_raw_fd(),
                dst_fd: keep[dst_i].as_raw_fd(),
                ranges: ranges.as_mut_ptr() as u64,
                nr_ranges: n as u32,
                ..Default::default()
            };
            if let Some(rf) = ring.as_mut() {
                let sent = Sent {
                    kind: "valid",
                    ranges: ranges[..n].to_vec(),
                    result: Box::default(),
                    total: 0,
                    flags: a.flags,
                    back: back_i,
                    garbage: false,
                };
                let mut c = UringCopy::new(a.src_fd, a.dst_fd, &sent.ranges, a.flags);
                c.ranges = sent.ranges.as_ptr() as u64;
                c.nr_ranges = n as u32;
                (c.src_offset, c.dst_offset, c.length) = (0, 0, 0);
                // Alone: a random copy in flight next to it could write
                // over its destination before the bytes are compared.
                rf.flush(0, &keep, &mut outcomes, &mut bad);
                rf.add(c, sent, URING_COPY, None, &mut rng);
                rf.flush(0, &keep, &mut outcomes, &mut bad);
                continue;
            }
            let e = ioctl(ctl.as_raw_fd(), BLKCOPY, &mut a as *mut Args as *mut _);
            *outcomes.entry(("valid", errno_name(e))).or_default() += 1;
            let wrong = match e {
                0 => !ranges[..n].iter().all(|r| same(&keep[2], r.src_offset, &keep[back_i], r.dst_offset, r.length)),
                libc::EOPNOTSUPP => a.flags != 1,
                _ => true,
            };
            if wrong {
                eprintln!("BLKCOPY: well-formed copy: {} (flags {}), or wrong bytes", errno_name(e), a.flags);
                bad += 1;
            }
            continue;
        }
        // A range count: mostly small, sometimes 0 or past the limit.
        let n = match rng.below(20) {
            0 => 0,
            1 => MAX_RANGES as u64 + 1 + rng.below(7),
            2 => MAX_RANGES as u64,
            _ => 1 + rng.below(4),
        } as usize;
        let limit = sizes[rng.below(3) as usize].max(4096);
        let mut total = 0u64;
        let fill = n.min(ranges.len());
        for r in ranges.iter_mut().take(fill) {
            let off = |rng: &mut Rng| match rng.below(8) {
                0 => rng.below(limit / 4096) * 4096,
                1 => rng.below(limit),
                2 => limit - 4096 * (1 + rng.below(4)),
                3 => limit + rng.below(1 << 20) * 512,
                4 => u64::MAX - rng.below(1 << 20),
                5 => rng.below(16) * 512,
                _ => rng.below(limit / 512) * 512,
            };
            let len = match rng.below(8) {
                0 => 0,
                1 => rng.below(4096),
                2 => u64::MAX - rng.below(4096),
                3 => (1 << 20) * (1 + rng.below(4)),
                _ => 512 * (1 + rng.below(64)),
            };
            *r = Range { src_offset: off(&mut rng), dst_offset: off(&mut rng), length: len, reserved: 0 };
            if rng.chance(3) {
                r.reserved = rng.next();
            }
            total = total.saturating_add(len);
        }
        let mut a = Args {
            size: std::mem::size_of::<Args>() as u32,
            flags: match rng.below(10) {
                0 => rng.next() as u32,
                1 => 1,
                2 => 2,
                3 => 3,
                _ => 0,
            },
            src_fd: a_fd,
            dst_fd: b_fd,
            ranges: ranges.as_mut_ptr() as u64,
            nr_ranges: n as u32,
            ..Default::default()
        };
        if rng.chance(5) {
            a.size = rng.below(256) as u32;
        }
        if rng.chance(3) {
            a.pad = rng.next() as u32;
        }
        if rng.chance(3) {
            a.reserved[rng.below(2) as usize] = rng.next();
        }
        if rng.chance(3) {
            a.ranges = [0u64, 8, u64::MAX - 7, 0xdead_0000][rng.below(4) as usize];
        }
        if rng.chance(2) {
            a.nr_ranges = rng.next() as u32;
        }
        if let Some(rf) = ring.as_mut() {
            let sent = Sent {
                kind: "copy",
                ranges: ranges[..fill].to_vec(),
                result: Box::default(),
                total,
                flags: a.flags,
                back: 0,
                garbage: false,
            };
            let size = if a.size as usize == std::mem::size_of::<Args>() { std::mem::size_of::<UringCopy>() as u32 } else { a.size };
            let mut c = UringCopy {
                size,
                flags: a.flags,
                src_fd: a.src_fd,
                dst_fd: a.dst_fd,
                ranges: if a.ranges == ranges.as_mut_ptr() as u64 { sent.ranges.as_ptr() as u64 } else { a.ranges },
                nr_ranges: a.nr_ranges,
                pad: a.pad,
                reserved: a.reserved.iter().fold(0, |x, r| x | r),
                // 1: the copy's own result structure (set when sent).
                result: [1, 1, 1, 8][rng.below(4) as usize],
                result_size: std::mem::size_of::<UringResult>() as u32,
                ..Default::default()
            };
            if rng.chance(3) {
                c.result_size = rng.below(64) as u32;
            }
            if rng.chance(3) {
                c.src_offset = rng.next();
            }
            let (op, raw, garbage) = match rng.below(50) {
                0 => (URING_COPY, Some(std::array::from_fn(|_| rng.next() as u8)), true),
                1 => (URING_CANCEL, Some(std::array::from_fn(|_| rng.next() as u8)), true),
                2 => (rng.next() as u32, None, true),
                _ => (URING_COPY, None, false),
            };
            let bad_result = c.result == 8;
            rf.add(c, Sent { garbage: garbage || bad_result, ..sent }, op, raw, &mut rng);
            rf.flush(batch_want, &keep, &mut outcomes, &mut bad);
            if rf.batch.is_empty() {
                batch_want = 1 + rng.below(8) as usize;
            }
            continue;
        }
        let arg = if rng.chance(2) { 8usize as *mut libc::c_void } else { &mut a as *mut Args as *mut _ };
        let e = ioctl(ctl.as_raw_fd(), BLKCOPY, arg);
        let name = errno_name(e);
        *outcomes.entry(("copy", name)).or_default() += 1;
        if !documented(e) {
            eprintln!("BLKCOPY: undocumented errno {e}");
            bad += 1;
        }
        if e == 0 && (a.bytes_copied != total || a.bytes_offloaded > a.bytes_copied) {
            eprintln!("BLKCOPY: copied {} offloaded {} of {} asked", a.bytes_copied, a.bytes_offloaded, total);
            bad += 1;
        }
        // The rule named: one the header defines, and none for a success.
        if Rule::from_code(a.error.rule).is_none() || (e == 0 && a.error.rule != 0) {
            eprintln!("BLKCOPY: {} with rule {}", errno_name(e), a.error.rule);
            bad += 1;
        }
    }
    if let Some(rf) = ring.as_mut() {
        rf.flush(0, &keep, &mut outcomes, &mut bad);
    }
    for ((op, name), n) in &outcomes {
        println!("{op} {name} {n}");
    }
    println!("calls {calls} undocumented-or-wrong {bad}");
    keep.clear();
    std::process::exit(if bad == 0 { 0 } else { 1 });
}
