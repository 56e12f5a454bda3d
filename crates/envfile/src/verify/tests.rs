//! Unit tests of the verify rules on the committed schema; the CLI tests in
//! xtask/tests/verify_env.rs cover every rule through the command.

use super::*;
use crate::sample;
use std::path::Path;

fn schema() -> Schema {
    Schema::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/env.schema.toml")).unwrap()
}

fn facts() -> Facts {
    Facts {
        now: 1_800_000_000,
        mode: Some(0o600),
        git: Some(GitFacts { ignored: true, ..GitFacts::default() }),
        ..Facts::default()
    }
}

fn codes(text: &str) -> Vec<&'static str> {
    verify(&schema(), "production", text.as_bytes(), &|_| None, &facts()).iter().map(|f| f.code.as_str()).collect()
}

fn with(replace: &str, by: &str) -> String {
    let good = sample::production_env();
    assert!(good.contains(replace), "{replace}");
    good.replacen(replace, by, 1)
}

#[test]
fn the_sample_production_file_is_clean() {
    assert_eq!(codes(&sample::production_env()), Vec::<&str>::new());
}

#[test]
fn each_rule_fires_on_its_own_problem() {
    assert_eq!(codes(&with("LOG_LEVEL=info\n", "LOG_LEVL=info\n")), ["unknown-variable"]);
    assert_eq!(codes(&with("NODE_ENV=production\n", "")), ["missing-required"]);
    assert_eq!(codes(&with("RATE_LIMIT_MAX=100", "RATE_LIMIT_MAX=lots")), ["invalid-format"]);
    assert_eq!(codes(&with("RATE_LIMIT_MAX=100", "RATE_LIMIT_MAX=")), ["empty-value"]);
    assert_eq!(codes(&with("ALLOWED_ORIGINS=https://app.acme.io,", "ALLOWED_ORIGINS=*,")), ["cors-wildcard"]);
    assert_eq!(codes(&with(sample::OPENROUTER_API_KEY, "sk-or-v1-xxxxxxxxxxxxxxxx")), ["placeholder"]);
    assert_eq!(
        codes(&format!("{}NPM_TOKEN=4b649d46c3946ac6d3a627e16278a29d\n", sample::production_env())),
        ["build-secret-in-env-file"]
    );
    assert_eq!(codes(&format!("{}LOG_LEVEL=debug\n", sample::production_env())), ["duplicate-key"]);
}

#[test]
fn supabase_keys_are_verified() {
    let other = sample::supabase_key("anon", "another-secret-another-secret-another-secret", sample::FAR_FUTURE);
    let anon = sample::supabase_key("anon", sample::JWT_SECRET, sample::FAR_FUTURE);
    let good = sample::production_env();
    assert_eq!(codes(&good.replace(&anon, &other)), ["supabase-key-signature"]);
    let expired = sample::supabase_key("anon", sample::JWT_SECRET, 1_000);
    assert_eq!(codes(&good.replace(&anon, &expired)), ["supabase-key-expired"]);
    let service = sample::supabase_key("service_role", sample::JWT_SECRET, sample::FAR_FUTURE);
    let found =
        codes(&good.replace(&format!("VITE_SUPABASE_ANON_KEY={anon}"), &format!("VITE_SUPABASE_ANON_KEY={service}")));
    assert!(found.contains(&"secret-in-public") && found.contains(&"supabase-key-role"), "{found:?}");
}

#[test]
fn derived_copies_are_not_reuse_but_copies_are() {
    let good = sample::production_env();
    assert!(!codes(&good).contains(&"secret-reuse"));
    let reused = good.replace(sample::OPENROUTER_API_KEY, &format!("sk-or-{}", sample::POSTGRES_PASSWORD));
    assert!(codes(&reused).contains(&"secret-reuse"));
}

