//! JWK sets (RFC 7517 section 5): EC P-256 keys, public or private, and symmetric (`oct`)
//! HS256 keys, with the two JSON forms Supabase reads (`{"keys": [...]}` and a bare array).
//!
//! A set may hold several keys: during a rotation the new key signs while the old public
//! key stays in the set, so tokens it signed keep verifying until they expire.

use crate::encoding::{base64url, base64url_decode};
use crate::jwk::{EcJwkOut, EcKey, EcPrivateJwk, EcPublicJwk, JwkError, RawJwk, to_json};
use crate::secret::Secret;
use serde::Serialize;
use zeroize::Zeroizing;

/// A symmetric HS256 key. `k` is kept as written (base64url) inside a [`Secret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OctJwk {
    kid: Option<String>,
    k: Secret,
}

impl OctJwk {
    /// The key Supabase's self-hosting script derives from `JWT_SECRET`: `k` is the
    /// base64url of the secret's UTF-8 text (not of its base64 decoding), `alg` HS256 and
    /// no `kid`, so that legacy tokens, which carry no `kid`, find it.
    pub fn from_jwt_secret(jwt_secret: &Secret) -> Self {
        OctJwk { kid: None, k: Secret::new(base64url(jwt_secret.expose().as_bytes())) }
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The HMAC key bytes, wiped when dropped.
    pub fn key_bytes(&self) -> Zeroizing<Vec<u8>> {
        // `k` was checked when the key was made or parsed.
        Zeroizing::new(base64url_decode(self.k.expose()).unwrap_or_default())
    }

    fn from_raw(raw: RawJwk) -> Result<Self, JwkError> {
        if raw.alg.as_deref().is_some_and(|a| a != "HS256") {
            return Err(JwkError::BadField("alg"));
        }
        let k = raw.k.ok_or(JwkError::MissingField("k"))?;
        if base64url_decode(k.expose()).map_or(true, |bytes| bytes.is_empty()) {
            return Err(JwkError::BadField("k"));
        }
        Ok(OctJwk { kid: raw.kid, k })
    }
}

/// One key of a set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jwk {
    EcPrivate(EcPrivateJwk),
    EcPublic(EcPublicJwk),
    Oct(OctJwk),
}

impl Jwk {
    pub fn kid(&self) -> Option<&str> {
        match self {
            Jwk::EcPrivate(k) => Some(k.kid()),
            Jwk::EcPublic(k) => k.kid(),
            Jwk::Oct(k) => k.kid(),
        }
    }

    /// The EC public key of this entry (a private key's public half), if it is EC.
    pub fn ec_public(&self) -> Option<EcPublicJwk> {
        match self {
            Jwk::EcPrivate(k) => Some(k.public()),
            Jwk::EcPublic(k) => Some(k.clone()),
            Jwk::Oct(_) => None,
        }
    }

    /// Whether the entry may verify signatures: `key_ops`, when given, must name `verify`.
    pub(crate) fn may_verify(&self) -> bool {
        match self {
            Jwk::EcPrivate(k) => k.key_ops().iter().any(|op| op == "verify"),
            Jwk::EcPublic(k) => k.key_ops().is_none_or(|ops| ops.iter().any(|op| op == "verify")),
            Jwk::Oct(_) => true,
        }
    }

    /// RFC 7517 section 5: keys of a type the reader does not understand are skipped.
    fn from_raw(raw: RawJwk) -> Result<Option<Self>, JwkError> {
        match (raw.kty.as_str(), raw.crv.as_deref()) {
            ("EC", Some("P-256")) => Ok(Some(match EcKey::from_raw(raw)? {
                EcKey::Private(k) => Jwk::EcPrivate(k),
                EcKey::Public(k) => Jwk::EcPublic(k),
            })),
            ("oct", _) => OctJwk::from_raw(raw).map(|k| Some(Jwk::Oct(k))),
            _ => Ok(None),
        }
    }
}

