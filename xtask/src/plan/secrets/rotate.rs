//! `secrets rotate NAME`: replace one secret and everything derived from it, leaving every
//! other byte of the env file and secret files as it was.
//!
//! A signing key set (`ec-jwk-private`) rotates in two steps so that no issued token stops
//! verifying at once: the rotation adds a new signing key, keeps the old one as a retired
//! public key (so it stays in the public set) and re-signs the dependent tokens; later,
//! `--finish` drops the retired keys and remakes only the public set.

use super::envdoc::EnvDoc;
use super::generate::{self, generator_name, strength};
use super::meta::Meta;
use super::store::{Current, Target};
use crate::effects::clock::Clock;
use crate::effects::files::FileWrite;
use anyhow::{Context, bail};
use envfile::{Generator, Schema, Secret};
use rand::RngCore;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct Rotated {
    pub name: String,
    pub generator: String,
    pub strength: String,
    /// Why it changed: the secret asked for, or the one it derives from.
    pub reason: String,
    pub destination: String,
    pub invalidates: Option<String>,
}

/// Which step of a rotation to plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A new value (for a signing key set: a new signing key, the old one kept to verify).
    Rotate,
    /// The end of a signing key set's overlap: the retired keys leave the set.
    Finish,
}

/// What a rotation was asked to do: which secret, and which step.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub name: &'a str,
    pub step: Step,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Rotate => "rotate",
            Step::Finish => "finish",
        }
    }
}

#[derive(Debug)]
pub struct RotatePlan {
    pub rotated: Vec<Rotated>,
    pub writes: Vec<FileWrite>,
}

pub fn plan(
    schema: &Schema,
    target: &Target,
    current: &Current,
    meta_in: &Meta,
    ask: Ask<'_>,
    rng: &mut dyn RngCore,
    clock: &dyn Clock,
) -> anyhow::Result<RotatePlan> {
    let Ask { name, step } = ask;
    let v = schema.get(name).with_context(|| format!("{name} is not in the schema (deploy/env.schema.toml)"))?;
    if !v.plane.is_secret() {
        bail!("{name} is not a secret (plane {}); edit it in the env file or config/", v.plane);
    }
    match &v.generator {
        None => bail!(
            "{name} cannot be generated: get a new value from {}, put it in the env file, \
             then revoke the old one there",
            v.provided_by.as_deref().unwrap_or("its provider")
        ),
        Some(Generator::Template { .. }) => bail!(
            "{name} is derived from {}: rotate that instead",
            generate::inputs(v.generator.as_ref().expect("matched")).join(", ")
        ),
        Some(_) => {}
    }
    if !current.has(name) {
        bail!("{name} is not set in {}: run `cargo xtask secrets gen` first", target.show(&target.env_file));
    }
    let signing_keys = v.generator == Some(Generator::EcJwkPrivate);
    if step == Step::Finish && !signing_keys {
        bail!("--finish ends the overlap of a signing key set (generator ec-jwk-private); {name} rotates in one step");
    }
    // The secret itself, then every present variable derived from a changed one, in
    // schema order passes until the set stops growing.
    let mut changed: BTreeMap<String, (Secret, String)> = BTreeMap::new();
    let mut order = vec![name.to_string()];
    let lookup = |changed: &BTreeMap<String, (Secret, String)>, n: &str| {
        changed.get(n).map(|(s, _)| s.clone()).or_else(|| current.get(n))
    };
    let (first, reason) = match (signing_keys, step) {
        (true, Step::Rotate) => {
            let old = current.get(name).context("checked above")?;
            (
                generate::rotate_signing_keys(&old, rng)?,
                format!("rotated {name}: new signing key, the old one kept to verify"),
            )
        }
        (true, Step::Finish) => {
            let old = current.get(name).context("checked above")?;
            if generate::retired_count(&old) == 0 {
                bail!("{name} holds no retired key: there is no rotation to finish");
            }
            (
                generate::finish_signing_key_rotation(&old)?,
                format!("finished the rotation of {name}: retired keys removed"),
            )
        }
        (false, _) => (
            generate::generate(v.generator.as_ref().expect("checked"), rng, clock.now(), &|n| lookup(&changed, n))?,
            format!("rotated {name}"),
        ),
    };
    changed.insert(name.to_string(), (first, reason));
    // Finishing changes no signing key, so only the public sets follow; tokens stay.
    let remade =
        |d: &envfile::Variable| step == Step::Rotate || matches!(d.generator, Some(Generator::JwksPublic { .. }));
    loop {
        let mut grew = false;
        for d in &schema.vars {
            if changed.contains_key(&d.name) || !current.has(&d.name) || !remade(d) {
                continue;
            }
            let Some(src) = changed.keys().find(|c| generate::derives_from(d, c)).cloned() else {
                continue;
            };
            let g = d
                .generator
                .as_ref()
                .with_context(|| format!("{} derives from {src} but has no generator to remake it", d.name))?;
            let value = generate::generate(g, rng, clock.now(), &|n| lookup(&changed, n))
                .with_context(|| format!("remake {}", d.name))?;
            changed.insert(d.name.clone(), (value, format!("derived from {src}")));
            order.push(d.name.clone());
            grew = true;
        }
        if !grew {
            break;
        }
    }
    let mut doc = EnvDoc::new(current.doc.text().to_string());
    let mut writes = Vec::new();
    let mut meta = meta_in.clone();
    let mut rotated = Vec::new();
    for n in &order {
        let var = schema.get(n).expect("from the schema");
        let (value, reason) = &changed[n];
        let file = target.secret_file(var).filter(|_| current.files.contains_key(n));
        match &file {
            Some(path) => {
                writes.push(FileWrite { path: path.clone(), bytes: value.expose().as_bytes().to_vec(), mode: 0o600 })
            }
            None => doc.replace(n, value).with_context(|| format!("update {n}"))?,
        }
        match step {
            Step::Rotate if var.plane.is_secret() => meta.rotated(&target.env, n, clock.today()),
            _ => {}
        }
        let g = var.generator.as_ref().expect("only generated values change");
        rotated.push(Rotated {
            name: n.clone(),
            generator: generator_name(g).into(),
            strength: strength(g),
            reason: reason.clone(),
            destination: target.show(file.as_ref().unwrap_or(&target.env_file)),
            invalidates: var.invalidates.clone(),
        });
    }
    match (signing_keys, step) {
        (true, Step::Rotate) => meta.overlap_started(&target.env, name, clock.today()),
        (true, Step::Finish) => meta.overlap_finished(&target.env, name),
        (false, _) => {}
    }
    if doc.text() != current.doc.text() {
        writes
            .insert(0, FileWrite { path: target.env_file.clone(), bytes: doc.text().as_bytes().to_vec(), mode: 0o600 });
    }
    if meta != *meta_in {
        writes.push(FileWrite { path: target.meta_path.clone(), bytes: meta.render()?.into_bytes(), mode: 0o644 });
    }
    Ok(RotatePlan { rotated, writes })
}
