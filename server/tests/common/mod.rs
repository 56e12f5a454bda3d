//! Shared fixtures for the server's integration tests: a complete production source with
//! canary secrets that every test asserts never shows up in an answer or a log.

#![allow(dead_code)]

use server::config::{MapSource, Source as _};
use server::jwt;

pub const JWT_SECRET: &str = "canaryJwtSecret0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f";
pub const POSTGRES_PASSWORD: &str = "canary-pg-password-7e1f0c9a2b4d6e8f";
pub const OPENROUTER_API_KEY: &str = "sk-or-canary-openrouter-0f9e8d7c6b5a";
pub const CANARIES: &[&str] = &[
    JWT_SECRET,
    POSTGRES_PASSWORD,
    OPENROUTER_API_KEY,
    "canary",
    envfile::sample::JWT_KEYS,
    envfile::sample::SECRET_KEY,
    // The private scalar `d` of the sample signing key.
    "GbNEHU5SzUlU5V-lgtKlYrbLaIwJ0mzDtRapBzrgEHk",
];

pub fn anon_key(secret: &str) -> String {
    jwt::sign_hs256(&serde_json::json!({"role": "anon", "iss": "supabase", "exp": 4_000_000_000u64}), secret.as_bytes())
}

pub fn service_role_key(secret: &str) -> String {
    jwt::sign_hs256(
        &serde_json::json!({"role": "service_role", "iss": "supabase", "exp": 4_000_000_000u64}),
        secret.as_bytes(),
    )
}

/// Every runtime variable set, as a production deploy would have it.
pub fn production_vars() -> Vec<(&'static str, String)> {
    vec![
        ("NODE_ENV", "production".into()),
        ("LOG_LEVEL", "info".into()),
        ("ALLOWED_ORIGINS", "https://app.example.com".into()),
        ("RATE_LIMIT_MAX", "100".into()),
        ("RATE_LIMIT_WINDOW_MS", "60000".into()),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("SUPABASE_SERVICE_ROLE_KEY", service_role_key(JWT_SECRET)),
        ("OPENROUTER_API_KEY", OPENROUTER_API_KEY.into()),
        ("DATABASE_URL", format!("postgres://app:{POSTGRES_PASSWORD}@db:5432/app")),
        ("ANTHROPIC_API_KEY", "sk-ant-canary-anthropic-00112233".into()),
        ("SENTRY_DSN", "https://canarykey@o0.ingest.example.io/1".into()),
        ("JWT_JWKS", envfile::sample::jwt_jwks()),
        ("JWT_KEYS", envfile::sample::JWT_KEYS.into()),
        (
            "SUPABASE_SERVICE_ROLE_KEY_ASYMMETRIC",
            envfile::sample::supabase_key_es256("service_role", envfile::sample::JWT_KEYS, 4_000_000_000),
        ),
        ("SUPABASE_SECRET_KEY", envfile::sample::SECRET_KEY.into()),
    ]
}

pub fn production_source() -> MapSource {
    let mut src = MapSource::default();
    for (k, v) in production_vars() {
        src.vars.insert(k.into(), v);
    }
    let path = src.secret_path("postgres_password");
    src.files.insert(path, format!("{POSTGRES_PASSWORD}\n"));
    src
}

pub fn assert_no_canary(text: &str) {
    for c in CANARIES {
        assert!(!text.contains(c), "a secret leaked into: {text}");
    }
}
