//! `cargo xtask lint dockerfile [PATH]`: the Dockerfile lint on its own, without a build (the
//! same code build-image runs before every build). Exit 0 clean, 1 on an error-level finding
//! (or any finding with `# check=error=true`), 2 when the file cannot be read.

use crate::effects::files;
use crate::plan::dockerfile_lint::{self, LintFinding, RULES};
use crate::project::Project;
use crate::report::{self, Diagnostic, FindingsFormat, RuleDoc, Severity, Status};
use anyhow::{Context, bail};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// No real Dockerfile comes near this; a bigger file is refused rather than read into memory.
pub const MAX_DOCKERFILE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, clap::Subcommand)]
pub enum LintCommand {
    /// Lint a Dockerfile: secrets in ARG/ENV (BuildKit's rule and the env schema's secrets),
    /// a COPY of a context that holds .env files or secrets/, a `# syntax=` pull
    Dockerfile(DockerfileArgs),
}

#[derive(Debug, clap::Args)]
pub struct DockerfileArgs {
    /// The Dockerfile [default: <project>/deploy/Dockerfile]
    pub path: Option<PathBuf>,
    /// The build context a `COPY .` would send [default: the project root]
    #[arg(long, value_name = "DIR")]
    pub context: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: FindingsFormat,
}

impl LintCommand {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        match self {
            LintCommand::Dockerfile(a) => a.run(p),
        }
    }
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    file: String,
    findings: &'a [LintFinding],
}

impl DockerfileArgs {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let path = self.path.clone().unwrap_or_else(|| p.path("deploy/Dockerfile"));
        let context = self.context.clone().unwrap_or_else(|| p.root().to_path_buf());
        let findings = lint_dockerfile(p, &path, &context)?;
        let file = p.show(&path);
        let diagnostics: Vec<Diagnostic> = findings.iter().map(|f| f.diagnostic(&file)).collect();
        match self.format {
            FindingsFormat::Json => report::print_json(&Report { file: file.clone(), findings: &findings })?,
            FindingsFormat::Sarif => {
                report::print_json(&report::sarif("cargo xtask lint dockerfile", &rule_docs(), &diagnostics))?
            }
            FindingsFormat::Human => {
                report::print_human(&diagnostics);
                if findings.is_empty() {
                    println!("{file}: clean");
                } else {
                    println!("{file}: {} finding(s)", findings.len());
                }
            }
        }
        Ok(Status::failed_if(findings.iter().any(|f| f.severity == Severity::Error)))
    }
}

fn rule_docs() -> Vec<RuleDoc> {
    RULES.iter().map(|(id, description)| RuleDoc { id, description }).collect()
}

/// Read and lint a Dockerfile: the schema's secrets (when the project has a schema) are
/// errors, and a `COPY .` is checked against what `context` holds after `.dockerignore`.
pub fn lint_dockerfile(p: &Project, path: &Path, context: &Path) -> anyhow::Result<Vec<LintFinding>> {
    let bytes = files::read_env_file(path, MAX_DOCKERFILE_BYTES).with_context(|| format!("read {}", p.show(path)))?;
    if bytes.len() > MAX_DOCKERFILE_BYTES {
        bail!("{} is over {} MiB: not a Dockerfile", p.show(path), MAX_DOCKERFILE_BYTES >> 20);
    }
    let Ok(text) = String::from_utf8(bytes) else {
        bail!("{} is not UTF-8 text: not a Dockerfile", p.show(path));
    };
    if text.contains('\0') {
        bail!("{} holds NUL bytes: not a Dockerfile", p.show(path));
    }
    let secret_names: BTreeSet<String> = match p.schema_if_present()? {
        Some(s) => s.vars.iter().filter(|v| v.plane.is_secret()).map(|v| v.name.clone()).collect(),
        None => BTreeSet::new(),
    };
    let listed = files::relative_files(context, &["target", "node_modules", ".git"])
        .context("list the files a `docker build` of the context would send")?;
    let ignore = files::read_optional(&context.join(".dockerignore"))?;
    let risky = dockerfile_lint::risky_context_files(&listed, ignore.as_deref());
    Ok(dockerfile_lint::lint(&text, &secret_names, &risky))
}
