//! Where an environment's secrets live (the env file, `secrets/<name>.txt`, the metadata
//! file) and their current values.

use super::envdoc::EnvDoc;
use crate::cli::Global;
use anyhow::Context;
use envfile::{Delivery, Plane, Schema, Secret, Variable};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The env file an environment uses when `--env-file` is not given: `.env.<env>`, the same
/// default as verify-env (git-ignored by the `.env.*` rule).
pub fn default_env_file(root: &Path, env: &str) -> PathBuf {
    root.join(format!(".env.{env}"))
}

/// The files one environment's values live in.
#[derive(Debug, Clone)]
pub struct Target {
    pub root: PathBuf,
    pub env: String,
    pub env_file: PathBuf,
    pub secrets_dir: PathBuf,
    pub meta_path: PathBuf,
    /// Layered config (seed 001): every secret and generated value in `secrets/*.txt`,
    /// non-secret config in `config/*.env`, no env file.
    pub layered: bool,
}

impl Target {
    pub fn new(g: &Global, env: &str, env_file: Option<PathBuf>) -> Target {
        let root = g.root();
        Target {
            env_file: env_file.unwrap_or_else(|| default_env_file(&root, env)),
            secrets_dir: root.join("secrets"),
            meta_path: root.join("deploy/secrets-meta.toml"),
            env: env.to_string(),
            root,
            layered: false,
        }
    }

    /// Secrets delivered as files (Docker secrets, BuildKit secret sources) live in
    /// `secrets/<lowercase name>.txt`, never in the env file.
    pub fn secret_file(&self, v: &Variable) -> Option<PathBuf> {
        let as_file = v.delivery == Delivery::File
            || v.plane == Plane::BuildSecret
            || (self.layered && (v.plane.is_secret() || v.generator.is_some()));
        as_file.then(|| self.secrets_dir.join(format!("{}.txt", v.secret_file_name())))
    }

    /// A path as the user should see it: relative to the project root when inside it.
    pub fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }
}

/// The values an environment has now.
pub struct Current {
    pub doc: EnvDoc,
    pub env_file_exists: bool,
    pub files: BTreeMap<String, Secret>,
}

impl Current {
    pub fn load(target: &Target, schema: &Schema) -> anyhow::Result<Current> {
        let (text, exists) = match std::fs::read_to_string(&target.env_file) {
            Ok(t) => (t, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), false),
            Err(e) => {
                return Err(e).with_context(|| format!("read {}", target.env_file.display()));
            }
        };
        let mut files = BTreeMap::new();
        for v in &schema.vars {
            let Some(path) = target.secret_file(v) else { continue };
            match std::fs::read_to_string(&path) {
                Ok(t) => {
                    files.insert(v.name.clone(), Secret::new(trim_newline(&t)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
            }
        }
        Ok(Current { doc: EnvDoc::new(text), env_file_exists: exists, files })
    }

    /// The value of `name`: its secret file first, then the env file.
    pub fn get(&self, name: &str) -> Option<Secret> {
        self.files.get(name).cloned().or_else(|| self.doc.get(name))
    }

    pub fn has(&self, name: &str) -> bool {
        self.files.contains_key(name) || self.doc.contains(name)
    }
}

/// Secret files are often written with `echo`, which adds one newline that is not part of
/// the value.
pub fn trim_newline(text: &str) -> &str {
    text.strip_suffix("\r\n").or_else(|| text.strip_suffix('\n')).unwrap_or(text)
}
