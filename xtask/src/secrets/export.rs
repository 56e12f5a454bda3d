//! `secrets export`: runtime secrets and config to Docker Swarm secrets or a Kubernetes
//! manifest.

use crate::cli::Global;
use crate::output::Status;

#[derive(Debug, clap::Args)]
pub struct Args {}

impl Args {
    pub fn run(self, _g: &Global) -> anyhow::Result<Status> {
        anyhow::bail!("not implemented yet")
    }
}
