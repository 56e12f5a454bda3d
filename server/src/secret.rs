//! A redacting wrapper for the secrets the server holds: `Debug` and `Display` never show
//! the value.
//!
//! It mirrors `envfile::Secret` on purpose instead of depending on it: the reference app is
//! what users copy, and its runtime binary should not carry the deploy tool's schema parser.

use std::fmt;

/// A secret value; [`Secret::expose`] is the only way to the bytes, so every use is greppable.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself: call it only to verify or compare, never to print.
    pub fn expose(&self) -> &str {
        &self.0
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
    fn debug_and_display_redact() {
        let s = Secret::new("canary-a41e9b0c77");
        assert!(!format!("{s:?}{s}").contains("canary"));
        assert_eq!(s.expose(), "canary-a41e9b0c77");
    }
}
