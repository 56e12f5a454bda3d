//! `cargo xtask codegen`: regenerate the files derived from deploy/env.schema.toml, or with
//! `--check` fail (exit 1) naming the command that fixes them. One generator per file, listed
//! in [`crate::plan::codegen::FILES`]; a test runs the check so plain `cargo test` catches drift.

use crate::plan::codegen::FILES;
use crate::project::Project;
use crate::report::Status;
use anyhow::Context;
use envfile::Schema;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not write: exit 1 if any generated file is out of date
    #[arg(long)]
    pub check: bool,
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let root = p.root().to_path_buf();
        let stale = ensure(&root, &p.path(crate::project::SCHEMA_PATH), !self.check)?;
        if self.check && !stale.is_empty() {
            for path in &stale {
                eprintln!("stale: {path} does not match deploy/env.schema.toml");
            }
            eprintln!("fix: run `cargo xtask codegen` and commit the result");
            return Ok(Status::Failed);
        }
        for path in &stale {
            println!("updated {path}");
        }
        if stale.is_empty() {
            println!("generated files are up to date");
        }
        Ok(Status::Ok)
    }
}

/// Generate every file; returns the paths whose content differed (written when `write`).
pub fn ensure(root: &Path, schema_path: &Path, write: bool) -> anyhow::Result<Vec<String>> {
    let schema = Schema::load(schema_path).map_err(|e| anyhow::anyhow!("{e}")).context("load the env schema")?;
    let mut stale = Vec::new();
    for (rel, generate) in FILES {
        let text = generate(&schema, root).with_context(|| format!("generate {rel}"))?;
        let path = root.join(rel);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current != text {
            if write {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
                }
                std::fs::write(&path, &text).with_context(|| format!("write {}", path.display()))?;
            }
            stale.push(rel.to_string());
        }
    }
    Ok(stale)
}