#[test]
fn file_facts_and_parse_errors() {
    let f =
        Facts { mode: Some(0o644), git: Some(GitFacts { ignored: false, tracked: true, in_history: true }), ..facts() };
    let found: Vec<_> =
        verify(&schema(), "production", b"A='open\n", &|_| None, &f).iter().map(|f| f.code.as_str()).collect();
    assert_eq!(found, ["file-mode", "git-in-history", "git-not-ignored", "git-tracked", "parse-error"]);
}

#[test]
fn no_message_or_hint_carries_a_value() {
    let canary = "canaryQ7v9Zt2LmX8pR4sW6yB1nK3";
    let text = format!(
        "JWT_SECRET={canary}\nVITE_LEAK={canary}\nPOSTGRES_PASSWORD=\"{canary}$x\"\nX={canary}\nX={canary}#a b\n"
    );
    for f in verify(&schema(), "production", text.as_bytes(), &|_| None, &facts()) {
        let all = format!("{} {:?}", f.message, f.hint);
        assert!(!all.contains("canary"), "{f:?}");
    }
}

/// Regression: values `secrets gen --throwaway` wrote passed `verify-env --env production`.
#[test]
fn throwaway_values_are_an_error_in_production_and_a_note_elsewhere() {
    let text = with(
        &format!("OPENROUTER_API_KEY={}", sample::OPENROUTER_API_KEY),
        "OPENROUTER_API_KEY=sk-or-v1-throwaway-0123456789abcdef0123456789abcdef0123456789abcdef",
    );
    let prod = verify(&schema(), "production", text.as_bytes(), &|_| None, &facts());
    let f = prod.iter().find(|f| f.code == Code::ThrowawayValue).expect("flagged in production");
    assert_eq!(f.severity, Severity::Error);
    let dev = verify(&schema(), "dev", text.as_bytes(), &|_| None, &facts());
    let f = dev.iter().find(|f| f.code == Code::ThrowawayValue).expect("noted in dev");
    assert_eq!(f.severity, Severity::Info);
}

fn codes_of(text: &str) -> Vec<&'static str> {
    codes(text)
}

fn with_asym(replace: &str, by: &str) -> String {
    let good = sample::production_env_asymmetric();
    assert!(good.contains(replace), "{replace}");
    good.replacen(replace, by, 1)
}

#[test]
fn the_sample_with_asymmetric_keys_is_clean() {
    assert_eq!(codes(&sample::production_env_asymmetric()), Vec::<&str>::new());
}

#[test]
fn an_sb_secret_key_or_a_private_jwk_in_a_vite_variable_is_an_error() {
    let secret_in_public = with_asym(
        &format!("VITE_SUPABASE_PUBLISHABLE_KEY={}", sample::PUBLISHABLE_KEY),
        &format!("VITE_SUPABASE_PUBLISHABLE_KEY={}", sample::SECRET_KEY),
    );
    assert!(codes_of(&secret_in_public).contains(&"secret-in-public"), "{:?}", codes_of(&secret_in_public));
    let jwk = format!("{}VITE_SIGNING_KEY='{}'\n", sample::production_env_asymmetric(), sample::JWT_KEYS);
    let found = verify(&schema(), "production", jwk.as_bytes(), &|_| None, &facts());
    let f = found.iter().find(|f| f.code == Code::SecretInPublic).expect("a private JWK in VITE_ is flagged");
    assert!(f.message.contains("private JWK") && f.severity == Severity::Error, "{f:?}");
}

