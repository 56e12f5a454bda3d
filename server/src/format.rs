//! Format checks and conversions from a raw variable value to a `Config` field's type,
//! called by the generated loader. Error messages describe the expected shape and never
//! repeat the value, since the value may be a secret.

use crate::config::{Format, VarSpec};
use crate::secret::Secret;

/// Turns a raw value into a field's type, checking the schema format on the way.
pub trait FromVar: Sized + Default {
    fn from_var(spec: &VarSpec, raw: String) -> Result<Self, String>;
}

impl FromVar for String {
    fn from_var(spec: &VarSpec, raw: String) -> Result<Self, String> {
        check_format(spec.format, &raw)?;
        Ok(raw)
    }
}

impl FromVar for Secret {
    fn from_var(spec: &VarSpec, raw: String) -> Result<Self, String> {
        check_format(spec.format, &raw)?;
        Ok(Secret::new(raw))
    }
}

impl FromVar for u64 {
    fn from_var(_: &VarSpec, raw: String) -> Result<Self, String> {
        raw.trim().parse().map_err(|_| "must be a non-negative integer".to_string())
    }
}

impl FromVar for Vec<String> {
    fn from_var(_: &VarSpec, raw: String) -> Result<Self, String> {
        raw.split(',').map(|o| check_origin(o.trim()).map(|()| o.trim().to_string())).collect()
    }
}

fn check_format(format: Format, v: &str) -> Result<(), String> {
    let ok = match format {
        Format::String => true,
        Format::Url => is_url(v, &["http://", "https://"]),
        Format::PostgresUrl => is_url(v, &["postgres://", "postgresql://"]),
        Format::Integer => v.trim().parse::<u64>().is_ok(),
        Format::Enum(values) => {
            return if values.contains(&v) { Ok(()) } else { Err(format!("must be one of: {}", values.join(", "))) };
        }
        Format::CsvOrigins => return v.split(',').try_for_each(|o| check_origin(o.trim())),
        Format::Jwt => v.split('.').count() == 3 && v.split('.').all(|p| is_charset(p, "-_")),
        Format::Base64 => is_charset(v.trim_end_matches('='), "+/-_"),
        Format::Hex => v.chars().all(|c| c.is_ascii_hexdigit()),
        Format::ApiKey(prefix) => {
            return if v.starts_with(prefix) { Ok(()) } else { Err(format!("must start with {prefix:?}")) };
        }
    };
    if ok { Ok(()) } else { Err(format!("is not a valid {}", format_name(format))) }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::String => "string",
        Format::Url => "URL",
        Format::PostgresUrl => "postgres:// URL",
        Format::Integer => "integer",
        Format::Enum(_) => "enum value",
        Format::CsvOrigins => "origin list",
        Format::Jwt => "JWT (three base64url parts)",
        Format::Base64 => "base64 value",
        Format::Hex => "hex value",
        Format::ApiKey(_) => "API key",
    }
}

fn is_url(v: &str, schemes: &[&str]) -> bool {
    schemes.iter().any(|s| v.strip_prefix(s).is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/')))
}

fn is_charset(v: &str, extra: &str) -> bool {
    !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// An origin is `scheme://host[:port]`: no path, no wildcard (a `*` would open CORS to all).
fn check_origin(o: &str) -> Result<(), String> {
    let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['/', '*', ' ']) => Ok(()),
        _ => Err("must be a comma-separated list of http(s)://host[:port] origins (no *, no path)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VARIABLES;

    fn spec(name: &'static str) -> &'static VarSpec {
        VARIABLES.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("{name} in VARIABLES"))
    }

    #[test]
    fn formats_reject_bad_values_without_echoing_them() {
        let canary = "canary-not-an-integer";
        let err = u64::from_var(spec("RATE_LIMIT_MAX"), canary.into()).unwrap_err();
        assert!(!err.contains(canary), "{err}");
        assert!(Vec::<String>::from_var(spec("ALLOWED_ORIGINS"), "*".into()).is_err());
        assert!(Vec::<String>::from_var(spec("ALLOWED_ORIGINS"), "https://a.example/x".into()).is_err());
        assert_eq!(
            Vec::<String>::from_var(spec("ALLOWED_ORIGINS"), "https://a.example, http://localhost:5173".into())
                .unwrap(),
            vec!["https://a.example", "http://localhost:5173"]
        );
        assert!(String::from_var(spec("NODE_ENV"), "staging".into()).is_err());
        let err = Secret::from_var(spec("OPENROUTER_API_KEY"), "canary-key-1234567890".into()).unwrap_err();
        assert!(err.contains("sk-or-") && !err.contains("canary"), "{err}");
        assert!(Secret::from_var(spec("DATABASE_URL"), "mysql://x".into()).is_err());
    }
}
