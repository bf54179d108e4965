// SPDX-License-Identifier: GPL-2.0

//! What the commands print: the `--json` objects (field names are a stable
//! interface, Documentation/blkcopy.rst) and their text forms, and the
//! progress bar shown on a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

/// `blkcopy copy --json`.
#[derive(Serialize)]
pub(crate) struct CopyReport<'a> {
    pub(crate) src: &'a str,
    pub(crate) dst: &'a str,
    pub(crate) ranges: usize,
    pub(crate) bytes_copied: u64,
    pub(crate) bytes_offloaded: u64,
    pub(crate) seconds: f64,
}

impl CopyReport<'_> {
    pub(crate) fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
        } else {
            println!(
                "copied {} bytes ({}) from {} to {} in {:.3} s, {} offloaded, {} through the host",
                self.bytes_copied,
                human(self.bytes_copied as f64),
                self.src,
                self.dst,
                self.seconds,
                self.bytes_offloaded,
                self.bytes_copied - self.bytes_offloaded
            );
        }
    }
}

/// One line of `blkcopy batch --json`.
#[derive(Serialize)]
pub(crate) struct BatchReport<'a> {
    pub(crate) line: usize,
    pub(crate) src: &'a str,
    pub(crate) dst: &'a str,
    pub(crate) src_offset: u64,
    pub(crate) dst_offset: u64,
    pub(crate) length: u64,
    pub(crate) ok: bool,
    pub(crate) errno: i32,
    /// The rule that refused the copy (`BLKCOPY_ERROR_*`, lower case).
    pub(crate) rule: Option<&'static str>,
    pub(crate) error: Option<String>,
    pub(crate) bytes_copied: u64,
    pub(crate) bytes_offloaded: u64,
    pub(crate) usec: u128,
}

impl BatchReport<'_> {
    pub(crate) fn print(&self, json: bool) {
        if json {
            println!("{}", serde_json::to_string(self).unwrap_or_default());
        } else if let Some(e) = &self.error {
            println!("line {}: failed: {e} (copied {} bytes, {} offloaded)", self.line, self.bytes_copied, self.bytes_offloaded);
        } else {
            println!("line {}: copied {} bytes, {} offloaded, {} us", self.line, self.bytes_copied, self.bytes_offloaded, self.usec);
        }
    }
}

/// Bytes with a binary unit, one decimal.
pub(crate) fn human(bytes: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

/// A progress bar of `total` bytes on stderr, drawn only when stderr is a
/// terminal (or `force`); hidden otherwise.
pub(crate) fn progress(total: u64, force: Option<bool>) -> ProgressBar {
    let target = match force {
        Some(true) => ProgressDrawTarget::stderr_with_hz(10),
        Some(false) => ProgressDrawTarget::hidden(),
        None => ProgressDrawTarget::stderr(),
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{percent:>3}% {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_json_keeps_its_field_names() {
        let r = CopyReport { src: "/dev/a", dst: "/dev/b", ranges: 1, bytes_copied: 4096, bytes_offloaded: 4096, seconds: 0.5 };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"src":"/dev/a","dst":"/dev/b","ranges":1,"bytes_copied":4096,"bytes_offloaded":4096,"seconds":0.5}"#
        );
    }

    #[test]
    fn batch_json_keeps_its_field_names() {
        let r = BatchReport {
            line: 3,
            src: "/dev/a",
            dst: "/dev/b",
            src_offset: 0,
            dst_offset: 4096,
            length: 4096,
            ok: false,
            errno: 22,
            rule: Some("alignment"),
            error: Some("offsets and length must be multiples of 4096 (logical block size of /dev/b)".into()),
            bytes_copied: 0,
            bytes_offloaded: 0,
            usec: 7,
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"line":3,"src":"/dev/a","dst":"/dev/b","src_offset":0,"dst_offset":4096,"length":4096,"ok":false,"errno":22,"rule":"alignment","error":"offsets and length must be multiples of 4096 (logical block size of /dev/b)","bytes_copied":0,"bytes_offloaded":0,"usec":7}"#
        );
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(512.0), "512.0 B");
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(human((3u64 << 30) as f64), "3.0 GiB");
    }
}
