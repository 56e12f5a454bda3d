//! The canary: a recognizable value goes into every type that holds a secret and into every
//! input an error can be made from, and no `Debug` or `Display` of any of them, nor of any
//! error, may contain it (or the key material the crate generates).

use rand::SeedableRng;
use rand::rngs::StdRng;
use secretkit::supabase::{SELF_HOSTED_PROJECT_REF, SelfHostedKeys, check_opaque_key, parse_opaque_key};
use secretkit::{
    EcPrivateJwk, EcPublicJwk, Jwk, Jwks, OctJwk, Secret, base64_std_decode, base64url, base64url_decode,
    decode_unverified, hex_decode, sign_es256, sign_hs256, verify_es256, verify_hs256, verify_with_jwks,
};
use serde_json::{Value, json};
use std::fmt::{Debug, Display};

/// Long enough to be a JWT secret, short enough to sit inside any field.
const CANARY: &str = "canary-7d1f3a9b5c2e4f60-8a1b";

/// Every rendering of `value` a log, an error chain or a panic could show.
fn renderings<T: Debug + ?Sized>(value: &T) -> Vec<String> {
    vec![format!("{value:?}"), format!("{value:#?}")]
}

fn error_renderings<E: Debug + Display>(error: &E) -> Vec<String> {
    let mut out = renderings(error);
    out.push(format!("{error}"));
    out.push(format!("{error:#}"));
    out
}

#[track_caller]
fn assert_clean(rendered: &[String], needles: &[&str]) {
    for text in rendered {
        for needle in needles {
            // The message says which check failed, never the text that held the needle.
            assert!(!text.contains(needle), "a rendering contains a secret (needle {} chars)", needle.len());
        }
    }
}

#[test]
fn secret_values_never_render() {
    let secret = Secret::new(CANARY);
    let mut all = renderings(&secret);
    all.push(format!("{secret}"));
    all.extend(renderings(&Some(secret.clone())));
    all.extend(renderings(&vec![secret.clone()]));
    all.push(secret.masked());
    assert_clean(&all, &[CANARY, &CANARY[2..CANARY.len() - 2]]);
}

#[test]
fn keys_and_key_sets_never_render_their_material() {
    let private = EcPrivateJwk::generate(&mut StdRng::seed_from_u64(1)).expect("a key");
    let jwk: Value = serde_json::from_str(private.to_json().expose()).expect("JSON");
    let d = jwk["d"].as_str().expect("d").to_string();
    let oct = OctJwk::from_jwt_secret(&Secret::new(CANARY));
    let k = base64url(CANARY.as_bytes());
    let set = Jwks::new(vec![Jwk::EcPrivate(private.clone()), Jwk::Oct(oct.clone())]);
    let mut all = renderings(&private);
    all.extend(renderings(&oct));
    all.extend(renderings(&set));
    all.extend(renderings(&private.to_json()));
    all.extend(renderings(&set.to_json()));
    all.extend(renderings(&set.to_key_array_json()));
    all.push(set.to_public_json());
    assert_clean(&all, &[&d, CANARY, &k]);
}

#[test]
fn tokens_never_render_their_signature() {
    let key = EcPrivateJwk::generate(&mut StdRng::seed_from_u64(2)).expect("a key");
    let hs = sign_hs256(&json!({"role": "service_role"}), CANARY.as_bytes()).expect("signed");
    let es = sign_es256(&json!({"role": "service_role"}), &key).expect("signed");
    for token in [&hs, &es] {
        let sig = token.expose().rsplit('.').next().expect("a signature").to_string();
        let mut all = renderings(token);
        all.extend(renderings(&decode_unverified(token.expose()).expect("decodes")));
        assert_clean(&all, &[&sig, token.expose()]);
    }
}

