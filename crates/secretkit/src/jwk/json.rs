//! Reading and writing EC P-256 JWKs as JSON: the validating reader (RFC 7518 section
//! 6.2) and the writer, which uses Supabase's field order.

use super::{EcPrivateJwk, EcPublicJwk, JwkError};
use crate::encoding::base64url_decode;
use crate::secret::Secret;
use p256::{PublicKey, SecretKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// An EC key read from JSON: private when it has `d`.
pub(crate) enum EcKey {
    Private(EcPrivateJwk),
    Public(EcPublicJwk),
}

impl EcKey {
    /// Validates an EC P-256 JWK the way RFC 7518 section 6.2 asks: curve, lengths, point
    /// on the curve and, for a private key, that the point is the one `d` gives.
    pub(crate) fn from_raw(raw: RawJwk) -> Result<Self, JwkError> {
        if raw.kty != "EC" || raw.crv.as_deref() != Some("P-256") {
            return Err(JwkError::UnsupportedKey);
        }
        raw.check_metadata()?;
        let public = EcPublicJwk { kid: raw.kid, key_ops: raw.key_ops, key: point(&raw.x, &raw.y)? };
        let Some(d) = raw.d else {
            return Ok(EcKey::Public(public));
        };
        let secret = scalar(&d)?;
        if secret.public_key() != public.key {
            return Err(JwkError::PublicKeyMismatch);
        }
        let kid = public.kid.ok_or(JwkError::MissingField("kid"))?;
        let key_ops = public.key_ops.unwrap_or_default();
        Ok(EcKey::Private(EcPrivateJwk { kid, key_ops, secret }))
    }
}

/// Every JWK field this crate reads; others (`ext`, `x5c`, ...) are ignored. Secret fields
/// go straight into [`Secret`] so that a parsed key never sits in a plain `String`.
#[derive(Deserialize)]
pub(crate) struct RawJwk {
    pub kty: String,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
    pub d: Option<Secret>,
    pub k: Option<Secret>,
    pub kid: Option<String>,
    pub alg: Option<String>,
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub key_ops: Option<Vec<String>>,
}

impl RawJwk {
    /// `alg` and `use`, when present, must allow ES256 signatures: a key restricted to
    /// another algorithm or to encryption must not verify tokens.
    fn check_metadata(&self) -> Result<(), JwkError> {
        if self.alg.as_deref().is_some_and(|a| a != "ES256") {
            return Err(JwkError::BadField("alg"));
        }
        if self.use_.as_deref().is_some_and(|u| u != "sig") {
            return Err(JwkError::BadField("use"));
        }
        Ok(())
    }
}

#[derive(Serialize)]
pub(crate) struct EcJwkOut {
    kty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_ops: Option<Vec<String>>,
    alg: &'static str,
    // WebCrypto's "extractable" flag; Supabase's script writes it, so the keys look alike.
    ext: bool,
    crv: &'static str,
    x: String,
    y: String,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "write_d")]
    d: Option<Zeroizing<String>>,
}

impl EcJwkOut {
    pub(crate) fn public(key: &EcPublicJwk) -> Self {
        let (x, y) = key.coordinates();
        EcJwkOut {
            kty: "EC",
            kid: key.kid.clone(),
            use_: "sig",
            key_ops: key.key_ops.clone(),
            alg: "ES256",
            ext: true,
            crv: "P-256",
            x,
            y,
            d: None,
        }
    }

    pub(crate) fn private(key: &EcPrivateJwk) -> Self {
        let mut out = EcJwkOut::public(&key.public());
        out.key_ops = Some(key.key_ops.clone());
        out.d = Some(key.d_base64url());
        out
    }
}

fn write_d<S: serde::Serializer>(d: &Option<Zeroizing<String>>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.as_ref().map_or("", |d| d.as_str()))
}

/// JSON of a value built from plain fields, which cannot fail to serialize.
pub(crate) fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn scalar(d: &Secret) -> Result<SecretKey, JwkError> {
    let bytes = Zeroizing::new(base64url_decode(d.expose()).map_err(|_| JwkError::BadField("d"))?);
    if bytes.len() != 32 {
        return Err(JwkError::BadField("d"));
    }
    SecretKey::from_slice(&bytes).map_err(|_| JwkError::BadPrivateScalar)
}

fn point(x: &Option<String>, y: &Option<String>) -> Result<PublicKey, JwkError> {
    let x = coordinate(x.as_deref(), "x")?;
    let y = coordinate(y.as_deref(), "y")?;
    let mut sec1 = Vec::with_capacity(65);
    sec1.push(0x04);
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    PublicKey::from_sec1_bytes(&sec1).map_err(|_| JwkError::NotOnCurve)
}

/// RFC 7518 section 6.2.1.2: a coordinate is exactly the field size, 32 bytes for P-256.
fn coordinate(value: Option<&str>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    let bytes = base64url_decode(value.ok_or(JwkError::MissingField(name))?).map_err(|_| JwkError::BadField(name))?;
    if bytes.len() != 32 {
        return Err(JwkError::BadField(name));
    }
    Ok(bytes)
}
