//! `secrets gen` ("create or complete"): create or complete an environment's env file and secret files from the
//! schema. Existing values are never changed, so a second run writes nothing.

use super::generate::{self, generator_name, strength};
use super::meta::Meta;
use super::store::{Current, Target};
use crate::effects::clock::Clock;
use crate::effects::files::{FileWrite, Writer};
use envfile::{Schema, Secret, Variable};
use rand::RngCore;
use serde::Serialize;
use std::collections::BTreeMap;

/// What `gen` does (or did) for one variable.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Outcome {
    /// Already set: left alone.
    Kept,
    /// Made by the schema's generator.
    Generated { generator: String, strength: String },
    /// A non-secret value taken from the schema (`dev`, or `example` for other environments).
    Config { from: String },
    /// A clearly-marked throwaway for a provider key (`--throwaway`, demos only).
    Throwaway,
    /// Required, and only a human can supply it.
    NeedsValue { provided_by: String },
    /// Optional and not generated: left out.
    Optional,
    /// Layered mode: a non-secret value that belongs in `config/*.env`, not written here.
    InConfig,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub name: String,
    pub plane: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Where the value lives: the env file or a secret file (relative to the project).
    pub destination: String,
}

/// The whole effect of a `gen` run: what happens to each variable and the files to write.
#[derive(Debug)]
pub struct GenPlan {
    pub items: Vec<Item>,
    pub writes: Vec<FileWrite>,
}

impl GenPlan {
    pub fn incomplete(&self) -> bool {
        self.items.iter().any(|i| matches!(i.outcome, Outcome::NeedsValue { .. }))
    }
}

#[derive(Debug, Default)]
pub struct GenOptions {
    pub throwaway: bool,
    /// Non-secret values given on the command line (`--set NAME=VALUE`).
    pub set: BTreeMap<String, String>,
}

/// Plan a `gen` run: pure apart from the randomness and clock handed in.
pub fn plan(
    schema: &Schema,
    target: &Target,
    current: &Current,
    meta_in: &Meta,
    opts: &GenOptions,
    rng: &mut dyn RngCore,
    clock: &dyn Clock,
) -> anyhow::Result<GenPlan> {
    for name in opts.set.keys() {
        let v = schema.get(name).ok_or_else(|| anyhow::anyhow!("--set {name}: not in the schema"))?;
        if v.plane.is_secret() {
            anyhow::bail!(
                "--set {name}: secrets never go on the command line (shell history, process list); \
                 put it in {} or let `secrets gen` generate it",
                target.show(&target.env_file)
            );
        }
    }
    let mut new: BTreeMap<String, (Secret, Outcome)> = BTreeMap::new();
    let lookup_in = |new: &BTreeMap<String, (Secret, Outcome)>, n: &str| {
        current.get(n).or_else(|| new.get(n).map(|(s, _)| s.clone()))
    };
    // Generators may need each other's output (a key signed with a secret made in the
    // same run), so resolve in passes until nothing more can be made.
    loop {
        let mut progressed = false;
        for v in &schema.vars {
            if current.has(&v.name) || new.contains_key(&v.name) {
                continue;
            }
            let Some(g) = &v.generator else { continue };
            if generate::inputs(g).iter().any(|i| lookup_in(&new, i).is_none()) {
                continue;
            }
            let value = generate::generate(g, rng, clock.now(), &|n| lookup_in(&new, n))
                .map_err(|e| anyhow::anyhow!("generate {}: {e:#}", v.name))?;
            let outcome = Outcome::Generated { generator: generator_name(g).to_string(), strength: strength(g) };
            new.insert(v.name.clone(), (value, outcome));
            progressed = true;
        }
        if !progressed {
            break;
        }
    }
    let mut items = Vec::new();
    let mut doc = super::envdoc::EnvDoc::new(current.doc.text().to_string());
    if !current.env_file_exists {
        doc = super::envdoc::EnvDoc::new(header(schema, target));
    }
    let mut files = Vec::new();
    let mut meta = meta_in.clone();
    for v in &schema.vars {
        let file = target.secret_file(v);
        let destination = target.show(file.as_ref().unwrap_or(&target.env_file));
        let (value, outcome) = if current.has(&v.name) {
            (None, Outcome::Kept)
        } else if target.layered && file.is_none() {
            (None, Outcome::InConfig)
        } else if let Some((value, outcome)) = new.remove(&v.name) {
            (Some(value), outcome)
        } else {
            fill_by_hand(v, &target.env, opts, rng)
        };
        if let Some(value) = value {
            if !generate::is_writable_value(value.expose()) {
                anyhow::bail!(
                    "the schema value of {} holds characters Compose and Vite read differently \
                     (`$`, quotes, spaces, `#`, `\\`); change it in deploy/env.schema.toml",
                    v.name
                );
            }
            if v.plane.is_secret() {
                meta.generated(&target.env, &v.name, clock.today());
            }
            match &file {
                Some(path) => {
                    files.push(FileWrite { path: path.clone(), bytes: value.expose().as_bytes().to_vec(), mode: 0o600 })
                }
                None => {
                    if outcome == Outcome::Throwaway {
                        doc.append_comment(&format!(
                            "{}: throwaway demo value, replace it before a real deploy",
                            v.name
                        ));
                    }
                    doc.append(&v.name, &value);
                }
            }
        }
        items.push(Item { name: v.name.clone(), plane: v.plane.as_str(), outcome, destination });
    }
    let mut writes = Vec::new();
    let env_file_changed = doc.text() != current.doc.text() || !current.env_file_exists;
    if env_file_changed && !target.layered {
        writes.push(FileWrite { path: target.env_file.clone(), bytes: doc.text().as_bytes().to_vec(), mode: 0o600 });
    }
    writes.extend(files);
    // A throwaway run is a demo or a test: its dates are not the team's rotation record, and
    // recording them would dirty the committed metadata file on every demo.
    if meta != *meta_in && !opts.throwaway {
        writes.push(FileWrite { path: target.meta_path.clone(), bytes: meta.render()?.into_bytes(), mode: 0o644 });
    }
    Ok(GenPlan { items, writes })
}

