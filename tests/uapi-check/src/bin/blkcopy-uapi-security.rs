// SPDX-License-Identifier: GPL-2.0

//! uAPI security checks of BLKCOPY and BLKCOPY_INFO, run by the VM test
//! tests/vm/cases/720-uapi-security.sh:
//!
//! - what the ioctls write back: every output field of BLKCOPY_INFO is
//!   written (two calls whose output fields were prefilled with 0x00 and
//!   0xff return the same bytes), input fields come back as they went in,
//!   BLKCOPY overwrites its two counters on success and on a failed copy,
//!   and a refused call writes back only its output fields (the counters
//!   zero and the rule that refused it), its input fields untouched;
//! - integer overflow in lengths and range counts;
//! - another holder of the destination (an `O_EXCL` open by another
//!   process): BLKCOPY through a plain descriptor is allowed exactly as
//!   `pwrite(2)` through it is, while a second exclusive open is refused;
//! - privilege: after dropping to an unprivileged user, `/dev/blkcopy` and
//!   the devices cannot be opened, and descriptors received from root keep
//!   exactly their open modes (a read-only destination is EBADF).
//!
//! usage: blkcopy-uapi-security SRC DST NOPROV
//!   SRC, DST  512-byte-block devices of at least 2 GiB (1 MiB at 1900 MiB
//!             of DST is overwritten)
//!   NOPROV    a device no provider claims (an offload-only copy to it
//!             fails with EOPNOTSUPP)

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use blkcopy_uapi::*;
use blkcopy_uapi_check::{errno_name, ioctl};

const OFF: u64 = 1900 << 20;
const LEN: u64 = 1 << 20;

fn bytes_of<T>(t: &T) -> &[u8] {
    // SAFETY: the uAPI structures are plain integers without padding holes.
    unsafe { std::slice::from_raw_parts(t as *const T as *const u8, std::mem::size_of::<T>()) }
}

struct Checker {
    fails: u32,
}

impl Checker {
    fn check(&mut self, name: &str, ok: bool, detail: String) {
        println!("{} {name}{}", if ok { "ok" } else { "FAIL" }, if ok { String::new() } else { format!(": {detail}") });
        if !ok {
            self.fails += 1;
        }
    }
    fn errno(&mut self, name: &str, got: i32, want: i32) {
        self.check(name, got == want, format!("{} (want {})", errno_name(got), errno_name(want)));
    }
}

fn info_call(ctl: &File, fd: i32, fd2: i32, fill: u8) -> (i32, Info) {
    let mut i = Info { size: std::mem::size_of::<Info>() as u32, fd, fd2, ..Default::default() };
    // Output fields only: the inputs must stay valid.
    i.provider = u32::from_ne_bytes([fill; 4]);
    i.logical_block_size = i.provider;
    i.capacity = u64::from_ne_bytes([fill; 8]);
    i.max_copy_bytes = i.capacity;
    i.max_ranges = i.provider;
    i.pair_offload = i.provider;
    i.pair_reason = i.provider;
    let e = ioctl(ctl.as_raw_fd(), BLKCOPY_INFO, &mut i as *mut Info as *mut _);
    (e, i)
}

fn copy_call(ctl: &File, a: &mut Args, r: &mut Range) -> i32 {
    a.ranges = r as *mut Range as u64;
    ioctl(ctl.as_raw_fd(), BLKCOPY, a as *mut Args as *mut _)
}

fn args(src: i32, dst: i32) -> Args {
    Args { size: std::mem::size_of::<Args>() as u32, src_fd: src, dst_fd: dst, nr_ranges: 1, ..Default::default() }
}

fn range() -> Range {
    Range { src_offset: OFF, dst_offset: OFF, length: LEN, reserved: 0 }
}

