//! `cargo xtask secrets`: generate, rotate, inspect and export secrets.

use crate::cli::Global;
use crate::output::Status;

#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Not implemented yet
    Todo,
}

impl SecretsCommand {
    pub fn run(self, _g: &Global) -> anyhow::Result<Status> {
        anyhow::bail!("not implemented yet (issue 6)")
    }
}
