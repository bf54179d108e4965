// SPDX-License-Identifier: GPL-2.0

//! `blkcopy`: copy between block devices through /dev/blkcopy (offloaded to
//! the device where it can copy). See `blkcopy --help` and
//! Documentation/blkcopy.rst.
//!
//! Exit status 0 on success; on failure 1 and one line `blkcopy: <reason>`
//! on stderr (usage errors: clap's message and status 2).

use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

mod batch;
mod copy;
mod info;
mod output;
mod stats;

/// A failure: the reason printed after `blkcopy: `.
#[derive(Debug)]
pub(crate) struct Fail(pub(crate) String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

/// A size: a number with an optional K, M, G or T suffix (powers of 1024).
fn size(s: &str) -> Result<u64, String> {
    blkcopy_uapi::parse_size(s)
}

/// Copy between block devices, offloaded to the device where it can copy
/// (NVMe Copy, SCSI EXTENDED COPY), otherwise through the host.
#[derive(Parser)]
#[command(name = "blkcopy", version, about, propagate_version = true, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Copy a range (or several) from SRC to DST.
    Copy(copy::CopyArgs),
    /// Copy many ranges asynchronously, one copy per input line
    /// ("SRC DST SRC_OFF DST_OFF LEN"; # starts a comment), reporting each
    /// as it ends.
    Batch(batch::BatchArgs),
    /// Show a device's copy capability, and whether a copy to DEV2 is
    /// offloaded.
    Info(info::InfoArgs),
    /// Show blkcopy's per-device statistics.
    Stats(stats::StatsArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the manual page (roff).
    Manpage,
}

#[derive(Args)]
struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(Clone, Copy, ValueEnum)]
enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// How a copy may go: the device only, the host only, or the device where
/// it can.
#[derive(Args, Clone, Copy)]
#[group(multiple = false)]
pub(crate) struct Mode {
    /// Fail (EOPNOTSUPP) rather than copy any part through the host.
    #[arg(long)]
    offload_only: bool,
    /// Copy through the host without trying the device.
    #[arg(long)]
    no_offload: bool,
}

impl Mode {
    /// The uAPI's flags.
    pub(crate) fn flags(self) -> u32 {
        let mut f = 0;
        if self.offload_only {
            f |= blkcopy_uapi::FLAG_OFFLOAD_ONLY;
        }
        if self.no_offload {
            f |= blkcopy_uapi::FLAG_NO_OFFLOAD;
        }
        f
    }
}

/// Opens /dev/blkcopy, saying what to do when it is missing.
pub(crate) fn control() -> Result<blkcopy_uapi::Control, Fail> {
    blkcopy_uapi::Control::open().map_err(|e| Fail(format!("/dev/blkcopy: {e} (is the blkcopy module loaded?)")))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Copy(a) => copy::run(a),
        Command::Batch(a) => batch::run(a),
        Command::Info(a) => info::run(a),
        Command::Stats(a) => stats::run(a),
        Command::Completions(a) => {
            let shell = match a.shell {
                Shell::Bash => clap_complete::Shell::Bash,
                Shell::Zsh => clap_complete::Shell::Zsh,
                Shell::Fish => clap_complete::Shell::Fish,
            };
            clap_complete::generate(shell, &mut Cli::command(), "blkcopy", &mut std::io::stdout());
            Ok(())
        }
        Command::Manpage => clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()).map_err(Fail::from),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("blkcopy: {msg}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