fn open_errno(path: &str, opts: &mut OpenOptions) -> i32 {
    match opts.open(path) {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// The copied bytes are the source's.
fn same_bytes(src: &File, dst: &File) -> bool {
    let (mut a, mut b) = (vec![0u8; LEN as usize], vec![0u8; LEN as usize]);
    src.read_exact_at(&mut a, OFF).is_ok() && dst.read_exact_at(&mut b, OFF).is_ok() && a == b
}

/// Fills the source range with new bytes (so that a copy is visible).
fn new_source(src_path: &str, round: u8) {
    let f = OpenOptions::new().write(true).open(src_path).expect("source for writing");
    let buf: Vec<u8> = (0..LEN as usize).map(|i| (i as u8).wrapping_mul(31).wrapping_add(round)).collect();
    f.write_all_at(&buf, OFF).expect("writing the source");
    f.sync_all().expect("syncing the source");
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.len() != 4 {
        eprintln!("usage: blkcopy-uapi-security SRC DST NOPROV");
        std::process::exit(2);
    }
    let (sp, dp, np) = (&argv[1], &argv[2], &argv[3]);
    let open = |p: &str, w: bool, r: bool| OpenOptions::new().read(r).write(w).open(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let ctl = open("/dev/blkcopy", true, true);
    let src = open(sp, false, true);
    let dst = open(dp, true, true);
    let dst_ro = open(dp, false, true);
    let noprov = open(np, true, true);
    let (s, d) = (src.as_raw_fd(), dst.as_raw_fd());
    let mut c = Checker { fails: 0 };

    // --- what comes back -------------------------------------------------
    for (name, fd, fd2) in [("info pair", s, d), ("info one", noprov.as_raw_fd(), -1)] {
        let (e0, i0) = info_call(&ctl, fd, fd2, 0x00);
        let (e1, i1) = info_call(&ctl, fd, fd2, 0xff);
        c.errno(&format!("{name}: call"), e0.max(e1), 0);
        c.check(
            &format!("{name}: every output field written"),
            bytes_of(&i0) == bytes_of(&i1),
            format!("{i0:?} vs {i1:?}"),
        );
        c.check(
            &format!("{name}: inputs returned unchanged"),
            i0.size as usize == std::mem::size_of::<Info>()
                && (i0.flags, i0.fd, i0.fd2, i0.pad, i0.reserved) == (0, fd, fd2, 0, [0; 4]),
            format!("{i0:?}"),
        );
    }
    new_source(sp, 1);
    let mut a = args(s, d);
    a.bytes_copied = 0xaaaa_aaaa_aaaa_aaaa;
    a.bytes_offloaded = 0x5555_5555_5555_5555;
    let before = a;
    let mut r = range();
    let e = copy_call(&ctl, &mut a, &mut r);
    c.errno("copy: call", e, 0);
    let mut want = before;
    want.ranges = a.ranges;
    want.bytes_copied = LEN;
    want.bytes_offloaded = a.bytes_offloaded;
    c.check(
        "copy: counters written, everything else as passed",
        bytes_of(&a) == bytes_of(&want) && a.bytes_offloaded <= LEN,
        format!("{a:?}"),
    );
    c.check("copy: bytes", same_bytes(&src, &dst), "destination differs".into());

    let mut a = args(s, noprov.as_raw_fd());
    a.flags = FLAG_OFFLOAD_ONLY;
    a.bytes_copied = 0xaaaa_aaaa_aaaa_aaaa;
    a.bytes_offloaded = 0x5555_5555_5555_5555;
    let e = copy_call(&ctl, &mut a, &mut range());
    c.errno("failed copy: call", e, libc::EOPNOTSUPP);
    c.check(
        "failed copy: counters written",
        a.bytes_copied == 0 && a.bytes_offloaded == 0,
        format!("{a:?}"),
    );

    let mut a = args(s, d);
    a.flags = 1 << 9;
    a.bytes_copied = 7;
    let before = a;
    let e = copy_call(&ctl, &mut a, &mut range());
    c.errno("refused copy: call", e, libc::EINVAL);
    let flags_rule = Refusal { rule: Rule::Flags as u32, range: NO_RANGE, value: 0 };
    let before = Args { ranges: a.ranges, bytes_copied: 0, bytes_offloaded: 0, error: flags_rule, ..before };
    c.check("refused copy: only the output fields written", bytes_of(&a) == bytes_of(&before), format!("{a:?}"));
    // Arguments of another size are not this layout: nothing is written.
    let mut a = args(s, d);
    a.size = 8;
    a.bytes_copied = 7;
    let before = a;
    let e = copy_call(&ctl, &mut a, &mut range());
    c.errno("arguments of another size: call", e, libc::EINVAL);
    let before = Args { ranges: a.ranges, ..before };
    c.check("arguments of another size: nothing written", bytes_of(&a) == bytes_of(&before), format!("{a:?}"));

    // --- integer overflow --------------------------------------------------
    let mut a = args(s, d);
    a.nr_ranges = u32::MAX;
    c.errno("nr_ranges u32::MAX", copy_call(&ctl, &mut a, &mut range()), libc::EINVAL);
    let mut a = args(s, d);
    a.nr_ranges = 1 << 27; // 2^27 ranges of 32 bytes: 4 GiB, wraps a 32-bit size
    c.errno("nr_ranges * size wraps 32 bits", copy_call(&ctl, &mut a, &mut range()), libc::EINVAL);
    for (name, so, dof, len) in [
        ("length u64::MAX & !511", 0, 0, u64::MAX & !511),
        ("source offset + length wraps", u64::MAX & !511, OFF, 1024),
        ("destination offset + length wraps", OFF, u64::MAX & !511, 1024),
        ("length 2^63", 0, OFF, 1 << 63),
    ] {
        let mut r = Range { src_offset: so, dst_offset: dof, length: len, reserved: 0 };
        let e = copy_call(&ctl, &mut args(s, d), &mut r);
        c.check(name, e == libc::EOVERFLOW || e == libc::EINVAL, errno_name(e).into());
    }

    // --- another holder of the destination -------------------------------
    // The child claims DST exclusively and holds it until told to go.
    let (mut to_parent, mut to_child) = ([0i32; 2], [0i32; 2]);
    // SAFETY: each array has room for two descriptors.
    assert!(unsafe { libc::pipe(to_parent.as_mut_ptr()) == 0 && libc::pipe(to_child.as_mut_ptr()) == 0 });
    // SAFETY: the process is single-threaded; the child only opens, writes
    // to a pipe, reads from one and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: the parent's pipe ends, which this process must not keep
        // open (it waits for the end of file on `to_child`).
        unsafe {
            libc::close(to_parent[0]);
            libc::close(to_child[1]);
        }
        let held = OpenOptions::new().read(true).write(true).custom_flags(libc::O_EXCL).open(dp);
        // SAFETY: the pipe ends the parent created, owned by this process.
        let (mut w, mut rd) = unsafe { (File::from_raw_fd(to_parent[1]), File::from_raw_fd(to_child[0])) };
        let _ = w.write_all(if held.is_ok() { b"y" } else { b"n" });
        let _ = rd.read(&mut [0u8; 1]);
        drop(held);
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    // SAFETY: the pipe ends the parent created, owned by this process; the
    // child's ends are closed here, so that each side sees the other go.
    let (mut rd, w) = unsafe {
        libc::close(to_parent[1]);
        libc::close(to_child[0]);
        (File::from_raw_fd(to_parent[0]), File::from_raw_fd(to_child[1]))
    };
    let mut got = [0u8; 1];
    let _ = rd.read(&mut got);
    c.check("holder: another process holds the destination exclusively", &got == b"y", "its O_EXCL open failed".into());
    c.errno(
        "holder: a second exclusive open",
        open_errno(dp, OpenOptions::new().read(true).write(true).custom_flags(libc::O_EXCL)),
        libc::EBUSY,
    );
    let pw = dst.write_at(&[0u8; 512], OFF).map(|_| 0).unwrap_or_else(|e| e.raw_os_error().unwrap_or(-1));
    new_source(sp, 2);
    let e = copy_call(&ctl, &mut args(s, d), &mut range());
    c.check(
        "holder: BLKCOPY allowed exactly as pwrite(2) through the same descriptor",
        e == pw,
        format!("BLKCOPY {} vs pwrite {}", errno_name(e), errno_name(pw)),
    );
    c.check("holder: bytes", e != 0 || same_bytes(&src, &dst), "destination differs".into());
    drop(w);
    // SAFETY: reaps the child forked above.
    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    c.errno(
        "holder gone: exclusive open",
        open_errno(dp, OpenOptions::new().read(true).write(true).custom_flags(libc::O_EXCL)),
        0,
    );

    // --- an unprivileged user with descriptors root opened ---------------
    // SAFETY: plain system calls dropping every group and id to nobody.
    let dropped = unsafe {
        libc::setgroups(0, std::ptr::null()) == 0 && libc::setresgid(65534, 65534, 65534) == 0 && libc::setresuid(65534, 65534, 65534) == 0
    };
    c.check("dropped to uid/gid 65534", dropped, std::io::Error::last_os_error().to_string());
    c.errno("unprivileged: open /dev/blkcopy", open_errno("/dev/blkcopy", OpenOptions::new().read(true).write(true)), libc::EACCES);
    c.errno("unprivileged: open the destination", open_errno(dp, OpenOptions::new().read(true).write(true)), libc::EACCES);
    c.errno("unprivileged: read-only destination", copy_call(&ctl, &mut args(s, dst_ro.as_raw_fd()), &mut range()), libc::EBADF);
    c.errno("unprivileged: the read-only source descriptor as destination", copy_call(&ctl, &mut args(d, s), &mut range()), libc::EBADF);
    scribble(&dst);
    let e = copy_call(&ctl, &mut args(s, d), &mut range());
    c.errno("unprivileged: descriptors with the rights", e, 0);
    c.check("unprivileged: bytes", same_bytes(&src, &dst), "destination differs".into());
    let (e, _) = info_call(&ctl, s, d, 0);
    c.errno("unprivileged: info", e, 0);

    println!("{} failed", c.fails);
    std::process::exit(if c.fails == 0 { 0 } else { 1 });
}

/// Overwrites the destination range through `dst` (which may be all the
/// caller can write to) so that a copy of an unchanged source is visible.
fn scribble(dst: &File) {
    let _ = dst.write_all_at(&vec![0x5au8; LEN as usize], OFF);
    let _ = dst.sync_all();
}
