//! The env schema model (`deploy/env.schema.toml`): every variable, its plane, format,
//! generator, strength, rotation and delivery.

use serde::Deserialize;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

/// Where a variable travels and where it may appear (the four planes of the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Plane {
    /// Public build-time: the frontend build's process env only; ends up in the JS bundle.
    Public,
    /// Runtime config: compose `env_file:`, visible in the container env.
    Config,
    /// Runtime secret: compose `env_file:` (0600) or a Docker secret file.
    Secret,
    /// Build secret: a BuildKit secret mount, nowhere after the build step.
    BuildSecret,
}

impl Plane {
    /// Secret-plane values must never be printed and are what the scanner hunts for.
    pub fn is_secret(self) -> bool {
        matches!(self, Plane::Secret | Plane::BuildSecret)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Plane::Public => "public",
            Plane::Config => "config",
            Plane::Secret => "secret",
            Plane::BuildSecret => "build-secret",
        }
    }
}

impl fmt::Display for Plane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The shape a value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    String,
    Url,
    Integer,
    Enum,
    CsvOrigins,
    PostgresUrl,
    Jwt,
    Base64,
    Hex,
    ApiKey,
}

/// How a runtime secret reaches the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// Through compose `env_file:` (the file is 0600 on the server).
    #[default]
    #[serde(rename = "env_file")]
    EnvFile,
    /// As a Docker/Compose secret file mounted at `/run/secrets/<lowercase name>`.
    File,
    /// As a BuildKit secret mount during the image build (build secrets only).
    Buildkit,
}

/// How a secret (or derived value) is made by `secrets gen`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Generator {
    /// `bytes` random bytes, standard base64 (padded).
    Base64 { bytes: usize },
    /// `bytes` random bytes, URL-safe base64 without padding (no `$`, `/`, `+`, `=`).
    Base64url { bytes: usize },
    /// `bytes` random bytes, lower-case hex.
    Hex { bytes: usize },
    /// A Supabase key: an HS256 JWT with claims role, iss, iat, exp, signed with the named secret.
    SupabaseJwt { role: String, signed_with: String },
    /// An EC P-256 signing key as a JSON array of private JWKs (Supabase's `JWT_KEYS`): the
    /// signing key first, then, while a rotation overlaps, the retired public keys.
    EcJwkPrivate,
    /// The public JWK set `{"keys": [...]}` of the private keys in `from` (Supabase's
    /// `JWT_JWKS`): every EC key as its public half, safe to publish.
    JwksPublic { from: String },
    /// A Supabase opaque API key, `sb_publishable_...` or `sb_secret_...`, whose checksum is
    /// made for `project_ref` (self-hosted installations use `supabase-self-hosted`).
    SupabaseOpaqueKey {
        prefix: OpaquePrefix,
        #[serde(default = "self_hosted_ref")]
        project_ref: String,
    },
    /// A Supabase key as an ES256 JWT with claims role, iss, iat, exp, signed with the
    /// signing key of the private JWKs in `signed_with`; its header `kid` names that key.
    SupabaseJwtEs256 { role: String, signed_with: String },
    /// A string built from other variables: `{NAME}` is replaced by that variable's value.
    Template { template: String },
}

/// Which of Supabase's two opaque keys a `supabase-opaque-key` generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpaquePrefix {
    /// `sb_publishable_`: replaces the anon key; meant for browsers.
    Publishable,
    /// `sb_secret_`: replaces the service-role key; bypasses row-level security.
    Secret,
}

impl OpaquePrefix {
    pub fn kind(self) -> secretkit::supabase::OpaqueKind {
        match self {
            OpaquePrefix::Publishable => secretkit::supabase::OpaqueKind::Publishable,
            OpaquePrefix::Secret => secretkit::supabase::OpaqueKind::Secret,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OpaquePrefix::Publishable => "publishable",
            OpaquePrefix::Secret => "secret",
        }
    }
}

fn self_hosted_ref() -> String {
    secretkit::supabase::SELF_HOSTED_PROJECT_REF.to_string()
}

impl Generator {
    /// The variables this generator reads (signs with, derives from, or fills in).
    pub fn inputs(&self) -> Vec<String> {
        match self {
            Generator::SupabaseJwt { signed_with, .. } | Generator::SupabaseJwtEs256 { signed_with, .. } => {
                vec![signed_with.clone()]
            }
            Generator::JwksPublic { from } => vec![from.clone()],
            Generator::Template { template } => template_names(template),
            _ => Vec::new(),
        }
    }

