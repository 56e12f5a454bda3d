//! Unit tests of JWT signing, decoding and verification, including published vectors.

use super::*;
use crate::jwk::EcPrivateJwk;
use crate::jwks::{Jwk, Jwks, OctJwk};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

const KEY: &[u8] = b"test-jwt-secret-with-at-least-32-bytes!!";

/// The anon key of Supabase's self-hosting `.env.example`, signed by Supabase with its
/// published demo secret: a token this crate did not make.
const DEMO_ANON: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyAgCiAgICAicm9sZSI6ICJhbm9uIiwKICAgICJpc3MiOiAic3VwYWJhc2UtZGVtbyIsCiAgICAiaWF0IjogMTY0MTc2OTIwMCwKICAgICJleHAiOiAxNzk5NTM1NjAwCn0.dc_X5iR_VP_qT0zsiyj_I_OZ2T9FtRU2BBNWN8Bu4GE";
const DEMO_SECRET: &str = "your-super-secret-jwt-token-with-at-least-32-characters-long";

/// RFC 7515 appendix A.3: an ES256 JWS with its key. Its `s` is in the upper half of the
/// group order, as half of all Node and OpenSSL signatures are, so it must verify.
const RFC_A3_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const RFC_A3_KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

fn key_pair(seed: u64) -> EcPrivateJwk {
    EcPrivateJwk::generate(&mut StdRng::seed_from_u64(seed)).unwrap()
}

fn b64(json: &str) -> String {
    base64url(json.as_bytes())
}

#[test]
fn hs256_round_trip_and_claims() {
    let t = sign_hs256(&json!({"role": "anon", "iss": "supabase", "exp": 2_000_000_000u64}), KEY).unwrap();
    let jwt = verify_hs256(t.expose(), KEY, 1_700_000_000).unwrap();
    assert_eq!(jwt.claim_str("role"), Some("anon"));
    assert_eq!(jwt.exp(), Some(2_000_000_000));
    assert_eq!(jwt.header().typ.as_deref(), Some("JWT"));
    assert_eq!(jwt.header().kid, None);
}

#[test]
fn supabase_demo_key_verifies_with_the_demo_secret_text() {
    let jwt = decode_unverified(DEMO_ANON).unwrap();
    jwt.verify_hs256(DEMO_SECRET.as_bytes()).unwrap();
    assert_eq!(jwt.claim_str("iss"), Some("supabase-demo"));
    assert_eq!(jwt.iat(), Some(1_641_769_200));
    assert_eq!(verify_hs256(DEMO_ANON, DEMO_SECRET.as_bytes(), 1_799_535_600).unwrap_err(), JwtError::Expired);
}

