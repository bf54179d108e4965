// SPDX-License-Identifier: GPL-2.0

//! The kernel log by sequence number, for the VM tests' kernel-log verdict.
//!
//!   blkcopy-kmsg next        the sequence number the next record will get
//!   blkcopy-kmsg since SEQ   every record from SEQ on, one line each;
//!                            exit 3 when some of them were overwritten in
//!                            the ring (the verdict would be incomplete)

use std::process::exit;

use blkcopy_vm_tools::kmsg;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let log = kmsg::read_all().unwrap_or_else(|e| {
        eprintln!("blkcopy-kmsg: /dev/kmsg: {e}");
        exit(2)
    });
    match a.get(1..).unwrap_or(&[]) {
        [c] if c == "next" => println!("{}", kmsg::next_seq(&log)),
        [c, n] if c == "since" => {
            let seq = n.parse().unwrap_or_else(|_| {
                eprintln!("blkcopy-kmsg: not a sequence number: {n}");
                exit(2)
            });
            match kmsg::since(&log, seq) {
                Ok(recs) => recs.iter().for_each(|r| println!("{}", r.line())),
                Err(first) => {
                    eprintln!("blkcopy-kmsg: records {seq}..{first} were overwritten in the ring: the log since {seq} is incomplete");
                    exit(3)
                }
            }
        }
        _ => {
            eprintln!("usage: blkcopy-kmsg next | since SEQ");
            exit(2)
        }
    }
}
