//! The verify rules behind `cargo xtask verify-env`: an env file, read as Compose reads it,
//! checked against the schema. Each rule has a stable kebab-case code (see [`Code`]).
//!
//! Facts this crate cannot see without I/O it does not do (file mode, git state, the clock,
//! which secret files exist) come in as plain data in [`Facts`]. Messages never contain a
//! value: they name variables and lines.

mod file;
mod leaks;
mod strength;
mod supabase;
mod supabase_asymmetric;
mod values;

use crate::compose::{self, Statement};
use crate::env::Env;
use crate::schema::Schema;
use serde::Serialize;
use std::collections::BTreeSet;

pub use strength::{SUPABASE_DEMO_JWT_SECRETS, estimated_bytes};
pub use supabase::{Jwt, sign_hs256};
pub use values::{generator_text, how_to_get};

pub use secretkit::Severity;

/// One problem found in an env file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable kebab-case rule code.
    pub code: Code,
    pub variable: Option<String>,
    pub line: Option<usize>,
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Every rule code with what it means: the one table the docs and the SARIF rules are made
/// from (docs/guides/environment-variables.md lists [`Code::ALL`]).
macro_rules! codes {
    ($($variant:ident = $code:literal: $meaning:literal,)*) => {
        /// A stable kebab-case rule code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            /// Every code, in the order the docs list them.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// One line saying what a finding with this code means.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$variant => $meaning,)* }
            }
        }
    };
}

codes! {
    ParseError = "parse-error": "Compose would reject the file",
    MissingRequired = "missing-required": "a variable required in this environment is not set",
    UnknownVariable = "unknown-variable": "a variable the schema does not declare (treated as a secret)",
    EmptyValue = "empty-value": "a variable is set to the empty string",
    Placeholder = "placeholder": "a placeholder or a published default (e.g. Supabase's demo JWT secret)",
    WeakSecret = "weak-secret": "a secret under the schema's minimum strength, low entropy or a well-known password",
    InvalidFormat = "invalid-format": "a value that does not have the schema's format",
    SecretInPublic = "secret-in-public": "a secret in a public VITE_* variable, which ends up in the JS bundle",
    SupabaseKeySignature = "supabase-key-signature": "a Supabase key that does not verify: an HS256 key against JWT_SECRET, an ES256 key against the public JWK set (JWT_JWKS)",
    SupabaseKeyRole = "supabase-key-role": "a Supabase key with the wrong role claim",
    SupabaseKeyExpired = "supabase-key-expired": "a Supabase key whose exp claim is in the past",
    SupabaseOpaqueChecksum = "supabase-opaque-checksum": "an sb_publishable_/sb_secret_ key whose checksum does not match the schema's project ref",
    JwksMismatch = "jwks-mismatch": "the public JWK set (JWT_JWKS) is not exactly the public keys of the private JWKs (JWT_KEYS): a kid or point differs, a key is missing or extra, or it holds private material",
    SupabaseLegacyKeys = "supabase-legacy-keys": "only legacy HS256 Supabase keys, which Supabase deprecates: migrate to opaque API keys and ES256 signing keys",
    CorsWildcard = "cors-wildcard": "ALLOWED_ORIGINS allows any origin in production",
    DuplicateKey = "duplicate-key": "a variable assigned more than once (Compose keeps the last)",
    SecretReuse = "secret-reuse": "one secret value used by two variables",
    BuildSecretInEnvFile = "build-secret-in-env-file": "a build secret in the env file that ships to the server",
    UnquotedDollar = "unquoted-dollar": "a `$` Compose would interpolate",
    ReaderDivergence = "reader-divergence": "a line Compose v1, dotenvy or Vite would read differently",
    FileMode = "file-mode": "the env file is readable by group or others (not 0600)",
    GitNotIgnored = "git-not-ignored": "the env file is not git-ignored",
    GitTracked = "git-tracked": "the env file is tracked by git",
    GitInHistory = "git-in-history": "the env file is in git history",
    RotationOverdue = "rotation-overdue": "a secret older than its rotation period (deploy/secrets-meta.toml)",
    ThrowawayValue = "throwaway-value": "a demo value `secrets gen --throwaway` made (no provider accepts it): an error in production",
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

// Findings sort by code text, as they did when codes were strings.
impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Code {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

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
    /// Secrets of this environment past their rotation period (from the project's rotation
    /// records, which the caller reads).
    pub overdue: Vec<Overdue>,
}

/// A secret older than its rotation period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overdue {
    pub name: String,
    /// `YYYY-MM-DD` of the last generation or rotation, when recorded.
    pub since: Option<String>,
    pub age_days: i64,
    pub rotation_days: i64,
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
    code: Code,
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
    out.extend(file::rotation(facts, environment));
    let parsed = compose::decode(bytes).and_then(|text| compose::parse_statements(text, lookup).map(|st| (text, st)));
    match parsed {
        Err(e) => out.push(finding(
            Severity::Error,
            Code::ParseError,
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
            supabase_asymmetric::check(&ctx, &mut out);
            leaks::check(&ctx, &mut out);
            file::text_rules(&ctx, &mut out);
        }
    }
    out.sort_by(|a, b| (a.line, a.code, &a.variable).cmp(&(b.line, b.code, &b.variable)));
    out
}

#[cfg(test)]
mod tests;
