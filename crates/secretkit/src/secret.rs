//! A redacting wrapper for secret values: `Debug` and `Display` never show the value, and
//! the value is wiped from memory when the wrapper is dropped.

use serde::{Deserialize, Deserializer};
use std::fmt;
use zeroize::Zeroize;

/// A secret value. The only way to the bytes is [`Secret::expose`], which makes every place
/// that writes a secret greppable.
///
/// The API matches `envfile::Secret` so that this type can replace it. `Serialize` is
/// deliberately not implemented: a secret reaches a file only through `expose`.
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

    /// The length in bytes, which is safe to report.
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

/// The masked preview rule shared by every output of the project (the same as
/// `envfile::mask`). It walks the characters instead of collecting them, so that no
/// unwiped copy of the value is left on the heap.
pub fn mask(value: &str) -> String {
    let count = value.chars().count();
    if count >= 16 {
        let head: String = value.chars().take(2).collect();
        let mut tail: Vec<char> = value.chars().rev().take(2).collect();
        tail.reverse();
        let tail: String = tail.into_iter().collect();
        format!("{head}…{tail} ({count} chars)")
    } else {
        format!("•••• ({count} chars)")
    }
}

impl Drop for Secret {
    /// Wiping is best effort: it clears this buffer, not copies a caller made with
    /// `expose().to_string()` or that a growing `String` left behind before it was wrapped.
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
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

/// Reading a secret from JSON is safe (it only moves the value into the wrapper), so JWK
/// fields such as `d` and `k` can be parsed straight into a `Secret`.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
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
        assert!(!format!("{:?}", Some(&s)).contains("canary"));
        assert_eq!(s.expose(), "canary-6f1b7c2e9d");
        assert_eq!(s.len(), 17);
        assert!(!s.is_empty() && Secret::default().is_empty());
    }

    #[test]
    fn mask_shows_at_most_four_characters() {
        assert_eq!(mask("short"), "•••• (5 chars)");
        assert_eq!(mask("abcdefghijklmnopqr"), "ab…qr (18 chars)");
        assert_eq!(mask("0123456789abcdef"), "01…ef (16 chars)");
        assert_eq!(mask("0123456789abcde"), "•••• (15 chars)");
        // Characters, not bytes: a multi-byte value is cut on character boundaries.
        assert_eq!(mask("ééééééééééééééüü"), "éé…üü (16 chars)");
        assert_eq!(Secret::new("abcdefghijklmnopqr").masked(), "ab…qr (18 chars)");
    }

    #[test]
    fn clones_compare_equal_and_hash_alike() {
        use std::collections::HashSet;
        let a = Secret::new("value-1");
        let b = a.clone();
        assert_eq!(a, b);
        assert_ne!(a, Secret::from("value-2".to_string()));
        let set: HashSet<Secret> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn deserializes_from_a_json_string() {
        let s: Secret = serde_json::from_str(r#""from-json""#).unwrap();
        assert_eq!(s.expose(), "from-json");
    }
}
