//! The checks a deploy runs on what is about to ship: verify-env for the target's environment
//! and verify-image of the exact image (with the environment's secret values as needles).
//! Findings go to stderr as one line each (they name variables and places, never values).

use crate::commands::{verify_env, verify_image};
use crate::effects::docker::ImageEngine;
use crate::project::{EnvSelection, Project};
use crate::report::{self, Severity, Status};

/// verify-env, the same rules as `cargo xtask verify-env`, for the selection's environment.
pub fn env(project: &Project, selection: &EnvSelection) -> anyhow::Result<Status> {
    let report = verify_env::check(project, selection)?;
    for d in report.diagnostics().iter().filter(|d| d.severity != Severity::Info) {
        eprintln!("{}", report::line("verify-env", d));
    }
    Ok(Status::failed_if(report.summary.errors > 0))
}

/// verify-image on the image that ships: every layer, the config and the history scanned for
/// the environment's secret values and the pattern rules.
pub fn image(
    project: &Project,
    selection: &EnvSelection,
    engine: &dyn ImageEngine,
    image: &str,
) -> anyhow::Result<Status> {
    let scanner = verify_image::scanner(project, verify_image::known_for(project, selection)?)?;
    let verdict = verify_image::verify_image(engine, image, &scanner)?;
    for d in &verdict.diagnostics() {
        eprintln!("{}", report::line("verify-image", d));
    }
    Ok(Status::failed_if(verdict.has_errors()))
}
