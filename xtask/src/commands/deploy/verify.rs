//! The checks a deploy runs on what is about to ship: verify-env on the env file and
//! verify-image on the image (with the env file's secret values as needles).

use crate::cli::Global;
use crate::commands::verify_image;
use crate::effects::docker::ImageEngine;
use crate::report::Status;
use envfile::Schema;
use std::path::Path;

/// verify-env for the production environment, the same rules as `cargo xtask verify-env`.
/// Findings go to stderr (they name variables and lines, never values).
pub fn env(g: &Global, _schema: &Schema, env_path: &Path) -> anyhow::Result<Status> {
    let args = crate::commands::verify_env::Args {
        environment: "production".into(),
        env_file: Some(env_path.to_path_buf()),
        layered: false,
        format: crate::report::Format::Human,
    };
    let report = args.check(g)?;
    for f in report.findings.iter().filter(|f| f.severity != envfile::Severity::Info) {
        let place = f.line.map(|l| format!(":{l}")).unwrap_or_default();
        eprintln!("verify-env: {}[{}] {}{place} {}", f.severity.as_str(), f.code, report.summary.file, f.message);
        if let Some(h) = &f.hint {
            eprintln!("    fix: {h}");
        }
    }
    Ok(Status::failed_if(report.summary.errors > 0))
}

/// verify-image on the image that ships: every layer, the config and the history scanned for
/// the env file's secret values and the pattern rules. Findings go to stderr.
pub fn image(
    g: &Global,
    schema: &Schema,
    env_path: &Path,
    engine: &dyn ImageEngine,
    image: &str,
) -> anyhow::Result<Status> {
    let known = verify_image::known_values(schema, &verify_image::load_env(env_path)?);
    let scanner = verify_image::scanner(&g.root(), known)?;
    let verdict = verify_image::verify_image(engine, image, &scanner)?;
    for f in &verdict.findings {
        eprintln!("verify-image: {}", verify_image::finding_line(f));
    }
    Ok(Status::failed_if(verdict.has_errors()))
}
