//! `cargo xtask scan`: run the leak scanner on a directory, tarball, image or git history.

use crate::commands::verify_image::{diagnostic, known_values, rule_docs, scanner};
use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::project::{DEFAULT_ENV, EnvArgs, EnvSource, Project};
use crate::report::{self, Diagnostic, FindingsFormat, Status};
use anyhow::{Context, bail};
use envfile::Schema;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use leakscan::{Finding, KnownValue, Report, Scanner, Severity};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Whose secret-plane (and undeclared) values are searched for, with their encodings:
    /// the env file (default: <project>/.env.<NAME> when it exists) or the layers.
    /// `secrets/*.txt` values are always added.
    #[command(flatten)]
    pub env: EnvArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: FindingsFormat,
    /// Search for the known values only, without the pattern rules
    #[arg(long)]
    pub no_patterns: bool,
    /// What to scan: a directory, a tarball or image export (`docker save`, OCI layout),
    /// `image:NAME` (a local image, streamed from the engine) or `git:PATH` (whole history)
    #[arg(value_name = "TARGET")]
    pub target: String,
}

/// What `TARGET` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Path(PathBuf),
    Image(String),
    Git(PathBuf),
}

impl Target {
    pub fn parse(s: &str) -> anyhow::Result<Target> {
        if let Some(name) = s.strip_prefix("image:") {
            if name.is_empty() {
                bail!("`image:` needs an image name, e.g. image:app:latest");
            }
            return Ok(Target::Image(name.to_string()));
        }
        if let Some(path) = s.strip_prefix("git:") {
            let path = PathBuf::from(if path.is_empty() { "." } else { path });
            if !path.join(".git").exists() && !path.join("HEAD").is_file() {
                bail!("{} is not a git repository (expected git:PATH to a work tree or bare repo)", path.display());
            }
            return Ok(Target::Git(path));
        }
        let path = PathBuf::from(s);
        if !path.exists() {
            bail!("{s}: no such file or directory (TARGET is a directory, a tarball, image:NAME or git:PATH)");
        }
        Ok(Target::Path(path))
    }
}

/// The JSON report: the contract CI and other tools read.
#[derive(Debug, Serialize)]
pub struct ScanOutput<'a> {
    pub target: &'a str,
    pub findings: &'a [Finding],
    pub bytes_scanned: u64,
    pub findings_dropped: u64,
    /// Declared values too short (< 8 bytes) to be protected by scanning.
    pub weak_values: Vec<String>,
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let target = Target::parse(&self.target)?;
        let known = collect_known(p, &self.env)?;
        let progress = Progress::new(report::progress_enabled(self.format.base()));
        let bar = progress.clone();
        let scanner = scanner(p, known)?.with_patterns(!self.no_patterns).with_progress(move |n| bar.inc(n));
        let report = run_scan(&scanner, &target)?;
        progress.finish();
        let weak: Vec<String> = scanner.needles().weak_values().iter().map(|w| w.variable.clone()).collect();
        print(&self.target, &report, &weak, self.format)?;
        Ok(Status::failed_if(report.has_errors()))
    }
}

/// Known values: the env file's secret-plane and undeclared variables, plus `secrets/*.txt`.
/// Public-plane values are never searched for: they are meant to ship.
fn collect_known(p: &Project, args: &EnvArgs) -> anyhow::Result<Vec<KnownValue>> {
    let schema = p.schema_if_present()?;
    let mut known = Vec::new();
    match schema {
        Some(s) => {
            let selection = p.select_env(args, DEFAULT_ENV)?;
            let absent_default =
                matches!(&selection.source, EnvSource::File { path, defaulted: true } if !path.exists());
            if !absent_default {
                known.extend(known_values(s, &p.load_env(&selection)?));
            }
        }
        // Without a schema nothing is known to be public: every value of the env file counts
        // (the one named, or `.env.<NAME>` when it exists).
        None => {
            let named = args.env_file.clone();
            let default = p.root().join(format!(".env.{}", args.env.as_deref().unwrap_or(DEFAULT_ENV)));
            if let Some(path) = named.or(default.exists().then_some(default)) {
                let env = p.load_env_file(&path)?;
                known.extend(
                    env.iter()
                        .filter(|v| !v.value.is_empty())
                        .map(|v| KnownValue { variable: v.name.clone(), value: v.value.expose().as_bytes().to_vec() }),
                );
            }
        }
    }
    known.extend(secret_files(p, schema)?);
    Ok(known)
}

