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
