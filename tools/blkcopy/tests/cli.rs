// SPDX-License-Identifier: GPL-2.0

//! The command line as users meet it, against golden outputs
//! (tests/golden/; regenerate one with `blkcopy <cmd> --help` when a change
//! to the interface is intended): help, version, suggestions, the one-line
//! failure, completions and the manual page.

use std::process::{Command, Output};

fn blkcopy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blkcopy")).args(args).env_remove("COLUMNS").output().expect("run blkcopy")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_of_every_command_matches_its_golden_output() {
    for (cmd, golden) in [
        (None, include_str!("golden/help-top.txt")),
        (Some("copy"), include_str!("golden/help-copy.txt")),
        (Some("batch"), include_str!("golden/help-batch.txt")),
        (Some("info"), include_str!("golden/help-info.txt")),
        (Some("stats"), include_str!("golden/help-stats.txt")),
        (Some("completions"), include_str!("golden/help-completions.txt")),
    ] {
        let mut args: Vec<&str> = cmd.into_iter().collect();
        args.push("--help");
        let o = blkcopy(&args);
        assert!(o.status.success(), "{args:?}");
        assert_eq!(stdout(&o), golden, "blkcopy {args:?}");
    }
}

#[test]
fn version() {
    let o = blkcopy(&["--version"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), format!("blkcopy {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_mistyped_option_gets_a_suggestion_and_status_2() {
    let o = blkcopy(&["copy", "--lenght", "4K", "/dev/a", "/dev/b"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("tip: a similar argument exists: '--length'"), "{}", stderr(&o));
    let o = blkcopy(&["stat"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("a similar subcommand exists: 'stats'"), "{}", stderr(&o));
}

#[test]
fn conflicting_options_are_refused() {
    let o = blkcopy(&["copy", "/dev/a", "/dev/b", "--offload-only", "--no-offload"]);
    assert_eq!(o.status.code(), Some(2));
    let o = blkcopy(&["copy", "/dev/a", "/dev/b", "--range", "0:0:4K", "--length", "4K"]);
    assert_eq!(o.status.code(), Some(2));
    let o = blkcopy(&["copy", "/dev/a", "/dev/b", "--length", "4Q"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad size '4Q'"), "{}", stderr(&o));
}

#[test]
fn a_failure_is_one_line_and_status_1() {
    let o = blkcopy(&["copy", "/nonexistent-blkcopy-src", "/dev/null"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "blkcopy: /nonexistent-blkcopy-src: No such file or directory (os error 2)\n");
    assert_eq!(stdout(&o), "");
}

#[test]
fn completions_and_manual_page_come_from_the_same_definition() {
    let o = blkcopy(&["completions", "bash"]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.contains("--queue-depth") && s.contains("--offload-only") && s.contains("batch"), "bash completion");
    let o = blkcopy(&["manpage"]);
    assert!(o.status.success());
    let s = stdout(&o);
    assert!(s.starts_with(".ie \\n(.g .ds Aq") && s.contains(".TH blkcopy 1"), "roff manual page");
}
