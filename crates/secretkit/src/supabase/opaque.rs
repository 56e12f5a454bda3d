//! Supabase's opaque API keys, `sb_publishable_…` and `sb_secret_…`: generation and the
//! check of their checksum for a project ref.
//!
//! The format, as Supabase's self-hosting scripts write it (see the crate README for the
//! sources): the prefix, 22 characters of URL-safe base64 (the first 22 of the unpadded
//! encoding of 17 random bytes, so 132 random bits), `_`, then a checksum: the first 8
//! characters of the unpadded URL-safe base64 of SHA-256 over the UTF-8 text
//! `<project ref>|<prefix><22 random characters>`. Eight characters are exactly the first
//! six bytes of the digest. Self-hosted installations use the project ref
//! `supabase-self-hosted`; the platform's keys check the same way with the project's ref.

use crate::encoding::base64url;
use crate::random::random_bytes;
use crate::secret::Secret;
use rand_core::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The project ref Supabase's self-hosting scripts put into every opaque key's checksum.
pub const SELF_HOSTED_PROJECT_REF: &str = "supabase-self-hosted";

const RANDOM_CHARS: usize = 22;
const CHECKSUM_CHARS: usize = 8;

/// The two kinds of opaque key, told apart by their prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpaqueKind {
    /// `sb_publishable_`: replaces the anon key; meant to be public.
    Publishable,
    /// `sb_secret_`: replaces the service-role key; bypasses row-level security.
    Secret,
}

impl OpaqueKind {
    pub fn prefix(self) -> &'static str {
        match self {
            OpaqueKind::Publishable => "sb_publishable_",
            OpaqueKind::Secret => "sb_secret_",
        }
    }

    /// The kind whose prefix `key` starts with.
    pub fn of(key: &str) -> Option<Self> {
        [OpaqueKind::Publishable, OpaqueKind::Secret].into_iter().find(|kind| key.starts_with(kind.prefix()))
    }
}

/// Why a value is not a valid opaque key. No variant carries any part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpaqueKeyError {
    /// Neither `sb_publishable_` nor `sb_secret_`.
    UnknownPrefix,
    /// Not 22 characters, `_` and 8 characters after the prefix.
    BadShape,
    /// A character outside URL-safe base64.
    BadAlphabet,
    /// The checksum does not match for the given project ref: a mistyped key, or a key
    /// made for another project.
    ChecksumMismatch,
}

impl fmt::Display for OpaqueKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpaqueKeyError::UnknownPrefix => "the key starts with neither sb_publishable_ nor sb_secret_",
            OpaqueKeyError::BadShape => "the key is not <prefix><22 characters>_<8 characters>",
            OpaqueKeyError::BadAlphabet => "the key has a character outside URL-safe base64",
            OpaqueKeyError::ChecksumMismatch => "the key's checksum does not match the project ref",
        })
    }
}

impl std::error::Error for OpaqueKeyError {}

/// A new opaque key of `kind` whose checksum is made for `project_ref`.
pub fn generate_opaque_key(kind: OpaqueKind, project_ref: &str, rng: &mut dyn RngCore) -> Secret {
    let random = Zeroizing::new(base64url(&random_bytes(rng, 17)));
    let body = Zeroizing::new(format!("{}{}", kind.prefix(), &random[..RANDOM_CHARS]));
    let checksum = checksum(project_ref, &body);
    Secret::new(format!("{}_{checksum}", body.as_str()))
}

/// Checks the form of `key` alone, as one can without knowing the project.
pub fn parse_opaque_key(key: &str) -> Result<OpaqueKind, OpaqueKeyError> {
    split(key).map(|(kind, _, _)| kind)
}

/// Checks the form of `key` and its checksum for `project_ref` (use
/// [`SELF_HOSTED_PROJECT_REF`] for a self-hosted installation).
pub fn check_opaque_key(key: &str, project_ref: &str) -> Result<OpaqueKind, OpaqueKeyError> {
    let (kind, body, given) = split(key)?;
    let expected = checksum(project_ref, body);
    // Constant time, so that a server that checks keys does not tell how much matched.
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        Ok(kind)
    } else {
        Err(OpaqueKeyError::ChecksumMismatch)
    }
}

/// `(kind, prefix + random part, checksum)`.
fn split(key: &str) -> Result<(OpaqueKind, &str, &str), OpaqueKeyError> {
    let kind = OpaqueKind::of(key).ok_or(OpaqueKeyError::UnknownPrefix)?;
    let rest = &key[kind.prefix().len()..];
    // Position, not the last `_`: the random part may itself hold `_`.
    if rest.len() != RANDOM_CHARS + 1 + CHECKSUM_CHARS || rest.as_bytes()[RANDOM_CHARS] != b'_' {
        return Err(OpaqueKeyError::BadShape);
    }
    let (random, checksum) = (&rest[..RANDOM_CHARS], &rest[RANDOM_CHARS + 1..]);
    let url_safe = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !url_safe(random) || !url_safe(checksum) {
        return Err(OpaqueKeyError::BadAlphabet);
    }
    Ok((kind, &key[..kind.prefix().len() + RANDOM_CHARS], checksum))
}

