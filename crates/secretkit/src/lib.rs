//! The one shared home for secret values and JOSE: a redacting [`Secret`], byte encodings,
//! random values, HS256/ES256 JWTs, EC P-256 JWKs and JWK sets, and Supabase's key formats.
//!
//! The crate never prints and never does I/O. Randomness comes in as
//! `&mut dyn rand_core::RngCore` (xtask's `rand` 0.9 generators coerce to it) and time as
//! Unix seconds, so every function is a pure, testable step. Errors are small enums whose
//! messages never contain a secret or any part of the input that was refused.

pub mod encoding;
pub mod jwk;
pub mod jwks;
pub mod jwt;
pub mod random;
pub mod secret;
pub mod severity;
pub mod supabase;

pub use encoding::{DecodeError, base64_std, base64_std_decode, base64url, base64url_decode, hex, hex_decode};
pub use jwk::{EcPrivateJwk, EcPublicJwk, JwkError};
pub use jwks::{Jwk, Jwks, OctJwk};
pub use jwt::{
    Header, Jwt, JwtError, decode_unverified, sign_es256, sign_hs256, verify_es256, verify_hs256, verify_with_jwks,
};
pub use random::{random_base64, random_base64url, random_bytes, random_hex, uuid_v4};
pub use secret::{Secret, mask};
pub use severity::Severity;

/// The generator type every random function takes, re-exported so callers need not name
/// `rand_core` themselves.
pub use rand_core::RngCore;
