//! `cargo xtask secrets`: generate, rotate, inspect and export secrets. Prints names,
//! generators and strengths, never a value.

pub mod export;
pub mod layered;

use crate::cli::Global;
use crate::effects::clock::{Clock, SystemClock};
use crate::effects::files::Writer;
use crate::plan::secrets::meta::{self, Meta};
use crate::plan::secrets::store::{Current, Target};
use crate::plan::secrets::{complete, rotate};
use crate::report::{Format, Status, print_json};
use anyhow::{Context, bail};
use comfy_table::Table;
use envfile::Schema;
use std::path::PathBuf;

pub use meta::{Age, overdue, overdue_in};

#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Create or complete the env file and secret files from the schema (never changes an
    /// existing value; a second run writes nothing)
    Gen(GenArgs),
    /// Replace one secret and everything derived from it (JWT_SECRET re-signs the Supabase
    /// keys, POSTGRES_PASSWORD remakes DATABASE_URL); every other byte stays
    Rotate(RotateArgs),
    /// Each secret's age against its rotation period and what rotating it invalidates
    /// (exit 1 when one is overdue)
    Status(StatusArgs),
    /// Export runtime secrets and config to Docker Swarm secrets or a Kubernetes manifest
    ///
    /// With `--to k8s` and no `--output`, the manifest, secret values included, goes to
    /// stdout because that is what you asked for: pipe it (`| kubectl apply -f -`), never
    /// into a log. `--dry-run` and every other output show names and sizes only.
    Export(export::Args),
}

/// Which environment, and where its env file is.
#[derive(Debug, Clone, clap::Args)]
pub struct EnvTarget {
    /// Environment (from the schema's meta.environments)
    #[arg(long = "env", value_name = "NAME", default_value = "production")]
    pub env: String,
    /// Env file of the environment [default: .env.<env>]
    #[arg(long, value_name = "PATH", conflicts_with = "layered")]
    pub env_file: Option<PathBuf>,
    /// Layered config (seed 001): secrets and generated values in secrets/<name>.txt, config
    /// in config/common.env + config/<env>.env; no env file
    #[arg(long)]
    pub layered: bool,
}

impl EnvTarget {
    pub fn resolve(&self, g: &Global) -> anyhow::Result<(Schema, Target)> {
        let schema = load_schema(g)?;
        if !schema.meta.environments.contains(&self.env) {
            bail!("unknown environment {:?}: the schema declares {}", self.env, schema.meta.environments.join(", "));
        }
        let mut target = Target::new(g, &self.env, self.env_file.clone());
        target.layered = self.layered;
        Ok((schema, target))
    }
}

/// verify-env's rotation warnings: one `rotation-overdue` warning per secret of `env` past
/// its rotation period in `deploy/secrets-meta.toml` (none when the file is absent).
pub fn rotation_findings(root: &std::path::Path, schema: &Schema, env: &str) -> anyhow::Result<Vec<envfile::Finding>> {
    let overdue = overdue_in(root, schema, env, &SystemClock).context("read deploy/secrets-meta.toml")?;
    Ok(overdue
        .into_iter()
        .map(|a| envfile::Finding {
            severity: envfile::Severity::Warning,
            code: "rotation-overdue",
            message: format!(
                "{} was last rotated {} ({} days ago); its rotation period is {} days",
                a.name,
                a.since.as_deref().unwrap_or("?"),
                a.age_days.unwrap_or(0),
                a.rotation_days
            ),
            hint: Some(format!("cargo xtask secrets rotate {} --env {env} (see docs/guides/secrets.md)", a.name)),
            variable: Some(a.name),
            line: None,
        })
        .collect())
}

pub fn load_schema(g: &Global) -> anyhow::Result<Schema> {
    Schema::load(&g.schema_path()).map_err(|e| anyhow::anyhow!("load the env schema: {e}"))
}