fn checksum(project_ref: &str, body: &str) -> String {
    let digest =
        Sha256::new().chain_update(project_ref.as_bytes()).chain_update(b"|").chain_update(body.as_bytes()).finalize();
    // 6 bytes are 48 bits, exactly 8 base64 characters: the same as cutting the digest's
    // full encoding after 8 characters.
    base64url(&digest[..6])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn generated_keys_have_the_documented_shape_and_check() {
        let mut rng = StdRng::seed_from_u64(11);
        for kind in [OpaqueKind::Publishable, OpaqueKind::Secret] {
            let key = generate_opaque_key(kind, SELF_HOSTED_PROJECT_REF, &mut rng);
            let k = key.expose();
            assert_eq!(k.len(), kind.prefix().len() + 31);
            assert_eq!(parse_opaque_key(k), Ok(kind));
            assert_eq!(check_opaque_key(k, SELF_HOSTED_PROJECT_REF), Ok(kind));
            assert_eq!(check_opaque_key(k, "abcdefghijklmnopqrst"), Err(OpaqueKeyError::ChecksumMismatch));
        }
    }

    #[test]
    fn the_checksum_is_the_digest_encoding_cut_after_eight_characters() {
        let body = "sb_secret_AAAAAAAAAAAAAAAAAAAAAA";
        let digest = Sha256::digest(format!("{SELF_HOSTED_PROJECT_REF}|{body}").as_bytes());
        assert_eq!(checksum(SELF_HOSTED_PROJECT_REF, body), base64url(&digest)[..8]);
    }

    #[test]
    fn a_changed_character_fails_the_checksum() {
        let mut rng = StdRng::seed_from_u64(12);
        let key = generate_opaque_key(OpaqueKind::Secret, SELF_HOSTED_PROJECT_REF, &mut rng);
        let k = key.expose();
        let i = OpaqueKind::Secret.prefix().len() + 3;
        let other = if &k[i..=i] == "A" { "B" } else { "A" };
        let tampered = format!("{}{other}{}", &k[..i], &k[i + 1..]);
        assert_eq!(check_opaque_key(&tampered, SELF_HOSTED_PROJECT_REF), Err(OpaqueKeyError::ChecksumMismatch));
    }

    #[test]
    fn malformed_keys_are_refused_by_kind_of_fault() {
        use OpaqueKeyError::*;
        let ok_tail = "AAAAAAAAAAAAAAAAAAAAAA_BBBBBBBB";
        assert_eq!(parse_opaque_key(&format!("sb_publishable_{ok_tail}")), Ok(OpaqueKind::Publishable));
        assert_eq!(parse_opaque_key(&format!("sb_other_{ok_tail}")), Err(UnknownPrefix));
        assert_eq!(parse_opaque_key("eyJhbGciOiJIUzI1NiJ9.e30.sig"), Err(UnknownPrefix));
        assert_eq!(parse_opaque_key(&format!("sb_secret_{ok_tail}X")), Err(BadShape));
        assert_eq!(parse_opaque_key("sb_secret_AAAAAAAAAAAAAAAAAAAAAAA_BBBBBBB"), Err(BadShape));
        assert_eq!(parse_opaque_key("sb_secret_AAAAAAAAAAAAAAAAAAAAA+_BBBBBBBB"), Err(BadAlphabet));
        assert_eq!(parse_opaque_key("sb_secret_AAAAAAAAAAAAAAAAAAAAAA_BBBBBBB="), Err(BadAlphabet));
        // Multi-byte characters must not slice inside a character.
        // Byte 22 inside a character: refused without slicing there.
        assert_eq!(parse_opaque_key("sb_secret_AAAAAAAAAAAAAAAAAAAAAéBBBBBBBB"), Err(BadShape));
        assert_eq!(parse_opaque_key("sb_secret_ééééééééééé_BBBBBBBB"), Err(BadAlphabet));
    }

    #[test]
    fn an_underscore_inside_the_random_part_is_fine() {
        let body = "sb_publishable_AAAA_AAAAAAAAAAAAAAAAA";
        let key = format!("{body}_{}", checksum("ref", body));
        assert_eq!(check_opaque_key(&key, "ref"), Ok(OpaqueKind::Publishable));
    }
}
