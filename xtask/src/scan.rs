//! `cargo xtask scan`: run the leak scanner on a directory, tarball, image or git history.

use crate::cli::Global;
use crate::output::Status;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _g: &Global) -> anyhow::Result<Status> {
        anyhow::bail!("not implemented yet (issue 3)")
    }
}
