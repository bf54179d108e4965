// SPDX-License-Identifier: GPL-2.0

//! `blkcopy stats`: blkcopy's per-device counters through BLKCOPY_STATS
//! (a stable interface, Documentation/ABI/testing/dev-blkcopy), as
//! `key=value` lines, JSON, or rates every few seconds (`--watch`, as
//! iostat).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use blkcopy_uapi::{Control, Stats, FALLBACK_REASONS};
use clap::Args;
use serde_json::{Map, Value};

use crate::output::human;
use crate::Fail;

#[derive(Args)]
pub(crate) struct StatsArgs {
    /// Only this block device.
    dev: Option<String>,
    /// Print a JSON array of objects, one per device.
    #[arg(long, conflicts_with = "watch")]
    json: bool,
    /// Print the rates of the devices with copies every SECONDS, as iostat.
    #[arg(long, value_name = "SECONDS", value_parser = parse_interval)]
    watch: Option<f64>,
    /// With --watch: stop after N reports.
    #[arg(long, value_name = "N", requires = "watch")]
    count: Option<u64>,
}

fn parse_interval(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("bad interval '{s}': want seconds above 0")),
    }
}

/// One device's counters as the JSON object (and the `key=value` line) of
/// `blkcopy stats`: the field names are a stable interface.
fn object(s: &Stats) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("dev".into(), format!("{}:{}", s.dev_major, s.dev_minor).into());
    m.insert("name".into(), s.name().into());
    m.insert("copies".into(), s.copies.into());
    m.insert("failures".into(), s.failures.into());
    m.insert("bytes_offloaded".into(), s.bytes_offloaded.into());
    m.insert("bytes_emulated".into(), s.bytes_emulated.into());
    for (i, r) in FALLBACK_REASONS.iter().enumerate() {
        m.insert(format!("fallback_{r}"), s.fallback[i].into());
    }
    m
}

fn line(s: &Stats) -> String {
    let fields: Vec<String> = object(s)
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(t) => format!("{k}={t}"),
            v => format!("{k}={v}"),
        })
        .collect();
    fields.join(" ")
}

/// The devices asked for: one (by its descriptor), or every device copies
/// touched.
fn read(ctl: &Control, dev: Option<&File>) -> Result<Vec<Stats>, Fail> {
    Ok(match dev {
        Some(f) => vec![ctl.stats_of(f.as_raw_fd())?],
        None => ctl.stats_all()?,
    })
}

/// One report of `--watch`: per device, what changed since `before` over
/// `secs` seconds (devices without copies in the interval left out).
fn rates(before: &[Stats], now: &[Stats], secs: f64) -> Vec<String> {
    let mut out = vec![format!(
        "{:<16} {:>9} {:>10} {:>14} {:>14}",
        "device", "copies/s", "failed/s", "offloaded/s", "emulated/s"
    )];
    for n in now {
        let b = before.iter().find(|b| (b.dev_major, b.dev_minor) == (n.dev_major, n.dev_minor));
        let d = |f: fn(&Stats) -> u64| f(n).saturating_sub(b.map_or(0, f)) as f64 / secs;
        let copies = d(|s| s.copies);
        let (off, emu) = (d(|s| s.bytes_offloaded), d(|s| s.bytes_emulated));
        if copies == 0.0 && off == 0.0 && emu == 0.0 {
            continue;
        }
        out.push(format!(
            "{:<16} {:>9.1} {:>10.1} {:>14} {:>14}",
            n.name(),
            copies,
            d(|s| s.failures),
            human(off) + "/s",
            human(emu) + "/s"
        ));
    }
    out
}

pub(crate) fn run(a: StatsArgs) -> Result<(), Fail> {
    let dev = a.dev.as_deref().map(|d| File::open(d).map_err(|e| Fail(format!("{d}: {e}")))).transpose()?;
    let ctl = crate::control()?;
    let mut last = read(&ctl, dev.as_ref())?;
    let Some(interval) = a.watch else {
        if a.json {
            println!("{}", Value::Array(last.iter().map(|s| Value::Object(object(s))).collect()));
        } else {
            for s in &last {
                println!("{}", line(s));
            }
        }
        return Ok(());
    };
    let mut t = Instant::now();
    let mut n = 0u64;
    while a.count.is_none_or(|c| n < c) {
        std::thread::sleep(Duration::from_secs_f64(interval));
        let now = read(&ctl, dev.as_ref())?;
        let secs = t.elapsed().as_secs_f64();
        t = Instant::now();
        for l in rates(&last, &now, secs) {
            println!("{l}");
        }
        println!();
        last = now;
        n += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(minor: u32, copies: u64, offloaded: u64) -> Stats {
        let mut s = Stats { dev_major: 259, dev_minor: minor, copies, bytes_offloaded: offloaded, ..Default::default() };
        s.name[..7].copy_from_slice(b"nvme0n1");
        s.fallback[4] = 512;
        s
    }

    #[test]
    fn fields_keep_their_names() {
        assert_eq!(
            line(&dev(0, 3, 4096)),
            "dev=259:0 name=nvme0n1 copies=3 failures=0 bytes_offloaded=4096 bytes_emulated=0 fallback_no_provider=0 \
             fallback_cross_device=0 fallback_unpaired=0 fallback_device_error=0 fallback_disabled=512 fallback_limits=0"
        );
        assert_eq!(
            Value::Object(object(&dev(0, 3, 4096))).to_string(),
            r#"{"dev":"259:0","name":"nvme0n1","copies":3,"failures":0,"bytes_offloaded":4096,"bytes_emulated":0,"fallback_no_provider":0,"fallback_cross_device":0,"fallback_unpaired":0,"fallback_device_error":0,"fallback_disabled":512,"fallback_limits":0}"#
        );
    }

    #[test]
    fn watch_reports_rates_of_active_devices() {
        let before = [dev(0, 1, 0), dev(1, 5, 0)];
        let now = [dev(0, 5, 8 << 20), dev(1, 5, 0), dev(2, 2, 0)];
        let r = rates(&before, &now, 2.0);
        assert_eq!(r.len(), 3, "{r:?}");
        assert!(r[1].starts_with("nvme0n1") && r[1].contains("2.0") && r[1].contains("4.0 MiB/s"), "{}", r[1]);
        assert!(r[2].contains("1.0"), "a new device counts from zero: {}", r[2]);
    }
}