#[derive(Debug, clap::Args)]
pub struct GenArgs {
    #[command(flatten)]
    pub target: EnvTarget,
    /// Fill required provider keys (API keys no generator can make) with clearly-marked
    /// throwaway values of the right shape, so a demo passes verify-env. Never for a real
    /// deploy: providers reject them. Throwaway runs record no dates in
    /// deploy/secrets-meta.toml
    #[arg(long)]
    pub throwaway: bool,
    /// A non-secret value to use where the schema has only a placeholder example, e.g.
    /// `--set ALLOWED_ORIGINS=https://app.acme.io` (repeatable; refused for secrets)
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub set: Vec<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The secret to rotate, e.g. JWT_SECRET
    pub name: String,
    #[command(flatten)]
    pub target: EnvTarget,
    /// The value was already replaced by hand (a provider key): only record today as its
    /// rotation date, change no value
    #[arg(long)]
    pub recorded: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Environment whose rotation dates to show
    #[arg(long = "env", value_name = "NAME", default_value = "production")]
    pub env: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl SecretsCommand {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        match self {
            SecretsCommand::Gen(a) => a.run(g),
            SecretsCommand::Rotate(a) => a.run(g, &Writer::default(), &SystemClock),
            SecretsCommand::Status(a) => a.run(g, &SystemClock),
            SecretsCommand::Export(a) => a.run(g),
        }
    }
}

/// A human table in the project's style for the secrets commands, verify-git and audit.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    table.set_header(header.to_vec());
    table
}

fn no_sarif(format: Format) -> anyhow::Result<()> {
    if format == Format::Sarif {
        bail!("--format sarif is for findings; use human or json here");
    }
    Ok(())
}

impl GenArgs {
    pub fn run(self, g: &Global) -> anyhow::Result<Status> {
        no_sarif(self.format)?;
        let (schema, target) = self.target.resolve(g)?;
        let current = Current::load(&target, &schema)?;
        let meta = Meta::load(&target.meta_path)?;
        let mut opts = complete::GenOptions { throwaway: self.throwaway, ..Default::default() };
        for kv in &self.set {
            let (k, v) = kv.split_once('=').with_context(|| format!("--set {kv}: expected NAME=VALUE"))?;
            opts.set.insert(k.trim().to_string(), v.to_string());
        }
        let plan = complete::plan(&schema, &target, &current, &meta, &opts, &mut rand::rng(), &SystemClock)?;
        complete::act(&plan, &target, &Writer::default()).context("write generated secrets")?;
        let incomplete = plan.incomplete();
        if self.format == Format::Json {
            print_json(&serde_json::json!({
                "env": target.env,
                "env_file": target.show(&target.env_file),
                "changed": !plan.writes.is_empty(),
                "files_written": plan.writes.iter().map(|w| target.show(&w.path)).collect::<Vec<_>>(),
                "complete": !incomplete,
                "items": plan.items,
            }))?;
        } else {
            print_gen(&plan, &target);
        }
        Ok(Status::failed_if(incomplete))
    }
}

fn print_gen(plan: &complete::GenPlan, target: &Target) {
    use complete::Outcome::*;
    let mut table = table(["variable", "plane", "action", "strength / source", "stored in"]);
    for i in &plan.items {
        let (action, detail) = match &i.outcome {
            Kept => ("kept".to_string(), String::new()),
            Generated { generator, strength } => (format!("generated ({generator})"), strength.clone()),
            Config { from } if from.starts_with("--") => ("set".into(), format!("from {from}")),
            Config { from } => ("set".into(), format!("schema {from} value")),
            Throwaway => ("THROWAWAY".into(), "demo only: replace before a real deploy".into()),
            NeedsValue { provided_by } if provided_by.starts_with("pass ") => {
                ("needs a value".into(), provided_by.clone())
            }
            NeedsValue { provided_by } => ("needs a value".into(), format!("from {provided_by}")),
            Optional => ("left out".into(), "optional".into()),
            InConfig => ("in config/".into(), "config/common.env, config/<env>.env".into()),
        };
        table.add_row([i.name.clone(), i.plane.to_string(), action, detail, i.destination.clone()]);
    }
    println!("{table}");
    if plan.writes.is_empty() {
        println!("nothing to do: every value is already set ({})", target.show(&target.env_file));
    } else {
        for w in &plan.writes {
            println!("wrote {} (mode {:o})", target.show(&w.path), w.mode);
        }
    }
    if plan.incomplete() {
        println!(
            "the env file is incomplete: set the values marked \"needs a value\", \
             or pass --throwaway for a demo"
        );
    }
}

