//! The resolved project, built once from the global flags and handed to every command: its
//! root, its schema, where its secrets, targets and allowlist live, which env file (or
//! layered config) a command reads, and the clock. Commands ask it instead of computing
//! paths and defaults of their own.

use crate::effects::clock::{Clock, SystemClock};
use crate::plan::deploy::targets::Targets;
use anyhow::{Context, bail};
use envfile::{LoadError, Schema, Variable};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod values;

/// Path of the env schema, relative to the project root.
pub const SCHEMA_PATH: &str = "deploy/env.schema.toml";
/// Path of the scanner allowlist, relative to the project root.
pub const ALLOWLIST_PATH: &str = "deploy/leakscan-allow.toml";
/// Path of the secrets' rotation records, relative to the project root.
pub const SECRETS_META_PATH: &str = "deploy/secrets-meta.toml";
/// The directory of secret files (`<name>.txt`, 0600), relative to the project root.
pub const SECRETS_DIR: &str = "secrets";
/// The environment a command uses when none is named.
pub const DEFAULT_ENV: &str = "production";

/// Which values a command reads: `--env`, `--env-file` and `--layered`, the same flags with
/// the same meaning on every command that reads an environment.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EnvArgs {
    /// Environment whose requirements apply (one of the schema's meta.environments)
    /// [default: production, or the deploy target's environment]
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// Env file to read [default: <project>/.env.<NAME>]
    #[arg(long, value_name = "PATH", conflicts_with = "layered")]
    pub env_file: Option<PathBuf>,
    /// Read the layered config (config/common.env + config/<NAME>.env + secrets/*.txt)
    /// instead of one env file
    #[arg(long)]
    pub layered: bool,
}

/// Where an environment's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSource {
    /// One env file (given, or the default `.env.<env>`).
    File { path: PathBuf, defaulted: bool },
    /// `config/common.env` + `config/<env>.env` + `secrets/*.txt`.
    Layered,
}

/// A resolved environment: its name (checked against the schema) and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSelection {
    pub env: String,
    pub source: EnvSource,
}

impl EnvSelection {
    /// The env file, when the selection names one.
    pub fn file(&self) -> Option<&Path> {
        match &self.source {
            EnvSource::File { path, .. } => Some(path),
            EnvSource::Layered => None,
        }
    }
}

/// The project every command works on.
#[derive(Clone)]
pub struct Project {
    root: PathBuf,
    schema: Result<Arc<Schema>, Arc<LoadError>>,
    clock: Arc<dyn Clock + Send + Sync>,
}

impl std::fmt::Debug for Project {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Project").field("root", &self.root).finish_non_exhaustive()
    }
}

impl Project {
    /// The project at `root` with the system clock. The schema is read now; a command that
    /// needs it gets the load error from [`Project::schema`].
    pub fn open(root: PathBuf) -> Project {
        Project::with_clock(root, Arc::new(SystemClock))
    }

    pub fn with_clock(root: PathBuf, clock: Arc<dyn Clock + Send + Sync>) -> Project {
        let schema = Schema::load(&root.join(SCHEMA_PATH)).map(Arc::new).map_err(Arc::new);
        Project { root, schema, clock }
    }

    /// The workspace this xtask was built from (the default when no `--project-dir` is given).
    pub fn workspace_root() -> PathBuf {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        manifest.parent().map(Path::to_path_buf).unwrap_or_else(|| manifest.to_path_buf())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the project.
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    /// The path as a user should see it: relative to the root when it lies inside.
    pub fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }

    /// The env schema, or why it could not be loaded.
    pub fn schema(&self) -> anyhow::Result<&Schema> {
        match &self.schema {
            Ok(s) => Ok(s),
            Err(e) => Err(anyhow::anyhow!("{e}")).context("load the env schema (deploy/env.schema.toml)"),
        }
    }