#[test]
fn the_public_set_must_be_the_public_keys_of_the_private_ones() {
    let jwks = sample::jwt_jwks();
    // Another key under the same kid: the point differs.
    let other = secretkit::EcPrivateJwk::generate(&mut Counter(7)).unwrap().with_kid("sample-key-1").unwrap();
    let mismatched = secretkit::Jwks::new(vec![secretkit::Jwk::EcPublic(other.public())]).to_public_json();
    // The set lacks the signing key's point and holds a stray one; the tokens fail too.
    let found = codes(&with_asym(&jwks, &mismatched));
    assert_eq!(found.iter().filter(|c| **c == "jwks-mismatch").count(), 2, "{found:?}");
    assert!(found.contains(&"supabase-key-signature"), "{found:?}");
    // An extra key nobody here holds.
    let extra = secretkit::Jwks::new(vec![
        secretkit::Jwk::EcPublic(secretkit::Jwks::parse(sample::JWT_KEYS).unwrap().keys[0].ec_public().unwrap()),
        secretkit::Jwk::EcPublic(other.with_kid("stray").unwrap().public()),
    ])
    .to_public_json();
    assert_eq!(codes(&with_asym(&jwks, &extra)), ["jwks-mismatch"]);
    // The private keys where the public set belongs.
    assert!(
        codes(&with_asym(&format!("JWT_JWKS='{jwks}'"), &format!("JWT_JWKS='{}'", sample::JWT_KEYS)))
            .contains(&"jwks-mismatch")
    );
    // A kid that names no key of JWT_KEYS: the ES256 tokens no longer verify either.
    let renamed = jwks.replace("sample-key-1", "sample-key-2");
    let found = codes(&with_asym(&jwks, &renamed));
    assert!(found.contains(&"jwks-mismatch") && found.contains(&"supabase-key-signature"), "{found:?}");
}

#[test]
fn es256_keys_must_verify_and_carry_their_role() {
    let good_service = sample::supabase_key_es256("service_role", sample::JWT_KEYS, sample::FAR_FUTURE);
    let anon = sample::supabase_key_es256("anon", sample::JWT_KEYS, sample::FAR_FUTURE - 1);
    // An HS256 token where an ES256 one belongs.
    let hs = sample::supabase_key("service_role", sample::JWT_SECRET, sample::FAR_FUTURE - 1);
    assert_eq!(codes(&with_asym(&good_service, &hs)), ["supabase-key-signature"]);
    // A tampered payload.
    let parts: Vec<&str> = good_service.split('.').collect();
    let forged_claims = secretkit::base64url(br#"{"role":"service_role","iss":"supabase","exp":4102444800}"#);
    let forged = format!("{}.{forged_claims}.{}", parts[0], parts[2]);
    assert_eq!(codes(&with_asym(&good_service, &forged)), ["supabase-key-signature"]);
    // The anon key where the service-role key belongs: verifies, wrong role.
    assert_eq!(codes(&with_asym(&good_service, &anon)), ["supabase-key-role"]);
}

#[test]
fn opaque_keys_must_carry_the_checksum_of_the_project_ref() {
    let key = sample::SECRET_KEY;
    let last = &key[key.len() - 1..];
    let flipped = format!("{}{}", &key[..key.len() - 1], if last == "A" { "B" } else { "A" });
    assert_eq!(codes(&with_asym(key, &flipped)), ["supabase-opaque-checksum"]);
    assert!(codes(&with_asym(key, "sb_secret_short")).contains(&"invalid-format"));
}

#[test]
fn a_legacy_only_schema_is_warned_with_the_migration() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/env.schema.toml")).unwrap();
    // The committed schema without its asymmetric variables.
    let legacy: Vec<&str> =
        text.split("[[var]]").filter(|block| !block.contains("JWT_KEYS") && !block.contains("sb_")).collect();
    let legacy = Schema::parse(&legacy.join("[[var]]")).expect("the legacy schema parses");
    let found = verify(&legacy, "production", sample::production_env().as_bytes(), &|_| None, &facts());
    let f = found.iter().find(|f| f.code == Code::SupabaseLegacyKeys).expect("warned");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.contains("deprecates"), "{}", f.message);
    assert!(f.hint.as_deref().unwrap_or("").contains("cargo xtask secrets gen"), "{:?}", f.hint);
    assert!(!codes(&sample::production_env()).contains(&"supabase-legacy-keys"));
}

/// A predictable byte source for keys the tests make (not random: never for real keys).
struct Counter(u64);

impl secretkit::RngCore for Counter {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}
