//! The server's typed configuration: the `Config` struct is generated from the env schema
//! by `build.rs`; this file holds what the generated code calls (reading, format checks,
//! error collection) and the process-environment source.
//!
//! Loading never stops at the first problem: it collects every missing and invalid variable
//! so `/health` can name them all at once. No message ever contains a value.

pub use crate::format::FromVar;
use crate::secret::Secret;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/config_gen.rs"));

/// The runtime planes the server sees (public and build secrets never reach it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plane {
    Config,
    Secret,
}

/// The value shapes of the schema; the generated specs carry enum values and key prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    String,
    Url,
    Integer,
    Enum(&'static [&'static str]),
    CsvOrigins,
    PostgresUrl,
    Jwt,
    Base64,
    Hex,
    ApiKey(&'static str),
}

/// How a variable reaches the container: the process env (compose `env_file:`) or a
/// Docker secret file at `<secrets dir>/<lowercase name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Env,
    File,
}

/// One runtime variable as the schema declares it.
#[derive(Debug, Clone, Copy)]
pub struct VarSpec {
    pub name: &'static str,
    pub plane: Plane,
    pub format: Format,
    pub delivery: Delivery,
    pub required_in: &'static [&'static str],
}

/// Maps `NODE_ENV` to a schema environment. Anything but an explicit development or test
/// mode counts as production, so a missing `NODE_ENV` fails closed (strictest checks).
pub fn environment_for(node_env: Option<&str>) -> &'static str {
    match node_env {
        Some("development" | "test") => "dev",
        _ => "production",
    }
}

/// Where the server reads its variables from: an effect kept behind a trait so tests can
/// hand in a map instead of mutating the process environment.
pub trait Source {
    fn var(&self, name: &str) -> Option<String>;
    /// Where the file-delivered secret `file_name` is expected.
    fn secret_path(&self, file_name: &str) -> PathBuf;
    fn read_file(&self, path: &Path) -> io::Result<String>;
}

/// The real source: the process environment and the secrets directory (`/run/secrets`).
pub struct ProcessEnv {
    pub secrets_dir: PathBuf,
}

impl Source for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn secret_path(&self, file_name: &str) -> PathBuf {
        self.secrets_dir.join(file_name)
    }
    fn read_file(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }
}

/// An in-memory source for tests: env vars and secret files by name.
#[derive(Debug, Default, Clone)]
pub struct MapSource {
    pub vars: HashMap<String, String>,
    pub files: HashMap<PathBuf, String>,
}

impl MapSource {
    pub const SECRETS_DIR: &'static str = "/run/secrets";
}

impl Source for MapSource {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
    fn secret_path(&self, file_name: &str) -> PathBuf {
        Path::new(Self::SECRETS_DIR).join(file_name)
    }
    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.files.get(path).cloned().ok_or_else(|| io::ErrorKind::NotFound.into())
    }
}

/// Where a loaded variable came from (shown on `/health`; never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Env,
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env => f.write_str("env"),
            Origin::File(p) => write!(f, "file:{}", p.display()),
        }
    }
}

/// The origin of every variable that had a value.
pub type Provenance = BTreeMap<&'static str, Origin>;

/// A variable the current environment requires but that has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub name: &'static str,
    /// `env` or the secret file path the server looked at.
    pub expected_in: String,
}

/// A variable whose value is unusable; `reason` never contains the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub name: &'static str,
    pub reason: String,
}

/// Why the configuration could not be loaded: every problem at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub environment: String,
    pub missing: Vec<Missing>,
    pub invalid: Vec<Invalid>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config for {} not loaded", self.environment)?;
        if !self.missing.is_empty() {
            let names: Vec<_> = self.missing.iter().map(|m| format!("{} ({})", m.name, m.expected_in)).collect();
            write!(f, "; missing: {}", names.join(", "))?;
        }
        if !self.invalid.is_empty() {
            let names: Vec<_> = self.invalid.iter().map(|i| format!("{}: {}", i.name, i.reason)).collect();
            write!(f, "; invalid: {}", names.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Reads variables one by one for the generated `Config::from_source`, collecting problems.
pub struct Loader<'a> {
    src: &'a dyn Source,
    environment: String,
    missing: Vec<Missing>,
    invalid: Vec<Invalid>,
    provenance: Provenance,
}

impl<'a> Loader<'a> {
    pub fn new(src: &'a dyn Source, environment: &str) -> Self {
        Loader {
            src,
            environment: environment.to_string(),
            missing: vec![],
            invalid: vec![],
            provenance: Provenance::new(),
        }
    }

    /// A variable required in every environment: a placeholder stands in when it is absent,
    /// and `finish` then refuses the whole config.
    pub fn required<T: FromVar>(&mut self, spec: &VarSpec) -> T {
        self.optional(spec).unwrap_or_default()
    }

    pub fn optional<T: FromVar>(&mut self, spec: &VarSpec) -> Option<T> {
        let (raw, origin) = self.fetch(spec)?;
        match T::from_var(spec, raw) {
            Ok(v) => {
                self.provenance.insert(spec.name, origin);
                Some(v)
            }
            Err(reason) => {
                self.invalid.push(Invalid { name: spec.name, reason });
                None
            }
        }
    }

    fn fetch(&mut self, spec: &VarSpec) -> Option<(String, Origin)> {
        let (raw, origin) = match spec.delivery {
            Delivery::Env => (self.src.var(spec.name), Origin::Env),
            Delivery::File => {
                let path = self.src.secret_path(&spec.name.to_ascii_lowercase());
                let raw = match self.src.read_file(&path) {
                    Ok(text) => Some(strip_final_newline(text)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                    Err(e) => {
                        let reason = format!(
                            "cannot read {}: {} (it must be readable by the server's user)",
                            path.display(),
                            e.kind()
                        );
                        self.invalid.push(Invalid { name: spec.name, reason });
                        return None;
                    }
                };
                (raw, Origin::File(path))
            }
        };
        // Compose turns `KEY=` into an empty value: treat it as unset, not as a value.
        match raw.filter(|v| !v.is_empty()) {
            Some(v) => Some((v, origin)),
            None => {
                if spec.required_in.contains(&self.environment.as_str()) {
                    let expected_in = match origin {
                        Origin::Env => "env".to_string(),
                        Origin::File(p) => p.display().to_string(),
                    };
                    self.missing.push(Missing { name: spec.name, expected_in });
                }
                None
            }
        }
    }

    pub fn finish(self) -> Result<Provenance, LoadError> {
        if self.missing.is_empty() && self.invalid.is_empty() {
            Ok(self.provenance)
        } else {
            Err(LoadError { environment: self.environment, missing: self.missing, invalid: self.invalid })
        }
    }
}

/// Secret files are usually written by editors or `echo` with a trailing newline that is
/// not part of the value.
fn strip_final_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_env_maps_to_schema_environments_and_fails_closed() {
        assert_eq!(environment_for(Some("development")), "dev");
        assert_eq!(environment_for(Some("test")), "dev");
        assert_eq!(environment_for(Some("production")), "production");
        assert_eq!(environment_for(None), "production");
        for e in ["dev", "production"] {
            assert!(ENVIRONMENTS.contains(&e), "schema environment {e}");
        }
    }

    #[test]
    fn secret_files_lose_one_trailing_newline_only() {
        assert_eq!(strip_final_newline("abc\n".into()), "abc");
        assert_eq!(strip_final_newline("abc\r\n".into()), "abc");
        assert_eq!(strip_final_newline("abc\n\n".into()), "abc\n");
    }
}
