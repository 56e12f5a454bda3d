//! CLI tests of layered config (`secrets gen --layered`) and `secrets export` to Swarm and
//! Kubernetes, including a real engine that is not a swarm manager.

mod secrets_support;

use secrets_support::{Fixture, mode};

fn layered() -> Fixture {
    let f = Fixture::new();
    let ws = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for n in ["common", "dev", "production"] {
        f.write(&format!("config/{n}.env"), &std::fs::read_to_string(ws.join(format!("config/{n}.env"))).unwrap());
    }
    f.xtask(&["secrets", "gen", "--layered", "--throwaway"]).expect(0);
    f
}

#[test]
fn layered_gen_writes_only_secret_files_and_is_idempotent() {
    let f = layered();
    assert!(!f.path(".env.production").exists(), "layered mode writes no env file");
    for n in [
        "jwt_secret",
        "supabase_service_role_key",
        "vite_supabase_anon_key",
        "postgres_password",
        "database_url",
        "openrouter_api_key",
        "npm_token",
    ] {
        assert_eq!(mode(&f.path(&format!("secrets/{n}.txt"))), 0o600, "{n}");
    }
    assert!(!f.path("secrets/node_env.txt").exists(), "config stays in config/");
    let before = f.snapshot();
    f.xtask(&["secrets", "gen", "--layered", "--throwaway"]).expect(0);
    assert!(f.snapshot() == before);
    f.xtask(&["secrets", "rotate", "JWT_SECRET", "--layered"]).expect(0);
    let after = f.snapshot();
    let changed: Vec<&str> = after.iter().filter(|a| !before.contains(a)).map(|a| a.0.as_str()).collect();
    assert_eq!(
        changed,
        [
            "deploy/secrets-meta.toml",
            "secrets/jwt_secret.txt",
            "secrets/supabase_service_role_key.txt",
            "secrets/vite_supabase_anon_key.txt"
        ]
    );
}

#[test]
fn k8s_manifest_has_a_secret_and_a_configmap_with_quoted_values() {
    let f = layered();
    let run = f.xtask(&["secrets", "export", "--to", "k8s", "--layered"]);
    run.expect(0);
    let y = run.stdout();
    assert!(y.contains("kind: Secret\n") && y.contains("kind: ConfigMap\n") && y.contains("---\n"), "{y}");
    assert!(y.contains("  \"NODE_ENV\": \"production\"\n"), "config from config/production.env: {y}");
    assert!(y.contains("  \"JWT_SECRET\": \""), "{y}");
    assert!(!y.contains("NPM_TOKEN") && !y.contains("VITE_"), "no build secrets or public values: {y}");
    let jwt = f.read("secrets/jwt_secret.txt");
    assert!(!y.contains(&jwt), "secrets only base64-encoded");
}

#[test]
fn swarm_dry_run_lists_secret_names_and_sizes_only() {
    let f = layered();
    let run = f.xtask(&["secrets", "export", "--to", "swarm", "--layered", "--dry-run", "--format", "json"]);
    run.expect(0);
    let plan = run.json()["plan"].as_array().unwrap().clone();
    let names: Vec<&str> = plan.iter().map(|p| p["object"].as_str().unwrap()).collect();
    assert!(names.contains(&"reference_jwt_secret") && names.contains(&"reference_postgres_password"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("node_env") || n.contains("npm")), "{names:?}");
}

#[test]
fn export_with_nothing_to_export_says_what_to_do() {
    let f = Fixture::new();
    let run = f.xtask(&["secrets", "export", "--to", "k8s"]);
    run.expect(2);
    assert!(run.stderr().contains("secrets gen"), "{}", run.stderr());
}

/// Real engine (started by the infra harness): a plain engine is not a swarm manager, and
/// the error says what to do instead of dumping a request.
#[test]
fn swarm_export_against_a_non_swarm_engine_fails_with_a_hint() {
    let engine = xtask::rigs::engine::Engine::ensure().expect("the test Docker engine (cargo xtask test starts it)");
    let f = layered();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--project-dir"])
        .arg(f.root())
        .args(["secrets", "export", "--to", "swarm", "--layered"])
        .env("DOCKER_HOST", engine.docker_host())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("swarm init") && err.contains("--dry-run"), "{err}");
    assert!(!err.contains(&f.read("secrets/jwt_secret.txt")));
}
