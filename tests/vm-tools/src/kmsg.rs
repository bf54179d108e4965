// SPDX-License-Identifier: GPL-2.0

//! The kernel log by record sequence number (/dev/kmsg).
//!
//! Every record the kernel logs gets the next sequence number. A reader of
//! /dev/kmsg starts at the oldest record still in the ring; when the ring
//! has overwritten records the reader had not seen, read(2) fails once with
//! EPIPE. So "every record since N" is complete exactly when the first
//! record read has a number <= N and no read failed with EPIPE: anything
//! else is reported as a loss, never as a quiet log.

use std::fs::OpenOptions;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub level: u8,
    /// Microseconds since boot.
    pub usec: u64,
    pub text: String,
}

impl Record {
    /// "[    12.345678] text", as dmesg(1) prints it.
    pub fn line(&self) -> String {
        format!("[{:5}.{:06}] {}", self.usec / 1_000_000, self.usec % 1_000_000, self.text)
    }
}

/// Parses one /dev/kmsg record: "prio,seq,usec,flags[,...];text\n" followed
/// by dictionary lines that start with a space.
pub fn parse(rec: &str) -> Option<Record> {
    let (head, rest) = rec.split_once(';')?;
    let mut f = head.split(',');
    let prio: u32 = f.next()?.parse().ok()?;
    let seq = f.next()?.parse().ok()?;
    let usec = f.next()?.parse().ok()?;
    let text = rest.lines().next().unwrap_or("").to_string();
    Some(Record { seq, level: (prio & 7) as u8, usec, text })
}

/// What the ring holds now.
pub struct Log {
    pub records: Vec<Record>,
    /// A read failed with EPIPE: records were overwritten while reading.
    pub overrun: bool,
}

/// Reads every record the ring holds.
pub fn read_all() -> std::io::Result<Log> {
    let mut f = OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open("/dev/kmsg")?;
    let mut buf = vec![0u8; 16384];
    let mut records = Vec::new();
    let mut overrun = false;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if let Some(r) = parse(&String::from_utf8_lossy(&buf[..n])) {
                    records.push(r);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => overrun = true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Log { records, overrun })
}

/// The records from `seq` on, or `Err(first)` when some of them are gone
/// (`first` is the oldest record the ring still has).
pub fn since(log: &Log, seq: u64) -> Result<Vec<&Record>, u64> {
    let first = log.records.first().map_or(u64::MAX, |r| r.seq);
    let next = log.records.last().map_or(0, |r| r.seq + 1);
    if log.overrun || (first > seq && seq < next) {
        return Err(first);
    }
    Ok(log.records.iter().filter(|r| r.seq >= seq).collect())
}

/// The number the next record will get.
pub fn next_seq(log: &Log) -> u64 {
    log.records.last().map_or(0, |r| r.seq + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> Record {
        Record { seq, level: 6, usec: 1, text: format!("r{seq}") }
    }

    #[test]
    fn parses_a_record_and_ignores_the_dictionary() {
        let r = parse("4,1234,5678901,-;WARNING: CPU: 0 PID: 1 at x\n SUBSYSTEM=block\n").unwrap();
        assert_eq!((r.seq, r.level, r.usec), (1234, 4, 5678901));
        assert_eq!(r.text, "WARNING: CPU: 0 PID: 1 at x");
        assert_eq!(r.line(), "[    5.678901] WARNING: CPU: 0 PID: 1 at x");
        assert!(parse("garbage").is_none());
    }

    #[test]
    fn since_reports_records_lost_to_the_ring() {
        let log = Log { records: (10..20).map(rec).collect(), overrun: false };
        assert_eq!(since(&log, 15).unwrap().len(), 5);
        assert_eq!(since(&log, 10).unwrap().len(), 10);
        // Nothing new since 20: complete and empty.
        assert_eq!(since(&log, 20).unwrap().len(), 0);
        // 5..9 were overwritten.
        assert_eq!(since(&log, 5), Err(10));
        let torn = Log { records: (10..20).map(rec).collect(), overrun: true };
        assert!(since(&torn, 15).is_err());
        assert_eq!(next_seq(&log), 20);
    }
}
