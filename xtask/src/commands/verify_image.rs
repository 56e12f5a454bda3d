//! `cargo xtask verify-image`: scan every layer, the config and the history of a local image,
//! streamed from the engine's export (never written to disk as a whole). build-image runs the
//! same [`verify_image`] as its last step.

use crate::cli::Global;
use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::report::{self, Format, Status};
use anyhow::Context;
use envfile::Schema;
use envfile::env::Env;
use leakscan::{Allowlist, Finding, KnownValue, Needles, Scanner, Severity};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Env file whose secret values are searched for (default: <project>/.env.production
    /// when it exists), besides secrets/ files and build secrets from the environment;
    /// with none of them only the pattern rules run
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// The local image (name:tag or id)
    pub image: String,
}

/// The verdict on one image: plain data for the CLI, build-image and the deploy.
#[derive(Debug, Serialize)]
pub struct ImageVerdict {
    pub image: String,
    pub id: String,
    pub size: u64,
    /// How many secret values (with their encodings) were searched for.
    pub known_values: usize,
    pub bytes_scanned: u64,
    pub findings: Vec<Finding>,
}

impl ImageVerdict {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// The secret values to hunt for: every secret-plane value of the env file, plus any value of
/// a variable the schema does not declare (fail safe, as `Env::is_secret` does).
pub fn known_values(schema: &Schema, env: &Env) -> Vec<KnownValue> {
    env.iter()
        .filter(|v| Env::is_secret(schema, &v.name) && !v.value.is_empty())
        .map(|v| KnownValue { variable: v.name.clone(), value: v.value.expose().as_bytes().to_vec() })
        .collect()
}

/// Load the env file (as Compose reads it, no interpolation from our own environment).
pub fn load_env(path: &Path) -> anyhow::Result<Env> {
    Env::load(path, &|_| None)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("read env file {}", path.display()))
}

/// The scanner every image and dist check uses: known values, pattern rules and the project's
/// allowlist (`deploy/leakscan-allow.toml`).
pub fn scanner(root: &Path, known: Vec<KnownValue>) -> anyhow::Result<Scanner> {
    let path = root.join("deploy/leakscan-allow.toml");
    let allow = Allowlist::load(&path).with_context(|| format!("read allowlist {}", path.display()))?;
    let needles = Needles::build(known, &allow);
    Ok(Scanner::new(needles, allow).with_patterns(true))
}

/// Export `image` from the engine and scan the stream: every layer (with files deleted in a
/// later layer), the config (env, labels) and the history.
pub fn verify_image(engine: &dyn ImageEngine, image: &str, scanner: &Scanner) -> anyhow::Result<ImageVerdict> {
    let info =
        engine.inspect(image)?.with_context(|| format!("no local image {image} (list them with `docker images`)"))?;
    let mut stream = engine.export(image).with_context(|| format!("export image {image}"))?;
    let report =
        leakscan::scan_image_stream(scanner, &mut stream).with_context(|| format!("scan the export of {image}"))?;
    Ok(ImageVerdict {
        image: image.to_string(),
        id: info.id,
        size: info.size,
        known_values: scanner.needles().value_count(),
        bytes_scanned: report.bytes_scanned,
        findings: report.findings,
    })
}

/// One line per finding, for humans; never a value, at most the masked preview.
pub fn finding_line(f: &Finding) -> String {
    let sev = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    let preview = f.preview.as_deref().map(|p| format!(" [{p}]")).unwrap_or_default();
    format!("{sev}: {} at {}{preview}", f.what(), f.location)
}

/// The env file to take known values from: the flag, else `.env.production` when present.
pub fn default_env_file(root: &Path, flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| Some(root.join(".env.production")).filter(|p| p.is_file()))
}

impl Args {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        let root = g.root();
        let schema =
            Schema::load(&g.schema_path()).map_err(|e| anyhow::anyhow!("{e}")).context("load the env schema")?;
        let env = match default_env_file(&root, self.env_file) {
            Some(path) => load_env(&path)?,
            None => Env::default(),
        };
        // Also the file-delivered secrets in secrets/ and the build secrets (NPM_TOKEN from
        // this shell or secrets/npm_token.txt): none of them may be in an image either.
        let builder_env = std::env::vars().collect();
        let build = crate::commands::build_image::steps::build_secrets(&schema, &root, &builder_env);
        let known = crate::commands::build_image::steps::known_values(&schema, &env, &root, &build);
        let scanner = scanner(&root, known)?;
        let engine = BollardEngine::from_env()?;
        let verdict = verify_image(&engine, &self.image, &scanner)?;
        print_verdict(&verdict, self.format)?;
        Ok(Status::failed_if(verdict.has_errors()))
    }
}

pub fn print_verdict(v: &ImageVerdict, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => report::print_json(v),
        Format::Sarif => report::print_json(&sarif(v)),
        Format::Human => {
            for f in &v.findings {
                println!("{}", finding_line(f));
            }
            let errors = v.findings.iter().filter(|f| f.severity == Severity::Error).count();
            println!(
                "{} {}: {} MB, {} known value(s) searched, {} MB scanned, {} finding(s), {errors} error(s)",
                if errors == 0 { "clean" } else { "LEAK" },
                v.image,
                v.size / 1_000_000,
                v.known_values,
                v.bytes_scanned / 1_000_000,
                v.findings.len()
            );
            Ok(())
        }
    }
}

/// SARIF 2.1.0 with one result per finding; the location is the image plus the layer path.
fn sarif(v: &ImageVerdict) -> serde_json::Value {
    let results: Vec<_> = v
        .findings
        .iter()
        .map(|f| {
            serde_json::json!({
                "ruleId": f.rule.clone().unwrap_or_else(|| "known-value".into()),
                "level": match f.severity { Severity::Error => "error", Severity::Warning => "warning", Severity::Info => "note" },
                "message": { "text": format!("{} at {}", f.what(), f.location) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": format!("docker-image://{}/{}", v.image, f.location.path()) } } }],
            })
        })
        .collect();
    serde_json::json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{ "tool": { "driver": { "name": "cargo xtask verify-image" } }, "results": results }],
    })
}