    /// Whether the generator makes an asymmetric-scheme Supabase value (ES256 keys and
    /// tokens, opaque keys), as opposed to the legacy HS256 one.
    pub fn is_supabase_asymmetric(&self) -> bool {
        matches!(
            self,
            Generator::EcJwkPrivate
                | Generator::JwksPublic { .. }
                | Generator::SupabaseOpaqueKey { .. }
                | Generator::SupabaseJwtEs256 { .. }
        )
    }
}

/// The `{NAME}` references of a template, in order.
pub fn template_names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        names.push(rest[open + 1..open + close].to_string());
        rest = &rest[open + close + 1..];
    }
    names
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub app: String,
    pub environments: Vec<String>,
    #[serde(default = "default_rotation")]
    pub default_rotation_days: u32,
}

fn default_rotation() -> u32 {
    90
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub name: String,
    pub plane: Plane,
    pub description: String,
    /// Environments (from `meta.environments`) in which the variable must be set.
    #[serde(default)]
    pub required: Vec<String>,
    pub format: Format,
    /// Allowed values for `format = "enum"`.
    #[serde(default)]
    pub values: Vec<String>,
    /// Required prefix for `format = "api-key"`.
    pub prefix: Option<String>,
    /// Expected `role` claim for `format = "jwt"`.
    pub jwt_role: Option<String>,
    /// Development value (config and public planes only; secrets are generated).
    pub dev: Option<String>,
    /// Example production value for documentation (never a real secret).
    pub example: Option<String>,
    pub generator: Option<Generator>,
    /// Where a human gets the value when it cannot be generated (an API key from a provider).
    pub provided_by: Option<String>,
    /// Minimum strength in random bytes (secrets).
    pub min_bytes: Option<usize>,
    pub rotation_days: Option<u32>,
    #[serde(default)]
    pub delivery: Delivery,
    /// Variables whose values this one carries (so a copy is not reported as reuse).
    #[serde(default)]
    pub derived_from: Vec<String>,
    /// What a rotation of this secret invalidates.
    pub invalidates: Option<String>,
}

impl Variable {
    pub fn is_required_in(&self, env: &str) -> bool {
        self.required.iter().any(|e| e == env)
    }

    /// Rotation period in days, falling back to the schema default for secrets.
    pub fn rotation_period(&self, meta: &Meta) -> Option<u32> {
        if self.plane.is_secret() { Some(self.rotation_days.unwrap_or(meta.default_rotation_days)) } else { None }
    }

