//! Reading an environment's values from disk: one env file (a regular file, bounded), or the
//! layered config (`config/common.env`, `config/<env>.env`, `secrets/*.txt`) handed to the
//! pure layering in `envfile::layers`. Every command that reads values reads them here.

use super::{EnvSelection, EnvSource, Project};
use crate::effects::files;
use crate::plan::secrets::envdoc::EnvDoc;
use crate::plan::secrets::meta::Meta;
use crate::plan::secrets::store::{Current, Target, trim_newline};
use anyhow::Context;
use envfile::Env;
use envfile::layers::{self, Layer, Layered, SecretFile};
use envfile::{Schema, Secret};
use std::collections::BTreeMap;
use std::path::Path;

impl Project {
    /// The bytes of an env file as Compose will read them (bounded by the reader's limit).
    pub fn read_env_bytes(&self, path: &Path) -> anyhow::Result<Vec<u8>> {
        files::read_env_file(path, envfile::compose::MAX_BYTES)
            .context("create it from .env.production.example (or `cargo xtask secrets gen`), or pass --env-file")
    }

    /// An env file read as Compose reads it, with no interpolation from this machine's
    /// environment (the server's is unknown here).
    pub fn load_env_file(&self, path: &Path) -> anyhow::Result<Env> {
        let bytes = self.read_env_bytes(path)?;
        let entries = envfile::compose::parse_bytes(&bytes, &|_| None)
            .map_err(|e| anyhow::anyhow!("{}:{}: {}", self.show(path), e.line, e.message))
            .with_context(|| format!("read env file {}", self.show(path)))?;
        Ok(Env::from_entries(entries))
    }

    /// The values of a selection: the env file's, or the layers' (build secrets included:
    /// callers that ship values filter by plane).
    pub fn load_env(&self, sel: &EnvSelection) -> anyhow::Result<Env> {
        match &sel.source {
            EnvSource::File { path, .. } => self.load_env_file(path),
            EnvSource::Layered => {
                let entries = self.layers(&sel.env)?.iter().map(Layered::entry).collect();
                Ok(Env::from_entries(entries))
            }
        }
    }

    /// The effective environment of `env` with each variable's origin. Interpolation sees no
    /// outside variables: the layers must be complete on their own, as on the server.
    pub fn layers(&self, env: &str) -> anyhow::Result<Vec<Layered>> {
        let mut texts: Vec<(String, String)> = Vec::new();
        for rel in ["config/common.env".to_string(), format!("config/{env}.env")] {
            if let Some(t) = files::read_optional(&self.path(&rel))? {
                texts.push((rel, t));
            }
        }
        if texts.is_empty() {
            anyhow::bail!(
                "no config/common.env or config/{env}.env under {}: layered config needs at least one",
                self.root().display()
            );
        }
        let mut secrets: Vec<(String, String)> = Vec::new();
        for name in files::list_dir(&self.secrets_dir())?.into_iter().filter(|n| layers::secret_file_key(n).is_some()) {
            let rel = format!("{}/{name}", super::SECRETS_DIR);
            secrets.push((rel.clone(), files::read_text(&self.path(&rel))?));
        }
        let layers: Vec<Layer> = texts.iter().map(|(p, t)| Layer { path: p, text: t }).collect();
        let files: Vec<SecretFile> = secrets.iter().map(|(p, t)| SecretFile { path: p, content: t }).collect();
        layers::combine(&layers, &files, &|_| None).context("combine the config layers")
    }

    /// Is there a layered config for `env` (either config file)?
    pub fn has_layers(&self, env: &str) -> bool {
        self.path("config/common.env").is_file() || self.path(format!("config/{env}.env")).is_file()
    }

    /// The effective environment with origins: the layers when `config/` has them (and no env
    /// file was named), else the env file itself (origins are its lines; a repeated key shows
    /// what it overrides).
    pub fn effective(&self, env: &str, env_file: Option<&Path>) -> anyhow::Result<(String, Vec<Layered>)> {
        if env_file.is_none() && self.has_layers(env) {
            return Ok((format!("config/common.env + config/{env}.env + secrets/*.txt"), self.layers(env)?));
        }
        let path = env_file.map(Path::to_path_buf).unwrap_or_else(|| self.default_env_file(env));
        let shown = self.show(&path);
        let bytes = self.read_env_bytes(&path)?;
        let text =
            envfile::compose::decode(&bytes).map_err(|e| anyhow::anyhow!("{shown}:{}: {}", e.line, e.message))?;
        let vars = layers::combine(&[Layer { path: &shown, text }], &[], &|_| None)
            .context("read the env file as Compose does")?;
        Ok((shown, vars))
    }

    /// The values an environment's files hold now: the env file's text (absent is empty)
    /// and every secret file the schema places in `secrets/`.
    pub fn current_values(&self, target: &Target, schema: &Schema) -> anyhow::Result<Current> {
        let text = files::read_optional(&target.env_file)?;
        let env_file_exists = text.is_some();
        let mut secret_files = BTreeMap::new();
        for v in &schema.vars {
            let Some(path) = target.secret_file(v) else { continue };
            if let Some(t) = files::read_optional(&path)? {
                secret_files.insert(v.name.clone(), Secret::new(trim_newline(&t)));
            }
        }
        Ok(Current { doc: EnvDoc::new(text.unwrap_or_default()), env_file_exists, files: secret_files })
    }

    /// The rotation records (`deploy/secrets-meta.toml`; absent = nothing recorded).
    pub fn secrets_meta(&self) -> anyhow::Result<Meta> {
        let text = files::read_optional(&self.secrets_meta_path())?;
        Meta::parse(text.as_deref()).context("read deploy/secrets-meta.toml")
    }
}
