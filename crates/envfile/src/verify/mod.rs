//! The verify rules behind `cargo xtask verify-env`: an env file, read as Compose reads it,
//! checked against the schema. Each rule has a stable kebab-case code (see [`CODES`]).
//!
//! Facts this crate cannot see without I/O it does not do (file mode, git state, the clock,
//! which secret files exist) come in as plain data in [`Facts`]. Messages never contain a
//! value: they name variables and lines.

mod file;
mod leaks;
mod strength;
mod supabase;
mod values;

use crate::compose::{self, Statement};
use crate::env::Env;
use crate::schema::Schema;
use serde::Serialize;
use std::collections::BTreeSet;

pub use strength::{SUPABASE_DEMO_JWT_SECRETS, estimated_bytes};
pub use supabase::{Jwt, sign_hs256};
pub use values::{generator_text, how_to_get};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One problem found in an env file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable kebab-case rule code, one of [`CODES`].
    pub code: &'static str,
    pub variable: Option<String>,
    pub line: Option<usize>,
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Every rule code, with what it means (documented in docs/guides/environment-variables.md).
pub const CODES: &[(&str, &str)] = &[
    ("parse-error", "Compose would reject the file"),
    ("missing-required", "a variable required in this environment is not set"),
    ("unknown-variable", "a variable the schema does not declare (treated as a secret)"),
    ("empty-value", "a variable is set to the empty string"),
    ("placeholder", "a placeholder or a published default (e.g. Supabase's demo JWT secret)"),
    ("weak-secret", "a secret under the schema's minimum strength, low entropy or a well-known password"),
    ("invalid-format", "a value that does not have the schema's format"),
    ("secret-in-public", "a secret in a public VITE_* variable, which ends up in the JS bundle"),
    ("supabase-key-signature", "a Supabase key that does not verify against JWT_SECRET"),
    ("supabase-key-role", "a Supabase key with the wrong role claim"),
    ("supabase-key-expired", "a Supabase key whose exp claim is in the past"),
    ("cors-wildcard", "ALLOWED_ORIGINS allows any origin in production"),
    ("duplicate-key", "a variable assigned more than once (Compose keeps the last)"),
    ("secret-reuse", "one secret value used by two variables"),
    ("build-secret-in-env-file", "a build secret in the env file that ships to the server"),
    ("unquoted-dollar", "a `$` Compose would interpolate"),
    ("reader-divergence", "a line Compose v1, dotenvy or Vite would read differently"),
    ("file-mode", "the env file is readable by group or others (not 0600)"),
    ("git-not-ignored", "the env file is not git-ignored"),
    ("git-tracked", "the env file is tracked by git"),
    ("git-in-history", "the env file is in git history"),
];

/// What the caller found out about the file and its surroundings.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Unix permission bits of the env file, when known.
    pub mode: Option<u32>,
    /// Git state of the env file; `None` when the project is not a git repository.
    pub git: Option<GitFacts>,
    /// Now, in seconds since the Unix epoch (for JWT `exp`).
    pub now: u64,
    /// Variables delivered as files (`delivery = "file"`) whose secret file exists, so their
    /// absence from the env file is not a missing variable.
    pub secret_files: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GitFacts {
    pub ignored: bool,
    pub tracked: bool,
    pub in_history: bool,
}

/// Everything a rule may look at.
pub(crate) struct Ctx<'a> {
    pub schema: &'a Schema,
    pub environment: &'a str,
    pub env: &'a Env,
    pub statements: &'a [Statement],
    pub text: &'a str,
    pub facts: &'a Facts,
}

impl Ctx<'_> {
    pub fn is_secret(&self, name: &str) -> bool {
        Env::is_secret(self.schema, name)
    }
}

pub(crate) fn finding(
    severity: Severity,
    code: &'static str,
    variable: Option<&str>,
    line: Option<usize>,
    message: impl Into<String>,
    hint: Option<String>,
) -> Finding {
    Finding { severity, code, variable: variable.map(str::to_string), line, message: message.into(), hint }
}

/// Check env file bytes for `environment` (e.g. "production"). `lookup` is the environment
/// Compose interpolates from. Findings come sorted by line, then code.
pub fn verify(
    schema: &Schema,
    environment: &str,
    bytes: &[u8],
    lookup: &dyn Fn(&str) -> Option<String>,
    facts: &Facts,
) -> Vec<Finding> {
    let mut out = file::facts(facts);
    let parsed = compose::decode(bytes).and_then(|text| compose::parse_statements(text, lookup).map(|st| (text, st)));
    match parsed {
        Err(e) => out.push(finding(
            Severity::Error,
            "parse-error",
            None,
            Some(e.line),
            format!("Compose would reject this file: {}", e.message),
            Some("fix the line; nothing else was checked".into()),
        )),
        Ok((text, statements)) => {
            let entries = statements.iter().filter(|s| s.present).map(|s| s.entry.clone()).collect();
            let env = Env::from_entries(entries);
            let ctx = Ctx { schema, environment, env: &env, statements: &statements, text, facts };
            values::check(&ctx, &mut out);
            supabase::check(&ctx, &mut out);
            leaks::check(&ctx, &mut out);
            file::text_rules(&ctx, &mut out);
        }
    }
    out.sort_by(|a, b| (a.line, a.code, &a.variable).cmp(&(b.line, b.code, &b.variable)));
    out
}

#[cfg(test)]
mod tests;
