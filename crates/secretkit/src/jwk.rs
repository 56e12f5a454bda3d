//! EC P-256 keys as JSON Web Keys (RFC 7517, RFC 7518 section 6.2): generation, the private
//! and the public JWK, parsing with full validation, and the RFC 7638 thumbprint.
//!
//! Keys are written with the fields and order Supabase's self-hosting tooling writes:
//! `kty, kid, use, key_ops, alg, ext, crv, x, y` and, for a private key, `d`.

use crate::encoding::base64url;
use crate::random::uuid_v4;
use crate::secret::Secret;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand_core::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

mod json;

pub(crate) use json::{EcJwkOut, EcKey, RawJwk, to_json};

/// Why a key did not parse, or a key set did not hold what was asked. No variant carries
/// key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwkError {
    /// Not JSON, or not the shape of a JWK or a JWK set.
    Json,
    /// A `kty` or `crv` this crate does not handle where an EC P-256 key was required.
    UnsupportedKey,
    MissingField(&'static str),
    /// A field with the wrong encoding, length or value.
    BadField(&'static str),
    /// `x` and `y` are not a point of the curve.
    NotOnCurve,
    /// `d` is zero or not below the group order.
    BadPrivateScalar,
    /// `x` and `y` are not the public key of `d`.
    PublicKeyMismatch,
    /// A private key (`d` or `k`) where only public keys belong.
    PrivateKeyMaterial,
    /// A `kid` outside `[A-Za-z0-9._-]{1,128}`, the set that stays unquoted in env files.
    BadKid,
    /// The random generator produced no valid scalar in many tries: it is broken.
    RngFailure,
    /// No key of the set has the private key's `kid`.
    KidNotFound,
    /// A key of the set has the `kid` but is another key.
    DifferentKey,
    /// A retired key without a `kid` of its own (none, or the signing key's).
    DuplicateKid,
}

impl fmt::Display for JwkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwkError::Json => f.write_str("the value is not a well-formed JWK or JWK set"),
            JwkError::UnsupportedKey => f.write_str("the key is not an EC P-256 key"),
            JwkError::MissingField(name) => write!(f, "the key has no {name:?} field"),
            JwkError::BadField(name) => write!(f, "the key's {name:?} field is invalid"),
            JwkError::NotOnCurve => f.write_str("the key's x and y are not a P-256 point"),
            JwkError::BadPrivateScalar => f.write_str("the key's d is not a valid P-256 scalar"),
            JwkError::PublicKeyMismatch => f.write_str("the key's x and y do not belong to its d"),
            JwkError::PrivateKeyMaterial => f.write_str("a private key is where only public keys belong"),
            JwkError::BadKid => f.write_str("a kid must be 1 to 128 of A-Z a-z 0-9 . _ -"),
            JwkError::RngFailure => f.write_str("the random generator is broken"),
            JwkError::KidNotFound => f.write_str("no key of the set has the private key's kid"),
            JwkError::DifferentKey => f.write_str("the set's key with that kid is another key"),
            JwkError::DuplicateKid => f.write_str("every retired key needs a kid of its own"),
        }
    }
}

impl std::error::Error for JwkError {}

/// The signing key of an ES256 issuer: a P-256 private key with its `kid` and `key_ops`.
#[derive(Clone, PartialEq, Eq)]
pub struct EcPrivateJwk {
    kid: String,
    key_ops: Vec<String>,
    secret: SecretKey,
}

/// A P-256 public key as a JWK. `kid` and `key_ops` are optional, as in keys from elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcPublicJwk {
    kid: Option<String>,
    key_ops: Option<Vec<String>>,
    key: PublicKey,
}

impl EcPrivateJwk {
    /// A new key pair with a random UUID as its `kid` (what Supabase's self-hosting script
    /// does) and `key_ops` `["sign", "verify"]`, which marks it as Supabase Auth's one
    /// signing key.
    pub fn generate(rng: &mut dyn RngCore) -> Result<Self, JwkError> {
        let secret = random_scalar(rng)?;
        Ok(EcPrivateJwk { kid: uuid_v4(rng), key_ops: ops(&["sign", "verify"]), secret })
    }

