//! Checks against an independent implementation in Python's standard library (hashlib,
//! hmac, base64, json): the opaque keys' checksums both ways, HS256 both ways, RFC 7638
//! thumbprints, and the layout of the self-hosted `JWT_KEYS`/`JWT_JWKS`/API-key JWTs.
//!
//! The Python side prints verdicts ("ok" or a reason), never a value it was given. These
//! tests fail (never skip) when python3 is missing, saying how to install it.

mod common;

use common::python;
use rand::SeedableRng;
use rand::rngs::StdRng;
use secretkit::supabase::{
    OpaqueKind, SELF_HOSTED_PROJECT_REF, SelfHostedKeys, check_opaque_key, generate_opaque_key, sign_api_key_hs256,
};
use secretkit::{EcPrivateJwk, Secret, sign_hs256, verify_hs256};
use serde_json::json;

const PRELUDE: &str = r#"
import base64, hashlib, hmac, json, secrets, sys
def b64u(data): return base64.urlsafe_b64encode(data).decode().rstrip("=")
def unb64u(text): return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
def checksum(ref, body): return b64u(hashlib.sha256((ref + "|" + body).encode()).digest())[:8]
"#;

/// Python checks each key's shape and checksum from the documented recipe.
const CHECK_OPAQUE: &str = r#"
import re
for line in sys.stdin.read().splitlines():
    ref, key = line.split("\t")
    m = re.fullmatch(r"(sb_publishable_|sb_secret_)([A-Za-z0-9_-]{22})_([A-Za-z0-9_-]{8})", key)
    print("ok" if m and checksum(ref, m.group(1) + m.group(2)) == m.group(3) else "bad")
"#;

/// Python makes keys from the recipe: 17 random bytes, base64url, the first 22 characters.
const MAKE_OPAQUE: &str = r#"
ref = sys.stdin.read().strip()
for prefix in ["sb_publishable_", "sb_secret_"] * 8:
    body = prefix + b64u(secrets.token_bytes(17))[:22]
    print(body + "_" + checksum(ref, body))
"#;

#[test]
fn python_recomputes_the_checksum_of_our_opaque_keys() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut lines = Vec::new();
    for project_ref in [SELF_HOSTED_PROJECT_REF, "abcdefghijklmnopqrst"] {
        for kind in [OpaqueKind::Publishable, OpaqueKind::Secret] {
            for _ in 0..8 {
                let key = generate_opaque_key(kind, project_ref, &mut rng);
                lines.push(format!("{project_ref}\t{}", key.expose()));
            }
        }
    }
    let verdicts = python(&format!("{PRELUDE}{CHECK_OPAQUE}"), &lines.join("\n"));
    assert_eq!(verdicts.lines().count(), lines.len());
    assert!(verdicts.lines().all(|v| v == "ok"), "python refused a key: {verdicts}");
    // A key checked under another project ref must fail in Python too.
    let wrong = lines[0].replacen(SELF_HOSTED_PROJECT_REF, "another-ref", 1);
    assert_eq!(python(&format!("{PRELUDE}{CHECK_OPAQUE}"), &wrong).trim(), "bad");
}

#[test]
fn keys_python_makes_from_the_recipe_check_here() {
    let keys = Secret::new(python(&format!("{PRELUDE}{MAKE_OPAQUE}"), SELF_HOSTED_PROJECT_REF));
    let keys: Vec<&str> = keys.expose().lines().collect();
    assert_eq!(keys.len(), 16);
    for (i, key) in keys.iter().enumerate() {
        let kind = check_opaque_key(key, SELF_HOSTED_PROJECT_REF);
        assert!(kind.is_ok(), "python key {i} refused: {kind:?}");
        assert!(check_opaque_key(key, "other-project").is_err(), "python key {i} checks anywhere");
    }
}

/// Python verifies HS256 tokens: the key is given as base64url so any bytes pass.
const VERIFY_HS256: &str = r#"
for line in sys.stdin.read().splitlines():
    key, token = line.split("\t")
    head, body, sig = token.split(".")
    header = json.loads(unb64u(head))
    mac = hmac.new(unb64u(key), (head + "." + body).encode(), hashlib.sha256).digest()
    print("ok" if header["alg"] == "HS256" and hmac.compare_digest(mac, unb64u(sig)) else "bad")
"#;

