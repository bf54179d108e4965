// SPDX-License-Identifier: GPL-2.0

//! VM test helper: asynchronous copies stopped while in flight
//! (tests/vm/cases/185-uring-cancel.sh). The test proves from the device
//! side that the copies are in flight before it writes a line to stdin.
//!
//!   blkcopy-uring-check cancel SRC DST SRC_OFF DST_OFF LEN [FLAGS]
//!       one copy; prints "submitted"; on a line from stdin sends an
//!       IORING_OP_ASYNC_CANCEL for it ("async_cancel <errno>"), then
//!       BLKCOPY_URING_CANCEL ("cancel <res>"), and prints how the copy
//!       ended: "copy <errno> copied=N offloaded=N ms=N" (ms since the
//!       cancel). Exit 0 when every CQE came.
//!   blkcopy-uring-check hold N SRC DST SRC_OFF DST_OFF LEN [FLAGS]
//!       N copies of LEN bytes (copy i at SRC_OFF + i*LEN to DST_OFF +
//!       i*LEN), all in flight from one ring; prints "submitted N"; on a
//!       line "close" from stdin closes the ring with them in flight
//!       ("closed"), then waits for stdin to end. (The test kills it
//!       instead to see the process exit with copies in flight.)
//!
//! FLAGS: 0 (default), or BLKCOPY_FLAG_* as a number.

use std::fs::OpenOptions;
use std::io::{BufRead, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

use blkcopy_uapi::uring::{CopyRing, Event};
use blkcopy_uapi::{Control, Range};
use blkcopy_uapi_check::errno_name;
use io_uring::opcode;

/// `user_data` bit CopyRing gives its cancel requests.
const CANCEL_TAG: u64 = 1 << 63;
/// Tag of the IORING_OP_ASYNC_CANCEL request.
const ASYNC_CANCEL: u64 = 1 << 62;

fn num(s: &str) -> u64 {
    blkcopy_uapi::parse_size(s).unwrap_or_else(|e| die(&e))
}

fn die(msg: &str) -> ! {
    eprintln!("blkcopy-uring-check: {msg}");
    std::process::exit(2)
}

fn line() -> String {
    let mut l = String::new();
    std::io::stdin().lock().read_line(&mut l).unwrap_or_else(|e| die(&format!("stdin: {e}")));
    l.trim().to_string()
}

fn say(s: &str) {
    println!("{s}");
    std::io::stdout().flush().unwrap();
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let ctl = Control::open().unwrap_or_else(|e| die(&format!("/dev/blkcopy: {e}")));
    let open = |p: &str, w: bool| OpenOptions::new().read(!w).write(w).open(p).unwrap_or_else(|e| die(&format!("{p}: {e}")));
    match a.get(1..) {
        Some(["cancel", src, dst, so, d_, len, rest @ ..]) => {
            let flags = rest.first().map_or(0, |f| num(f) as u32);
            let (s, d) = (open(src, false), open(dst, true));
            let mut ring = CopyRing::new(&ctl, 8).unwrap_or_else(|e| die(&format!("io_uring: {e}")));
            let r = Range { src_offset: num(so), dst_offset: num(d_), length: num(len), reserved: 0 };
            let id = ring.push_copy(s.as_raw_fd(), d.as_raw_fd(), &[r], flags).unwrap_or_else(|e| die(&e.to_string()));
            ring.submit().unwrap_or_else(|e| die(&format!("submit: {e}")));
            say("submitted");
            line();
            let t = Instant::now();
            // io_uring's own cancellation does not reach driver commands in
            // Linux 6.12. Its CQE carries a cancel request's tag (the ring
            // reports it as a cancel with id ASYNC_CANCEL).
            let e = opcode::AsyncCancel::new(id).build().user_data(ASYNC_CANCEL | CANCEL_TAG);
            let entry: io_uring::squeue::Entry128 = e.into();
            // SAFETY: the entry points to nothing.
            unsafe { ring.ring().submission().push(&entry).unwrap_or_else(|_| die("sq full")) };
            ring.push_cancel(id).unwrap_or_else(|e| die(&e.to_string()));
            let mut pending = 3;
            while pending > 0 {
                for ev in ring.wait(1).unwrap_or_else(|e| die(&format!("wait: {e}"))) {
                    match ev {
                        Event::Cancel { id, result } => {
                            let what = if id == ASYNC_CANCEL { "async_cancel" } else { "cancel" };
                            match result {
                                Ok(n) => say(&format!("{what} {n}")),
                                Err(e) => say(&format!("{what} {}", errno_name(e.raw_os_error().unwrap_or(0)))),
                            }
                        }
                        Event::Copy { result, .. } => {
                            let (errno, done) = match result {
                                Ok(c) => (0, c),
                                Err(e) => (e.error.raw_os_error().unwrap_or(-1), e.done),
                            };
                            say(&format!(
                                "copy {} copied={} offloaded={} ms={}",
                                errno_name(errno),
                                done.copied,
                                done.offloaded,
                                t.elapsed().as_millis()
                            ));
                        }
                    }
                    pending -= 1;
                }
            }
        }
        Some(["hold", n, src, dst, so, d_, len, rest @ ..]) => {
            let flags = rest.first().map_or(0, |f| num(f) as u32);
            let (s, d) = (open(src, false), open(dst, true));
            let n = num(n) as u32;
            let (so, d_, len) = (num(so), num(d_), num(len));
            let mut ring = CopyRing::new(&ctl, n).unwrap_or_else(|e| die(&format!("io_uring: {e}")));
            for i in 0..n as u64 {
                let r = Range { src_offset: so + i * len, dst_offset: d_ + i * len, length: len, reserved: 0 };
                ring.push_copy(s.as_raw_fd(), d.as_raw_fd(), &[r], flags).unwrap_or_else(|e| die(&e.to_string()));
            }
            ring.submit().unwrap_or_else(|e| die(&format!("submit: {e}")));
            say(&format!("submitted {n}"));
            if line() == "close" {
                drop(ring);
                drop(ctl);
                say("closed");
                while !line().is_empty() {}
            }
        }
        _ => die("usage: blkcopy-uring-check cancel SRC DST SRC_OFF DST_OFF LEN [FLAGS] | hold N SRC DST SRC_OFF DST_OFF LEN [FLAGS]"),
    }
}