/// `secrets/*.txt`: one value per file, named after the schema variable it belongs to.
fn secret_files(p: &Project, schema: Option<&Schema>) -> anyhow::Result<Vec<KnownValue>> {
    let dir = p.secrets_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.context("list secrets/")?.path();
        if path.extension().is_none_or(|e| e != "txt") || !path.is_file() {
            continue;
        }
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let variable = schema
            .and_then(|s| s.vars.iter().find(|v| v.secret_file_name() == stem))
            .map(|v| v.name.clone())
            .unwrap_or_else(|| stem.to_ascii_uppercase());
        let mut value = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
        while value.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            value.pop();
        }
        out.push(KnownValue { variable, value });
    }
    Ok(out)
}

pub fn run_scan(scanner: &Scanner, target: &Target) -> anyhow::Result<Report> {
    match target {
        Target::Path(p) => leakscan::scan_path(scanner, p).with_context(|| format!("scan {}", p.display())),
        Target::Git(p) => {
            leakscan::scan_git(scanner, p).with_context(|| format!("scan the git history of {}", p.display()))
        }
        Target::Image(name) => {
            let engine = BollardEngine::from_env()?;
            engine.inspect(name)?.with_context(|| format!("no local image {name} (list them with `docker images`)"))?;
            let mut stream = engine.export(name).with_context(|| format!("export image {name}"))?;
            leakscan::scan_image_stream(scanner, &mut stream).with_context(|| format!("scan the export of {name}"))
        }
    }
}

/// A byte counter on stderr that appears only when a scan runs longer than a second.
#[derive(Clone)]
struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    shown: Arc<AtomicBool>,
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            if let Ok(style) = ProgressStyle::with_template("{spinner} scanning: {bytes} ({bytes_per_sec}, {elapsed})")
            {
                bar.set_style(style);
            }
            bar
        });
        Progress { bar, start: Instant::now(), shown: Arc::new(AtomicBool::new(false)) }
    }

    fn inc(&self, n: u64) {
        let Some(bar) = &self.bar else { return };
        bar.inc(n);
        if self.start.elapsed() > Duration::from_secs(1) && !self.shown.swap(true, Ordering::Relaxed) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn print(target: &str, report: &Report, weak: &[String], format: FindingsFormat) -> anyhow::Result<()> {
    let diagnostics: Vec<Diagnostic> = report.findings.iter().map(|f| diagnostic(f, &|p| p.to_string())).collect();
    match format {
        FindingsFormat::Json => report::print_json(&ScanOutput {
            target,
            findings: &report.findings,
            bytes_scanned: report.bytes_scanned,
            findings_dropped: report.findings_dropped,
            weak_values: weak.to_vec(),
        }),
        FindingsFormat::Sarif => report::print_json(&report::sarif("leakscan", &rule_docs(), &diagnostics)),
        FindingsFormat::Human => {
            for w in weak {
                eprintln!(
                    "note: {w} is shorter than {} bytes: too weak to protect by scanning (lengthen it)",
                    leakscan::MIN_VALUE_LEN
                );
            }
            report::print_human(&diagnostics);
            if report.findings_dropped > 0 {
                println!("... and {} more finding(s) not listed", report.findings_dropped);
            }
            let errors = report.findings.iter().filter(|f| f.severity == Severity::Error).count();
            println!(
                "{} {target}: {} MB scanned, {} finding(s), {errors} error(s)",
                if errors == 0 { "clean" } else { "LEAK" },
                report.bytes_scanned / 1_000_000,
                report.findings.len() as u64 + report.findings_dropped,
            );
            Ok(())
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(Target::parse("image:app:1").unwrap(), Target::Image("app:1".into()));
        assert!(Target::parse("image:").is_err());
        assert!(Target::parse("/definitely/not/here").is_err());
        assert_eq!(Target::parse(".").unwrap(), Target::Path(".".into()));
    }
}
