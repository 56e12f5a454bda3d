//! The checks a deploy runs on what is about to ship: verify-env on the env file and
//! verify-image on the image (with the env file's secret values as needles).

use crate::cli::Global;
use crate::docker::ImageEngine;
use crate::output::Status;
use crate::verify_image;
use envfile::Schema;
use std::path::Path;

/// verify-env for the production environment. Until the verify-env library entry point is
/// wired here, this checks what a deploy cannot do without: every variable the schema
/// requires in production is present and non-empty.
pub fn env(_g: &Global, schema: &Schema, env_path: &Path) -> anyhow::Result<Status> {
    let text = std::fs::read_to_string(env_path)?;
    let pairs = super::envship::read_pairs(&text)?;
    let mut ok = true;
    for v in schema.vars.iter().filter(|v| v.is_required_in("production")) {
        if pairs.get(&v.name).is_none_or(|s| s.is_empty()) && !file_secret_present(env_path, v) {
            eprintln!("verify-env: {} is required in production and missing from {}", v.name, env_path.display());
            ok = false;
        }
    }
    Ok(Status::failed_if(!ok))
}

fn file_secret_present(env_path: &Path, v: &envfile::Variable) -> bool {
    v.delivery == envfile::Delivery::File
        && env_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("secrets/{}.txt", v.secret_file_name()))
            .exists()
}

/// verify-image on the image that ships: every layer, the config and the history scanned for
/// the env file's secret values and the pattern rules. Findings go to stderr.
pub fn image(g: &Global, schema: &Schema, env_path: &Path, engine: &dyn ImageEngine, image: &str) -> anyhow::Result<Status> {
    let known = verify_image::known_values(schema, &verify_image::load_env(env_path)?);
    let scanner = verify_image::scanner(&g.root(), known)?;
    let verdict = verify_image::verify_image(engine, image, &scanner)?;
    for f in &verdict.findings {
        eprintln!("verify-image: {}", verify_image::finding_line(f));
    }
    Ok(Status::failed_if(verdict.has_errors()))
}
