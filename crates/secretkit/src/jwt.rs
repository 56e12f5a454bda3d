//! Compact JWTs (RFC 7519 over RFC 7515) signed with HS256 or ES256: signing, a decode that
//! does not verify but refuses `alg: none` and anything malformed, verification with a key
//! or by `kid` against a JWK set, and time checks against a `now` the caller passes.
//!
//! HS256 keys are raw bytes. Supabase's legacy keys use the JWT secret's UTF-8 text as the
//! HMAC key, not its base64 decoding: pass `jwt_secret.expose().as_bytes()`.
//! ES256 signatures are the JOSE form, `r || s` in 64 bytes, never DER.

use crate::encoding::{base64url, base64url_decode};
use crate::jwk::{EcPrivateJwk, EcPublicJwk};
use crate::jwks::{Jwk, Jwks};
use crate::secret::Secret;
use hmac::{Hmac, Mac};
use p256::ecdsa::Signature;
use p256::ecdsa::signature::{Signer, Verifier};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::Sha256;
use std::fmt;

/// Why a token was refused. No variant carries any part of the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of a JSON object header and claims and a signature.
    Malformed,
    /// The header says `alg: none`: an unsigned token is never accepted.
    AlgNone,
    /// An algorithm other than the one (or ones) the check accepts.
    UnsupportedAlgorithm,
    /// The header has `crit`, which names extensions this crate does not implement.
    UnsupportedCritical,
    /// Claims to sign that are not a JSON object.
    ClaimsNotObject,
    BadSignature,
    /// An ES256 token without `kid`, checked against a key set.
    MissingKid,
    /// No key of the set (or not the given key) has the token's `kid`.
    NoKeyForKid,
    /// `exp` is not after `now`.
    Expired,
    /// `nbf` is after `now`.
    NotYetValid,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JwtError::Malformed => "the token is not a well-formed JWT",
            JwtError::AlgNone => "the token is unsigned (alg none)",
            JwtError::UnsupportedAlgorithm => "the token is signed with an algorithm not accepted here",
            JwtError::UnsupportedCritical => "the token's header names critical extensions",
            JwtError::ClaimsNotObject => "JWT claims must be a JSON object",
            JwtError::BadSignature => "the token's signature does not match the key",
            JwtError::MissingKid => "the token has no kid to find its key by",
            JwtError::NoKeyForKid => "no key has the token's kid",
            JwtError::Expired => "the token has expired",
            JwtError::NotYetValid => "the token is not valid yet (nbf)",
        })
    }
}

impl std::error::Error for JwtError {}

/// The header fields this crate reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub alg: String,
    pub typ: Option<String>,
    pub kid: Option<String>,
}

/// A decoded token. Decoding checks the form, not the signature: use a `verify` method
/// before trusting a claim.
#[derive(Clone)]
pub struct Jwt {
    header: Header,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

/// Decodes `token` without verifying it. Refuses `alg: none` (any case), `crit`, an
/// empty signature, padding, and headers or claims that are not JSON objects.
pub fn decode_unverified(token: &str) -> Result<Jwt, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let header = parse_header(&decode_object(h)?)?;
    let claims = decode_object(p)?;
    let signature = base64url_decode(s).map_err(|_| JwtError::Malformed)?;
    if signature.is_empty() {
        return Err(JwtError::Malformed);
    }
    let signing_input = token[..h.len() + 1 + p.len()].to_string();
    Ok(Jwt { header, claims, signing_input, signature })
}

/// Verifies an HS256 token with `key` and checks its times against `now` (Unix seconds).
pub fn verify_hs256(token: &str, key: &[u8], now: u64) -> Result<Jwt, JwtError> {
    let jwt = decode_unverified(token)?;
    jwt.verify_hs256(key)?;
    jwt.check_time(now)?;
    Ok(jwt)
}

/// Verifies an ES256 token with `key` and checks its times against `now` (Unix seconds).
pub fn verify_es256(token: &str, key: &EcPublicJwk, now: u64) -> Result<Jwt, JwtError> {
    let jwt = decode_unverified(token)?;
    jwt.verify_es256(key)?;
    jwt.check_time(now)?;
    Ok(jwt)
}

/// Verifies a token with the key of `jwks` its header names and checks its times.
pub fn verify_with_jwks(token: &str, jwks: &Jwks, now: u64) -> Result<Jwt, JwtError> {
    let jwt = decode_unverified(token)?;
    jwt.verify_with_jwks(jwks)?;
    jwt.check_time(now)?;
    Ok(jwt)
}

/// Signs `claims` (which must serialize to a JSON object) as an HS256 JWT.
pub fn sign_hs256<C: Serialize + ?Sized>(claims: &C, key: &[u8]) -> Result<Secret, JwtError> {
    let input = signing_input(&JoseHeader { alg: "HS256", typ: "JWT", kid: None }, claims)?;
    let mac = hmac_sha256(key, input.as_bytes()).finalize().into_bytes();
    Ok(Secret::new(format!("{input}.{}", base64url(&mac))))
}

/// Signs `claims` as an ES256 JWT whose header carries `key`'s `kid`.
pub fn sign_es256<C: Serialize + ?Sized>(claims: &C, key: &EcPrivateJwk) -> Result<Secret, JwtError> {
    let header = JoseHeader { alg: "ES256", typ: "JWT", kid: Some(key.kid()) };
    let input = signing_input(&header, claims)?;
    // RFC 6979 deterministic nonces: signing needs no randomness and cannot leak the key
    // through a weak generator. `to_bytes` is the fixed-size `r || s` form.
    let signature: Signature = key.signing_key().sign(input.as_bytes());
    Ok(Secret::new(format!("{input}.{}", base64url(&signature.to_bytes()))))
}

