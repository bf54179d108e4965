// SPDX-License-Identifier: GPL-2.0

//! Exact-length reads for the VM tests' evidence, and exact-length random
//! fills (tests/vm/lib.sh).
//!
//!   blkcopy-bytes cmp PATH OFF PATH OFF LEN   exit 0: equal; 1: they differ
//!                                             (the first difference is printed)
//!   blkcopy-bytes sum PATH OFF LEN            sha256 of the LEN bytes
//!   blkcopy-bytes read PATH OFF LEN           the LEN bytes, to stdout
//!   blkcopy-bytes fill PATH OFF LEN           writes LEN fresh pseudo-random
//!                                             bytes (O_DIRECT on a device)
//!   blkcopy-bytes partial SRC OFF DST OFF LEN BEFORE PREFIX
//!                                             after a copy that ended early with
//!                                             PREFIX bytes copied: exit 0 if the
//!                                             prefix is the source's and every
//!                                             4 KiB block past it is the source's
//!                                             or BEFORE's (a file of what DST held
//!                                             before), with the counts; 1 if not
//!
//! PATH is a block device (read with O_DIRECT, around the page cache) or a
//! regular file. An empty range, a range past the end, a short read or an
//! unreadable device exits 2 with the reason: never "equal".

use std::io::Write;
use std::process::exit;

use blkcopy_vm_tools::{compare, compare_partial, Compare, Extent, Partial};
use sha2::{Digest, Sha256};

fn num(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| die(&format!("not a byte count: '{s}'")))
}

fn die(msg: &str) -> ! {
    eprintln!("blkcopy-bytes: {msg}");
    exit(2)
}

fn open(path: &str, off: &str, len: &str) -> Extent {
    Extent::open(path, num(off), num(len)).unwrap_or_else(|e| die(&e.0))
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    match a.get(1..) {
        Some(["cmp", p, po, q, qo, len]) => {
            let (mut x, mut y) = (open(p, po, len), open(q, qo, len));
            match compare(&mut x, &mut y).unwrap_or_else(|e| die(&e.0)) {
                Compare::Same => {}
                Compare::DifferAt(at) => {
                    println!("differ at +{at}: {} vs {}", x.describe(), y.describe());
                    exit(1);
                }
            }
        }
        Some(["sum", p, off, len]) => {
            let mut x = open(p, off, len);
            let mut h = Sha256::new();
            x.for_each_chunk(|c| {
                h.update(c);
                Ok(())
            })
            .unwrap_or_else(|e| die(&e.0));
            let d = h.finalize();
            println!("{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>());
        }
        Some(["read", p, off, len]) => {
            let mut x = open(p, off, len);
            let mut out = std::io::stdout().lock();
            x.for_each_chunk(|c| out.write_all(c).map_err(|e| blkcopy_vm_tools::Error(format!("stdout: {e}"))))
                .unwrap_or_else(|e| die(&e.0));
            out.flush().unwrap_or_else(|e| die(&format!("stdout: {e}")));
        }
        Some(["partial", p, po, q, qo, len, before, prefix]) => {
            let (mut x, mut y, mut z) = (open(p, po, len), open(q, qo, len), open(before, "0", len));
            match compare_partial(&mut x, &mut y, &mut z, num(prefix), 4096).unwrap_or_else(|e| die(&e.0)) {
                Partial::Sound { copied, unchanged } => {
                    println!("prefix {prefix} bytes; past it {copied} blocks copied, {unchanged} unchanged")
                }
                Partial::WrongAt(at) => {
                    println!("wrong block at +{at}: {} (prefix {prefix}, before {})", y.describe(), z.describe());
                    exit(1);
                }
            }
        }
        Some(["fill", p, off, len]) => {
            blkcopy_vm_tools::fill_random(p, num(off), num(len)).unwrap_or_else(|e| die(&e.0));
        }
        _ => die("usage: blkcopy-bytes cmp PATH OFF PATH OFF LEN | sum PATH OFF LEN | read PATH OFF LEN | fill PATH OFF LEN | partial SRC OFF DST OFF LEN BEFORE PREFIX"),
    }
}