#[test]
fn generated_supabase_keys_never_render() {
    let jwt_secret = Secret::new(CANARY);
    let keys = SelfHostedKeys::generate(&mut StdRng::seed_from_u64(3), &jwt_secret, 0).expect("keys");
    let values = [
        &keys.publishable_key,
        &keys.secret_key,
        &keys.anon_key_asymmetric,
        &keys.service_role_key_asymmetric,
        &keys.jwt_keys,
        &keys.jwt_jwks,
    ];
    let mut needles: Vec<&str> = values.iter().map(|v| v.expose()).collect();
    let k = base64url(CANARY.as_bytes());
    needles.extend([CANARY, k.as_str()]);
    assert_clean(&renderings(&keys), &needles);
}

#[test]
fn errors_never_echo_their_input() {
    let b = |s: &str| base64url(s.as_bytes());
    let key = EcPrivateJwk::generate(&mut StdRng::seed_from_u64(4)).expect("a key");
    let public = key.public();
    let mut all = Vec::new();
    let tokens = [
        format!("{CANARY}.{CANARY}.{CANARY}"),
        format!("{}.{}.c2ln", b(&format!(r#"{{"alg":"{CANARY}"}}"#)), b("{}")),
        format!("{}.{}.c2ln", b(r#"{"alg":"HS256"}"#), b(&format!(r#"{{"exp":"{CANARY}"}}"#))),
        format!("{}.{}.c2ln", b(&format!(r#"{{"alg":"ES256","kid":"{CANARY}"}}"#)), b("{}")),
        format!("{}.{}.", b(r#"{"alg":"none"}"#), b(&format!(r#"{{"s":"{CANARY}"}}"#))),
    ];
    for token in &tokens {
        for result in [
            verify_hs256(token, CANARY.as_bytes(), 0),
            verify_es256(token, &public, 0),
            verify_with_jwks(token, &Jwks::default(), 0),
        ] {
            all.extend(error_renderings(&result.expect_err("refused")));
        }
    }
    let jwks = [
        format!(r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"{CANARY}","y":"{CANARY}"}}]}}"#),
        format!(r#"{{"keys":[{{"kty":"oct","k":5,"kid":"{CANARY}"}}]}}"#),
        format!(r#"{{"keys":[{{"kty":"oct","k":"{CANARY}!"}}]}}"#),
        format!(r#"[{{"kty":"EC","crv":"P-256","ext":"{CANARY}","x":1}}]"#),
        format!(r#"{{"keys": "{CANARY}"}}"#),
        CANARY.to_string(),
    ];
    for text in &jwks {
        all.extend(error_renderings(&Jwks::parse(text).expect_err("refused")));
        all.extend(error_renderings(&EcPrivateJwk::from_json(text).expect_err("refused")));
        all.extend(error_renderings(&EcPublicJwk::from_json(text).expect_err("refused")));
    }
    let mut with_d: Value = serde_json::from_str(key.to_json().expose()).expect("JSON");
    with_d["d"] = Value::from(CANARY);
    all.extend(error_renderings(&EcPrivateJwk::from_json(&with_d.to_string()).expect_err("bad d")));
    all.extend(error_renderings(&key.clone().with_kid(format!("{CANARY} $")).expect_err("bad kid")));
    for bad in [format!("{CANARY}!"), format!("{CANARY}=")] {
        all.extend(error_renderings(&hex_decode(&bad).expect_err("refused")));
        all.extend(error_renderings(&base64url_decode(&bad).expect_err("refused")));
        all.extend(error_renderings(&base64_std_decode(&bad).expect_err("refused")));
    }
    for bad in [format!("sb_secret_{CANARY}"), format!("sb_x_{CANARY}")] {
        all.extend(error_renderings(&parse_opaque_key(&bad).expect_err("refused")));
    }
    // Well-formed, so only the checksum refuses it.
    let shaped = "sb_secret_canary-7d1f3a9b5c2e4f6_8a1bcdef";
    let mismatch = check_opaque_key(shaped, SELF_HOSTED_PROJECT_REF).expect_err("refused");
    all.extend(error_renderings(&mismatch));
    assert_clean(&all, &[CANARY, "canary"]);
}
