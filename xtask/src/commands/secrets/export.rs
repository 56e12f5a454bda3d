//! `secrets export`: runtime secrets (and config) to Docker Swarm secrets through bollard,
//! or a Kubernetes `Secret` + `ConfigMap` manifest. Values go only where the user asked:
//! the engine, the 0600 output file, or stdout when no `--output` is given.

use crate::effects::docker::BollardEngine;
use crate::effects::files::Writer;
use crate::project::EnvArgs;
use crate::project::Project;
use crate::report::{Format, Status, print_json};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use envfile::{Plane, Schema, Secret};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum To {
    /// Docker Swarm secrets, created through the engine API (needs a swarm manager)
    Swarm,
    /// A Kubernetes Secret (secrets, base64) and ConfigMap (config) manifest
    K8s,
}

/// Export runtime secrets and config. With `--to k8s` and no `--output`, the manifest,
/// secret values included, goes to stdout: that is the explicit request, so pipe it
/// (`| kubectl apply -f -`), never into a log. Nothing else ever prints a value.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub to: To,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Print what would be created (names and sizes, never values) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Write the Kubernetes manifest to FILE (mode 0600) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Name prefix of the Swarm secrets / Kubernetes objects [default: the schema's app]
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// One value to export.
#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    pub plane: Plane,
    pub value: Secret,
}

#[derive(Debug, Serialize)]
struct PlanLine {
    object: String,
    kind: &'static str,
    key: String,
    bytes: usize,
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let (schema, target) = crate::commands::secrets::target(p, &self.env)?;
        let items = if target.layered {
            let layers = p.layers(&target.env)?;
            runtime_items(schema, |n| layers.iter().find(|l| l.key == n).map(|l| l.value.clone()))
        } else {
            let current = p.current_values(&target, schema)?;
            runtime_items(schema, |n| current.get(n))
        };
        if items.is_empty() {
            bail!("no runtime secret or config value is set: run `cargo xtask secrets gen` first");
        }
        let prefix = dns_name(self.name.as_deref().unwrap_or(&schema.meta.app));
        let plan = plan_lines(self.to, &prefix, &items);
        if self.dry_run {
            if self.format == Format::Json {
                print_json(
                    &serde_json::json!({ "to": format!("{:?}", self.to).to_lowercase(), "dry_run": true, "plan": plan }),
                )?;
            } else {
                for p in &plan {
                    println!("would create {} {} key {} ({} bytes)", p.kind, p.object, p.key, p.bytes);
                }
            }
            return Ok(Status::Ok);
        }
        match self.to {
            To::K8s => {
                let yaml = k8s_manifest(&prefix, &items);
                match &self.output {
                    Some(path) => {
                        Writer::default()
                            .write(path, yaml.as_bytes(), 0o600)
                            .with_context(|| format!("write {}", path.display()))?;
                        eprintln!(
                            "wrote {} (mode 600): {} secret and {} config keys",
                            path.display(),
                            items.iter().filter(|i| i.plane.is_secret()).count(),
                            items.iter().filter(|i| !i.plane.is_secret()).count()
                        );
                    }
                    None => print!("{yaml}"),
                }
            }
            To::Swarm => {
                create_swarm_secrets(&prefix, &target.env, &items)?;
                for p in &plan {
                    println!("created swarm secret {} ({} bytes)", p.object, p.bytes);
                }
            }
        }
        Ok(Status::Ok)
    }
}

/// Runtime secrets and config: never build secrets (they exist only inside the build) nor
/// public build-time values (they belong to the bundle).
pub fn runtime_items(schema: &Schema, get: impl Fn(&str) -> Option<Secret>) -> Vec<Item> {
    schema
        .vars
        .iter()
        .filter(|v| matches!(v.plane, Plane::Secret | Plane::Config))
        .filter_map(|v| get(&v.name).map(|value| Item { name: v.name.clone(), plane: v.plane, value }))
        .collect()
}

/// Lower-case DNS-1123 label from any name (Kubernetes object names, Swarm secret names).
pub fn dns_name(name: &str) -> String {
    let s: String =
        name.to_ascii_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let s = s.trim_matches('-');
    if s.is_empty() { "app".into() } else { s.chars().take(40).collect() }
}

fn plan_lines(to: To, prefix: &str, items: &[Item]) -> Vec<PlanLine> {
    items
        .iter()
        .filter(|i| to == To::K8s || i.plane.is_secret())
        .map(|i| {
            let (object, kind) = match (to, i.plane.is_secret()) {
                (To::Swarm, _) => (swarm_name(prefix, &i.name), "swarm secret"),
                (To::K8s, true) => (format!("{prefix}-secrets"), "Secret"),
                (To::K8s, false) => (format!("{prefix}-config"), "ConfigMap"),
            };
            PlanLine { object, kind, key: i.name.clone(), bytes: i.value.len() }
        })
        .collect()
}

fn swarm_name(prefix: &str, name: &str) -> String {
    format!("{prefix}_{}", name.to_ascii_lowercase())
}

/// YAML with every scalar double-quoted the JSON way (valid YAML), so no value can change
/// the document's structure.
pub fn k8s_manifest(prefix: &str, items: &[Item]) -> String {
    let q = |s: &str| serde_json::to_string(s).expect("strings serialize");
    let mut out = String::from(
        "# Written by `cargo xtask secrets export --to k8s`. It holds secret values:\n\
         # keep it mode 0600, out of git, and apply it with `kubectl apply -f FILE`.\n",
    );
    out.push_str(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {}\ntype: Opaque\ndata:\n",
        q(&format!("{prefix}-secrets"))
    ));
    for i in items.iter().filter(|i| i.plane.is_secret()) {
        out.push_str(&format!("  {}: {}\n", q(&i.name), q(&STANDARD.encode(i.value.expose()))));
    }
    out.push_str(&format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {}\ndata:\n",
        q(&format!("{prefix}-config"))
    ));
    for i in items.iter().filter(|i| !i.plane.is_secret()) {
        out.push_str(&format!("  {}: {}\n", q(&i.name), q(i.value.expose())));
    }
    out
}

fn create_swarm_secrets(prefix: &str, env: &str, items: &[Item]) -> anyhow::Result<()> {
    let engine = BollardEngine::from_env()?;
    for i in items.iter().filter(|i| i.plane.is_secret()) {
        let labels = BTreeMap::from([("xtask.env".to_string(), env.to_string())]);
        engine.create_secret(&swarm_name(prefix, &i.name), labels, &i.value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<Item> {
        vec![
            Item { name: "JWT_SECRET".into(), plane: Plane::Secret, value: Secret::new("a\"b: c\n#d") },
            Item { name: "NODE_ENV".into(), plane: Plane::Config, value: Secret::new("production") },
        ]
    }

    #[test]
    fn manifest_quotes_every_scalar_and_base64s_secrets() {
        let y = k8s_manifest("reference", &items());
        assert!(y.contains("kind: Secret") && y.contains("kind: ConfigMap"));
        assert!(y.contains(&format!("  \"JWT_SECRET\": \"{}\"\n", STANDARD.encode("a\"b: c\n#d"))), "{y}");
        assert!(y.contains("  \"NODE_ENV\": \"production\"\n"));
        assert!(!y.contains("a\"b"), "secret values only appear base64-encoded");
    }

    #[test]
    fn swarm_plan_has_secrets_only_and_no_values() {
        let plan = plan_lines(To::Swarm, "reference", &items());
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].object, "reference_jwt_secret");
        assert_eq!(dns_name("My App!"), "my-app");
    }
}
