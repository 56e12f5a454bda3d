//! `cargo xtask verify-image`: scan every layer, the config and history of a local image.

use crate::cli::Global;
use crate::output::Status;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _g: &Global) -> anyhow::Result<Status> {
        anyhow::bail!("not implemented yet (issue 4)")
    }
}
