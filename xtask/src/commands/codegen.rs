//! `cargo xtask codegen`: regenerate the files derived from deploy/env.schema.toml, or with
//! `--check` fail (exit 1) naming the command that fixes them. One generator per file, listed
//! in [`crate::plan::codegen::FILES`]; a test runs the check so plain `cargo test` catches drift.

use crate::effects::files;
use crate::plan::codegen::{FILES, Sources};
use crate::plan::compose;
use crate::project::Project;
use crate::report::Status;
use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not write: exit 1 if any generated file is out of date
    #[arg(long)]
    pub check: bool,
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let stale = ensure(p, !self.check)?;
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

/// Every generated file's text, by path relative to the root.
pub fn generate_all(p: &Project) -> anyhow::Result<Vec<(&'static str, String)>> {
    let template = files::read_text(&p.path(compose::TEMPLATE_PATH))?;
    let sources = Sources { schema: p.schema()?, compose_template: &template };
    FILES
        .iter()
        .map(|(rel, generate)| Ok((*rel, generate(&sources).with_context(|| format!("generate {rel}"))?)))
        .collect()
}

/// Generate every file; returns the paths whose content differed (written when `write`).
pub fn ensure(p: &Project, write: bool) -> anyhow::Result<Vec<String>> {
    let mut stale = Vec::new();
    for (rel, text) in generate_all(p)? {
        let path = p.path(rel);
        if files::read_optional(&path)?.as_deref() != Some(text.as_str()) {
            if write {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
                }
                files::Writer::default().write(&path, text.as_bytes(), 0o644)?;
            }
            stale.push(rel.to_string());
        }
    }
    Ok(stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Like rust-analyzer's `ensure_file_contents`: a stale generated file fails the test
    /// and is rewritten by it, so the next run (and the commit) is right.
    #[test]
    fn generated_files_are_current() {
        let stale = ensure(&Project::open(Project::workspace_root()), true).unwrap();
        assert!(stale.is_empty(), "regenerated {stale:?}: they were stale; commit the rewritten files");
    }

    /// Regression: `rotation-overdue` was missing from the hand-kept code list, so
    /// the generated guide missed it. The guide now lists every code of the enum.
    #[test]
    fn the_variables_guide_lists_every_verify_env_code() {
        let all = generate_all(&Project::open(Project::workspace_root())).unwrap();
        let guide = &all.iter().find(|(rel, _)| rel.ends_with("environment-variables.md")).unwrap().1;
        for code in envfile::Code::ALL {
            assert!(guide.contains(&format!("| `{code}` |")), "{code} missing from the guide");
        }
    }

    /// The scanning guide's rule list is leakscan's rule table: every rule, with its severity.
    #[test]
    fn the_scanning_guide_lists_every_pattern_rule() {
        let all = generate_all(&Project::open(Project::workspace_root())).unwrap();
        let guide = &all.iter().find(|(rel, _)| rel.ends_with("scanning.md")).unwrap().1;
        for r in leakscan::RULES {
            assert!(guide.contains(&format!("| `{}` |", r.id)), "{} missing from the scanning guide", r.id);
        }
    }

    /// Regression: the public anon key was labelled "secret, set on the server" and provider
    /// keys "generated per machine".
    #[test]
    fn the_matrix_says_who_makes_each_value() {
        let all = generate_all(&Project::open(Project::workspace_root())).unwrap();
        let guide = &all.iter().find(|(rel, _)| rel.ends_with("environment-variables.md")).unwrap().1;
        let row =
            |name: &str| guide.lines().find(|l| l.starts_with(&format!("| `{name}` |"))).unwrap_or("").to_string();
        assert!(
            row("VITE_SUPABASE_ANON_KEY").contains("public (baked into the bundle)"),
            "{}",
            row("VITE_SUPABASE_ANON_KEY")
        );
        assert!(!row("OPENROUTER_API_KEY").contains("generated per machine"), "{}", row("OPENROUTER_API_KEY"));
    }
}