impl RotateArgs {
    pub fn run(self, g: &Global, writer: &Writer, clock: &dyn Clock) -> anyhow::Result<Status> {
        no_sarif(self.format)?;
        let (schema, target) = self.target.resolve(g)?;
        let current = Current::load(&target, &schema)?;
        let meta = Meta::load(&target.meta_path)?;
        if self.recorded {
            return record_rotation(&schema, &target, &current, meta, &self.name, writer, clock);
        }
        let plan = rotate::plan(&schema, &target, &current, &meta, &self.name, &mut rand::rng(), clock)?;
        if plan.writes.iter().any(|w| w.path.starts_with(&target.secrets_dir)) {
            crate::effects::files::ensure_private_dir(&target.secrets_dir)?;
        }
        writer.write_all(&plan.writes).with_context(|| format!("write rotated {}", self.name))?;
        if self.format == Format::Json {
            print_json(&serde_json::json!({ "env": target.env, "rotated": plan.rotated }))?;
        } else {
            for r in &plan.rotated {
                println!("rotated {} ({}; {}) in {}: {}", r.name, r.generator, r.strength, r.destination, r.reason);
                if let Some(inv) = &r.invalidates {
                    println!("  invalidates: {inv}");
                }
            }
            println!(
                "next: redeploy (and rebuild the image if a public VITE_ key changed), then revoke the old value wherever it was registered"
            );
        }
        Ok(Status::Ok)
    }
}

/// `rotate NAME --recorded`: a human rotated a provider key; write down the date only.
fn record_rotation(
    schema: &Schema,
    target: &Target,
    current: &Current,
    mut meta: Meta,
    name: &str,
    writer: &Writer,
    clock: &dyn Clock,
) -> anyhow::Result<Status> {
    let v = schema.get(name).with_context(|| format!("{name} is not in the schema"))?;
    if !v.plane.is_secret() {
        bail!("{name} is not a secret (plane {})", v.plane);
    }
    if !current.has(name) {
        bail!("{name} is not set in {}: put the new value there first", target.show(&target.env_file));
    }
    meta.rotated(&target.env, name, clock.today());
    writer.write(&target.meta_path, meta.render()?.as_bytes(), 0o644).context("write deploy/secrets-meta.toml")?;
    println!("recorded the rotation of {name} on {}", crate::effects::clock::format_date(clock.today()));
    Ok(Status::Ok)
}

impl StatusArgs {
    pub fn run(self, g: &Global, clock: &dyn Clock) -> anyhow::Result<Status> {
        no_sarif(self.format)?;
        let schema = load_schema(g)?;
        let meta = Meta::load(&g.root().join("deploy/secrets-meta.toml"))?;
        let ages = meta::ages(&schema, &meta, &self.env, clock.today());
        let overdue = ages.iter().any(|a| a.overdue);
        if self.format == Format::Json {
            print_json(&serde_json::json!({ "env": self.env, "secrets": ages, "overdue": overdue }))?;
        } else {
            let mut table = table(["secret", "since", "age", "period", "state", "a rotation invalidates"]);
            for a in &ages {
                let state = match (a.overdue, a.age_days) {
                    (true, _) => "OVERDUE".to_string(),
                    (false, Some(_)) => "ok".into(),
                    (false, None) => "unknown (no record)".into(),
                };
                table.add_row([
                    a.name.clone(),
                    a.since.clone().unwrap_or_else(|| "-".into()),
                    a.age_days.map(|d| format!("{d} d")).unwrap_or_else(|| "-".into()),
                    format!("{} d", a.rotation_days),
                    state,
                    a.invalidates.clone().unwrap_or_default(),
                ]);
            }
            println!("{table}");
            if overdue {
                println!("rotate overdue secrets with `cargo xtask secrets rotate NAME --env {}`", self.env);
            }
        }
        Ok(Status::failed_if(overdue))
    }
}
