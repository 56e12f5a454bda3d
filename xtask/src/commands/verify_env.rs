//! `cargo xtask verify-env`: read an env file exactly as Docker Compose will (or the layered
//! config) and check it against the schema (`envfile::verify`). Exit 0 clean, 1 on any
//! error-level finding, 2 on usage or I/O errors. No value is ever printed: findings name
//! variables and lines. [`check`] is the same check for build-image and deploy.

use crate::effects::git;
use crate::plan::secrets::meta::{self};
use crate::project::{DEFAULT_ENV, EnvArgs, EnvSelection, EnvSource, Project};
use crate::report::{self, Diagnostic, FindingsFormat, Place, RuleDoc, Status};
use anyhow::Context;
use envfile::layers::Layered;
use envfile::{Facts, Finding, Schema, Severity};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub env: EnvArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: FindingsFormat,
}

/// What verify-env found, ready to print (the JSON output).
#[derive(Debug, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub file: String,
    pub environment: String,
    pub errors: usize,
    pub warnings: usize,
    pub info: usize,
}

impl Report {
    fn new(findings: Vec<Finding>, file: String, environment: &str) -> Report {
        let count = |s| findings.iter().filter(|f| f.severity == s).count();
        let summary = Summary {
            file,
            environment: environment.to_string(),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            info: count(Severity::Info),
        };
        Report { findings, summary }
    }

    /// The findings in the one diagnostics shape, placed in the file they are about.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.findings.iter().map(|f| diagnostic(f, &self.summary.file)).collect()
    }
}

/// An env finding as a diagnostic, placed at `file:line`.
pub fn diagnostic(f: &Finding, file: &str) -> Diagnostic {
    Diagnostic {
        severity: f.severity,
        rule: f.code.as_str().to_string(),
        message: f.message.clone(),
        place: Some(Place::file(file, f.line)),
        hint: f.hint.clone(),
    }
}

/// The rule table of verify-env, for SARIF.
pub fn rule_docs() -> Vec<RuleDoc> {
    envfile::Code::ALL.iter().map(|c| RuleDoc { id: c.as_str(), description: c.meaning() }).collect()
}

impl Args {
    pub fn run(self, project: &Project) -> anyhow::Result<Status> {
        let selection = project.select_env(&self.env, DEFAULT_ENV)?;
        let report = check(project, &selection)?;
        match self.format {
            FindingsFormat::Json => report::print_json(&report)?,
            FindingsFormat::Sarif => {
                report::print_json(&report::sarif("cargo xtask verify-env", &rule_docs(), &report.diagnostics()))?
            }
            FindingsFormat::Human => print_human(&report),
        }
        Ok(Status::failed_if(report.summary.errors > 0))
    }
}

/// Gather the facts, run every rule, and count by severity.
pub fn check(project: &Project, selection: &EnvSelection) -> anyhow::Result<Report> {
    let schema = project.schema()?;
    let env = &selection.env;
    let overdue = overdue(project, schema, env)?;
    let path = match &selection.source {
        EnvSource::Layered => return check_layers(project, schema, env, overdue),
        EnvSource::File { path, .. } => path,
    };
    let bytes = project.read_env_bytes(path)?;
    let mut facts = file_facts(project, path, schema)?;
    facts.overdue = overdue;
    // Compose on the server interpolates from that shell's environment, unknown here:
    // references resolve to nothing, so the check does not depend on this machine.
    let findings = envfile::verify::verify(schema, env, &bytes, &|_| None, &facts);
    Ok(Report::new(findings, project.show(path), env))
}

/// The secrets of `env` past their rotation period, from `deploy/secrets-meta.toml`.
fn overdue(project: &Project, schema: &Schema, env: &str) -> anyhow::Result<Vec<envfile::Overdue>> {
    let meta = project.secrets_meta()?;
    Ok(meta::overdue(schema, &meta, env, project.clock().today())
        .into_iter()
        .map(|a| envfile::Overdue {
            name: a.name,
            since: a.since,
            age_days: a.age_days.unwrap_or(0),
            rotation_days: i64::from(a.rotation_days),
        })
        .collect())
}

fn file_facts(project: &Project, path: &Path, schema: &Schema) -> anyhow::Result<Facts> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).ok();
    let secret_files: BTreeSet<String> = schema
        .vars
        .iter()
        .filter(|v| v.delivery == envfile::Delivery::File && project.secret_file(v).is_file())
        .map(|v| v.name.clone())
        .collect();
    let git = git::facts(project.root(), path).context("ask git about the env file")?;
    Ok(Facts { mode, git, now: project.clock().now().max(0) as u64, secret_files, overdue: Vec::new() })
}

/// `verify-env --layered`: the verify rules over the combined layers. Findings point at the
/// layer file that set the variable (their line numbers would otherwise be those of the
/// rendered text).
fn check_layers(
    project: &Project,
    schema: &Schema,
    env: &str,
    overdue: Vec<envfile::Overdue>,
) -> anyhow::Result<Report> {
    // Build secrets sit in secrets/ for BuildKit; they never reach the container's env.
    let build_secret = |k: &str| schema.get(k).is_some_and(|v| v.plane == envfile::Plane::BuildSecret);
    let vars: Vec<Layered> = project.layers(env)?.into_iter().filter(|l| !build_secret(&l.key)).collect();
    let (text, origins) = crate::plan::secrets::layered::render(&vars)?;
    let facts = Facts {
        mode: None,
        git: None,
        now: project.clock().now().max(0) as u64,
        secret_files: vars.iter().filter(|l| l.origin.line.is_none()).map(|l| l.key.clone()).collect(),
        overdue,
    };
    let mut findings = envfile::verify::verify(schema, env, text.as_bytes(), &|_| None, &facts);
    for f in &mut findings {
        if let Some(origin) = f.line.and_then(|l| origins.get(l - 1)) {
            f.message = format!("{} (set in {origin})", f.message);
            f.line = None;
        }
    }
    Ok(Report::new(findings, format!("config/common.env + config/{env}.env + secrets/*.txt"), env))
}

fn print_human(report: &Report) {
    report::print_human(&report.diagnostics());
    let s = &report.summary;
    if report.findings.is_empty() {
        let ok = report::paint(report::colour_enabled(), report::OK, "ok:");
        println!("{ok} {} passes every check for {}", s.file, s.environment);
    } else {
        println!(
            "{}: {} error(s), {} warning(s), {} note(s) for {}",
            s.file, s.errors, s.warnings, s.info, s.environment
        );
    }
}
