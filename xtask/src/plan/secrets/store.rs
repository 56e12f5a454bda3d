//! Where an environment's secrets live (the env file, `secrets/<name>.txt`, the metadata
//! file) and their current values, as plain data; `Project::current_values` reads them.

use super::envdoc::EnvDoc;
use crate::project::{EnvSelection, EnvSource, Project};
use envfile::{Delivery, Plane, Secret, Variable};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The files one environment's values live in.
#[derive(Debug, Clone)]
pub struct Target {
    pub root: PathBuf,
    pub env: String,
    pub env_file: PathBuf,
    pub secrets_dir: PathBuf,
    pub meta_path: PathBuf,
    /// Layered config: every secret and generated value in `secrets/*.txt`,
    /// non-secret config in `config/*.env`, no env file.
    pub layered: bool,
}

impl Target {
    pub fn new(p: &Project, selection: &EnvSelection) -> Target {
        Target {
            // Layered config has no env file; the default name is kept so messages can say
            // which file a single-file setup would use.
            env_file: selection.file().map(Path::to_path_buf).unwrap_or_else(|| p.default_env_file(&selection.env)),
            secrets_dir: p.secrets_dir(),
            meta_path: p.secrets_meta_path(),
            env: selection.env.clone(),
            root: p.root().to_path_buf(),
            layered: selection.source == EnvSource::Layered,
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