const SIGN_HS256: &str = r#"
key = sys.stdin.read().strip().encode()
head = b64u(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64u(json.dumps({"role": "anon", "iss": "supabase", "exp": 4102444800}).encode())
mac = hmac.new(key, (head + "." + body).encode(), hashlib.sha256).digest()
print(head + "." + body + "." + b64u(mac))
"#;

#[test]
fn hs256_agrees_with_python_both_ways() {
    let jwt_secret = Secret::new("a-self-hosted-jwt-secret-of-forty-characters");
    let key = secretkit::base64url(jwt_secret.expose().as_bytes());
    let ours = [
        sign_hs256(&json!({"role": "anon"}), jwt_secret.expose().as_bytes()).expect("signed"),
        sign_api_key_hs256("service_role", &jwt_secret, 1_767_225_600).expect("signed"),
    ];
    let input: Vec<String> = ours.iter().map(|t| format!("{key}\t{}", t.expose())).collect();
    let verdicts = python(&format!("{PRELUDE}{VERIFY_HS256}"), &input.join("\n"));
    assert_eq!(verdicts.lines().collect::<Vec<_>>(), ["ok", "ok"]);
    let theirs = Secret::new(python(&format!("{PRELUDE}{SIGN_HS256}"), jwt_secret.expose()));
    let jwt = verify_hs256(theirs.expose().trim(), jwt_secret.expose().as_bytes(), 0);
    assert_eq!(jwt.expect("python's token verifies").claim_str("role"), Some("anon"));
}

const THUMBPRINT: &str = r#"
for line in sys.stdin.read().splitlines():
    k = json.loads(line)
    canonical = json.dumps({m: k[m] for m in ["crv", "kty", "x", "y"]}, separators=(",", ":"))
    print(b64u(hashlib.sha256(canonical.encode()).digest()))
"#;

#[test]
fn thumbprints_agree_with_python() {
    let keys: Vec<EcPrivateJwk> =
        (0..6).map(|s| EcPrivateJwk::generate(&mut StdRng::seed_from_u64(s)).expect("a key")).collect();
    let input: Vec<String> = keys.iter().map(|k| k.public().to_json()).collect();
    let theirs = python(&format!("{PRELUDE}{THUMBPRINT}"), &input.join("\n"));
    let ours: Vec<String> = keys.iter().map(|k| k.public().thumbprint()).collect();
    assert_eq!(theirs.lines().collect::<Vec<_>>(), ours);
}

/// Python checks the self-hosted configuration against what Supabase's script writes:
/// the input is JWT_SECRET, JWT_KEYS, JWT_JWKS, the anon and the service-role key.
const CHECK_SELF_HOSTED: &str = r#"
secret, keys, jwks, anon, service = sys.stdin.read().splitlines()
keys, jwks = json.loads(keys), json.loads(jwks)
def fail(why): print("fail: " + why); sys.exit(0)
if not isinstance(keys, list) or len(keys) != 2: fail("JWT_KEYS is not a two-key array")
ec, oct_key = keys
if ec.get("kty") != "EC" or ec.get("crv") != "P-256" or "d" not in ec: fail("no EC private key")
if ec.get("key_ops") != ["sign", "verify"] or ec.get("alg") != "ES256" or ec.get("use") != "sig": fail("EC metadata")
if oct_key != {"kty": "oct", "k": b64u(secret.encode()), "alg": "HS256"}: fail("oct key")
if list(jwks) != ["keys"] or len(jwks["keys"]) != 2: fail("JWT_JWKS shape")
pub, oct2 = jwks["keys"]
if "d" in pub or pub.get("key_ops") != ["verify"]: fail("JWKS EC key is not public")
if any(pub[f] != ec[f] for f in ["kid", "x", "y", "crv", "kty"]) or oct2 != oct_key: fail("JWKS keys differ")
for token, role in [(anon, "anon"), (service, "service_role")]:
    head, body, sig = token.split(".")
    header, claims = json.loads(unb64u(head)), json.loads(unb64u(body))
    if header != {"alg": "ES256", "typ": "JWT", "kid": ec["kid"]}: fail("header of " + role)
    if list(claims) != ["role", "iss", "iat", "exp"] or claims["role"] != role: fail("claims of " + role)
    if claims["iss"] != "supabase" or claims["exp"] - claims["iat"] != 5 * 365 * 24 * 3600: fail("times of " + role)
    if len(unb64u(sig)) != 64: fail("signature of " + role + " is not r||s")
print("ok")
"#;

#[test]
fn the_self_hosted_configuration_has_the_layout_python_expects() {
    let jwt_secret = Secret::new("self-hosted-jwt-secret-with-at-least-32-characters");
    let mut rng = StdRng::seed_from_u64(7);
    let keys = SelfHostedKeys::generate(&mut rng, &jwt_secret, 1_767_225_600).expect("keys");
    let input =
        [&jwt_secret, &keys.jwt_keys, &keys.jwt_jwks, &keys.anon_key_asymmetric, &keys.service_role_key_asymmetric]
            .map(Secret::expose)
            .join("\n");
    assert_eq!(python(&format!("{PRELUDE}{CHECK_SELF_HOSTED}"), &input).trim(), "ok");
}
