//! `cargo xtask secrets`: generate, rotate, inspect and export secrets. Prints names,
//! generators and strengths, never a value.

pub mod export;

use crate::effects::clock::Clock;
use crate::effects::files::Writer;
use crate::plan::secrets::meta::{self, Meta};
use crate::plan::secrets::store::{Current, Target};
use crate::plan::secrets::{complete, rotate};
use crate::project::{DEFAULT_ENV, EnvArgs, Project};
use crate::report::{self, Format, Status, print_json};
use anyhow::{Context, bail};
use envfile::Schema;

pub use meta::{Age, overdue};

#[derive(Debug, clap::Subcommand)]
pub enum SecretsCommand {
    /// Create or complete the env file and secret files from the schema (never changes an
    /// existing value; a second run writes nothing)
    Gen(GenArgs),
    /// Replace one secret and everything derived from it (JWT_SECRET re-signs the Supabase
    /// keys, POSTGRES_PASSWORD remakes DATABASE_URL); every other byte stays. A signing key
    /// set (JWT_KEYS) rotates with overlap: the old public key stays in JWT_JWKS until
    /// `--finish`
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

/// The files of the environment a secrets command works on (`--env`, `--env-file`,
/// `--layered`, as on every command).
pub fn target<'p>(project: &'p Project, args: &EnvArgs) -> anyhow::Result<(&'p Schema, Target)> {
    let schema = project.schema()?;
    let selection = project.select_env(args, DEFAULT_ENV)?;
    Ok((schema, Target::new(project, &selection)))
}

#[derive(Debug, clap::Args)]
pub struct GenArgs {
    #[command(flatten)]
    pub env: EnvArgs,
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
    pub env: EnvArgs,
    /// The value was already replaced by hand (a provider key): only record today as its
    /// rotation date, change no value
    #[arg(long)]
    pub recorded: bool,
    /// End the overlap of a signing key set rotated earlier (JWT_KEYS): drop the retired
    /// key from it and from its public set; tokens the old key signed stop verifying
    #[arg(long, conflicts_with = "recorded")]
    pub finish: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub env: EnvArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl SecretsCommand {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        match self {
            SecretsCommand::Gen(a) => a.run(p),
            SecretsCommand::Rotate(a) => a.run(p, &Writer::default()),
            SecretsCommand::Status(a) => a.run(p),
            SecretsCommand::Export(a) => a.run(p),
        }
    }
}

impl GenArgs {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let (schema, target) = target(p, &self.env)?;
        let current = p.current_values(&target, schema)?;
        let meta = p.secrets_meta()?;
        let mut opts = complete::GenOptions { throwaway: self.throwaway, ..Default::default() };
        for kv in &self.set {
            let (k, v) = kv.split_once('=').with_context(|| format!("--set {kv}: expected NAME=VALUE"))?;
            opts.set.insert(k.trim().to_string(), v.to_string());
        }
        let plan = complete::plan(schema, &target, &current, &meta, &opts, &mut rand::rng(), p.clock())?;
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
    let mut table = report::table(["variable", "plane", "action", "strength / source", "stored in"]);
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
    pub fn run(self, p: &Project, writer: &Writer) -> anyhow::Result<Status> {
        let clock = p.clock();
        let (schema, target) = target(p, &self.env)?;
        let current = p.current_values(&target, schema)?;
        let meta = p.secrets_meta()?;
        if self.recorded {
            return record_rotation(schema, &target, &current, meta, &self.name, writer, clock);
        }
        let step = if self.finish { rotate::Step::Finish } else { rotate::Step::Rotate };
        let plan = rotate::plan(
            schema,
            &target,
            &current,
            &meta,
            rotate::Ask { name: &self.name, step },
            &mut rand::rng(),
            clock,
        )?;
        if plan.writes.iter().any(|w| w.path.starts_with(&target.secrets_dir)) {
            crate::effects::files::ensure_private_dir(&target.secrets_dir)?;
        }
        writer.write_all(&plan.writes).with_context(|| format!("write rotated {}", self.name))?;
        if self.format == Format::Json {
            print_json(&serde_json::json!({ "env": target.env, "step": step.as_str(), "rotated": plan.rotated }))?;
        } else {
            for r in &plan.rotated {
                println!("rotated {} ({}; {}) in {}: {}", r.name, r.generator, r.strength, r.destination, r.reason);
                // Finishing invalidates only what the retired key signed (said below).
                if let (Some(inv), rotate::Step::Rotate) = (&r.invalidates, step) {
                    println!("  invalidates: {inv}");
                }
            }
            let signing_keys =
                schema.get(&self.name).is_some_and(|v| v.generator == Some(envfile::Generator::EcJwkPrivate));
            match (signing_keys, step) {
                (true, rotate::Step::Rotate) => println!(
                    "next: redeploy (and rebuild the image: a public VITE_ key changed); the old public key stays in the public set, \
                     so tokens it signed keep verifying. Once they have been replaced, run \
                     `cargo xtask secrets rotate --finish {} --env {}`",
                    self.name, target.env
                ),
                (true, rotate::Step::Finish) => {
                    println!("next: redeploy; tokens signed with the retired key no longer verify")
                }
                (false, _) => println!(
                    "next: redeploy (and rebuild the image if a public VITE_ key changed), then revoke the old value wherever it was registered"
                ),
            }
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
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let (schema, target) = target(p, &self.env)?;
        let env = &target.env;
        let meta = p.secrets_meta()?;
        let ages = meta::ages(schema, &meta, env, p.clock().today());
        let overdue = ages.iter().any(|a| a.overdue);
        if self.format == Format::Json {
            print_json(&serde_json::json!({ "env": env, "secrets": ages, "overdue": overdue }))?;
        } else {
            let mut table = report::table(["secret", "since", "age", "period", "state", "a rotation invalidates"]);
            for a in &ages {
                let mut state = match (a.overdue, a.age_days) {
                    (true, _) => "OVERDUE".to_string(),
                    (false, Some(_)) => "ok".into(),
                    (false, None) => "unknown (no record)".into(),
                };
                if let Some(since) = &a.overlap_since {
                    state.push_str(&format!("; overlap since {since} (old key still verifies)"));
                }
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
                println!("rotate overdue secrets with `cargo xtask secrets rotate NAME --env {env}`");
            }
            for a in ages.iter().filter(|a| a.stage.is_some()) {
                println!(
                    "{} is mid-rotation: once every token of the old key is replaced, finish it with \
                     `cargo xtask secrets rotate --finish {} --env {env}`",
                    a.name, a.name
                );
            }
        }
        Ok(Status::failed_if(overdue))
    }
}
