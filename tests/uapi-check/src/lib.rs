// SPDX-License-Identifier: GPL-2.0

//! What the uAPI test helpers (`blkcopy-uapi-check`, the table of bad
//! inputs; `blkcopy-uapi-fuzz`, the fuzzer; `blkcopy-uring-check`, the
//! io_uring interface's cancellation and teardown) share: raw ioctl calls
//! and io_uring commands that report an errno, and errno names.

use std::os::fd::RawFd;

use blkcopy_uapi::uring::cmd_bytes;
use io_uring::{cqueue, opcode, squeue, types, IoUring};

/// A ring as blkcopy's io_uring commands want it: 128-byte SQEs, 32-byte
/// CQEs.
pub type Ring = IoUring<squeue::Entry128, cqueue::Entry32>;

/// Sends one `IORING_OP_URING_CMD` with `op` and the command area `cmd`
/// on `ring` and waits for its CQE: `(res, big_cqe[0])`.
pub fn ring_cmd<T: Copy>(ring: &mut Ring, fd: RawFd, op: u32, cmd: &T) -> (i32, u64) {
    let e = opcode::UringCmd80::new(types::Fd(fd), op).cmd(cmd_bytes(cmd)).build().user_data(0x5eed);
    // SAFETY: the entry points to nothing that must outlive the call other
    // than what `cmd` points to, which the caller keeps alive until this
    // returns (the CQE has been reaped).
    unsafe { ring.submission().push(&e).expect("submission queue full") };
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => break,
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => panic!("io_uring_enter: {e}"),
        }
    }
    let c = ring.completion().next().expect("a completion");
    assert_eq!(c.user_data(), 0x5eed);
    (c.result(), c.big_cqe()[0])
}

/// A CQE's `res` as an errno (0 for success or a count).
pub fn res_errno(res: i32) -> i32 {
    if res < 0 {
        -res
    } else {
        0
    }
}

/// `ioctl(fd, cmd, arg)`: 0, or the errno it failed with.
// The pointer goes to the kernel, which checks it: bad ones are the point.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub fn ioctl(fd: RawFd, cmd: u64, arg: *mut libc::c_void) -> i32 {
    // SAFETY: the kernel validates every pointer it is given; the tests
    // pass bad ones on purpose (it must answer EFAULT), good ones point to
    // live memory.
    let r = unsafe { libc::ioctl(fd, cmd as _, arg) };
    if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    } else {
        0
    }
}

/// The name of an errno the blkcopy uAPI can return ("OK" for 0).
pub fn errno_name(e: i32) -> &'static str {
    match e {
        0 => "OK",
        libc::EINVAL => "EINVAL",
        libc::EBADF => "EBADF",
        libc::ENOTBLK => "ENOTBLK",
        libc::EPERM => "EPERM",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EFAULT => "EFAULT",
        libc::ENOTTY => "ENOTTY",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ETXTBSY => "ETXTBSY",
        libc::EINTR => "EINTR",
        libc::ENOMEM => "ENOMEM",
        libc::EIO => "EIO",
        libc::ENOENT => "ENOENT",
        libc::ECANCELED => "ECANCELED",
        libc::EAGAIN => "EAGAIN",
        libc::EALREADY => "EALREADY",
        _ => "other",
    }
}
