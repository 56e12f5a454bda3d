//! Supabase's new keys end to end through the CLI (`secrets gen`, `rotate`, `rotate
//! --finish`, `status`, `verify-env`), every generated key checked by an independent
//! implementation: OpenSSL derives the public keys from the private JWKs and verifies every
//! ES256 token, Python's hashlib recomputes the opaque keys' checksums. No command may
//! print a secret value.

mod secrets_support;
#[path = "../../crates/secretkit/tests/common/mod.rs"]
mod tools;

use secretkit::base64url_decode;
use secrets_support::Fixture;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use tools::{der_signature, openssl, openssl_ok, python, sec1_private_der, spki_der};

/// The env file as Compose reads it (the key sets are single-quoted JSON).
fn env(f: &Fixture) -> BTreeMap<String, String> {
    let text = f.read(".env.production");
    envfile::compose::parse(&text, &|_| None).expect("Compose reads it").into_iter().map(|e| (e.key, e.value)).collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON")
}

fn b64(v: &Value, field: &str) -> Vec<u8> {
    base64url_decode(v[field].as_str().unwrap_or_else(|| panic!("a {field} field"))).expect("base64url")
}

/// `(kid, x, y)` of every key of the public set `JWT_JWKS`.
fn public_keys(jwks: &str) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let set = json(jwks);
    let keys = set["keys"].as_array().expect("a keys array");
    keys.iter()
        .map(|k| {
            assert!(k.get("d").is_none() && k.get("k").is_none(), "private material in the public set");
            (k["kid"].as_str().expect("a kid").to_string(), b64(k, "x"), b64(k, "y"))
        })
        .collect()
}

