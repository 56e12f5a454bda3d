//! `cargo xtask build-image`: verify-env, a frontend built with only public variables and
//! scanned, a static server, a clean staged context, Dockerfile lint, a BuildKit build with
//! build secrets as secret mounts only, then a full scan of the exported image. Any secret
//! anywhere refuses the image (and removes it).

pub mod frontend;
mod stage;
pub mod steps;

use crate::cli::Global;
use crate::commands::build_image::frontend::Refusal;
use crate::commands::verify_image::{self, ImageVerdict};
use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::plan::dockerfile_lint::LintFinding;
use crate::report::{self, Format, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use stage::{StagedContext, stage_context};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The env file to verify and take public and secret values from
    #[arg(long, value_name = "PATH", default_value = ".env.production")]
    pub env_file: PathBuf,
    /// Environment whose requirements apply (one of the schema's meta.environments)
    #[arg(long = "env", value_name = "NAME", default_value = "production")]
    pub environment: String,
    /// Take values from the layered config (config/common.env + config/<NAME>.env +
    /// secrets/*.txt) instead of one env file
    #[arg(long, conflicts_with = "env_file")]
    pub layered: bool,
    /// Name and tag of the image
    #[arg(long, value_name = "NAME:TAG", default_value = "reference-app:latest")]
    pub tag: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Everything a build needs, resolved from flags and the environment before anything runs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub root: PathBuf,
    pub env_file: PathBuf,
    pub tag: String,
    /// The schema environment the env file is checked for.
    pub environment: String,
    /// A snapshot of the builder's process environment (read once, never mutated).
    pub builder_env: BTreeMap<String, String>,
}

/// Where a refused build stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    VerifyEnv,
    Frontend,
    DistScan,
    Lint,
    ImageScan,
}

/// How long one step took, and whether it is verification (the overhead the benchmark
/// measures) or the build itself.
#[derive(Debug, Clone, Serialize)]
pub struct StepTime {
    pub step: &'static str,
    pub verification: bool,
    pub millis: u128,
}

/// The result of build-image: plain data the CLI prints and the deploy consumes.
#[derive(Debug, Default, Serialize)]
pub struct BuildOutcome {
    pub tag: String,
    /// `None` when the image was built and passed every check.
    pub refused_at: Option<Stage>,
    pub env_findings: Vec<envfile::Finding>,
    pub frontend_refusals: Vec<Refusal>,
    pub dist_findings: Vec<leakscan::Finding>,
    pub lint_findings: Vec<LintFinding>,
    /// The build secret mount ids that were provided (never their values).
    pub secret_mounts: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub image: Option<ImageVerdict>,
    pub steps: Vec<StepTime>,
}

impl BuildOutcome {
    pub fn refused(&self) -> bool {
        self.refused_at.is_some()
    }
}

/// Times steps into the outcome.
pub(crate) struct Timer<'a> {
    steps: &'a mut Vec<StepTime>,
}

impl Timer<'_> {
    pub(crate) fn time<T>(&mut self, step: &'static str, verification: bool, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.steps.push(StepTime { step, verification, millis: start.elapsed().as_millis() });
        out
    }
}

/// Run the whole build. `Err` is an environment problem (no engine, npm failed); a refusal
/// is an `Ok` outcome with `refused_at` set.
pub fn build_image(
    opts: &BuildOptions,
    engine: &dyn ImageEngine,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<BuildOutcome> {
    steps::run(opts, engine, progress)
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        if self.format == Format::Sarif {
            anyhow::bail!(
                "build-image prints human or json; for SARIF run `cargo xtask verify-image --format sarif IMAGE`"
            );
        }
        let root = g.root();
        // The layered file lives in a private temp dir for as long as the build runs.
        let layered = if self.layered {
            let schema = envfile::Schema::load(&g.schema_path()).map_err(|e| anyhow::anyhow!("{e}"))?;
            Some(layered_env_file(&root, &schema, &self.environment)?)
        } else {
            None
        };
        let env_file = match &layered {
            Some((_dir, path)) => path.clone(),
            None if self.env_file.is_absolute() => self.env_file,
            None => root.join(self.env_file),
        };
        let opts = BuildOptions {
            env_file,
            root,
            tag: self.tag,
            environment: self.environment,
            builder_env: std::env::vars().collect(),
        };
        let engine = BollardEngine::from_env()?;
        let quiet = self.format == Format::Json;
        let mut progress = |line: &str| {
            if !quiet {
                eprintln!("build-image: {line}");
            }
        };
        let outcome = build_image(&opts, &engine, &mut progress)?;
        match self.format {
            Format::Human => print_human(&outcome),
            _ => report::print_json(&outcome)?,
        }
        Ok(Status::failed_if(outcome.refused()))
    }
}

