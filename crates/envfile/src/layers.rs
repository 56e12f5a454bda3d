//! Layered configuration: `config/common.env`, then `config/<env>.env`, then one
//! `secrets/<name>.txt` file per secret, combined into the effective environment with the
//! file and line that set each variable. Pure: the caller reads the files and hands the text.

use crate::compose::{self, Entry, ParseError};
use crate::secret::Secret;
use std::fmt;

/// One env-format layer, in precedence order (later layers win).
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    /// How the file is shown to users, e.g. `config/production.env`.
    pub path: &'a str,
    pub text: &'a str,
}

/// One secret file: its whole content (one trailing newline dropped) is the value of the
/// variable named by its upper-cased stem (`postgres_password.txt` → `POSTGRES_PASSWORD`).
#[derive(Clone, Copy)]
pub struct SecretFile<'a> {
    pub path: &'a str,
    pub content: &'a str,
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub path: String,
    /// 1-based line for env layers; None for a secret file (the whole file is the value).
    pub line: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.path),
            None => f.write_str(&self.path),
        }
    }
}

/// One variable of the effective environment.
#[derive(Debug, Clone)]
pub struct Layered {
    pub key: String,
    pub value: Secret,
    pub origin: Origin,
    /// Earlier definitions this one overrides, oldest first.
    pub overrides: Vec<Origin>,
}

impl Layered {
    /// As a Compose entry, so callers can build an [`crate::Env`] and verify it.
    pub fn entry(&self) -> Entry {
        Entry { key: self.key.clone(), value: self.value.expose().to_string(), line: self.origin.line.unwrap_or(1) }
    }
}

/// A layer Compose would reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerError {
    pub path: String,
    pub error: ParseError,
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.error)
    }
}

impl std::error::Error for LayerError {}

/// The variable a secret file holds, from its file name; None for anything but `*.txt`.
pub fn secret_file_key(file_name: &str) -> Option<String> {
    let stem = file_name.strip_suffix(".txt")?;
    let ok = !stem.is_empty() && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| stem.to_ascii_uppercase())
}

/// Combine the layers: env layers in order, then secret files; the last definition wins.
/// Variables come out in the order they were first defined.
pub fn combine(
    layers: &[Layer],
    secret_files: &[SecretFile],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Layered>, LayerError> {
    let mut out: Vec<Layered> = Vec::new();
    let mut set = |key: String, value: String, origin: Origin| match out.iter_mut().find(|l| l.key == key) {
        Some(l) => {
            let old = std::mem::replace(&mut l.origin, origin);
            l.overrides.push(old);
            l.value = Secret::new(value);
        }
        None => out.push(Layered { key, value: Secret::new(value), origin, overrides: Vec::new() }),
    };
    for layer in layers {
        let entries =
            compose::parse(layer.text, lookup).map_err(|error| LayerError { path: layer.path.to_string(), error })?;
        for e in entries {
            set(e.key, e.value, Origin { path: layer.path.to_string(), line: Some(e.line) });
        }
    }
    for f in secret_files {
        let name = f.path.rsplit('/').next().unwrap_or(f.path);
        let Some(key) = secret_file_key(name) else { continue };
        let content = f.content.strip_suffix("\r\n").or_else(|| f.content.strip_suffix('\n')).unwrap_or(f.content);
        set(key, content.to_string(), Origin { path: f.path.to_string(), line: None });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_layers_win_and_remember_what_they_override() {
        let common = Layer { path: "config/common.env", text: "LOG_LEVEL=info\nNODE_ENV=development\n" };
        let prod = Layer { path: "config/production.env", text: "# prod\nNODE_ENV=production\n" };
        let pw = SecretFile { path: "secrets/postgres_password.txt", content: "s3cret-value\n" };
        let ignored = SecretFile { path: "secrets/notes.md", content: "x" };
        let got = combine(&[common, prod], &[pw, ignored], &|_| None).unwrap();
        let keys: Vec<&str> = got.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(keys, ["LOG_LEVEL", "NODE_ENV", "POSTGRES_PASSWORD"]);
        assert_eq!(got[1].value.expose(), "production");
        assert_eq!(got[1].origin.to_string(), "config/production.env:2");
        assert_eq!(got[1].overrides[0].to_string(), "config/common.env:2");
        assert_eq!(got[2].value.expose(), "s3cret-value");
        assert_eq!(got[2].origin.to_string(), "secrets/postgres_password.txt");
        assert_eq!(got[2].entry().key, "POSTGRES_PASSWORD");
    }

    #[test]
    fn a_broken_layer_names_its_file() {
        let bad = Layer { path: "config/dev.env", text: "A=\"unterminated\n" };
        let err = combine(&[bad], &[], &|_| None).unwrap_err();
        assert_eq!(err.path, "config/dev.env");
    }

    #[test]
    fn secret_file_names_map_to_variables() {
        assert_eq!(secret_file_key("npm_token.txt").as_deref(), Some("NPM_TOKEN"));
        assert_eq!(secret_file_key("npm_token.txt.example"), None);
        assert_eq!(secret_file_key(".txt"), None);
    }
}