/// OpenSSL's verdict on an ES256 token checked with the public key `(x, y)`.
fn openssl_verifies(dir: &Path, token: &str, x: &[u8], y: &[u8]) -> bool {
    let (input, signature) = token.rsplit_once('.').expect("three parts");
    let signature = base64url_decode(signature).expect("base64url");
    fs::write(dir.join("pub.der"), spki_der(x, y)).expect("write");
    fs::write(dir.join("input"), input).expect("write");
    fs::write(dir.join("sig.der"), der_signature(&signature)).expect("write");
    let args = ["dgst", "-sha256", "-verify", "pub.der", "-keyform", "DER", "-signature", "sig.der", "input"];
    let out = openssl(dir, &args);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

/// The `kid` a token's header names and its role claim.
fn kid_and_role(token: &str) -> (String, String) {
    let mut parts = token.split('.');
    let header = json(&String::from_utf8(base64url_decode(parts.next().unwrap()).unwrap()).unwrap());
    let claims = json(&String::from_utf8(base64url_decode(parts.next().unwrap()).unwrap()).unwrap());
    assert_eq!(header["alg"], "ES256");
    (header["kid"].as_str().expect("a kid").into(), claims["role"].as_str().expect("a role").into())
}

/// Checks the whole asymmetric configuration of an env file with OpenSSL and Python;
/// returns the kids of the public set.
fn check_independently(dir: &Path, vars: &BTreeMap<String, String>) -> Vec<String> {
    let public = public_keys(&vars["JWT_JWKS"]);
    // OpenSSL derives each private key's public key from d alone: it must be the point the
    // public set holds under that key's kid.
    let private = json(&vars["JWT_KEYS"]);
    let private = private.as_array().expect("JWT_KEYS is a JSON array");
    let signing: Vec<&Value> = private.iter().filter(|k| k.get("d").is_some()).collect();
    assert_eq!(signing.len(), 1, "one private signing key");
    for key in private {
        let kid = key["kid"].as_str().expect("a kid");
        let (_, x, y) = public.iter().find(|(k, _, _)| k == kid).expect("the public set has every kid of JWT_KEYS");
        if key.get("d").is_some() {
            fs::write(dir.join("key.der"), sec1_private_der(&b64(key, "d"))).expect("write");
            let spki = openssl_ok(dir, &["ec", "-inform", "DER", "-in", "key.der", "-pubout", "-outform", "DER"]);
            fs::remove_file(dir.join("key.der")).expect("remove");
            assert!(spki == spki_der(x, y), "OpenSSL derives another public key from JWT_KEYS's d");
        } else {
            assert!((b64(key, "x"), b64(key, "y")) == (x.clone(), y.clone()), "a retired key differs");
        }
    }
    assert_eq!(public.len(), private.len(), "the public set holds exactly the keys of JWT_KEYS");
    // Every ES256 token verifies in OpenSSL with the key its kid names, and has its role.
    let signing_kid = signing[0]["kid"].as_str().unwrap();
    for (name, role) in
        [("VITE_SUPABASE_ANON_KEY_ASYMMETRIC", "anon"), ("SUPABASE_SERVICE_ROLE_KEY_ASYMMETRIC", "service_role")]
    {
        let token = &vars[name];
        let (kid, claimed) = kid_and_role(token);
        assert_eq!((kid.as_str(), claimed.as_str()), (signing_kid, role), "{name}");
        let (_, x, y) = public.iter().find(|(k, _, _)| *k == kid).unwrap();
        assert!(openssl_verifies(dir, token, x, y), "OpenSSL refuses {name}");
        // And the check has teeth: the same signature over other claims is refused.
        let payload = token.split('.').nth(1).unwrap();
        let forged = token.replacen(payload, &secretkit::base64url(br#"{"role":"service_role"}"#), 1);
        assert!(!openssl_verifies(dir, &forged, x, y), "OpenSSL accepts a forged {name}");
    }
    // Python recomputes the opaque keys' checksums for the self-hosted project ref.
    let program = r#"
import base64, hashlib, re, sys
for line in sys.stdin.read().splitlines():
    m = re.fullmatch(r"(sb_publishable_|sb_secret_)([A-Za-z0-9_-]{22})_([A-Za-z0-9_-]{8})", line)
    body = m.group(1) + m.group(2) if m else ""
    digest = hashlib.sha256(("supabase-self-hosted|" + body).encode()).digest()
    ok = m and base64.urlsafe_b64encode(digest).decode().rstrip("=")[:8] == m.group(3)
    print((m.group(1) if m else "?") + (" ok" if ok else " bad"))
"#;
    let keys = format!("{}\n{}\n", vars["VITE_SUPABASE_PUBLISHABLE_KEY"], vars["SUPABASE_SECRET_KEY"]);
    assert_eq!(python(program, &keys), "sb_publishable_ ok\nsb_secret_ ok\n");
    public.into_iter().map(|(kid, _, _)| kid).collect()
}

/// The values no output may show: every secret and the private scalar inside JWT_KEYS.
fn secrets_of(vars: &BTreeMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> =
        ["JWT_KEYS", "SUPABASE_SERVICE_ROLE_KEY_ASYMMETRIC", "SUPABASE_SECRET_KEY", "JWT_SECRET"]
            .iter()
            .map(|n| vars[*n].clone())
            .collect();
    for key in json(&vars["JWT_KEYS"]).as_array().unwrap() {
        if let Some(d) = key["d"].as_str() {
            out.push(d.to_string());
        }
    }
    out
}

#[track_caller]
fn assert_no_secret(output: &str, secrets: &[String]) {
    for s in secrets {
        assert!(!output.contains(s.as_str()), "a command printed a secret value ({} chars)", s.len());
    }
}

#[test]
fn generated_keys_check_in_openssl_and_python_and_rotation_overlaps_until_finished() {
    let f = Fixture::new();
    let dir = tempfile::tempdir().expect("a private dir for openssl's files");
    let gen_out = f.xtask(&["secrets", "gen", "--throwaway"]);
    gen_out.expect(0);
    let before = env(&f);
    check_independently(dir.path(), &before);
    let mut outputs = gen_out.all();

    // Rotation: a new signing key signs, the old public key stays in the public set.
    let rotate = f.xtask(&["secrets", "rotate", "JWT_KEYS"]);
    rotate.expect(0);
    outputs.push_str(&rotate.all());
    let during = env(&f);
    let kids = check_independently(dir.path(), &during);
    let (old_kid, _) = kid_and_role(&before["VITE_SUPABASE_ANON_KEY_ASYMMETRIC"]);
    let (new_kid, _) = kid_and_role(&during["VITE_SUPABASE_ANON_KEY_ASYMMETRIC"]);
    assert_ne!(old_kid, new_kid, "the tokens are re-signed with the new key");
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "both keys are in JWT_JWKS");
    // A token issued before the rotation still verifies against the new public set.
    let public = public_keys(&during["JWT_JWKS"]);
    let (_, x, y) = public.iter().find(|(k, _, _)| *k == old_kid).unwrap();
    assert!(openssl_verifies(dir.path(), &before["SUPABASE_SERVICE_ROLE_KEY_ASYMMETRIC"], x, y));
    // Only JWT_KEYS and what derives from it changed.
    for (name, value) in &before {
        let derived =
            ["JWT_KEYS", "JWT_JWKS", "VITE_SUPABASE_ANON_KEY_ASYMMETRIC", "SUPABASE_SERVICE_ROLE_KEY_ASYMMETRIC"];
        assert_eq!(&during[name] != value, derived.contains(&name.as_str()), "{name}");
    }
    let status = f.xtask(&["secrets", "status"]);
    assert!(status.stdout().contains("overlap since"), "{}", status.all());
    assert!(status.stdout().contains("secrets rotate --finish JWT_KEYS"), "{}", status.all());
    outputs.push_str(&status.all());
    // Mid-rotation the file is consistent: the only errors are the demo's throwaway
    // provider keys and placeholder URLs.
    let verify = f.xtask(&["verify-env", "--format", "json"]);
    let codes: Vec<String> = verify.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["code"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(codes.iter().all(|c| c == "throwaway-value" || c == "placeholder"), "{codes:?}");
    outputs.push_str(&verify.all());

    // Finishing drops the old key and changes no token.
    let finish = f.xtask(&["secrets", "rotate", "--finish", "JWT_KEYS"]);
    finish.expect(0);
    outputs.push_str(&finish.all());
    let after = env(&f);
    assert_eq!(check_independently(dir.path(), &after), vec![new_kid.clone()]);
    for name in ["VITE_SUPABASE_ANON_KEY_ASYMMETRIC", "SUPABASE_SERVICE_ROLE_KEY_ASYMMETRIC"] {
        assert_eq!(after[name], during[name], "{name} is not re-signed by --finish");
    }
    assert!(!f.xtask(&["secrets", "status"]).stdout().contains("overlap since"));
    f.xtask(&["secrets", "rotate", "--finish", "JWT_KEYS"]).expect(2);

    // The JSON forms and the other commands that read the values say nothing either.
    let json_rotate = f.xtask(&["secrets", "rotate", "JWT_KEYS", "--format", "json"]);
    json_rotate.expect(0);
    assert_eq!(json_rotate.json()["step"], "rotate");
    outputs.push_str(&json_rotate.all());
    let last = env(&f);
    for args in [
        &["secrets", "status", "--format", "json"][..],
        &["secrets", "rotate", "--finish", "JWT_KEYS", "--format", "json"],
        &["verify-env", "--format", "json"],
        &["secrets", "export", "--to", "k8s", "--dry-run"],
        &["audit", "--format", "json"],
    ] {
        outputs.push_str(&f.xtask(args).all());
    }
    let mut all_secrets = secrets_of(&last);
    all_secrets.extend(secrets_of(&before));
    all_secrets.extend(secrets_of(&during));
    all_secrets.extend(secrets_of(&after));
    assert_no_secret(&outputs, &all_secrets);
}

#[test]
fn verify_env_refuses_a_secret_key_or_a_private_jwk_in_a_vite_variable() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    let vars = env(&f);
    let text = f.read(".env.production");
    let leaked = text.replacen(
        &format!("VITE_SUPABASE_PUBLISHABLE_KEY={}", vars["VITE_SUPABASE_PUBLISHABLE_KEY"]),
        &format!("VITE_SUPABASE_PUBLISHABLE_KEY={}", vars["SUPABASE_SECRET_KEY"]),
        1,
    );
    assert_ne!(leaked, text);
    f.write(".env.production", &format!("{leaked}VITE_SIGNING_KEYS='{}'\n", vars["JWT_KEYS"]));
    let run = f.xtask(&["verify-env", "--format", "json"]);
    run.expect(1);
    let report = run.json();
    let findings = report["findings"].as_array().expect("findings");
    let leaks: Vec<&str> = findings
        .iter()
        .filter(|f| f["code"] == "secret-in-public" && f["severity"] == "error")
        .map(|f| f["variable"].as_str().unwrap_or_default())
        .collect();
    assert!(leaks.contains(&"VITE_SUPABASE_PUBLISHABLE_KEY") && leaks.contains(&"VITE_SIGNING_KEYS"), "{leaks:?}");
    assert_no_secret(&run.all(), &secrets_of(&vars));
}
