//! `cargo xtask demo`: the whole job end to end on a local sandbox VPS.

use crate::cli::Global;
use crate::output::Status;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _g: &Global) -> anyhow::Result<Status> {
        anyhow::bail!("not implemented yet (issue 5)")
    }
}