/// A variable with no generator: a schema value for config, a throwaway or a human.
fn fill_by_hand(v: &Variable, env: &str, opts: &GenOptions, rng: &mut dyn RngCore) -> (Option<Secret>, Outcome) {
    let required = v.is_required_in(env);
    if !v.plane.is_secret() {
        if let Some(value) = opts.set.get(&v.name) {
            return (Some(Secret::new(value.clone())), Outcome::Config { from: "--set".into() });
        }
        if let Some((value, from)) = schema_value(v, env) {
            return (Some(Secret::new(value)), Outcome::Config { from: from.to_string() });
        }
        // Only a placeholder example: a demo may run on the dev value, a real deploy needs
        // the real one.
        if let (true, Some(dev)) = (opts.throwaway && required, v.dev.as_deref()) {
            return (Some(Secret::new(dev)), Outcome::Config { from: "dev (throwaway)".into() });
        }
        if required {
            let hint = match &v.example {
                Some(e) => format!("pass --set {}=VALUE (a real value like {e})", v.name),
                None => format!("pass --set {}=VALUE", v.name),
            };
            return (None, Outcome::NeedsValue { provided_by: hint });
        }
    }
    if v.plane.is_secret() && required && opts.throwaway {
        return (Some(generate::throwaway(v, rng)), Outcome::Throwaway);
    }
    if required {
        let provided_by = v.provided_by.clone().unwrap_or_else(|| "the team (see the schema)".into());
        (None, Outcome::NeedsValue { provided_by })
    } else {
        (None, Outcome::Optional)
    }
}

/// The non-secret value for `env`: `dev` in dev; elsewhere the schema's `example` when it
/// is a real value ("info", "100"), never when verify-env would call it a placeholder
/// (`https://app.example.com`, `https://your-project.supabase.co`).
fn schema_value<'a>(v: &'a Variable, env: &str) -> Option<(&'a str, &'static str)> {
    if env == "dev" {
        return v.dev.as_deref().map(|d| (d, "dev")).or(v.example.as_deref().map(|e| (e, "example")));
    }
    v.example.as_deref().filter(|e| !looks_like_placeholder(e)).map(|e| (e, "example"))
}

/// The placeholder shapes verify-env rejects (kept in step with envfile's rule, which is
/// private to that crate).
fn looks_like_placeholder(value: &str) -> bool {
    let l = value.to_ascii_lowercase();
    ["example", "your", "xxx", "changeme", "change-me", "replace", "placeholder", "todo", "<"]
        .iter()
        .any(|p| l.contains(p))
}

fn header(schema: &Schema, target: &Target) -> String {
    format!(
        "# {env} environment of {app}, created by `cargo xtask secrets gen --env {env}`.\n\
         # It holds secrets: keep it mode 0600 and out of git. Rotate a secret with\n\
         # `cargo xtask secrets rotate NAME`; values are read the way Docker Compose reads them.\n",
        env = target.env,
        app = schema.meta.app
    )
}

/// Write the plan's files atomically (secret files' directory 0700 first).
pub fn act(plan: &GenPlan, target: &Target, writer: &Writer) -> anyhow::Result<()> {
    if plan.writes.iter().any(|w| w.path.starts_with(&target.secrets_dir)) {
        crate::effects::files::ensure_private_dir(&target.secrets_dir)?;
    }
    writer.write_all(&plan.writes)
}
