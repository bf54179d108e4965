// SPDX-License-Identifier: GPL-2.0

//! `blkcopy stats`: blkcopy's per-device counters (debugfs
//! `blkcopy/stats`, one `key=value ...` line per device).

use std::os::unix::fs::MetadataExt;

use clap::Args;
use serde_json::{Map, Value};

use crate::Fail;

const STATS_FILE: &str = "/sys/kernel/debug/blkcopy/stats";

#[derive(Args)]
pub(crate) struct StatsArgs {
    /// Only this block device.
    dev: Option<String>,
    /// Print a JSON array of objects, one per device.
    #[arg(long)]
    json: bool,
}

/// One stats line as a JSON object: numbers as numbers, the rest as strings.
fn line_object(l: &str) -> Value {
    let mut m = Map::new();
    for (k, v) in l.split(' ').filter_map(|kv| kv.split_once('=')) {
        let v = v.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(v));
        m.insert(k.to_string(), v);
    }
    Value::Object(m)
}

pub(crate) fn run(a: StatsArgs) -> Result<(), Fail> {
    let filter = match &a.dev {
        Some(d) => {
            let rdev = std::fs::metadata(d).map_err(|e| Fail(format!("{d}: {e}")))?.rdev();
            Some(format!("dev={}:{}", libc::major(rdev), libc::minor(rdev)))
        }
        None => None,
    };
    let text = std::fs::read_to_string(STATS_FILE)
        .map_err(|e| Fail(format!("{STATS_FILE}: {e} (blkcopy loaded, debugfs mounted?)")))?;
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| filter.as_ref().map_or(true, |f| l.split(' ').next() == Some(f.as_str())))
        .collect();
    if a.json {
        println!("{}", Value::Array(lines.iter().map(|l| line_object(l)).collect()));
    } else {
        for l in lines {
            println!("{l}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_objects() {
        assert_eq!(
            line_object("dev=259:0 name=nvme0n1 copies=3").to_string(),
            r#"{"dev":"259:0","name":"nvme0n1","copies":3}"#
        );
    }
}
