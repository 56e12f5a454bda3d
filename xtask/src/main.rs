//! `cargo xtask`: parse the command line, dispatch to one module per command, map the
//! outcome to a stable exit code (0 ok, 1 findings or failed deploy, 2 usage or environment).

use clap::Parser;
use std::process::ExitCode;
use xtask::{cli, report};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.run() {
        Ok(status) => status.exit_code(),
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: "verify env: read .env: ...".
            eprintln!("error: {err:#}");
            report::Status::Error.exit_code()
        }
    }
}
