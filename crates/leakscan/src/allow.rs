//! The allowlist: committed exceptions (deploy/leakscan-allow.toml) by rule, variable, path
//! glob or value fingerprint. An entry matches when every field it sets matches.

use crate::finding::{Finding, Kind};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    #[serde(default, rename = "allow")]
    pub entries: Vec<AllowEntry>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// A pattern rule id (see [`crate::RULES`]), or `known` for every known-value finding.
    pub rule: Option<String>,
    /// A known variable's name.
    pub variable: Option<String>,
    /// A glob on the path inside the scanned thing (`**`, `*`, `?`).
    pub path: Option<String>,
    /// `sha256:<hex>` of the matched value (shown on pattern findings).
    pub fingerprint: Option<String>,
    /// Why this is allowed; required so every exception explains itself.
    pub reason: String,
}

impl Allowlist {
    pub fn parse(text: &str) -> Result<Allowlist, toml::de::Error> {
        let list: Allowlist = toml::from_str(text)?;
        Ok(list)
    }

    /// Read the allowlist file; a missing file is an empty allowlist.
    pub fn load(path: &Path) -> std::io::Result<Allowlist> {
        match std::fs::read_to_string(path) {
            Ok(text) => Allowlist::parse(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Allowlist::default()),
            Err(e) => Err(e),
        }
    }

    /// Whether a known value is exempt everywhere (entries without a path).
    pub(crate) fn allows_known(&self, variable: &str, value: &[u8]) -> bool {
        let fp = crate::fingerprint(value);
        self.entries.iter().any(|e| {
            e.path.is_none()
                && (e.variable.is_some() || e.fingerprint.is_some())
                && e.rule.as_deref().is_none_or(|r| r == "known")
                && e.variable.as_deref().is_none_or(|v| v == variable)
                && e.fingerprint.as_deref().is_none_or(|f| f == fp)
        })
    }

    /// Whether a finding is exempt.
    pub fn allows(&self, f: &Finding) -> bool {
        self.entries.iter().any(|e| {
            let has_condition = e.rule.is_some() || e.variable.is_some() || e.path.is_some() || e.fingerprint.is_some();
            let rule_ok = match (&e.rule, f.kind) {
                (None, _) => true,
                (Some(r), Kind::Known) => r == "known",
                (Some(r), _) => f.rule.as_deref() == Some(r.as_str()),
            };
            has_condition
                && rule_ok
                && e.variable.as_deref().is_none_or(|v| f.variable.as_deref() == Some(v))
                && e.path.as_deref().is_none_or(|g| crate::glob::matches(g, f.location.path()))
                && e.fingerprint.as_deref().is_none_or(|fp| f.fingerprint.as_deref() == Some(fp))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Location, Severity};

    #[test]
    fn entries_match_on_every_field_they_set() {
        let list = Allowlist::parse(
            r#"
            [[allow]]
            rule = "private-key"
            path = "usr/lib/**/tests/**"
            reason = "test keys shipped by a library"
            "#,
        )
        .unwrap();
        let mut f = Finding {
            severity: Severity::Error,
            kind: Kind::Pattern,
            variable: None,
            rule: Some("private-key".into()),
            encoding: None,
            location: Location::File { path: "usr/lib/py/tests/k.pem".into() },
            offset: None,
            preview: None,
            fingerprint: None,
            detail: None,
        };
        assert!(list.allows(&f));
        f.location = Location::File { path: "app/k.pem".into() };
        assert!(!list.allows(&f));
    }

    #[test]
    fn known_values_by_fingerprint() {
        let fp = crate::fingerprint(b"value-allowed-123");
        let list = Allowlist::parse(&format!("[[allow]]\nfingerprint = \"{fp}\"\nreason = \"x\"\n")).unwrap();
        assert!(list.allows_known("X", b"value-allowed-123"));
        assert!(!list.allows_known("X", b"other-value-1234"));
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(Allowlist::parse("[[allow]]\nrul = \"x\"\nreason = \"y\"\n").is_err());
    }
}