    /// Path of the Docker secret file inside the container for file-delivered secrets.
    pub fn secret_file_name(&self) -> String {
        self.name.to_ascii_lowercase()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schema {
    pub meta: Meta,
    #[serde(rename = "var")]
    pub vars: Vec<Variable>,
}

/// A schema that parsed but contradicts itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError(pub String);

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SchemaError {}

/// Why a schema could not be loaded: the file, its TOML, or its consistency rules.
#[derive(Debug)]
pub enum LoadError {
    Read { path: std::path::PathBuf, source: std::io::Error },
    Toml { path: Option<std::path::PathBuf>, message: String },
    Invalid { path: Option<std::path::PathBuf>, error: SchemaError },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |p: &Option<std::path::PathBuf>| {
            p.as_ref().map(|p| format!("schema {}: ", p.display())).unwrap_or_default()
        };
        match self {
            LoadError::Read { path, source } => write!(f, "read schema {}: {source}", path.display()),
            LoadError::Toml { path, message } => write!(f, "{}{message}", at(path)),
            LoadError::Invalid { path, error } => write!(f, "{}{error}", at(path)),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl LoadError {
    fn at(self, path: &Path) -> LoadError {
        match self {
            LoadError::Toml { message, .. } => LoadError::Toml { path: Some(path.to_path_buf()), message },
            LoadError::Invalid { error, .. } => LoadError::Invalid { path: Some(path.to_path_buf()), error },
            read => read,
        }
    }
}

impl Schema {
    pub fn load(path: &Path) -> Result<Schema, LoadError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
        Schema::parse(&text).map_err(|e| e.at(path))
    }

    pub fn parse(text: &str) -> Result<Schema, LoadError> {
        let schema: Schema =
            toml::from_str(text).map_err(|e| LoadError::Toml { path: None, message: e.to_string() })?;
        schema.check().map_err(|error| LoadError::Invalid { path: None, error })?;
        Ok(schema)
    }

    pub fn get(&self, name: &str) -> Option<&Variable> {
        self.vars.iter().find(|v| v.name == name)
    }

    pub fn in_plane(&self, plane: Plane) -> impl Iterator<Item = &Variable> {
        self.vars.iter().filter(move |v| v.plane == plane)
    }

    /// Consistency rules a schema must follow; each violation names the variable.
    fn check(&self) -> Result<(), SchemaError> {
        let mut seen = BTreeSet::new();
        for v in &self.vars {
            let bad = |why: &str| Err(SchemaError(format!("variable {}: {why}", v.name)));
            if !seen.insert(v.name.as_str()) {
                return bad("declared twice");
            }
            if v.name.is_empty() || !v.name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
                return bad("name must be UPPER_SNAKE_CASE");
            }
            if v.name.starts_with("VITE_") != (v.plane == Plane::Public) {
                return bad("VITE_ names and only they belong to the public plane");
            }
            for env in &v.required {
                if !self.meta.environments.contains(env) {
                    return bad(&format!("required in unknown environment {env:?}"));
                }
            }
            if v.format == Format::Enum && v.values.is_empty() {
                return bad("format enum needs `values`");
            }
            if v.plane.is_secret() && v.dev.is_some() {
                return bad("secrets have no committed dev value; give a generator instead");
            }
            if (v.plane == Plane::BuildSecret) != (v.delivery == Delivery::Buildkit) {
                return bad("build secrets, and only they, are delivered by buildkit");
            }
            if !v.plane.is_secret() && v.delivery == Delivery::File {
                return bad("only secrets can be delivered as files");
            }
            for from in v.derived_from.iter().chain(signer(v)) {
                if self.get(from).is_none() {
                    return bad(&format!("refers to undeclared variable {from}"));
                }
            }
            self.check_asymmetric(v)?;
        }
        Ok(())
    }

    /// The planes and inputs of the asymmetric Supabase generators: private keys and
    /// `sb_secret_` keys are secrets, ES256 tokens and public sets read a private key set.
    fn check_asymmetric(&self, v: &Variable) -> Result<(), SchemaError> {
        let bad = |why: &str| Err(SchemaError(format!("variable {}: {why}", v.name)));
        let private_keys = |name: &str| self.get(name).is_some_and(|k| k.generator == Some(Generator::EcJwkPrivate));
        match &v.generator {
            Some(Generator::EcJwkPrivate) if v.plane != Plane::Secret => {
                bad("private JWKs (ec-jwk-private) are a runtime secret: plane must be secret")
            }
            Some(Generator::SupabaseOpaqueKey { prefix: OpaquePrefix::Secret, .. }) if v.plane != Plane::Secret => {
                bad("an sb_secret_ key is a runtime secret: plane must be secret")
            }
            Some(Generator::JwksPublic { from }) | Some(Generator::SupabaseJwtEs256 { signed_with: from, .. })
                if !private_keys(from) =>
            {
                bad(&format!("{from} must be a variable with generator ec-jwk-private"))
            }
            Some(Generator::SupabaseJwtEs256 { role, .. }) if role == "service_role" && !v.plane.is_secret() => {
                bad("a service_role key bypasses row-level security: plane must be secret")
            }
            _ => Ok(()),
        }
    }
}

fn signer(v: &Variable) -> impl Iterator<Item = &String> {
    let names: Vec<&String> = match &v.generator {
        Some(Generator::SupabaseJwt { signed_with, .. }) | Some(Generator::SupabaseJwtEs256 { signed_with, .. }) => {
            vec![signed_with]
        }
        Some(Generator::JwksPublic { from }) => vec![from],
        _ => Vec::new(),
    };
    names.into_iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_schema() -> Schema {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/env.schema.toml");
        Schema::load(&path).expect("the committed schema loads")
    }

    #[test]
    fn committed_schema_declares_the_issue_2_variables_in_their_planes() {
        let s = project_schema();
        let plane = |n: &str| s.get(n).unwrap_or_else(|| panic!("{n} declared")).plane;
        for n in ["VITE_SUPABASE_URL", "VITE_SUPABASE_ANON_KEY"] {
            assert_eq!(plane(n), Plane::Public, "{n}");
        }
        for n in ["NODE_ENV", "LOG_LEVEL", "ALLOWED_ORIGINS", "RATE_LIMIT_MAX", "RATE_LIMIT_WINDOW_MS"] {
            assert_eq!(plane(n), Plane::Config, "{n}");
        }
        for n in [
            "JWT_SECRET",
            "SUPABASE_SERVICE_ROLE_KEY",
            "OPENROUTER_API_KEY",
            "DATABASE_URL",
            "POSTGRES_PASSWORD",
            "ANTHROPIC_API_KEY",
            "SENTRY_DSN",
        ] {
            assert_eq!(plane(n), Plane::Secret, "{n}");
        }
        assert_eq!(plane("NPM_TOKEN"), Plane::BuildSecret);
        assert!(s.get("ANTHROPIC_API_KEY").unwrap().required.is_empty());
        assert_eq!(s.get("DATABASE_URL").unwrap().derived_from, vec!["POSTGRES_PASSWORD"]);
    }

    /// A schema of one signing key set plus `extra` (TOML of more `[[var]]` blocks).
    fn with_keys(extra: &str) -> Result<Schema, LoadError> {
        Schema::parse(&format!(
            r#"
            [meta]
            app = "x"
            environments = ["production"]
            [[var]]
            name = "JWT_KEYS"
            plane = "secret"
            description = "d"
            format = "string"
            generator = {{ kind = "ec-jwk-private" }}
            {extra}
            "#
        ))
    }

    #[test]
    fn the_asymmetric_generators_parse_with_the_self_hosted_ref_by_default() {
        let s = with_keys(
            r#"
            [[var]]
            name = "VITE_PUBLISHABLE"
            plane = "public"
            description = "d"
            format = "api-key"
            generator = { kind = "supabase-opaque-key", prefix = "publishable" }
            [[var]]
            name = "JWKS"
            plane = "config"
            description = "d"
            format = "string"
            generator = { kind = "jwks-public", from = "JWT_KEYS" }
            "#,
        )
        .expect("parses");
        assert_eq!(
            s.get("VITE_PUBLISHABLE").unwrap().generator,
            Some(Generator::SupabaseOpaqueKey {
                prefix: OpaquePrefix::Publishable,
                project_ref: "supabase-self-hosted".into()
            })
        );
        assert_eq!(s.get("JWKS").unwrap().generator.as_ref().unwrap().inputs(), ["JWT_KEYS"]);
        let committed = project_schema();
        assert!(committed.vars.iter().filter_map(|v| v.generator.as_ref()).any(Generator::is_supabase_asymmetric));
    }

    #[test]
    fn secret_material_outside_the_secret_plane_is_refused() {
        let cases = [
            (
                "JWT_KEYS_PUBLIC",
                r#"[[var]]
            name = "JWT_KEYS_PUBLIC"
            plane = "config"
            description = "d"
            format = "string"
            generator = { kind = "ec-jwk-private" }"#,
            ),
            (
                "VITE_SECRET_KEY",
                r#"[[var]]
            name = "VITE_SECRET_KEY"
            plane = "public"
            description = "d"
            format = "api-key"
            generator = { kind = "supabase-opaque-key", prefix = "secret" }"#,
            ),
            (
                "VITE_SERVICE",
                r#"[[var]]
            name = "VITE_SERVICE"
            plane = "public"
            description = "d"
            format = "jwt"
            generator = { kind = "supabase-jwt-es256", role = "service_role", signed_with = "JWT_KEYS" }"#,
            ),
            (
                "TOKEN",
                r#"[[var]]
            name = "OTHER"
            plane = "secret"
            description = "d"
            format = "string"
            [[var]]
            name = "TOKEN"
            plane = "secret"
            description = "d"
            format = "jwt"
            generator = { kind = "supabase-jwt-es256", role = "anon", signed_with = "OTHER" }"#,
            ),
        ];
        for (name, extra) in cases {
            let err = with_keys(extra).expect_err(name).to_string();
            assert!(err.contains(name), "{name}: {err}");
        }
    }

    #[test]
    fn a_vite_secret_is_rejected() {
        let err = Schema::parse(
            r#"
            [meta]
            app = "x"
            environments = ["production"]
            [[var]]
            name = "VITE_KEY"
            plane = "secret"
            description = "d"
            format = "string"
            "#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("VITE_KEY"), "{err}");
    }
}
