//! The asymmetric-key configuration of a self-hosted Supabase: the ES256 (and legacy HS256)
//! API-key JWTs, `JWT_KEYS` for Auth and `JWT_JWKS` for the verifiers, built the way
//! Supabase's `add-new-auth-keys.sh` builds them (see the crate README for the sources).
//!
//! `JWT_KEYS` is a bare JSON array: the EC private signing key (`key_ops` sign and verify),
//! then, during a rotation, the retired public keys (`key_ops` verify), then the legacy
//! symmetric key made from `JWT_SECRET`. Auth requires exactly one key with `sign`.
//! `JWT_JWKS` is `{"keys": [...]}` with the same keys as public keys, and the same
//! symmetric key: it holds `JWT_SECRET`, so it is a secret too. What may be published is
//! [`crate::Jwks::to_public_json`].

use super::opaque::{OpaqueKind, SELF_HOSTED_PROJECT_REF, generate_opaque_key};
use crate::jwk::{EcPrivateJwk, EcPublicJwk, JwkError};
use crate::jwks::{Jwk, Jwks, OctJwk};
use crate::jwt::{JwtError, sign_es256, sign_hs256};
use crate::secret::Secret;
use rand_core::RngCore;
use serde::Serialize;
use std::fmt;

/// The issuer Supabase writes into its API-key JWTs.
pub const API_KEY_ISSUER: &str = "supabase";
/// Supabase's scripts make API-key JWTs valid for five years (of 365 days).
pub const API_KEY_LIFETIME_SECS: u64 = 5 * 365 * 86_400;

/// The claims of an anon or service-role API-key JWT, in Supabase's order. Self-hosted
/// keys carry no `ref`; the platform's legacy keys add the project ref as `ref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyClaims<'a> {
    pub role: &'a str,
    pub iss: &'a str,
    pub iat: u64,
    pub exp: u64,
}

impl<'a> ApiKeyClaims<'a> {
    /// `role` issued by `supabase` at `iat`, expiring [`API_KEY_LIFETIME_SECS`] later.
    pub fn new(role: &'a str, iat: u64) -> Self {
        let exp = iat.saturating_add(API_KEY_LIFETIME_SECS);
        ApiKeyClaims { role, iss: API_KEY_ISSUER, iat, exp }
    }
}

/// An ES256 API-key JWT (`ANON_KEY_ASYMMETRIC`, `SERVICE_ROLE_KEY_ASYMMETRIC`).
pub fn sign_api_key_es256(role: &str, key: &EcPrivateJwk, iat: u64) -> Result<Secret, JwtError> {
    sign_es256(&ApiKeyClaims::new(role, iat), key)
}

/// A legacy HS256 API-key JWT (`ANON_KEY`, `SERVICE_ROLE_KEY`), keyed with the text of
/// `JWT_SECRET` itself.
pub fn sign_api_key_hs256(role: &str, jwt_secret: &Secret, iat: u64) -> Result<Secret, JwtError> {
    sign_hs256(&ApiKeyClaims::new(role, iat), jwt_secret.expose().as_bytes())
}

/// `JWT_KEYS`: the signing key, the retired public keys, and the legacy symmetric key
/// when `jwt_secret` is given (so that HS256 tokens keep verifying).
pub fn jwt_keys(
    signing: &EcPrivateJwk,
    retired: &[EcPublicJwk],
    jwt_secret: Option<&Secret>,
) -> Result<Secret, JwkError> {
    let set = key_set(Jwk::EcPrivate(signing.clone()), signing, retired, jwt_secret)?;
    Ok(set.to_key_array_json())
}

/// `JWT_JWKS`: the public keys of [`jwt_keys`] and the same symmetric key.
pub fn jwt_jwks(
    signing: &EcPrivateJwk,
    retired: &[EcPublicJwk],
    jwt_secret: Option<&Secret>,
) -> Result<Secret, JwkError> {
    let set = key_set(Jwk::EcPublic(signing.public()), signing, retired, jwt_secret)?;
    Ok(set.to_json())
}

fn key_set(
    first: Jwk,
    signing: &EcPrivateJwk,
    retired: &[EcPublicJwk],
    jwt_secret: Option<&Secret>,
) -> Result<Jwks, JwkError> {
    if !signing.is_signing_key() {
        return Err(JwkError::BadField("key_ops"));
    }
    // Auth files keys by kid, so a retired key under the signing key's kid would hide one.
    if retired.iter().any(|k| k.kid().is_none_or(|kid| kid == signing.kid())) {
        return Err(JwkError::DuplicateKid);
    }
    let mut keys = vec![first];
    keys.extend(retired.iter().cloned().map(Jwk::EcPublic));
    keys.extend(jwt_secret.map(|s| Jwk::Oct(OctJwk::from_jwt_secret(s))));
    Ok(Jwks::new(keys))
}

/// Everything `add-new-auth-keys.sh` writes into `.env`, generated in one go.
#[derive(Debug, Clone)]
pub struct SelfHostedKeys {
    /// The signing key, kept so that a later rotation can retire its public half.
    pub signing_key: EcPrivateJwk,
    pub publishable_key: Secret,
    pub secret_key: Secret,
    pub anon_key_asymmetric: Secret,
    pub service_role_key_asymmetric: Secret,
    pub jwt_keys: Secret,
    pub jwt_jwks: Secret,
}

impl SelfHostedKeys {
    /// A new signing key (random UUID `kid`), the two opaque keys for
    /// [`SELF_HOSTED_PROJECT_REF`], the ES256 anon and service-role JWTs issued at `now`
    /// (Unix seconds), and the key sets with `jwt_secret` as their symmetric key.
    pub fn generate(rng: &mut dyn RngCore, jwt_secret: &Secret, now: u64) -> Result<Self, KeygenError> {
        let signing_key = EcPrivateJwk::generate(rng)?;
        Ok(SelfHostedKeys {
            publishable_key: generate_opaque_key(OpaqueKind::Publishable, SELF_HOSTED_PROJECT_REF, rng),
            secret_key: generate_opaque_key(OpaqueKind::Secret, SELF_HOSTED_PROJECT_REF, rng),
            anon_key_asymmetric: sign_api_key_es256("anon", &signing_key, now)?,
            service_role_key_asymmetric: sign_api_key_es256("service_role", &signing_key, now)?,
            jwt_keys: jwt_keys(&signing_key, &[], Some(jwt_secret))?,
            jwt_jwks: jwt_jwks(&signing_key, &[], Some(jwt_secret))?,
            signing_key,
        })
    }
}

/// Why [`SelfHostedKeys::generate`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeygenError {
    Key(JwkError),
    Token(JwtError),
}

impl fmt::Display for KeygenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeygenError::Key(e) => write!(f, "make the signing key: {e}"),
            KeygenError::Token(e) => write!(f, "sign an API key: {e}"),
        }
    }
}

impl std::error::Error for KeygenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeygenError::Key(e) => Some(e),
            KeygenError::Token(e) => Some(e),
        }
    }
}

impl From<JwkError> for KeygenError {
    fn from(e: JwkError) -> Self {
        KeygenError::Key(e)
    }
}

impl From<JwtError> for KeygenError {
    fn from(e: JwtError) -> Self {
        KeygenError::Token(e)
    }
}

#[cfg(test)]
mod tests;
