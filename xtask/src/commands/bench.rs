//! `cargo xtask bench NAME`: benchmarks, each reported as a ratio against a baseline run
//! side by side on the same input (never as a timed assertion in a test).

use crate::project::Project;
use crate::report::{Format, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bench {
    /// verify-env on a generated 1,000-variable file
    Env,
    /// the scanner on a generated corpus with planted secrets, against ripgrep and peers
    Scan,
    /// build-image: verification overhead as a share of the whole build
    Build,
    /// deploy and redeploy to the sandbox: time and bytes sent
    Deploy,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which benchmark to run
    #[arg(value_enum)]
    pub name: Bench,
    /// Smaller inputs and fewer repetitions (a smoke run, not a measurement)
    #[arg(long)]
    pub quick: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        match self.name {
            Bench::Env => crate::bench::env::run(self.quick, self.format, p),
            Bench::Scan => crate::bench::scan::run(self.quick, self.format, p),
            Bench::Build => crate::bench::build::run(self.quick, self.format, p),
            Bench::Deploy => crate::bench::deploy::run(self.quick, self.format, p),
        }
    }
}
