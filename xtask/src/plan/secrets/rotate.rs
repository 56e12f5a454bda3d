//! `secrets rotate NAME`: replace one secret and everything derived from it, leaving every
//! other byte of the env file and secret files as it was.

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
    name: &str,
    rng: &mut dyn RngCore,
    clock: &dyn Clock,
) -> anyhow::Result<RotatePlan> {
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
    // The secret itself, then every present variable derived from a changed one, in
    // schema order passes until the set stops growing.
    let mut changed: BTreeMap<String, (Secret, String)> = BTreeMap::new();
    let mut order = vec![name.to_string()];
    let lookup = |changed: &BTreeMap<String, (Secret, String)>, n: &str| {
        changed.get(n).map(|(s, _)| s.clone()).or_else(|| current.get(n))
    };
    let first = generate::generate(v.generator.as_ref().expect("checked"), rng, clock.now(), &|n| lookup(&changed, n))?;
    changed.insert(name.to_string(), (first, format!("rotated {name}")));
    loop {
        let mut grew = false;
        for d in &schema.vars {
            if changed.contains_key(&d.name) || !current.has(&d.name) {
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
        if var.plane.is_secret() {
            meta.rotated(&target.env, n, clock.today());
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
    if doc.text() != current.doc.text() {
        writes
            .insert(0, FileWrite { path: target.env_file.clone(), bytes: doc.text().as_bytes().to_vec(), mode: 0o600 });
    }
    if meta != *meta_in {
        writes.push(FileWrite { path: target.meta_path.clone(), bytes: meta.render()?.into_bytes(), mode: 0o644 });
    }
    Ok(RotatePlan { rotated, writes })
}