/// The layered config of `env` written as one env file (0600, in a fresh 0700 temp dir) so
/// every later step reads exactly what a single-file build would. Build secrets stay out:
/// they reach BuildKit from secrets/ as secret mounts, never through the env file.
fn layered_env_file(root: &Path, schema: &envfile::Schema, env: &str) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    use anyhow::Context;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let is_build_secret = |k: &str| schema.get(k).is_some_and(|v| v.plane == envfile::Plane::BuildSecret);
    let vars: Vec<_> =
        crate::commands::secrets::layered::load(root, env)?.into_iter().filter(|l| !is_build_secret(&l.key)).collect();
    let (text, _origins) = crate::commands::secrets::layered::render(&vars)?;
    let dir = tempfile::Builder::new().prefix("xtask-layered-").tempdir().context("create a temp dir")?;
    let path = dir.path().join(format!(".env.{env}"));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("write the layered env file {}", path.display()))?;
    Ok((dir, path))
}

fn print_human(o: &BuildOutcome) {
    for f in &o.env_findings {
        println!(
            "{}: {} {}{}",
            f.severity.as_str(),
            f.code,
            f.message,
            f.hint.as_deref().map(|h| format!(" (fix: {h})")).unwrap_or_default()
        );
    }
    for r in &o.frontend_refusals {
        println!("error: {}: {} (fix: {})", r.rule, r.message, r.fix);
    }
    for f in &o.dist_findings {
        println!("{} (in the frontend bundle)", verify_image::finding_line(f));
    }
    for f in &o.lint_findings {
        println!("{:?}: Dockerfile:{} {}: {} (fix: {})", f.severity, f.line, f.rule, f.message, f.fix);
    }
    if let Some(v) = &o.image {
        for f in &v.findings {
            println!("{}", verify_image::finding_line(f));
        }
    }
    match (o.refused_at, &o.image) {
        (Some(stage), image) => println!(
            "refused at {stage:?}: {} (fix the findings above and run again)",
            if image.is_some() { "the image was removed" } else { "no image was built" }
        ),
        (None, Some(v)) => println!(
            "built {} ({}, {:.1} MB): clean; {} known value(s) searched in {:.1} MB, {} finding(s)",
            o.tag,
            &v.id,
            v.size as f64 / 1e6,
            v.known_values,
            v.bytes_scanned as f64 / 1e6,
            v.findings.len()
        ),
        (None, None) => println!("built {}", o.tag),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    // Issue 6: build-image accepts `--env NAME --layered` and reads the same layers as
    // verify-env; the build secret stays out of the file that feeds the build.
    #[test]
    fn layered_env_file_combines_layers_privately_without_build_secrets() {
        let root = tempfile::tempdir().unwrap();
        let w = |rel: &str, text: &str| {
            let p = root.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w("config/common.env", "LOG_LEVEL=info\nNODE_ENV=development\n");
        w("config/production.env", "NODE_ENV=production\n");
        w("secrets/jwt_secret.txt", "canary-layered-3b9f1e7a2c5d8f0a1b2c3d4e\n");
        w("secrets/npm_token.txt", "canary-npm-7d1e2f3a4b5c6d7e\n");
        let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/env.schema.toml");
        let schema = envfile::Schema::load(&schema_path).unwrap();

        let (_dir, path) = layered_env_file(root.path(), &schema, "production").unwrap();

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("NODE_ENV=production\n"), "later layer wins: {text}");
        assert!(text.contains("LOG_LEVEL=info\n"));
        assert!(text.contains("JWT_SECRET="), "secret files are layered in");
        assert!(!text.contains("NPM_TOKEN"), "build secrets never enter the env file");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