#[test]
fn hs256_refuses_another_key_and_tampering() {
    let t = sign_hs256(&json!({"role": "anon"}), b"another-secret-entirely-000000000000").unwrap();
    assert_eq!(verify_hs256(t.expose(), KEY, 0).unwrap_err(), JwtError::BadSignature);
    let t = sign_hs256(&json!({"role": "anon"}), KEY).unwrap();
    let mut parts: Vec<&str> = t.expose().split('.').collect();
    let forged = b64(r#"{"role":"service_role"}"#);
    parts[1] = &forged;
    assert_eq!(verify_hs256(&parts.join("."), KEY, 0).unwrap_err(), JwtError::BadSignature);
}

#[test]
fn times_are_checked_against_now() {
    let t = sign_hs256(&json!({"exp": 10, "nbf": 5}), KEY).unwrap();
    assert_eq!(verify_hs256(t.expose(), KEY, 4).unwrap_err(), JwtError::NotYetValid);
    assert!(verify_hs256(t.expose(), KEY, 9).is_ok());
    assert_eq!(verify_hs256(t.expose(), KEY, 10).unwrap_err(), JwtError::Expired);
    // Fractional NumericDates are allowed by RFC 7519; a string is not a date.
    let t = sign_hs256(&json!({"exp": 10.5}), KEY).unwrap();
    assert!(verify_hs256(t.expose(), KEY, 10).is_ok());
    let t = sign_hs256(&json!({"exp": "tomorrow"}), KEY).unwrap();
    assert_eq!(verify_hs256(t.expose(), KEY, 0).unwrap_err(), JwtError::Malformed);
    let t = sign_hs256(&json!({}), KEY).unwrap();
    assert!(verify_hs256(t.expose(), KEY, u64::MAX).is_ok());
}

#[test]
fn alg_none_is_refused_in_any_case_with_or_without_a_signature() {
    for alg in ["none", "None", "NONE"] {
        let header = b64(&format!(r#"{{"alg":"{alg}"}}"#));
        for sig in ["", "c2ln"] {
            let token = format!("{header}.{}.{sig}", b64(r#"{"role":"anon"}"#));
            assert_eq!(decode_unverified(&token).unwrap_err(), JwtError::AlgNone, "{alg} {sig:?}");
        }
    }
}

#[test]
fn malformed_tokens_are_refused() {
    let (h, p, s) = (b64(r#"{"alg":"HS256"}"#), b64(r#"{"a":1}"#), "c2ln");
    let cases = [
        String::new(),
        "not.a-jwt".to_string(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}.{p}."),     // empty signature
        format!("{h}=.{p}.{s}"), // padding
        format!("{h}.{p}.c2ln="),
        format!("{}.{p}.{s}", b64("[1]")),              // header not an object
        format!("{}.{p}.{s}", b64(r#"{"typ":"JWT"}"#)), // no alg
        format!("{}.{p}.{s}", b64(r#"{"alg":7}"#)),
        format!("{}.{p}.{s}", b64(r#"{"alg":"HS256","kid":7}"#)),
        format!("{h}.{}.{s}", b64("[1,2]")), // claims not an object
        format!("{h}.{}.{s}", b64("not json")),
        format!("{h}.{p}.c2l*"),
        format!(" {h}.{p}.{s}"),
    ];
    for token in &cases {
        assert_eq!(decode_unverified(token).unwrap_err(), JwtError::Malformed, "{token:?}");
    }
    let crit = format!("{}.{p}.{s}", b64(r#"{"alg":"HS256","crit":["exp"]}"#));
    assert_eq!(decode_unverified(&crit).unwrap_err(), JwtError::UnsupportedCritical);
}

#[test]
fn claims_to_sign_must_be_an_object() {
    assert_eq!(sign_hs256(&json!([1]), KEY).unwrap_err(), JwtError::ClaimsNotObject);
    assert_eq!(sign_es256(&"text", &key_pair(1)).unwrap_err(), JwtError::ClaimsNotObject);
}

#[test]
fn es256_round_trip_with_kid_and_jose_signature() {
    let key = key_pair(2);
    let t = sign_es256(&json!({"role": "anon"}), &key).unwrap();
    let jwt = verify_es256(t.expose(), &key.public(), 0).unwrap();
    assert_eq!(jwt.header().alg, "ES256");
    assert_eq!(jwt.header().kid.as_deref(), Some(key.kid()));
    let sig = t.expose().rsplit('.').next().unwrap();
    assert_eq!(base64url_decode(sig).unwrap().len(), 64, "r || s, not DER");
}

#[test]
fn es256_refuses_other_keys_kids_and_der_signatures() {
    let (key, other) = (key_pair(3), key_pair(4));
    let t = sign_es256(&json!({"role": "anon"}), &key).unwrap();
    // Another key under the token's kid: the signature decides.
    let impostor = other.clone().with_kid(key.kid()).unwrap();
    assert_eq!(verify_es256(t.expose(), &impostor.public(), 0).unwrap_err(), JwtError::BadSignature);
    assert_eq!(verify_es256(t.expose(), &other.public(), 0).unwrap_err(), JwtError::NoKeyForKid);
    let (input, sig) = t.expose().rsplit_once('.').unwrap();
    let sig = base64url_decode(sig).unwrap();
    let der = p256::ecdsa::Signature::from_slice(&sig).unwrap().to_der();
    let der_token = format!("{input}.{}", base64url(der.as_bytes()));
    assert_eq!(verify_es256(&der_token, &key.public(), 0).unwrap_err(), JwtError::BadSignature);
}

#[test]
fn algorithm_confusion_is_refused() {
    let key = key_pair(5);
    let es = sign_es256(&json!({}), &key).unwrap();
    // An ES256 token checked as HS256 (with the public key's JSON as the "secret").
    let public_json = key.public().to_json();
    assert_eq!(verify_hs256(es.expose(), public_json.as_bytes(), 0).unwrap_err(), JwtError::UnsupportedAlgorithm);
    // An HS256 token keyed with the public key's JSON, checked as ES256.
    let hs = sign_hs256(&json!({}), public_json.as_bytes()).unwrap();
    assert_eq!(verify_es256(hs.expose(), &key.public(), 0).unwrap_err(), JwtError::UnsupportedAlgorithm);
}

#[test]
fn rfc_7515_a3_vector_verifies_and_a_flipped_bit_does_not() {
    let key = EcPublicJwk::from_json(RFC_A3_KEY).unwrap();
    let jwt = verify_es256(RFC_A3_TOKEN, &key, 1_300_819_379).unwrap();
    assert_eq!(jwt.claim_str("iss"), Some("joe"));
    assert_eq!(verify_es256(RFC_A3_TOKEN, &key, 1_300_819_380).unwrap_err(), JwtError::Expired);
    let mut flipped = RFC_A3_TOKEN.to_string();
    flipped.replace_range(flipped.len() - 2.., "1A");
    assert_eq!(verify_es256(&flipped, &key, 0).unwrap_err(), JwtError::BadSignature);
}

#[test]
fn jwks_verification_picks_the_key_by_kid_and_keeps_retired_keys() {
    let (old, new) = (key_pair(6), key_pair(7));
    let secret = crate::Secret::new(DEMO_SECRET);
    let set = Jwks::new(vec![
        Jwk::EcPrivate(new.clone()),
        Jwk::EcPublic(old.public()),
        Jwk::Oct(OctJwk::from_jwt_secret(&secret)),
    ]);
    for signer in [&old, &new] {
        let t = sign_es256(&json!({"role": "anon"}), signer).unwrap();
        verify_with_jwks(t.expose(), &set, 0).unwrap();
    }
    // Legacy HS256 tokens carry no kid and find the symmetric key without one.
    verify_with_jwks(DEMO_ANON, &set, 0).unwrap();
    let stranger = sign_es256(&json!({}), &key_pair(8)).unwrap();
    assert_eq!(verify_with_jwks(stranger.expose(), &set, 0).unwrap_err(), JwtError::NoKeyForKid);
    let forged = sign_es256(&json!({}), &key_pair(8).with_kid(new.kid()).unwrap()).unwrap();
    assert_eq!(verify_with_jwks(forged.expose(), &set, 0).unwrap_err(), JwtError::BadSignature);
    let public_only = Jwks::parse(&set.to_public_json()).unwrap();
    assert_eq!(verify_with_jwks(DEMO_ANON, &public_only, 0).unwrap_err(), JwtError::NoKeyForKid);
}

#[test]
fn jwks_verification_needs_a_kid_and_a_key_allowed_to_verify() {
    let key = key_pair(9);
    let no_kid = format!("{}.{}.c2ln", b64(r#"{"alg":"ES256"}"#), b64("{}"));
    let set = Jwks::new(vec![Jwk::EcPublic(key.public())]);
    assert_eq!(verify_with_jwks(&no_kid, &set, 0).unwrap_err(), JwtError::MissingKid);
    let sign_only = format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"{}","key_ops":["sign"],"x":"{}","y":"{}"}}]}}"#,
        key.kid(),
        key.public().coordinates().0,
        key.public().coordinates().1
    );
    let t = sign_es256(&json!({}), &key).unwrap();
    let set = Jwks::parse(&sign_only).unwrap();
    assert_eq!(verify_with_jwks(t.expose(), &set, 0).unwrap_err(), JwtError::NoKeyForKid);
    let rs = format!("{}.{}.c2ln", b64(r#"{"alg":"RS256","kid":"k"}"#), b64("{}"));
    assert_eq!(verify_with_jwks(&rs, &set, 0).unwrap_err(), JwtError::UnsupportedAlgorithm);
}

#[test]
fn debug_of_a_decoded_token_leaves_out_the_signature() {
    let t = sign_hs256(&json!({"role": "service_role"}), KEY).unwrap();
    let sig = t.expose().rsplit('.').next().unwrap().to_string();
    let debug = format!("{:?}", decode_unverified(t.expose()).unwrap());
    assert!(debug.contains("service_role") && !debug.contains(&sig));
}
