//! `cargo xtask bench build`: the verification overhead of build-image (verify-env, frontend
//! checks, bundle scan, Dockerfile lint, image export + scan) as a share of the whole
//! build-image time, on the reference app with a throwaway production env file. Median of a
//! few runs after one warm-up run (which pays npm ci, the cold server compile and BuildKit's
//! first solve, and is reported separately).

use crate::commands::build_image::{BuildOptions, BuildOutcome, build_image};
use crate::effects::docker::BollardEngine;
use crate::project::Project;
use crate::report::{self, Format, Status};
use anyhow::Context;
use serde::Serialize;
use std::os::unix::fs::PermissionsExt;

#[derive(Debug, Serialize)]
pub struct RunFigures {
    pub total_ms: u128,
    pub verification_ms: u128,
    pub share: f64,
    pub steps: Vec<(String, u128)>,
}

#[derive(Debug, Serialize)]
pub struct BuildBench {
    pub command: &'static str,
    pub warmup: RunFigures,
    pub runs: Vec<RunFigures>,
    pub median_share: f64,
    pub median_total_ms: u128,
    pub goal_share: f64,
}

/// `total_ms` is the wall time of the whole build_image call.
fn figures(o: &BuildOutcome, total_ms: u128) -> RunFigures {
    let verification_ms: u128 = o.steps.iter().filter(|s| s.verification).map(|s| s.millis).sum();
    RunFigures {
        total_ms,
        verification_ms,
        share: verification_ms as f64 / total_ms.max(1) as f64,
        steps: o.steps.iter().map(|s| (s.step.to_string(), s.millis)).collect(),
    }
}

pub fn run(quick: bool, format: Format, p: &Project) -> anyhow::Result<Status> {
    let dir = tempfile::tempdir().context("temp dir for the bench env file")?;
    let env_file = dir.path().join(".env.production");
    std::fs::write(&env_file, envfile::sample::production_env()).context("write the bench env file")?;
    std::fs::set_permissions(&env_file, std::fs::Permissions::from_mode(0o600))?;
    let mut builder_env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    // A throwaway build secret, so the secret-mount step runs as in a real build.
    builder_env.insert("NPM_TOKEN".into(), "benchNpmToken0123456789abcdef".into());
    let selection = crate::project::EnvSelection {
        env: "production".into(),
        source: crate::project::EnvSource::File { path: env_file, defaulted: false },
    };
    let opts = BuildOptions { project: p.clone(), selection, tag: "xtask-bench/reference:latest".into(), builder_env };
    let engine = BollardEngine::from_env()?;
    let runs = if quick { 1 } else { 5 };
    let once = || -> anyhow::Result<RunFigures> {
        let start = std::time::Instant::now();
        let outcome = build_image(&opts, &engine, &mut |_| {})?;
        let wall = start.elapsed().as_millis();
        anyhow::ensure!(
            !outcome.refused(),
            "the reference build was refused ({:?}); run `cargo xtask build-image` to see why",
            outcome.refused_at
        );
        Ok(figures(&outcome, wall))
    };
    eprintln!("bench build: warm-up run");
    let warmup = once()?;
    let mut figs = Vec::new();
    for i in 0..runs {
        eprintln!("bench build: run {}/{runs}", i + 1);
        figs.push(once()?);
    }
    let mut shares: Vec<f64> = figs.iter().map(|f| f.share).collect();
    shares.sort_by(|a, b| a.total_cmp(b));
    let mut totals: Vec<u128> = figs.iter().map(|f| f.total_ms).collect();
    totals.sort();
    let bench = BuildBench {
        command: "cargo xtask bench build",
        warmup,
        median_share: shares[shares.len() / 2],
        median_total_ms: totals[totals.len() / 2],
        runs: figs,
        goal_share: 0.10,
    };
    match format {
        Format::Human => print_human(&bench),
        _ => report::print_json(&bench)?,
    }
    Ok(Status::Ok)
}

fn print_human(b: &BuildBench) {
    println!("build-image on the reference app, {} run(s) after a warm-up", b.runs.len());
    println!(
        "warm-up: total {} ms, verification {} ms ({:.1} %)",
        b.warmup.total_ms,
        b.warmup.verification_ms,
        b.warmup.share * 100.0
    );
    for (i, r) in b.runs.iter().enumerate() {
        let steps: Vec<String> = r.steps.iter().map(|(s, ms)| format!("{s} {ms}")).collect();
        println!(
            "run {}: total {} ms, verification {:.1} % [{}]",
            i + 1,
            r.total_ms,
            r.share * 100.0,
            steps.join(", ")
        );
    }
    println!(
        "median verification share {:.1} % of {} ms (goal <= {:.0} %)",
        b.median_share * 100.0,
        b.median_total_ms,
        b.goal_share * 100.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::build_image::StepTime;

    #[test]
    fn share_counts_only_verification_steps() {
        let o = BuildOutcome {
            steps: vec![
                StepTime { step: "verify-env", verification: true, millis: 10 },
                StepTime { step: "image-build", verification: false, millis: 80 },
                StepTime { step: "image-scan", verification: true, millis: 10 },
            ],
            ..Default::default()
        };
        let f = figures(&o, 100);
        assert_eq!((f.total_ms, f.verification_ms), (100, 20));
        assert!((f.share - 0.2).abs() < 1e-9);
    }
}
