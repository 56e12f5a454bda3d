//! JWT verification (and signing, for tests and local tooling) of Supabase keys, in both
//! of Supabase's schemes.
//!
//! Legacy keys are HS256, signed with `JWT_SECRET` used as raw UTF-8 bytes (not
//! base64-decoded). The asymmetric scheme's keys are ES256, verified with the public key of
//! the JWK set `JWT_JWKS` that their header's `kid` names. Only these two algorithms are
//! accepted: a token that names another (including `none`) is refused before any
//! signature check.

use serde::Deserialize;
use std::fmt;

/// The claims the server looks at.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub role: Option<String>,
    pub iss: Option<String>,
    pub exp: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    UnsupportedAlgorithm,
    BadSignature,
    Expired,
    /// An ES256 token, and the server has no (usable) public JWK set.
    NoJwks,
    /// An ES256 token whose `kid` names no key of the set, or that has no `kid`.
    UnknownKey,
    /// An ES256 token whose signature does not match the key its `kid` names.
    BadEs256Signature,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JwtError::Malformed => "the token is not a well-formed JWT",
            JwtError::UnsupportedAlgorithm => "the token is signed with neither HS256 nor ES256",
            JwtError::BadSignature => "the token's signature does not match JWT_SECRET",
            JwtError::Expired => "the token has expired",
            JwtError::NoJwks => "the token is ES256 and the server has no usable JWT_JWKS to verify it",
            JwtError::UnknownKey => "no key of JWT_JWKS has the token's kid",
            JwtError::BadEs256Signature => "the token's signature does not match the JWT_JWKS key its kid names",
        })
    }
}

impl std::error::Error for JwtError {}

/// Checks `token`'s HS256 signature with `key` and its expiry against `now` (Unix seconds),
/// through `secretkit` (the project's one JWT implementation).
pub fn verify_hs256(token: &str, key: &[u8], now: u64) -> Result<Claims, JwtError> {
    let jwt = secretkit::verify_hs256(token.trim(), key, now).map_err(|e| match e {
        secretkit::JwtError::AlgNone | secretkit::JwtError::UnsupportedAlgorithm => JwtError::UnsupportedAlgorithm,
        secretkit::JwtError::BadSignature => JwtError::BadSignature,
        secretkit::JwtError::Expired | secretkit::JwtError::NotYetValid => JwtError::Expired,
        _ => JwtError::Malformed,
    })?;
    Ok(claims_of(&jwt))
}

/// Checks `token`'s ES256 signature with the key of the public JWK set `jwks` (the JSON of
/// `JWT_JWKS`) that its `kid` names, and its expiry against `now`. A set holding private
/// key material is refused: the server must only ever see public keys.
pub fn verify_es256_jwks(token: &str, jwks: &str, now: u64) -> Result<Claims, JwtError> {
    let set = secretkit::Jwks::parse_public(jwks).map_err(|_| JwtError::NoJwks)?;
    let jwt = secretkit::verify_with_jwks(token.trim(), &set, now).map_err(|e| match e {
        secretkit::JwtError::AlgNone | secretkit::JwtError::UnsupportedAlgorithm => JwtError::UnsupportedAlgorithm,
        secretkit::JwtError::MissingKid | secretkit::JwtError::NoKeyForKid => JwtError::UnknownKey,
        secretkit::JwtError::BadSignature => JwtError::BadEs256Signature,
        secretkit::JwtError::Expired | secretkit::JwtError::NotYetValid => JwtError::Expired,
        _ => JwtError::Malformed,
    })?;
    if jwt.header().alg != "ES256" {
        return Err(JwtError::UnsupportedAlgorithm);
    }
    Ok(claims_of(&jwt))
}

/// Checks a Supabase key in either scheme: ES256 against `jwks` (`JWT_JWKS`, when the
/// server has one), HS256 against `jwt_secret`; the header's `alg` picks the check.
pub fn verify_supabase_key(token: &str, jwt_secret: &[u8], jwks: Option<&str>, now: u64) -> Result<Claims, JwtError> {
    let alg = secretkit::decode_unverified(token.trim()).map(|jwt| jwt.header().alg.clone());
    match alg.as_deref() {
        Ok("ES256") => verify_es256_jwks(token, jwks.ok_or(JwtError::NoJwks)?, now),
        Ok(_) => verify_hs256(token, jwt_secret, now),
        Err(secretkit::JwtError::AlgNone) => Err(JwtError::UnsupportedAlgorithm),
        Err(_) => Err(JwtError::Malformed),
    }
}

fn claims_of(jwt: &secretkit::Jwt) -> Claims {
    Claims {
        role: jwt.claim_str("role").map(str::to_string),
        iss: jwt.claim_str("iss").map(str::to_string),
        exp: jwt.exp(),
    }
}

/// Signs `claims` (a JSON object) as an HS256 JWT with `key`.
pub fn sign_hs256(claims: &serde_json::Value, key: &[u8]) -> String {
    secretkit::sign_hs256(claims, key).map(|t| t.expose().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const KEY: &[u8] = b"test-jwt-secret-with-at-least-32-bytes!!";

    #[test]
    fn a_token_signed_with_the_key_verifies() {
        let t = sign_hs256(&json!({"role": "anon", "iss": "supabase", "exp": 2_000_000_000u64}), KEY);
        let c = verify_hs256(&t, KEY, 1_700_000_000).unwrap();
        assert_eq!(c.role.as_deref(), Some("anon"));
    }

    #[test]
    fn another_key_expiry_alg_none_and_garbage_are_refused() {
        let t = sign_hs256(&json!({"role": "anon"}), b"another-secret-entirely-000000000000");
        assert_eq!(verify_hs256(&t, KEY, 0), Err(JwtError::BadSignature));
        let t = sign_hs256(&json!({"role": "anon", "exp": 10}), KEY);
        assert_eq!(verify_hs256(&t, KEY, 11), Err(JwtError::Expired));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"role":"anon"}"#)
        );
        assert_eq!(verify_hs256(&none, KEY, 0), Err(JwtError::UnsupportedAlgorithm));
        assert_eq!(verify_hs256("not.a-jwt", KEY, 0), Err(JwtError::Malformed));
        // A valid signature over a tampered payload must fail.
        let t = sign_hs256(&json!({"role": "anon"}), KEY);
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"role":"service_role"}"#);
        parts[1] = &forged;
        assert_eq!(verify_hs256(&parts.join("."), KEY, 0), Err(JwtError::BadSignature));
    }
}