impl Jwt {
    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `exp` when it is a whole number of seconds.
    pub fn exp(&self) -> Option<u64> {
        self.claims.get("exp").and_then(Value::as_u64)
    }

    /// `iat` when it is a whole number of seconds.
    pub fn iat(&self) -> Option<u64> {
        self.claims.get("iat").and_then(Value::as_u64)
    }

    /// Checks `exp` and `nbf` against `now` (Unix seconds). A token without `exp` does not
    /// expire; a time claim that is not a number makes the token malformed.
    pub fn check_time(&self, now: u64) -> Result<(), JwtError> {
        let now = now as f64;
        if self.numeric("exp")?.is_some_and(|exp| now >= exp) {
            return Err(JwtError::Expired);
        }
        if self.numeric("nbf")?.is_some_and(|nbf| now < nbf) {
            return Err(JwtError::NotYetValid);
        }
        Ok(())
    }

    /// Checks the HS256 signature (in constant time) with `key`.
    pub fn verify_hs256(&self, key: &[u8]) -> Result<(), JwtError> {
        self.expect_alg("HS256")?;
        let mac = hmac_sha256(key, self.signing_input.as_bytes());
        mac.verify_slice(&self.signature).map_err(|_| JwtError::BadSignature)
    }

    /// Checks the ES256 signature with `key`. When both the token and the key name a
    /// `kid`, they must agree, so a token is never checked against a key it did not name.
    pub fn verify_es256(&self, key: &EcPublicJwk) -> Result<(), JwtError> {
        self.expect_alg("ES256")?;
        let (want, have) = (self.header.kid.as_deref(), key.kid());
        if want.is_some() && have.is_some() && want != have {
            return Err(JwtError::NoKeyForKid);
        }
        let signature = Signature::from_slice(&self.signature).map_err(|_| JwtError::BadSignature)?;
        key.verifying_key().verify(self.signing_input.as_bytes(), &signature).map_err(|_| JwtError::BadSignature)
    }

    /// Checks the signature with the key of `jwks` the header names: for ES256 the EC key
    /// with the token's `kid` (required), for HS256 the symmetric key with the same `kid`
    /// or, for a token without one (Supabase's legacy keys), the symmetric key without one.
    pub fn verify_with_jwks(&self, jwks: &Jwks) -> Result<(), JwtError> {
        let kid = self.header.kid.as_deref();
        let es256 = match self.header.alg.as_str() {
            "ES256" => true,
            "HS256" => false,
            _ => return Err(JwtError::UnsupportedAlgorithm),
        };
        if es256 && kid.is_none() {
            return Err(JwtError::MissingKid);
        }
        let mut found = false;
        for key in jwks.find(kid).filter(|k| k.may_verify()) {
            let checked = match key {
                Jwk::Oct(k) if !es256 => self.verify_hs256(&k.key_bytes()),
                Jwk::EcPrivate(_) | Jwk::EcPublic(_) if es256 => {
                    key.ec_public().map_or(Err(JwtError::BadSignature), |p| self.verify_es256(&p))
                }
                _ => continue,
            };
            if checked.is_ok() {
                return Ok(());
            }
            found = true;
        }
        Err(if found { JwtError::BadSignature } else { JwtError::NoKeyForKid })
    }

    fn expect_alg(&self, alg: &str) -> Result<(), JwtError> {
        if self.header.alg == alg { Ok(()) } else { Err(JwtError::UnsupportedAlgorithm) }
    }

    fn numeric(&self, name: &str) -> Result<Option<f64>, JwtError> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or(JwtError::Malformed),
        }
    }
}

/// The signature is left out: with it, the debug output would be the token again.
impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .field("signature", &"[redacted]")
            .finish()
    }
}

#[derive(Serialize)]
struct JoseHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

fn signing_input<C: Serialize + ?Sized>(header: &JoseHeader<'_>, claims: &C) -> Result<String, JwtError> {
    let claims = serde_json::to_string(claims).map_err(|_| JwtError::ClaimsNotObject)?;
    if !claims.starts_with('{') {
        return Err(JwtError::ClaimsNotObject);
    }
    let header = serde_json::to_string(header).map_err(|_| JwtError::Malformed)?;
    Ok(format!("{}.{}", base64url(header.as_bytes()), base64url(claims.as_bytes())))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    // HMAC is defined for keys of every length (RFC 2104 hashes long ones), so the
    // constructor's error case cannot happen; an empty key still yields a MAC.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    mac.update(message);
    mac
}

fn decode_object(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = base64url_decode(part).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

fn parse_header(map: &Map<String, Value>) -> Result<Header, JwtError> {
    let alg = map.get("alg").and_then(Value::as_str).ok_or(JwtError::Malformed)?;
    if alg.eq_ignore_ascii_case("none") {
        return Err(JwtError::AlgNone);
    }
    if map.contains_key("crit") {
        return Err(JwtError::UnsupportedCritical);
    }
    let text = |name: &str| match map.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(JwtError::Malformed),
    };
    Ok(Header { alg: alg.to_string(), typ: text("typ")?, kid: text("kid")? })
}

#[cfg(test)]
mod tests;
