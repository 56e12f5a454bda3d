//! `cargo xtask verify-image`: scan every layer, the config and the history of a local image,
//! streamed from the engine's export (never written to disk as a whole). build-image runs the
//! same [`verify_image`] as its last step.

use crate::effects::docker::{BollardEngine, ImageEngine};
use crate::project::{DEFAULT_ENV, EnvArgs, EnvSelection, EnvSource, Project};
use crate::report::{self, Diagnostic, FindingsFormat, Place, RuleDoc, Status};
use anyhow::Context;
use envfile::Schema;
use envfile::env::Env;
use leakscan::{Allowlist, Finding, KnownValue, Needles, Scanner, Severity};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Whose secret values are searched for: the env file (default: <project>/.env.<NAME>
    /// when it exists) or the layers, besides secrets/ files and build secrets from the
    /// environment; with none of them only the pattern rules run
    #[command(flatten)]
    pub env: EnvArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: FindingsFormat,
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

/// The scanner every image and dist check uses: known values, pattern rules and the project's
/// allowlist (`deploy/leakscan-allow.toml`).
pub fn scanner(project: &Project, known: Vec<KnownValue>) -> anyhow::Result<Scanner> {
    let path = project.allowlist_path();
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

/// A scanner finding as a diagnostic; `uri` turns its path into the SARIF artifact URI
/// (the path itself for a directory, `docker-image://IMAGE/path` inside an image).
pub fn diagnostic(f: &Finding, uri: &dyn Fn(&str) -> String) -> Diagnostic {
    let rule = match f.kind {
        leakscan::Kind::Known => "known-value".to_string(),
        _ => f.rule.clone().unwrap_or_else(|| "pattern".into()),
    };
    let preview = f.preview.as_deref().map(|p| format!(" [{p}]")).unwrap_or_default();
    Diagnostic {
        severity: f.severity,
        rule,
        message: format!("{}{preview}", f.what()),
        place: Some(Place::labelled(uri(f.location.path()), f.location.to_string())),
        hint: None,
    }
}

/// The scanner's rule table, for SARIF.
pub fn rule_docs() -> Vec<RuleDoc> {
    let mut rules = vec![
        RuleDoc { id: "known-value", description: "A declared secret value (or an encoding of it) is present" },
        RuleDoc { id: "unscanned", description: "Part of the input could not be scanned (corrupt, over a limit)" },
    ];
    rules.extend(leakscan::RULES.iter().map(|r| RuleDoc { id: r.id, description: r.description }));
    rules
}

/// Every known value to hunt for in what a build or deploy produced: the selection's secret
/// values (when its env file exists), the file-delivered secrets in `secrets/` and the build
/// secrets (from this shell or `secrets/`).
pub fn known_for(project: &Project, selection: &EnvSelection) -> anyhow::Result<Vec<KnownValue>> {
    let schema = project.schema()?;
    let env = match selection.file() {
        Some(path) if !path.exists() && matches!(selection.source, EnvSource::File { defaulted: true, .. }) => {
            Env::default()
        }
        _ => project.load_env(selection)?,
    };
    let builder_env = std::env::vars().collect();
    let build = crate::commands::build_image::steps::build_secrets(schema, project, &builder_env);
    Ok(crate::commands::build_image::steps::known_values(schema, &env, project, &build))
}

impl Args {
    pub fn run(self, project: &Project) -> anyhow::Result<Status> {
        let selection = project.select_env(&self.env, DEFAULT_ENV)?;
        let scanner = scanner(project, known_for(project, &selection)?)?;
        let engine = BollardEngine::from_env()?;
        let verdict = verify_image(&engine, &self.image, &scanner)?;
        print_verdict(&verdict, self.format)?;
        Ok(Status::failed_if(verdict.has_errors()))
    }
}

impl ImageVerdict {
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let uri = |path: &str| format!("docker-image://{}/{path}", self.image);
        self.findings.iter().map(|f| diagnostic(f, &uri)).collect()
    }
}

pub fn print_verdict(v: &ImageVerdict, format: FindingsFormat) -> anyhow::Result<()> {
    match format {
        FindingsFormat::Json => report::print_json(v),
        FindingsFormat::Sarif => {
            report::print_json(&report::sarif("cargo xtask verify-image", &rule_docs(), &v.diagnostics()))
        }
        FindingsFormat::Human => {
            report::print_human(&v.diagnostics());
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
