//! What a scan reports: a finding, where it was, and the masked preview rule.

use serde::{Serialize, Serializer};
use std::fmt;

pub use secretkit::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A declared secret value (or one of its encodings) was found.
    Known,
    /// A pattern rule matched something that looks like a secret nobody declared.
    Pattern,
    /// Part of the input could not be scanned (corrupt, over a limit, encrypted): the scan
    /// cannot prove that part clean.
    Unscanned,
}

/// Where a finding sits. `Display` gives the one-line human form used in every output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A file of a directory tree or plain archive (nested archives joined with `!/`).
    File { path: String },
    /// A file inside an image layer. `index` is `None` when no manifest named the layer.
    Layer { index: Option<usize>, digest: String, path: String, deleted_later: bool },
    /// A field of an image config: `config Env`, `config Labels`, `history[3]`, ...
    Config { field: String },
    /// A blob in git history, with a commit that contains it.
    Commit { commit: String, path: String },
}

impl Location {
    /// The path a file-level allowlist glob is matched against.
    pub fn path(&self) -> &str {
        match self {
            Location::File { path } | Location::Layer { path, .. } | Location::Commit { path, .. } => path,
            Location::Config { field } => field,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path } => f.write_str(path),
            Location::Layer { index, digest, path, deleted_later } => {
                match index {
                    Some(i) => write!(f, "layer {i} ({})", short_digest(digest))?,
                    None => write!(f, "layer ? ({})", short_digest(digest))?,
                }
                write!(f, " {path}")?;
                if *deleted_later {
                    f.write_str(" (deleted in a later layer)")?;
                }
                Ok(())
            }
            Location::Config { field } => f.write_str(field),
            Location::Commit { commit, path } => {
                write!(f, "commit {} {path}", &commit[..commit.len().min(12)])
            }
        }
    }
}

fn short_digest(d: &str) -> &str {
    let d = d.strip_prefix("sha256:").unwrap_or(d);
    &d[..d.len().min(12)]
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One thing the scanner found. It never holds the value: at most a masked preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// For known values: the encoding it was found in (`raw`, `base64`, `hex`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    pub location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// `sha256:<hex>` of a pattern match, the key to allowlist it; never set for known values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Human detail for unscanned parts (which limit, what was corrupt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Finding {
    pub(crate) fn unscanned(location: Location, detail: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Warning,
            kind: Kind::Unscanned,
            variable: None,
            rule: Some("unscanned".into()),
            encoding: None,
            location,
            offset: None,
            preview: None,
            fingerprint: None,
            detail: Some(detail.into()),
        }
    }

    /// A one-line description without the location.
    pub fn what(&self) -> String {
        match self.kind {
            Kind::Known => format!(
                "value of {} ({})",
                self.variable.as_deref().unwrap_or("?"),
                self.encoding.as_deref().unwrap_or("raw")
            ),
            Kind::Pattern => format!("pattern {}", self.rule.as_deref().unwrap_or("?")),
            Kind::Unscanned => format!("not scanned: {}", self.detail.as_deref().unwrap_or("?")),
        }
    }
}

/// The project's masking rule (same as `envfile::secret::mask`): first two and last two
/// characters of a value of 16 or more characters, nothing for shorter values.
pub fn mask(value: &str) -> Option<String> {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 16 {
        return None;
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    Some(format!("{head}…{tail} ({} chars)", chars.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_shows_at_most_four_characters() {
        assert_eq!(mask("short-value"), None);
        assert_eq!(mask("abcdefghijklmnopqr").as_deref(), Some("ab…qr (18 chars)"));
    }

    #[test]
    fn layer_location_says_deleted_later() {
        let loc = Location::Layer {
            index: Some(2),
            digest: "sha256:0123456789abcdef0123".into(),
            path: "app/.env".into(),
            deleted_later: true,
        };
        assert_eq!(loc.to_string(), "layer 2 (0123456789ab) app/.env (deleted in a later layer)");
    }
}
