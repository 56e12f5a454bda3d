//! A redacting wrapper for secret values: `Debug` and `Display` never show the value.

use std::fmt;

/// A secret value. The only way to the bytes is [`Secret::expose`], which makes every place
/// that writes a secret greppable.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself. Call it only where the value must be written (an env file, a
    /// BuildKit secret source, a 0600 upload) or compared.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A preview safe to print: first two and last two characters of a value of 16 or more
    /// characters, nothing at all for shorter ones.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// The masked preview rule shared by every output of the project.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() >= 16 {
        let head: String = chars[..2].iter().collect();
        let tail: String = chars[chars.len() - 2..].iter().collect();
        format!("{head}…{tail} ({} chars)", chars.len())
    } else {
        format!("•••• ({} chars)", chars.len())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("canary-6f1b7c2e9d");
        assert!(!format!("{s:?}").contains("canary"));
        assert!(!format!("{s}").contains("canary"));
        assert_eq!(s.expose(), "canary-6f1b7c2e9d");
    }

    #[test]
    fn mask_shows_at_most_four_characters() {
        assert_eq!(mask("short"), "•••• (5 chars)");
        assert_eq!(mask("abcdefghijklmnopqr"), "ab…qr (18 chars)");
    }
}