/// A JWK set, in the order its keys were given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    pub fn new(keys: Vec<Jwk>) -> Self {
        Jwks { keys }
    }

    /// Parses `{"keys": [...]}` (a JWKS, as `JWT_JWKS`) or a bare array (as `JWT_KEYS`).
    /// Keys of other types or curves are skipped; a malformed key of a known type is an error.
    pub fn parse(json: &str) -> Result<Self, JwkError> {
        #[derive(serde::Deserialize)]
        struct Set {
            keys: Vec<RawJwk>,
        }
        // The form is chosen by the first character rather than by an untagged enum, which
        // would buffer a copy of every private value that is never wiped.
        let raw = if json.trim_start().starts_with('[') {
            serde_json::from_str::<Vec<RawJwk>>(json)
        } else {
            serde_json::from_str::<Set>(json).map(|set| set.keys)
        };
        let raw = raw.map_err(|_| JwkError::Json)?;
        let mut keys = Vec::with_capacity(raw.len());
        for key in raw {
            keys.extend(Jwk::from_raw(key)?);
        }
        Ok(Jwks { keys })
    }

    /// Parses a set that must hold only public keys (what is published or handed to
    /// verifiers): a private EC key or a symmetric key is refused.
    pub fn parse_public(json: &str) -> Result<Self, JwkError> {
        let set = Jwks::parse(json)?;
        if set.keys.iter().any(|k| !matches!(k, Jwk::EcPublic(_))) {
            return Err(JwkError::PrivateKeyMaterial);
        }
        Ok(set)
    }

    /// `{"keys": [...]}` with every key as held, private parts included: a secret.
    pub fn to_json(&self) -> Secret {
        let keys = self.keys.iter().map(KeyOut::of).collect();
        Secret::new(to_json(&SetOut { keys }))
    }

    /// The bare array form (`JWT_KEYS`), private parts included: a secret.
    pub fn to_key_array_json(&self) -> Secret {
        let keys: Vec<KeyOut<'_>> = self.keys.iter().map(KeyOut::of).collect();
        Secret::new(to_json(&keys))
    }

    /// `{"keys": [...]}` with only the EC public keys (private keys as their public
    /// halves, symmetric keys left out): safe to publish.
    pub fn to_public_json(&self) -> String {
        let public = self.keys.iter().filter_map(Jwk::ec_public);
        let keys = public.map(|k| KeyOut::Ec(EcJwkOut::public(&k))).collect();
        to_json(&SetOut { keys })
    }

    /// Every key with this `kid` (`None` finds the keys without one), in set order.
    pub fn find(&self, kid: Option<&str>) -> impl Iterator<Item = &Jwk> {
        self.keys.iter().filter(move |k| k.kid() == kid)
    }

    /// The private keys that Supabase Auth would sign with; it requires exactly one.
    pub fn signing_keys(&self) -> impl Iterator<Item = &EcPrivateJwk> {
        self.keys.iter().filter_map(|k| match k {
            Jwk::EcPrivate(k) if k.is_signing_key() => Some(k),
            _ => None,
        })
    }

    /// Checks that the set holds `private`'s public key under its `kid`, as a JWKS handed
    /// to verifiers must for the tokens `private` signs.
    pub fn check_has_public_of(&self, private: &EcPrivateJwk) -> Result<(), JwkError> {
        let expected = private.public();
        let mut candidates = self.find(Some(private.kid())).peekable();
        if candidates.peek().is_none() {
            return Err(JwkError::KidNotFound);
        }
        let same = |k: &Jwk| k.ec_public().is_some_and(|p| p.same_key(&expected));
        if candidates.any(same) { Ok(()) } else { Err(JwkError::DifferentKey) }
    }
}

#[derive(Serialize)]
struct SetOut<'a> {
    keys: Vec<KeyOut<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum KeyOut<'a> {
    Ec(EcJwkOut),
    Oct {
        kty: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        kid: Option<&'a str>,
        k: &'a str,
        alg: &'static str,
    },
}

impl<'a> KeyOut<'a> {
    /// The written form of a key; a private `d` lives only as long as this value.
    fn of(key: &'a Jwk) -> Self {
        match key {
            Jwk::EcPrivate(k) => KeyOut::Ec(EcJwkOut::private(k)),
            Jwk::EcPublic(k) => KeyOut::Ec(EcJwkOut::public(k)),
            Jwk::Oct(k) => KeyOut::Oct { kty: "oct", kid: k.kid(), k: k.k.expose(), alg: "HS256" },
        }
    }
}

#[cfg(test)]
mod tests;
