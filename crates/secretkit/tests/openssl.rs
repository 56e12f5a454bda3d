//! Checks of the EC P-256 keys and ES256 tokens against an independent implementation, the
//! `openssl` CLI: OpenSSL verifies our signatures, derives the same public key from our
//! `d`, and signs tokens with its own keys that this crate must accept.
//!
//! These tests fail (never skip) when openssl is missing, saying how to install it.

mod common;

use common::{der_signature, is_high_s, jose_signature, openssl, openssl_ok, sec1_private_der, spki_der};
use rand::SeedableRng;
use rand::rngs::StdRng;
use secretkit::{
    EcPrivateJwk, EcPublicJwk, Jwks, base64url, base64url_decode, decode_unverified, sign_es256, verify_es256,
    verify_with_jwks,
};
use serde_json::{Value, json};
use std::fs;
use std::path::Path;

/// Enough signatures that both halves of `s` turn up (each has odds of one half).
const ROUNDS: u64 = 12;

fn key(seed: u64) -> EcPrivateJwk {
    EcPrivateJwk::generate(&mut StdRng::seed_from_u64(seed)).expect("a key")
}

/// `(x, y, d)` of a private key, decoded from its JWK.
fn parts(key: &EcPrivateJwk) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let jwk: Value = serde_json::from_str(key.to_json().expose()).expect("JSON");
    let field = |f: &str| base64url_decode(jwk[f].as_str().expect("a string")).expect("base64url");
    (field("x"), field("y"), field("d"))
}

/// Asks OpenSSL to verify `token`'s ES256 signature with the public key `(x, y)`.
fn openssl_verifies(dir: &Path, token: &str, x: &[u8], y: &[u8]) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("three parts");
    let signature = base64url_decode(signature).expect("base64url");
    fs::write(dir.join("pub.der"), spki_der(x, y)).expect("write");
    fs::write(dir.join("input"), input).expect("write");
    fs::write(dir.join("sig.der"), der_signature(&signature)).expect("write");
    let args = ["dgst", "-sha256", "-verify", "pub.der", "-keyform", "DER"];
    let out = openssl(dir, &[&args[..], &["-signature", "sig.der", "input"]].concat());
    let said = String::from_utf8_lossy(&out.stdout);
    out.status.success() && said.contains("Verified OK")
}

#[test]
fn openssl_verifies_our_es256_tokens_and_refuses_tampered_ones() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut high_s = 0;
    for seed in 0..ROUNDS {
        let key = key(seed);
        let (x, y, _) = parts(&key);
        let token = sign_es256(&json!({"role": "anon", "n": seed}), &key).expect("signed");
        assert!(openssl_verifies(dir.path(), token.expose(), &x, &y), "round {seed}");
        let sig = base64url_decode(token.expose().rsplit('.').next().expect("sig")).expect("b64");
        high_s += usize::from(is_high_s(&sig));
        let payload = token.expose().split('.').nth(1).expect("a payload");
        let forged = token.expose().replacen(payload, &base64url(br#"{"role":"service_role"}"#), 1);
        assert!(!openssl_verifies(dir.path(), &forged, &x, &y), "round {seed}: forged");
    }
    // RustCrypto's P-256 signer does not normalize s either, so OpenSSL has checked both
    // halves here; a verifier that refused high-S would have failed this run.
    assert!(high_s > 0, "no high-S signature in {ROUNDS} rounds: the test lost its point");
}

#[test]
fn openssl_derives_the_same_public_key_from_our_private_key() {
    let dir = tempfile::tempdir().expect("a temp dir");
    for seed in 100..100 + ROUNDS {
        let key = key(seed);
        let (x, y, d) = parts(&key);
        fs::write(dir.path().join("key.der"), sec1_private_der(&d)).expect("write");
        let spki = openssl_ok(dir.path(), &["ec", "-inform", "DER", "-in", "key.der", "-pubout", "-outform", "DER"]);
        assert!(spki == spki_der(&x, &y), "round {seed}: OpenSSL derives another public key");
    }
}

/// An OpenSSL-generated key as a private JWK, from `openssl ec -text` (its `priv:` and
/// `pub:` hex dumps), with a kid.
fn openssl_key_as_jwk(dir: &Path, kid: &str) -> String {
    openssl_ok(dir, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "key.pem"]);
    let text = openssl_ok(dir, &["ec", "-in", "key.pem", "-text", "-noout"]);
    let text = String::from_utf8(text).expect("text");
    let dump = |label: &str| -> Vec<u8> {
        let start = text.find(label).expect("a labelled dump") + label.len();
        let hex: String = text[start..]
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with(' '))
            .flat_map(|l| l.trim().split(':'))
            .collect();
        secretkit::hex_decode(&hex).expect("hex")
    };
    let (private, public) = (dump("priv:"), dump("pub:"));
    // OpenSSL prints d with a leading zero byte when its top bit is set.
    let d = &private[private.len() - 32..];
    assert_eq!(public.len(), 65, "an uncompressed point");
    let (x, y) = (base64url(&public[1..33]), base64url(&public[33..]));
    json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": x, "y": y, "d": base64url(d)}).to_string()
}

#[test]
fn openssl_keys_and_signatures_are_accepted_here() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut high_s = 0;
    for round in 0..ROUNDS {
        let kid = format!("openssl-{round}");
        // Parsing checks that OpenSSL's public key is the one our arithmetic gives for d.
        let private = EcPrivateJwk::from_json(&openssl_key_as_jwk(dir.path(), &kid)).expect("valid");
        let public = private.public();
        let header = base64url(format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#).as_bytes());
        let input = format!("{header}.{}", base64url(br#"{"role":"anon"}"#));
        fs::write(dir.path().join("input"), &input).expect("write");
        let der = openssl_ok(dir.path(), &["dgst", "-sha256", "-sign", "key.pem", "input"]);
        let jose = jose_signature(&der);
        high_s += usize::from(is_high_s(&jose));
        let token = format!("{input}.{}", base64url(&jose));
        verify_es256(&token, &public, 0).expect("an OpenSSL signature verifies");
        let set = Jwks::parse(&format!(r#"{{"keys":[{}]}}"#, public.to_json())).expect("a set");
        verify_with_jwks(&token, &set, 0).expect("and by kid");
        assert_eq!(decode_unverified(&token).expect("decodes").header().kid.as_deref(), Some(kid.as_str()));
    }
    // OpenSSL does not normalize s, so a run of this length sees high-S signatures.
    assert!(high_s > 0, "no high-S signature in {ROUNDS} rounds: the test lost its point");
}

#[test]
fn a_public_key_from_openssl_alone_parses_and_matches() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let private = EcPrivateJwk::from_json(&openssl_key_as_jwk(dir.path(), "k")).expect("valid");
    let spki = openssl_ok(dir.path(), &["ec", "-in", "key.pem", "-pubout", "-outform", "DER"]);
    let point = &spki[spki.len() - 64..];
    let jwk =
        json!({"kty": "EC", "crv": "P-256", "kid": "k", "x": base64url(&point[..32]), "y": base64url(&point[32..])});
    let public = EcPublicJwk::from_json(&jwk.to_string()).expect("valid");
    assert!(public.same_key(&private.public()));
}
