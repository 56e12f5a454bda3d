//! `cargo xtask env show`: what the container will see, masked.

use crate::cli::Global;
use crate::output::Status;

#[derive(Debug, clap::Subcommand)]
pub enum EnvCommand {
    /// Not implemented yet
    Todo,
}

impl EnvCommand {
    pub fn run(self, _g: &Global) -> anyhow::Result<Status> {
        anyhow::bail!("not implemented yet (issue 2)")
    }
}
