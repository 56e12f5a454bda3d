//! `cargo xtask verify-env`: read an env file exactly as Docker Compose will and check it
//! against the schema (`envfile::verify`). Exit 0 clean, 1 on any error-level finding, 2 on
//! usage or I/O errors. No value is ever printed: findings name variables and lines.

use crate::cli::Global;
use crate::report::{self, Format, Status};
use anyhow::{Context, bail};
use envfile::{Facts, Finding, Schema, Severity};
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment whose requirements apply (one of the schema's meta.environments)
    #[arg(long = "env", value_name = "NAME", default_value = "production")]
    pub environment: String,
    /// Env file to check [default: <project>/.env.<NAME>]
    #[arg(long, value_name = "PATH", conflicts_with = "layered")]
    pub env_file: Option<PathBuf>,
    /// Check the layered config (config/common.env + config/<NAME>.env + secrets/*.txt)
    /// instead of one env file
    #[arg(long)]
    pub layered: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// What verify-env found, ready to print.
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

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        if self.format == Format::Sarif {
            bail!("verify-env prints human or json; --format sarif is not supported");
        }
        let report = self.check(g)?;
        match self.format {
            Format::Json => report::print_json(&report)?,
            _ => print_human(&report, report::colour_enabled()),
        }
        Ok(Status::failed_if(report.summary.errors > 0))
    }

    /// Gather the facts, run every rule, and count by severity.
    pub fn check(&self, g: &Global) -> anyhow::Result<Report> {
        let root = g.root();
        let schema =
            Schema::load(&g.schema_path()).map_err(|e| anyhow::anyhow!("{e}")).context("load the env schema")?;
        if !schema.meta.environments.contains(&self.environment) {
            bail!(
                "unknown environment {:?}; the schema declares {}",
                self.environment,
                schema.meta.environments.join(", ")
            );
        }
        if self.layered {
            return crate::commands::secrets::layered::verify(&root, &schema, &self.environment);
        }
        let path = self.env_file.clone().unwrap_or_else(|| root.join(format!(".env.{}", self.environment)));
        let bytes = std::fs::read(&path).with_context(|| {
            format!("read env file {} (create it from .env.production.example, or pass --env-file)", path.display())
        })?;
        let facts = facts(&root, &path, &schema)?;
        // Compose on the server interpolates from that shell's environment, unknown here:
        // references resolve to nothing, so the check does not depend on this machine.
        let mut findings = envfile::verify::verify(&schema, &self.environment, &bytes, &|_| None, &facts);
        findings.extend(crate::commands::secrets::rotation_findings(&root, &schema, &self.environment)?);
        let count = |s| findings.iter().filter(|f| f.severity == s).count();
        let summary = Summary {
            file: display_path(&root, &path),
            environment: self.environment.clone(),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            info: count(Severity::Info),
        };
        Ok(Report { findings, summary })
    }
}

fn facts(root: &Path, path: &Path, schema: &Schema) -> anyhow::Result<Facts> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).ok();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let secret_files: BTreeSet<String> = schema
        .vars
        .iter()
        .filter(|v| v.delivery == envfile::Delivery::File)
        .filter(|v| root.join("secrets").join(format!("{}.txt", v.secret_file_name())).is_file())
        .map(|v| v.name.clone())
        .collect();
    let git = crate::effects::git::facts(root, path).context("ask git about the env file")?;
    Ok(Facts { mode, git, now, secret_files })
}

/// The path relative to the project root when it lies inside it.
pub fn display_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

fn print_human(report: &Report, colour: bool) {
    let paint = |code: &str, text: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() };
    let s = &report.summary;
    for (severity, title, col) in [
        (Severity::Error, "Errors", "1;31"),
        (Severity::Warning, "Warnings", "1;33"),
        (Severity::Info, "Notes", "1;36"),
    ] {
        let group: Vec<_> = report.findings.iter().filter(|f| f.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        println!("{}", paint(col, &format!("{title} ({})", group.len())));
        for f in group {
            let place = match f.line {
                Some(l) => format!("{}:{l}", s.file),
                None => s.file.clone(),
            };
            println!(
                "  {} {} {}",
                paint(col, &format!("{}[{}]", severity.as_str(), f.code)),
                paint("2", &place),
                f.message
            );
            if let Some(h) = &f.hint {
                println!("      {} {h}", paint("32", "fix:"));
            }
        }
        println!();
    }
    if report.findings.is_empty() {
        println!("{} {} passes every check for {}", paint("1;32", "ok:"), s.file, s.environment);
    } else {
        println!(
            "{}: {} error(s), {} warning(s), {} note(s) for {}",
            s.file, s.errors, s.warnings, s.info, s.environment
        );
    }
}
