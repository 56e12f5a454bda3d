//! The generated `Config` matches `deploy/env.schema.toml` exactly: one field per runtime
//! variable (config and secret planes), none for public or build-secret variables, with the
//! types the formats call for and the requirements of each environment.

mod common;

use envfile::{Plane, Schema};
use server::config::{Config, Delivery, MapSource, Origin, VARIABLES};
use server::secret::Secret;
use std::path::{Path, PathBuf};

fn schema() -> Schema {
    Schema::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/env.schema.toml")).expect("schema loads")
}

#[test]
fn generated_config_covers_exactly_the_schemas_runtime_variables() {
    let schema = schema();
    let runtime: Vec<&str> = schema
        .vars
        .iter()
        .filter(|v| matches!(v.plane, Plane::Config | Plane::Secret))
        .map(|v| v.name.as_str())
        .collect();
    let specs: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
    assert_eq!(specs, runtime);

    let (config, _) = Config::from_source(&common::production_source(), "production").expect("full source loads");
    let fields: Vec<&str> = config.presence().iter().map(|(n, _)| *n).collect();
    assert_eq!(fields, runtime, "one Config field per runtime variable");
    assert!(config.presence().iter().all(|(_, present)| *present), "every field was read");

    for v in schema.vars.iter().filter(|v| matches!(v.plane, Plane::Public | Plane::BuildSecret)) {
        assert!(!specs.contains(&v.name.as_str()), "{} must not reach the server", v.name);
    }
    for spec in VARIABLES {
        let v = schema.get(spec.name).unwrap();
        let want: Vec<&str> = v.required.iter().map(String::as_str).collect();
        assert_eq!(spec.required_in, want.as_slice(), "{}", v.name);
        assert_eq!(spec.delivery == Delivery::File, v.delivery == envfile::Delivery::File, "{}", v.name);
    }
}

#[test]
fn field_types_follow_the_formats_and_secrets_are_redacted() {
    let (c, provenance) = Config::from_source(&common::production_source(), "production").unwrap();
    // These bindings do not compile if the generator changes a field's type.
    let _: &String = &c.node_env;
    let max: Option<u64> = c.rate_limit_max;
    let origins: &Option<Vec<String>> = &c.allowed_origins;
    let _: &Secret = &c.jwt_secret;
    let _: &Option<Secret> = &c.database_url;
    assert_eq!(max, Some(100));
    assert_eq!(origins.as_deref(), Some(&["https://app.example.com".to_string()][..]));
    assert_eq!(c.postgres_password.expose(), common::POSTGRES_PASSWORD, "trailing newline of the file dropped");
    assert_eq!(provenance["POSTGRES_PASSWORD"], Origin::File(PathBuf::from("/run/secrets/postgres_password")));
    assert_eq!(provenance["JWT_SECRET"], Origin::Env);
    common::assert_no_canary(&format!("{c:?}"));
}

#[test]
fn dev_needs_only_what_dev_requires_and_production_names_every_gap() {
    let mut dev = MapSource::default();
    dev.vars.insert("NODE_ENV".into(), "development".into());
    dev.vars.insert("JWT_SECRET".into(), common::JWT_SECRET.into());
    dev.files.insert("/run/secrets/postgres_password".into(), "pw-from-file-0123456789abcdef".into());
    let (c, _) = Config::from_source(&dev, "dev").expect("dev loads with its required variables");
    assert_eq!(c.allowed_origins, None);

    let err = Config::from_source(&dev, "production").unwrap_err();
    let missing: Vec<&str> = err.missing.iter().map(|m| m.name).collect();
    assert_eq!(
        missing,
        [
            "ALLOWED_ORIGINS",
            "RATE_LIMIT_MAX",
            "RATE_LIMIT_WINDOW_MS",
            "SUPABASE_SERVICE_ROLE_KEY",
            "OPENROUTER_API_KEY",
            "DATABASE_URL"
        ]
    );

    let mut bad = common::production_source();
    bad.vars.insert("RATE_LIMIT_MAX".into(), "canary-many".into());
    bad.vars.insert("JWT_SECRET".into(), String::new());
    bad.files.clear();
    let err = Config::from_source(&bad, "production").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("JWT_SECRET (env)") && text.contains("POSTGRES_PASSWORD (/run/secrets/postgres_password)"),
        "{text}"
    );
    assert_eq!(err.invalid.len(), 1);
    assert_eq!(err.invalid[0].name, "RATE_LIMIT_MAX");
    common::assert_no_canary(&text);
}
