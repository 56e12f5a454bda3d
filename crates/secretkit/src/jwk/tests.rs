//! Unit tests of EC P-256 JWK generation, serialization and validation.

use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

/// RFC 7515 appendix A.3's key pair, a published P-256 JWK with `d`.
const RFC_A3_PRIVATE: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI","kid":"rfc7515-a3"}"#;

fn generated(seed: u64) -> EcPrivateJwk {
    EcPrivateJwk::generate(&mut StdRng::seed_from_u64(seed)).unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn generated_private_jwk_has_supabase_fields_in_supabase_order() {
    let key = generated(1);
    let text = key.to_json();
    let order: Vec<&str> = ["kty", "kid", "use", "key_ops", "alg", "ext", "crv", "x", "y", "d"].into_iter().collect();
    let positions: Vec<usize> = order.iter().map(|f| text.expose().find(&format!("\"{f}\"")).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let v = json(text.expose());
    assert_eq!(v["kty"], "EC");
    assert_eq!(v["crv"], "P-256");
    assert_eq!(v["alg"], "ES256");
    assert_eq!(v["use"], "sig");
    assert_eq!(v["ext"], true);
    assert_eq!(v["key_ops"], serde_json::json!(["sign", "verify"]));
    assert_eq!(v["kid"].as_str().unwrap().len(), 36, "a UUID");
    for f in ["x", "y", "d"] {
        assert_eq!(v[f].as_str().unwrap().len(), 43, "{f}: 32 bytes, base64url");
    }
}

#[test]
fn public_jwk_is_the_private_one_without_d_and_only_verifies() {
    let key = generated(2);
    let public = json(&key.public().to_json());
    let private = json(key.to_json().expose());
    assert!(public.get("d").is_none());
    assert_eq!(public["key_ops"], serde_json::json!(["verify"]));
    for f in ["kty", "kid", "crv", "x", "y", "alg", "use"] {
        assert_eq!(public[f], private[f], "{f}");
    }
}

#[test]
fn private_and_public_jwks_round_trip() {
    let key = generated(3);
    let back = EcPrivateJwk::from_json(key.to_json().expose()).unwrap();
    assert_eq!(back, key);
    assert!(back.is_signing_key());
    let public = EcPublicJwk::from_json(&key.public().to_json()).unwrap();
    assert_eq!(public, key.public());
}

#[test]
fn a_published_private_key_parses_and_its_point_checks() {
    let key = EcPrivateJwk::from_json(RFC_A3_PRIVATE).unwrap();
    assert_eq!(key.kid(), "rfc7515-a3");
    // No key_ops in the input: the key is not marked as a signing key.
    assert!(!key.is_signing_key());
    assert_eq!(key.public().coordinates().0, "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
}

#[test]
fn inconsistent_or_invalid_keys_are_refused() {
    let mut v = json(RFC_A3_PRIVATE);
    let other = json(generated(4).to_json().expose());
    v["d"] = other["d"].clone();
    assert_eq!(EcPrivateJwk::from_json(&v.to_string()).unwrap_err(), JwkError::PublicKeyMismatch);

    let mut v = json(RFC_A3_PRIVATE);
    v["y"] = v["x"].clone();
    assert_eq!(EcPrivateJwk::from_json(&v.to_string()).unwrap_err(), JwkError::NotOnCurve);

    let order = "_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE"; // n itself: not below n
    let mut v = json(RFC_A3_PRIVATE);
    v["d"] = Value::from(order);
    assert_eq!(EcPrivateJwk::from_json(&v.to_string()).unwrap_err(), JwkError::BadPrivateScalar);

    let cases: [(&str, Value, JwkError); 8] = [
        ("crv", Value::from("P-384"), JwkError::UnsupportedKey),
        ("kty", Value::from("RSA"), JwkError::UnsupportedKey),
        ("x", Value::from("AAAA"), JwkError::BadField("x")),
        ("y", Value::from("not base64!"), JwkError::BadField("y")),
        ("d", Value::from("AAAA"), JwkError::BadField("d")),
        ("alg", Value::from("RS256"), JwkError::BadField("alg")),
        ("use", Value::from("enc"), JwkError::BadField("use")),
        ("kid", Value::Null, JwkError::MissingField("kid")),
    ];
    for (field, value, want) in cases {
        let mut v = json(RFC_A3_PRIVATE);
        if value.is_null() {
            v.as_object_mut().unwrap().remove(field);
        } else {
            v[field] = value;
        }
        assert_eq!(EcPrivateJwk::from_json(&v.to_string()).unwrap_err(), want, "{field}");
    }
    assert_eq!(EcPrivateJwk::from_json("{").unwrap_err(), JwkError::Json);
    assert_eq!(EcPrivateJwk::from_json(r#"{"kty":"EC","crv":"P-256","x":5}"#).unwrap_err(), JwkError::Json);
}

#[test]
fn private_material_is_refused_where_a_public_key_belongs() {
    assert_eq!(EcPublicJwk::from_json(RFC_A3_PRIVATE).unwrap_err(), JwkError::PrivateKeyMaterial);
    let public = generated(5).public().to_json();
    assert_eq!(EcPrivateJwk::from_json(&public).unwrap_err(), JwkError::MissingField("d"));
}

#[test]
fn kids_can_be_chosen_or_derived_from_the_key() {
    let key = generated(6);
    assert_eq!(key.clone().with_kid("2026-rotation_1.a").unwrap().kid(), "2026-rotation_1.a");
    for bad in ["", "has space", "quote\"", "dollar$", &"x".repeat(129)] {
        assert_eq!(key.clone().with_kid(bad).unwrap_err(), JwkError::BadKid, "{bad:?}");
    }
    let by_thumbprint = key.clone().with_thumbprint_kid();
    assert_eq!(by_thumbprint.kid(), key.public().thumbprint());
    assert_eq!(by_thumbprint.kid().len(), 43);
}

#[test]
fn thumbprint_of_the_rfc_key_is_the_published_one() {
    // The RFC 7638 thumbprint other JOSE libraries print for RFC 7515 A.3's key; the
    // independent tests recompute it from scratch with Python's hashlib as well.
    let key = EcPrivateJwk::from_json(RFC_A3_PRIVATE).unwrap();
    assert_eq!(key.public().thumbprint(), "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");
}

#[test]
fn thumbprint_depends_on_the_point_only() {
    let key = generated(7);
    let renamed = key.clone().with_kid("other").unwrap();
    assert_eq!(key.public().thumbprint(), renamed.public().thumbprint());
    assert_ne!(key.public().thumbprint(), generated(8).public().thumbprint());
    assert!(key.public().same_key(&renamed.public()));
    assert_ne!(key.public(), renamed.public(), "kid differs");
}

#[test]
fn generation_is_repeatable_from_a_seed_and_fails_on_a_stuck_generator() {
    assert_eq!(generated(9), generated(9));
    assert_ne!(generated(9), generated(10));
    struct Stuck;
    impl RngCore for Stuck {
        fn next_u32(&mut self) -> u32 {
            0
        }
        fn next_u64(&mut self) -> u64 {
            0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(0);
        }
    }
    assert_eq!(EcPrivateJwk::generate(&mut Stuck).unwrap_err(), JwkError::RngFailure);
}

#[test]
fn debug_of_a_private_key_names_it_without_its_scalar() {
    let key = generated(11);
    let d = json(key.to_json().expose())["d"].as_str().unwrap().to_string();
    let debug = format!("{key:?}");
    assert!(debug.contains(key.kid()) && !debug.contains(&d), "{debug}");
}
