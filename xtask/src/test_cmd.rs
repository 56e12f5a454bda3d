//! `cargo xtask test`: the whole test suite, with everything it needs installed and started.

use crate::cli::Global;
use crate::output::Status;
use anyhow::Context;
use xshell::{Shell, cmd};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Extra arguments passed to `cargo test` (after `--`)
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        let sh = Shell::new()?;
        sh.change_dir(g.root());
        let extra = &self.cargo_args;
        cmd!(sh, "cargo test --workspace --locked {extra...}")
            .run()
            .context("the test suite failed")?;
        Ok(Status::Ok)
    }
}
