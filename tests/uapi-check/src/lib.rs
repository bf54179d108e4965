// SPDX-License-Identifier: GPL-2.0

//! What the two uAPI test helpers (`blkcopy-uapi-check`, the table of bad
//! inputs, and `blkcopy-uapi-fuzz`, the fuzzer) share: raw ioctl calls
//! that report an errno, and errno names.

use std::os::fd::RawFd;

/// `ioctl(fd, cmd, arg)`: 0, or the errno it failed with.
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
        _ => "other",
    }
}
