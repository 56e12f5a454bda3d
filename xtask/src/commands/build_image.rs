//! `cargo xtask build-image`: verify-env, a frontend built with only public variables and
//! scanned, a static server, a clean staged context, Dockerfile lint, a BuildKit build with
//! build secrets as secret mounts only, then a full scan of the exported image. Any secret
//! anywhere refuses the image (and removes it).

pub mod frontend;
mod stage;
pub mod steps;

use crate::commands::build_image::frontend::Refusal;
use crate::commands::verify_image::{self, ImageVerdict};
use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::plan::dockerfile_lint::LintFinding;
use crate::project::{DEFAULT_ENV, EnvArgs, EnvSelection, Project};
use crate::report::{self, Diagnostic, Format, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

pub use stage::{StagedContext, stage_context};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub env: EnvArgs,
    /// Name and tag of the image
    #[arg(long, value_name = "NAME:TAG", default_value = "reference-app:latest")]
    pub tag: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// Everything a build needs, resolved from flags and the environment before anything runs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub project: Project,
    /// The environment checked and the values it takes (an env file or the layers).
    pub selection: EnvSelection,
    pub tag: String,
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
    /// The env file (or layers) verify-env checked.
    pub env_source: String,
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
    pub fn run(self, project: &Project) -> anyhow::Result<Status> {
        let opts = BuildOptions {
            project: project.clone(),
            selection: project.select_env(&self.env, DEFAULT_ENV)?,
            tag: self.tag,
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
            Format::Json => report::print_json(&outcome)?,
        }
        Ok(Status::failed_if(outcome.refused()))
    }
}

impl BuildOutcome {
    /// Every finding of every stage, in the one diagnostics shape.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> =
            self.env_findings.iter().map(|f| crate::commands::verify_env::diagnostic(f, &self.env_source)).collect();
        out.extend(self.frontend_refusals.iter().map(Refusal::diagnostic));
        let bundle = |path: &str| format!("web/dist/{path}");
        out.extend(self.dist_findings.iter().map(|f| {
            let mut d = verify_image::diagnostic(f, &bundle);
            d.message = format!("{} (in the frontend bundle)", d.message);
            d
        }));
        out.extend(self.lint_findings.iter().map(|f| f.diagnostic("deploy/Dockerfile")));
        if let Some(v) = &self.image {
            out.extend(v.diagnostics());
        }
        out
    }
}

fn print_human(o: &BuildOutcome) {
    report::print_human(&o.diagnostics());
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
