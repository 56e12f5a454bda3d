//! `cargo xtask verify-git`: real env and secret files are git-ignored and untracked, and no
//! known secret value sits anywhere in the repository's history (a value committed and
//! deleted later is still in every clone).

use crate::effects::git;
use crate::plan::secrets::store::Target;
use crate::project::Project;
use crate::project::{EnvSelection, EnvSource};
use crate::report::{Format, Status, print_json};
use anyhow::Context;
use envfile::{Schema, Secret};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also take known secret values from this env file (the schema's environments'
    /// default env files and secrets/*.txt are always used)
    #[arg(long, value_name = "PATH")]
    pub env_file: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Problem {
    /// A real env or secret file is tracked by git.
    Tracked,
    /// A real env or secret file would not be ignored by `git add`.
    NotIgnored,
    /// A known secret value is in a blob reachable from some ref.
    InHistory,
}

#[derive(Debug, Clone, Serialize)]
pub struct GitFinding {
    pub problem: Problem,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked: Option<String>,
}

pub const REMEDIATION: &str = "\
remediation, in this order:
  1. rotate every exposed secret first: `cargo xtask secrets rotate NAME` (a value in history is
     public to anyone with a clone, rewriting history does not un-leak it); revoke provider keys
     at the provider
  2. untrack real files: `git rm --cached PATH` and make sure .gitignore covers them
  3. rewrite history: `git filter-repo --invert-paths --path PATH` (or `--replace-text FILE`)
  4. force-push every branch and tag: `git push --force --all && git push --force --tags`
  5. invalidate old clones: every collaborator re-clones; purge CI caches and forks
  6. run `cargo xtask verify-git` and `cargo xtask audit` again
see docs/guides/incident-response.md";

/// Is `path` (repository-relative) a real env or secret file, as opposed to an example?
pub fn is_real_secret_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name.ends_with(".example") || name == ".gitkeep" {
        return false;
    }
    let env_file = name == ".env" || name.starts_with(".env.");
    let secret_file = path.starts_with("secrets/") && !path["secrets/".len()..].contains('/');
    env_file || secret_file
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let root = p.root().to_path_buf();
        let schema = p.schema()?;
        let known = known_values(p, schema, &self.env_file)?;
        let mut findings = hygiene(&root, schema)?;
        findings.extend(history(&root, &known)?);
        if self.format == Format::Json {
            print_json(&serde_json::json!({
                "known_values": known.len(),
                "findings": findings,
                "remediation": if findings.is_empty() { None } else { Some(REMEDIATION) },
            }))?;
        } else {
            for f in &findings {
                let what = match f.problem {
                    Problem::Tracked => "tracked by git".to_string(),
                    Problem::NotIgnored => "not git-ignored".to_string(),
                    Problem::InHistory => format!(
                        "{} ({}) in commit {}",
                        f.variable.as_deref().unwrap_or("a secret"),
                        f.masked.as_deref().unwrap_or(""),
                        f.commit.as_deref().unwrap_or("?")
                    ),
                };
                println!("✗ {}: {what}", f.path);
            }
            if findings.is_empty() && known.is_empty() {
                println!("✔ real env and secret files are ignored and untracked");
                println!("  no secret values known yet (no env file or secrets/*.txt), so history was not searched");
            } else if findings.is_empty() {
                println!(
                    "✔ real env and secret files are ignored and untracked; none of {} known secret values is in git history",
                    known.len()
                );
            } else {
                println!("\n{REMEDIATION}");
            }
        }
        Ok(Status::failed_if(!findings.is_empty()))
    }
}

/// Secret values the project has now, by variable: every environment's env file and
/// secret files, plus extra env files. Values under 8 characters are too common to search.
pub fn known_values(p: &Project, schema: &Schema, extra: &[PathBuf]) -> anyhow::Result<Vec<(String, Secret)>> {
    let file = |env: &str, path: PathBuf| EnvSelection {
        env: env.to_string(),
        source: EnvSource::File { path, defaulted: false },
    };
    let mut targets: Vec<Target> =
        schema.meta.environments.iter().map(|e| Target::new(p, &file(e, p.default_env_file(e)))).collect();
    for f in extra {
        targets.push(Target::new(p, &file(crate::project::DEFAULT_ENV, f.clone())));
    }
    let mut known: Vec<(String, Secret)> = Vec::new();
    for t in &targets {
        let current = p.current_values(t, schema)?;
        for v in schema.vars.iter().filter(|v| v.plane.is_secret()) {
            if let Some(value) = current.get(&v.name)
                && value.len() >= 8
                && !known.iter().any(|(_, k)| *k == value)
            {
                known.push((v.name.clone(), value));
            }
        }
    }
    Ok(known)
}

/// Real files tracked, and the files secrets gen writes that git would not ignore.
pub fn hygiene(root: &Path, schema: &Schema) -> anyhow::Result<Vec<GitFinding>> {
    let mut findings: Vec<GitFinding> = git::tracked_files(root)?
        .into_iter()
        .filter(|p| is_real_secret_file(p))
        .map(|path| GitFinding { problem: Problem::Tracked, path, commit: None, variable: None, masked: None })
        .collect();
    let mut expected: Vec<String> = schema.meta.environments.iter().map(|e| format!(".env.{e}")).collect();
    for v in &schema.vars {
        if v.plane.is_secret() {
            expected.push(format!("secrets/{}.txt", v.secret_file_name()));
        }
    }
    for path in expected {
        if !git::is_ignored(root, &path)? {
            findings.push(GitFinding {
                problem: Problem::NotIgnored,
                path,
                commit: None,
                variable: None,
                masked: None,
            });
        }
    }
    Ok(findings)
}

/// Every blob (and commit message) reachable from any ref, searched for the known values
/// in every encoding the scanner knows (raw, base64, hex, URL-encoded, ...), through the
/// leakscan git source.
pub fn history(root: &Path, known: &[(String, Secret)]) -> anyhow::Result<Vec<GitFinding>> {
    if known.is_empty() {
        return Ok(Vec::new());
    }
    let values = known
        .iter()
        .map(|(n, v)| leakscan::KnownValue { variable: n.clone(), value: v.expose().as_bytes().to_vec() })
        .collect();
    let allow = leakscan::Allowlist::parse("").context("empty allowlist")?;
    let scanner = leakscan::Scanner::new(leakscan::Needles::build(values, &allow), allow).with_patterns(false);
    let report = leakscan::scan_git(&scanner, root).context("scan git history")?;
    let mut findings = Vec::new();
    for f in report.findings {
        let leakscan::Location::Commit { commit, path } = &f.location else { continue };
        if f.kind != leakscan::Kind::Known {
            continue;
        }
        findings.push(GitFinding {
            problem: Problem::InHistory,
            path: path.clone(),
            commit: Some(commit.clone()),
            masked: known.iter().find(|(n, _)| Some(n) == f.variable.as_ref()).map(|(_, v)| {
                match f.encoding.as_deref() {
                    Some("raw") | None => v.masked(),
                    Some(enc) => format!("{} ({enc})", v.masked()),
                }
            }),
            variable: f.variable.clone(),
        });
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_and_config_are_not_real_secret_files() {
        for real in [".env", ".env.production", "app/.env.local", "secrets/jwt_secret.txt"] {
            assert!(is_real_secret_file(real), "{real}");
        }
        for fine in
            [".env.production.example", "secrets/x.txt.example", "secrets/.gitkeep", "config/common.env", "src/env.rs"]
        {
            assert!(!is_real_secret_file(fine), "{fine}");
        }
    }
}