    /// The same key under another `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Result<Self, JwkError> {
        let kid = kid.into();
        if !is_portable_kid(&kid) {
            return Err(JwkError::BadKid);
        }
        self.kid = kid;
        Ok(self)
    }

    /// The same key with its RFC 7638 thumbprint as `kid`, a name derived from the key.
    pub fn with_thumbprint_kid(mut self) -> Self {
        self.kid = self.public().thumbprint();
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn key_ops(&self) -> &[String] {
        &self.key_ops
    }

    /// Whether `key_ops` names `sign`; Supabase Auth signs with the one key that does.
    pub fn is_signing_key(&self) -> bool {
        self.key_ops.iter().any(|op| op == "sign")
    }

    /// The public half, with the same `kid` and `key_ops` `["verify"]`.
    pub fn public(&self) -> EcPublicJwk {
        EcPublicJwk { kid: Some(self.kid.clone()), key_ops: Some(ops(&["verify"])), key: self.secret.public_key() }
    }

    /// The private JWK as JSON, which is itself a secret.
    pub fn to_json(&self) -> Secret {
        Secret::new(to_json(&EcJwkOut::private(self)))
    }

    /// Parses a private EC P-256 JWK and checks that `x` and `y` belong to `d`.
    pub fn from_json(json: &str) -> Result<Self, JwkError> {
        let raw: RawJwk = serde_json::from_str(json).map_err(|_| JwkError::Json)?;
        match EcKey::from_raw(raw)? {
            EcKey::Private(key) => Ok(key),
            EcKey::Public(_) => Err(JwkError::MissingField("d")),
        }
    }

    pub(crate) fn signing_key(&self) -> p256::ecdsa::SigningKey {
        p256::ecdsa::SigningKey::from(&self.secret)
    }

    fn d_base64url(&self) -> Zeroizing<String> {
        let mut bytes = self.secret.to_bytes();
        let d = Zeroizing::new(base64url(&bytes));
        bytes.as_mut_slice().zeroize();
        d
    }
}

impl fmt::Debug for EcPrivateJwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcPrivateJwk")
            .field("kid", &self.kid)
            .field("key_ops", &self.key_ops)
            .field("d", &"[redacted]")
            .finish()
    }
}

impl EcPublicJwk {
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn key_ops(&self) -> Option<&[String]> {
        self.key_ops.as_deref()
    }

    /// Whether both are the same point, whatever their `kid` and `key_ops`.
    pub fn same_key(&self, other: &EcPublicJwk) -> bool {
        self.key == other.key
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexical order.
    pub fn thumbprint(&self) -> String {
        let (x, y) = self.coordinates();
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        base64url(&Sha256::digest(canonical.as_bytes()))
    }

    pub fn to_json(&self) -> String {
        to_json(&EcJwkOut::public(self))
    }

    /// Parses a public EC P-256 JWK; a JWK with `d` is refused, not silently stripped.
    pub fn from_json(json: &str) -> Result<Self, JwkError> {
        let raw: RawJwk = serde_json::from_str(json).map_err(|_| JwkError::Json)?;
        match EcKey::from_raw(raw)? {
            EcKey::Public(key) => Ok(key),
            EcKey::Private(_) => Err(JwkError::PrivateKeyMaterial),
        }
    }

    /// `x` and `y`, base64url.
    pub(crate) fn coordinates(&self) -> (String, String) {
        let point = self.key.to_encoded_point(false);
        let (x, y) = (point.x(), point.y());
        // An uncompressed encoding of a public key (never the identity) has both.
        let x = x.map(|x| base64url(x)).unwrap_or_default();
        let y = y.map(|y| base64url(y)).unwrap_or_default();
        (x, y)
    }

    pub(crate) fn verifying_key(&self) -> p256::ecdsa::VerifyingKey {
        p256::ecdsa::VerifyingKey::from(&self.key)
    }
}

fn ops(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn is_portable_kid(kid: &str) -> bool {
    (1..=128).contains(&kid.len()) && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Rejection sampling: 32 random bytes are a valid scalar unless they are zero or not
/// below the group order, which happens about once in 2^32 draws.
fn random_scalar(rng: &mut dyn RngCore) -> Result<SecretKey, JwkError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    for _ in 0..16 {
        rng.fill_bytes(bytes.as_mut());
        if let Ok(secret) = SecretKey::from_slice(bytes.as_ref()) {
            return Ok(secret);
        }
    }
    Err(JwkError::RngFailure)
}

#[cfg(test)]
mod tests;
