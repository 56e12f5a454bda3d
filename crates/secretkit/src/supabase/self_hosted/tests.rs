//! Unit tests of the self-hosted key configuration: claims, `JWT_KEYS`, `JWT_JWKS`, rotation.

use super::*;
use crate::jwt::{decode_unverified, verify_hs256, verify_with_jwks};
use crate::supabase::check_opaque_key;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

const NOW: u64 = 1_767_225_600; // 2026-01-01

fn jwt_secret() -> Secret {
    Secret::new("self-hosted-jwt-secret-with-at-least-32-characters")
}

fn generate(seed: u64) -> SelfHostedKeys {
    SelfHostedKeys::generate(&mut StdRng::seed_from_u64(seed), &jwt_secret(), NOW).unwrap()
}

fn parse(secret: &Secret) -> Value {
    serde_json::from_str(secret.expose()).unwrap()
}

#[test]
fn api_key_claims_are_supabases_in_its_order() {
    let claims = ApiKeyClaims::new("anon", NOW);
    assert_eq!(
        serde_json::to_string(&claims).unwrap(),
        format!(r#"{{"role":"anon","iss":"supabase","iat":{NOW},"exp":{}}}"#, NOW + 157_680_000)
    );
}

#[test]
fn generated_keys_are_what_add_new_auth_keys_writes() {
    let keys = generate(1);
    assert_eq!(check_opaque_key(keys.publishable_key.expose(), SELF_HOSTED_PROJECT_REF), Ok(OpaqueKind::Publishable));
    assert_eq!(check_opaque_key(keys.secret_key.expose(), SELF_HOSTED_PROJECT_REF), Ok(OpaqueKind::Secret));
    for (token, role) in [(&keys.anon_key_asymmetric, "anon"), (&keys.service_role_key_asymmetric, "service_role")] {
        let jwt = decode_unverified(token.expose()).unwrap();
        assert_eq!(jwt.header().alg, "ES256");
        assert_eq!(jwt.header().typ.as_deref(), Some("JWT"));
        assert_eq!(jwt.header().kid.as_deref(), Some(keys.signing_key.kid()));
        assert_eq!(jwt.claim_str("role"), Some(role));
        assert_eq!(jwt.claim_str("iss"), Some("supabase"));
        assert_eq!((jwt.iat(), jwt.exp()), (Some(NOW), Some(NOW + API_KEY_LIFETIME_SECS)));
        assert!(jwt.claims().get("ref").is_none());
    }
}

#[test]
fn jwt_keys_is_an_array_with_one_signing_key_and_the_symmetric_key() {
    let keys = generate(2);
    let v = parse(&keys.jwt_keys);
    let array = v.as_array().unwrap();
    assert_eq!(array.len(), 2);
    assert_eq!(array[0]["kid"], keys.signing_key.kid());
    assert_eq!(array[0]["key_ops"], serde_json::json!(["sign", "verify"]));
    assert!(array[0]["d"].is_string());
    assert_eq!(array[1], serde_json::json!({"kty": "oct", "k": base64url_of_secret(), "alg": "HS256"}));
    let set = Jwks::parse(keys.jwt_keys.expose()).unwrap();
    assert_eq!(set.signing_keys().count(), 1);
}

#[test]
fn jwt_jwks_holds_the_public_key_and_the_symmetric_key() {
    let keys = generate(3);
    let v = parse(&keys.jwt_jwks);
    let list = v["keys"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(list[0].get("d").is_none());
    assert_eq!(list[0]["key_ops"], serde_json::json!(["verify"]));
    assert_eq!(list[1]["k"], base64url_of_secret());
    let set = Jwks::parse(keys.jwt_jwks.expose()).unwrap();
    assert_eq!(set.check_has_public_of(&keys.signing_key), Ok(()));
}

#[test]
fn every_api_key_verifies_against_jwt_jwks() {
    let keys = generate(4);
    let set = Jwks::parse(keys.jwt_jwks.expose()).unwrap();
    for token in [&keys.anon_key_asymmetric, &keys.service_role_key_asymmetric] {
        verify_with_jwks(token.expose(), &set, NOW).unwrap();
    }
    let legacy = sign_api_key_hs256("anon", &jwt_secret(), NOW).unwrap();
    verify_hs256(legacy.expose(), jwt_secret().expose().as_bytes(), NOW).unwrap();
    verify_with_jwks(legacy.expose(), &set, NOW).unwrap();
}

#[test]
fn a_rotation_keeps_tokens_of_the_retired_key_valid() {
    let old = generate(5);
    let new_key = EcPrivateJwk::generate(&mut StdRng::seed_from_u64(6)).unwrap();
    let retired = [old.signing_key.public()];
    let keys = Jwks::parse(jwt_keys(&new_key, &retired, Some(&jwt_secret())).unwrap().expose()).unwrap();
    let jwks = Jwks::parse(jwt_jwks(&new_key, &retired, Some(&jwt_secret())).unwrap().expose()).unwrap();
    let signing: Vec<&str> = keys.signing_keys().map(EcPrivateJwk::kid).collect();
    assert_eq!(signing, vec![new_key.kid()], "exactly one signing key");
    let fresh = sign_api_key_es256("anon", &new_key, NOW).unwrap();
    for token in [&old.anon_key_asymmetric, &fresh] {
        verify_with_jwks(token.expose(), &jwks, NOW).unwrap();
    }
    // Once the retired key leaves the set, its tokens stop verifying.
    let after = Jwks::parse(jwt_jwks(&new_key, &[], None).unwrap().expose()).unwrap();
    assert!(verify_with_jwks(old.anon_key_asymmetric.expose(), &after, NOW).is_err());
}

#[test]
fn key_sets_refuse_a_non_signing_key_and_kid_collisions() {
    let keys = generate(7);
    let verify_only = EcPrivateJwk::from_json(&retired_private_json(&keys.signing_key)).unwrap();
    assert_eq!(jwt_keys(&verify_only, &[], None).unwrap_err(), JwkError::BadField("key_ops"));
    let same_kid = [keys.signing_key.public()];
    assert_eq!(jwt_keys(&keys.signing_key, &same_kid, None).unwrap_err(), JwkError::DuplicateKid);
    let no_kid = EcPublicJwk::from_json(r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#).unwrap();
    assert_eq!(jwt_jwks(&keys.signing_key, &[no_kid], None).unwrap_err(), JwkError::DuplicateKid);
}

#[test]
fn debug_of_the_generated_keys_shows_no_value() {
    let keys = generate(8);
    let debug = format!("{keys:?}");
    for value in [&keys.publishable_key, &keys.secret_key, &keys.anon_key_asymmetric, &keys.jwt_keys] {
        assert!(!debug.contains(value.expose()));
    }
    assert!(!debug.contains(&base64url_of_secret()));
}

fn base64url_of_secret() -> String {
    crate::encoding::base64url(jwt_secret().expose().as_bytes())
}

/// The key as a retired private JWK, `key_ops` only `verify`.
fn retired_private_json(key: &EcPrivateJwk) -> String {
    let mut v = parse(&key.to_json());
    v["key_ops"] = serde_json::json!(["verify"]);
    v.to_string()
}
