//! Known secret values expanded into every encoding they may hide in, compiled into
//! Aho-Corasick automata.

use crate::allow::Allowlist;
use crate::sampled::{MIN_SAMPLED_LEN, Sampled};
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use std::fmt;

/// Values shorter than this are not searched: too many innocent matches, and a secret this
/// short cannot be protected by scanning anyway (they come back as [`WeakValue`]s).
pub const MIN_VALUE_LEN: usize = 8;

/// Needles per automaton. Up to this size aho-corasick can use its SIMD (Teddy) prefilter,
/// which is what keeps the scan in the GB/s range; bigger sets are split.
const GROUP_SIZE: usize = 64;

/// A declared secret value and the variable it belongs to.
#[derive(Clone, PartialEq, Eq)]
pub struct KnownValue {
    pub variable: String,
    pub value: Vec<u8>,
}

impl fmt::Debug for KnownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KnownValue {{ variable: {:?}, value: [redacted {} bytes] }}", self.variable, self.value.len())
    }
}

/// A value too short to be searched for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeakValue {
    pub variable: String,
    pub len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Raw,
    Base64,
    Base64Url,
    HexLower,
    HexUpper,
    UrlEncoded,
    JsonEscaped,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Raw => "raw",
            Encoding::Base64 => "base64",
            Encoding::Base64Url => "base64url",
            Encoding::HexLower => "hex",
            Encoding::HexUpper => "hex-upper",
            Encoding::UrlEncoded => "url-encoded",
            Encoding::JsonEscaped => "json-escaped",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct NeedleInfo {
    pub value: usize,
    pub encoding: Encoding,
    /// Length of the needle in bytes.
    pub len: usize,
}

/// Every encoding of every known value, ready to search.
pub struct Needles {
    pub(crate) values: Vec<KnownValue>,
    pub(crate) info: Vec<NeedleInfo>,
    /// Short needles: (automaton, index in `info` of each of its patterns).
    pub(crate) groups: Vec<(AhoCorasick, Vec<usize>)>,
    /// Long needles: the sampled search and the index in `info` of each of its needles.
    pub(crate) sampled: Option<(Sampled, Vec<usize>)>,
    pub(crate) max_len: usize,
    weak: Vec<WeakValue>,
}

impl fmt::Debug for Needles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Needles")
            .field("values", &self.values.len())
            .field("needles", &self.info.len())
            .field("weak", &self.weak)
            .finish()
    }
}

impl Needles {
    /// Expand each value into its encodings. Values the allowlist names by fingerprint or
    /// variable are dropped; values shorter than [`MIN_VALUE_LEN`] become weak notes.
    pub fn build(known: Vec<KnownValue>, allow: &Allowlist) -> Needles {
        let mut values: Vec<KnownValue> = Vec::new();
        let mut weak = Vec::new();
        for kv in known {
            if allow.allows_known(&kv.variable, &kv.value) {
                continue;
            }
            if kv.value.len() < MIN_VALUE_LEN {
                if !kv.value.is_empty() {
                    weak.push(WeakValue { variable: kv.variable, len: kv.value.len() });
                }
                continue;
            }
            if !values.iter().any(|v| v.value == kv.value) {
                values.push(kv);
            }
        }
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut info = Vec::new();
        for (i, kv) in values.iter().enumerate() {
            for (encoding, bytes) in encodings(&kv.value) {
                if bytes.len() >= MIN_VALUE_LEN && !patterns.contains(&bytes) {
                    info.push(NeedleInfo { value: i, encoding, len: bytes.len() });
                    patterns.push(bytes);
                }
            }
        }
        let max_len = patterns.iter().map(Vec::len).max().unwrap_or(0);
        // Long needles (every encoding of a real secret) are searched by sampling; the
        // short rest by Aho-Corasick automata of up to GROUP_SIZE needles each.
        let (long, short): (Vec<usize>, Vec<usize>) =
            (0..patterns.len()).partition(|&i| patterns[i].len() >= MIN_SAMPLED_LEN);
        let groups = short
            .chunks(GROUP_SIZE)
            .map(|ids| {
                let chunk: Vec<&[u8]> = ids.iter().map(|&i| patterns[i].as_slice()).collect();
                let ac = AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&chunk)
                    .or_else(|_| AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&chunk))
                    .expect("needle automaton: patterns are short byte strings");
                (ac, ids.to_vec())
            })
            .collect();
        let sampled = Sampled::build(long.iter().map(|&i| patterns[i].clone()).collect()).map(|s| (s, long));
        Needles { values, info, groups, sampled, max_len, weak }
    }

    /// The values that were too short to search for.
    pub fn weak_values(&self) -> &[WeakValue] {
        &self.weak
    }

    /// How many searchable byte strings the values expanded into.
    pub fn needle_count(&self) -> usize {
        self.info.len()
    }

    pub fn value_count(&self) -> usize {
        self.values.len()
    }
}

