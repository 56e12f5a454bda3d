//! Output plumbing shared by every command: the `--format` flag, colour, JSON printing and
//! the exit-status contract.

use serde::Serialize;
use std::io::IsTerminal;
use std::process::ExitCode;

/// What a command ended with; `main` turns it into the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exit 0: nothing wrong.
    Ok,
    /// Exit 1: error-level findings, or a deploy that failed (and was rolled back).
    Failed,
    /// Exit 2: usage or environment error (also what any `Err` maps to).
    Error,
}

impl Status {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Status::Ok => ExitCode::from(0),
            Status::Failed => ExitCode::from(1),
            Status::Error => ExitCode::from(2),
        }
    }

    /// `Failed` when `bad` holds, else `Ok`.
    pub fn failed_if(bad: bool) -> Status {
        if bad { Status::Failed } else { Status::Ok }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Sarif,
}

/// Print a value as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}

/// Colour only on a terminal and only when NO_COLOR is unset (https://no-color.org).
pub fn colour_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Progress bars only on a terminal (stderr), never in CI logs or JSON mode.
pub fn progress_enabled(format: Format) -> bool {
    format == Format::Human && std::io::stderr().is_terminal()
}
