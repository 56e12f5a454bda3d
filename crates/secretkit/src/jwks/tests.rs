//! Unit tests of JWK sets: both JSON forms, symmetric keys, rotation and the public view.

use super::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

fn generated(seed: u64) -> EcPrivateJwk {
    EcPrivateJwk::generate(&mut StdRng::seed_from_u64(seed)).unwrap()
}

fn rotation_set() -> (EcPrivateJwk, EcPrivateJwk, Jwks) {
    let (old, new) = (generated(1), generated(2));
    let secret = Secret::new("a-jwt-secret-of-enough-length-0000000");
    let set = Jwks::new(vec![
        Jwk::EcPrivate(new.clone()),
        Jwk::EcPublic(old.public()),
        Jwk::Oct(OctJwk::from_jwt_secret(&secret)),
    ]);
    (old, new, set)
}

#[test]
fn both_json_forms_round_trip() {
    let (_, _, set) = rotation_set();
    assert_eq!(Jwks::parse(set.to_json().expose()).unwrap(), set);
    assert_eq!(Jwks::parse(set.to_key_array_json().expose()).unwrap(), set);
    let v: Value = serde_json::from_str(set.to_key_array_json().expose()).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(3));
}

#[test]
fn the_symmetric_key_is_the_jwt_secret_text_as_supabase_writes_it() {
    let secret = Secret::new("text+not/decoded=");
    let oct = OctJwk::from_jwt_secret(&secret);
    assert_eq!(oct.key_bytes().as_slice(), b"text+not/decoded=");
    let set = Jwks::new(vec![Jwk::Oct(oct)]);
    assert_eq!(set.to_json().expose(), r#"{"keys":[{"kty":"oct","k":"dGV4dCtub3QvZGVjb2RlZD0","alg":"HS256"}]}"#);
}

#[test]
fn the_public_view_has_only_public_ec_keys() {
    let (old, new, set) = rotation_set();
    let public = set.to_public_json();
    assert!(!public.contains("\"d\"") && !public.contains("\"k\""), "{public}");
    let parsed = Jwks::parse_public(&public).unwrap();
    assert_eq!(parsed.keys, vec![Jwk::EcPublic(new.public()), Jwk::EcPublic(old.public())]);
}

#[test]
fn parse_public_refuses_private_and_symmetric_keys() {
    let (_, new, set) = rotation_set();
    assert_eq!(Jwks::parse_public(set.to_json().expose()).unwrap_err(), JwkError::PrivateKeyMaterial);
    let only_private = Jwks::new(vec![Jwk::EcPrivate(new)]);
    assert_eq!(Jwks::parse_public(only_private.to_json().expose()).unwrap_err(), JwkError::PrivateKeyMaterial);
}

#[test]
fn unknown_key_types_are_skipped_and_broken_known_ones_refused() {
    let json = r#"{"keys":[
        {"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},
        {"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"},
        {"kty":"OKP","crv":"Ed25519","x":"AA"}
    ]}"#;
    assert_eq!(Jwks::parse(json).unwrap().keys, vec![]);
    let broken = r#"[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]"#;
    assert_eq!(Jwks::parse(broken).unwrap_err(), JwkError::BadField("x"));
    let no_k = r#"[{"kty":"oct","alg":"HS256"}]"#;
    assert_eq!(Jwks::parse(no_k).unwrap_err(), JwkError::MissingField("k"));
    let wrong_alg = r#"[{"kty":"oct","k":"AAAA","alg":"HS512"}]"#;
    assert_eq!(Jwks::parse(wrong_alg).unwrap_err(), JwkError::BadField("alg"));
    assert_eq!(Jwks::parse(r#"{"other":[]}"#).unwrap_err(), JwkError::Json);
    assert_eq!(Jwks::parse("").unwrap_err(), JwkError::Json);
}

#[test]
fn a_set_is_checked_for_the_public_half_of_a_private_key() {
    let (old, new, set) = rotation_set();
    let public = Jwks::parse(&set.to_public_json()).unwrap();
    assert_eq!(public.check_has_public_of(&new), Ok(()));
    assert_eq!(public.check_has_public_of(&old), Ok(()));
    assert_eq!(public.check_has_public_of(&generated(3)), Err(JwkError::KidNotFound));
    let impostor = generated(3).with_kid(new.kid()).unwrap();
    assert_eq!(public.check_has_public_of(&impostor), Err(JwkError::DifferentKey));
}

#[test]
fn signing_keys_are_those_whose_key_ops_name_sign() {
    let (_, new, set) = rotation_set();
    let signing: Vec<&str> = set.signing_keys().map(EcPrivateJwk::kid).collect();
    assert_eq!(signing, vec![new.kid()]);
    assert_eq!(set.find(None).count(), 1, "the symmetric key has no kid");
    assert_eq!(set.find(Some(new.kid())).count(), 1);
}

#[test]
fn debug_of_a_set_shows_no_key_material() {
    let (_, new, set) = rotation_set();
    let v: Value = serde_json::from_str(set.to_json().expose()).unwrap();
    let d = v["keys"][0]["d"].as_str().unwrap().to_string();
    let k = v["keys"][2]["k"].as_str().unwrap().to_string();
    let debug = format!("{set:?}");
    assert!(debug.contains(new.kid()));
    assert!(!debug.contains(&d) && !debug.contains(&k), "{debug}");
}