    /// The schema when the project has one; `None` when the file is absent (a bare
    /// directory being scanned), an error when it exists but does not load.
    pub fn schema_if_present(&self) -> anyhow::Result<Option<&Schema>> {
        match &self.schema {
            Err(e) if matches!(e.as_ref(), LoadError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound) => {
                Ok(None)
            }
            _ => self.schema().map(Some),
        }
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// The one place that knows where secret files live.
    pub fn secrets_dir(&self) -> PathBuf {
        self.root.join(SECRETS_DIR)
    }

    /// `secrets/<lowercase name>.txt`, the file of a file-delivered secret or build secret.
    pub fn secret_file(&self, v: &Variable) -> PathBuf {
        self.secrets_dir().join(format!("{}.txt", v.secret_file_name()))
    }

    pub fn secrets_meta_path(&self) -> PathBuf {
        self.root.join(SECRETS_META_PATH)
    }

    pub fn allowlist_path(&self) -> PathBuf {
        self.root.join(ALLOWLIST_PATH)
    }

    /// The deploy targets (`deploy/targets.toml`), read when a command needs them.
    pub fn targets(&self) -> anyhow::Result<Targets> {
        let path = self.root.join(crate::plan::deploy::targets::TARGETS_PATH);
        let text = crate::effects::files::read_text(&path).context("read the deploy targets")?;
        Targets::from_file(&path, &text)
    }

    /// The env file an environment uses by default: `.env.<env>` at the root.
    pub fn default_env_file(&self, env: &str) -> PathBuf {
        self.root.join(format!(".env.{env}"))
    }

    /// Resolve `--env`/`--env-file`/`--layered`, with `default_env` when `--env` is not given.
    /// The environment must be one the schema declares.
    pub fn select_env(&self, args: &EnvArgs, default_env: &str) -> anyhow::Result<EnvSelection> {
        let env = args.env.clone().unwrap_or_else(|| default_env.to_string());
        let schema = self.schema()?;
        if !schema.meta.environments.contains(&env) {
            bail!("unknown environment {env:?}; the schema declares {}", schema.meta.environments.join(", "));
        }
        let source = match (&args.env_file, args.layered) {
            (_, true) => EnvSource::Layered,
            (Some(p), false) => EnvSource::File { path: self.absolute(p), defaulted: false },
            (None, false) => EnvSource::File { path: self.default_env_file(&env), defaulted: true },
        };
        Ok(EnvSelection { env, source })
    }

    /// A relative path given on the command line is relative to where the user stands, as
    /// every CLI reads it; it becomes absolute so later steps do not depend on the cwd.
    fn absolute(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            return path.to_path_buf();
        }
        std::env::current_dir().map(|cwd| cwd.join(path)).unwrap_or_else(|_| path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::clock::FixedClock;

    fn project() -> Project {
        Project::with_clock(Project::workspace_root(), Arc::new(FixedClock(86_400)))
    }

    #[test]
    fn the_env_file_defaults_to_the_environment_named() {
        let p = project();
        // Regression: `build-image --env dev` read .env.production.
        let dev = EnvArgs { env: Some("dev".into()), ..EnvArgs::default() };
        let sel = p.select_env(&dev, DEFAULT_ENV).unwrap();
        assert_eq!(sel.source, EnvSource::File { path: p.path(".env.dev"), defaulted: true });
        let sel = p.select_env(&EnvArgs::default(), DEFAULT_ENV).unwrap();
        assert_eq!(sel.file(), Some(p.path(".env.production").as_path()));
    }

    #[test]
    fn an_unknown_environment_names_the_known_ones() {
        let err = project().select_env(&EnvArgs { env: Some("prod".into()), ..EnvArgs::default() }, DEFAULT_ENV);
        let err = format!("{:#}", err.unwrap_err());
        assert!(err.contains("production") && err.contains("dev"), "{err}");
    }

    #[test]
    fn a_missing_schema_is_absent_and_a_broken_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let bare = Project::open(dir.path().to_path_buf());
        assert!(bare.schema_if_present().unwrap().is_none());
        assert!(format!("{:#}", bare.schema().unwrap_err()).contains("deploy/env.schema.toml"));
        std::fs::create_dir(dir.path().join("deploy")).unwrap();
        std::fs::write(dir.path().join(SCHEMA_PATH), "not = [toml").unwrap();
        let broken = Project::open(dir.path().to_path_buf());
        assert!(broken.schema_if_present().is_err());
    }
}
