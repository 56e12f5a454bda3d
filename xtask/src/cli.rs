//! The clap definitions: global options and the command enum; each command's own flags live
//! in its module as an `Args` type.

use crate::commands::{
    audit, bench, build_image, codegen, demo, deploy, env_show, lint, scan, secrets, test as test_cmd, verify_env,
    verify_git, verify_image,
};
use crate::project::Project;
use crate::report::Status;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Take a Vite + server app to a VPS with Docker Compose, proving no secret leaks on the way.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Project root (holds deploy/env.schema.toml); defaults to this workspace
    #[arg(long, global = true, value_name = "DIR", env = "XTASK_PROJECT_DIR")]
    pub project_dir: Option<PathBuf>,
}

impl Global {
    /// The project root: `--project-dir`, else the workspace this xtask was built from.
    pub fn root(&self) -> PathBuf {
        self.project_dir.clone().unwrap_or_else(Project::workspace_root)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an env file against the schema, reading it exactly as Docker Compose does
    VerifyEnv(verify_env::Args),
    /// Show what the container will see (secret values masked)
    #[command(subcommand)]
    Env(env_show::EnvCommand),
    /// Regenerate the files derived from the schema (or check they are current)
    Codegen(codegen::Args),
    /// Scan a directory, tarball, image or git history for secrets
    Scan(scan::Args),
    /// Build the frontend and the image, refusing any secret in the bundle or a layer
    BuildImage(build_image::Args),
    /// Scan every layer, the config and the history of a local image
    VerifyImage(verify_image::Args),
    /// Lint a Dockerfile without building (the same checks build-image runs)
    #[command(subcommand)]
    Lint(lint::LintCommand),
    /// Deploy to a VPS over SSH, health-gated, with automatic rollback
    #[command(subcommand)]
    Deploy(deploy::DeployCommand),
    /// Generate, rotate, inspect and export secrets
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Check that no real env or secret file is tracked and no secret is in git history
    VerifyGit(verify_git::Args),
    /// Evaluate the security posture checklist
    Audit(audit::Args),
    /// The whole job on a local sandbox VPS: secrets, verify, build, deploy, health, URL
    Demo(demo::Args),
    /// Run the whole test suite, starting the Docker engine and sandbox it needs
    Test(test_cmd::Args),
    /// Run the benchmarks and print ratios against their baselines
    Bench(bench::Args),
}

impl Cli {
    pub fn run(self) -> anyhow::Result<Status> {
        let project = Project::open(self.global.root());
        let g = &project;
        match self.command {
            Command::VerifyEnv(a) => a.run(g),
            Command::Env(c) => c.run(g),
            Command::Codegen(a) => a.run(g),
            Command::Scan(a) => a.run(g),
            Command::BuildImage(a) => a.run(g),
            Command::VerifyImage(a) => a.run(g),
            Command::Lint(c) => c.run(g),
            Command::Deploy(c) => c.run(g),
            Command::Secrets(c) => c.run(g),
            Command::VerifyGit(a) => a.run(g),
            Command::Audit(a) => a.run(g),
            Command::Demo(a) => a.run(g),
            Command::Test(a) => a.run(g),
            Command::Bench(a) => a.run(g),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
