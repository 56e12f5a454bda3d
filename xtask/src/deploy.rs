//! `cargo xtask deploy`: ship to a VPS over SSH, health-gated, with rollback.

use crate::cli::Global;
use crate::output::Status;

#[derive(Debug, clap::Subcommand)]
pub enum DeployCommand {
    /// Not implemented yet
    Todo,
}

impl DeployCommand {
    pub fn run(self, _g: &Global) -> anyhow::Result<Status> {
        anyhow::bail!("not implemented yet (issue 5)")
    }
}