/// All encodings of one value. Base64 comes in the three byte alignments a value can have
/// inside a longer base64 string; only the characters fully determined by the value are kept.
pub fn encodings(value: &[u8]) -> Vec<(Encoding, Vec<u8>)> {
    let mut out = vec![(Encoding::Raw, value.to_vec())];
    for (enc, engine) in [
        (Encoding::Base64, &base64::engine::general_purpose::STANDARD_NO_PAD),
        (Encoding::Base64Url, &base64::engine::general_purpose::URL_SAFE_NO_PAD),
    ] {
        for align in 0..3 {
            let mut padded = vec![0u8; align];
            padded.extend_from_slice(value);
            let text = engine.encode(&padded).into_bytes();
            let start = (8 * align).div_ceil(6);
            let end = (8 * (align + value.len())) / 6;
            if end > start {
                out.push((enc, text[start..end].to_vec()));
            }
        }
    }
    out.push((Encoding::HexLower, crate::hex_lower(value).into_bytes()));
    out.push((Encoding::HexUpper, crate::hex_lower(value).to_uppercase().into_bytes()));
    out.push((Encoding::UrlEncoded, url_encode(value)));
    out.push((Encoding::JsonEscaped, json_escape(value, false)));
    out.push((Encoding::JsonEscaped, json_escape(value, true)));
    out
}

fn url_encode(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    out
}

/// JSON / JavaScript string escaping; `slash` also escapes `/` as `\/` (PHP, some minifiers).
fn json_escape(value: &[u8], slash: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 8);
    for &b in value {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'/' if slash => out.extend_from_slice(b"\\/"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(var: &str, value: &str) -> KnownValue {
        KnownValue { variable: var.into(), value: value.as_bytes().to_vec() }
    }

    #[test]
    fn debug_redacts_the_value() {
        let text = format!("{:?}", kv("DB_PASSWORD", "canary-debug-7781"));
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("DB_PASSWORD"));
    }

    #[test]
    fn short_values_are_weak_not_searched() {
        let n = Needles::build(vec![kv("PIN", "1234"), kv("LONG", "abcdefgh12345")], &Allowlist::default());
        assert_eq!(n.weak_values(), &[WeakValue { variable: "PIN".into(), len: 4 }]);
        assert_eq!(n.value_count(), 1);
    }

    #[test]
    fn base64_alignments_find_value_inside_longer_base64() {
        let secret = b"s3cr3t-Value-42!xyz";
        let encs = encodings(secret);
        for prefix_len in 0..3 {
            let mut blob = b"prefix-bytes".to_vec();
            blob.truncate(9 + prefix_len);
            blob.extend_from_slice(secret);
            blob.extend_from_slice(b"-trailer");
            let text = base64::engine::general_purpose::STANDARD.encode(&blob);
            let found = encs
                .iter()
                .filter(|(e, _)| *e == Encoding::Base64)
                .any(|(_, n)| memchr::memmem::find(text.as_bytes(), n).is_some());
            assert!(found, "alignment {prefix_len} not found in {text}");
        }
    }

    #[test]
    fn url_and_json_escapes() {
        assert_eq!(url_encode(b"a b/c"), b"a%20b%2Fc");
        assert_eq!(json_escape(b"a\"b/c", true), b"a\\\"b\\/c");
    }
}
