//! CLI tests of `audit` on good and bad fixture projects.

mod secrets_support;

use secrets_support::Fixture;
use std::os::unix::fs::PermissionsExt;

fn verdicts(f: &Fixture) -> (i32, Vec<(String, String)>) {
    let run = f.xtask(&["audit", "--format", "json"]);
    let json = run.json();
    let v = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["item"].as_str().unwrap().to_string(), c["verdict"].as_str().unwrap().to_string()))
        .collect();
    (run.code(), v)
}

fn verdict(v: &[(String, String)], prefix: &str) -> String {
    v.iter().find(|(i, _)| i.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix} in {v:?}")).1.clone()
}

#[test]
fn a_generated_project_passes_and_unknowns_say_why() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway", "--set", "ALLOWED_ORIGINS=https://app.acme.io"]).expect(0);
    let (code, v) = verdicts(&f);
    assert_eq!(code, 0, "{v:?}");
    for item in ["JWT secret", "CORS", "rate limit", "secrets stored outside VCS", "env and secret files private"] {
        assert_eq!(verdict(&v, item), "pass", "{item}: {v:?}");
    }
    assert_eq!(verdict(&v, "image runs as non-root"), "unknown");
    // Throwaway runs record no dates; a real run does, and then the rotation check passes.
    assert_eq!(verdict(&v, "secrets rotated"), "unknown");
    f.xtask(&["secrets", "rotate", "JWT_SECRET"]).expect(0);
    // JWT_KEYS's rotation records it and the ES256 service-role key it re-signs.
    f.xtask(&["secrets", "rotate", "JWT_KEYS"]).expect(0);
    for n in
        ["SUPABASE_SERVICE_ROLE_KEY", "OPENROUTER_API_KEY", "POSTGRES_PASSWORD", "NPM_TOKEN", "SUPABASE_SECRET_KEY"]
    {
        f.xtask(&["secrets", "rotate", n, "--recorded"]).expect(0);
    }
    f.xtask(&["secrets", "rotate", "POSTGRES_PASSWORD"]).expect(0);
    let (code, v) = verdicts(&f);
    assert_eq!(code, 0, "{v:?}");
    assert_eq!(verdict(&v, "secrets rotated"), "pass", "{v:?}");
    let human = f.xtask(&["audit"]);
    assert!(human.stdout().contains("✔") && human.stdout().contains("--image"), "{}", human.stdout());
}

#[test]
fn a_throwaway_demo_file_fails_cors_because_its_origin_is_plain_http() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    let (code, v) = verdicts(&f);
    assert_eq!(code, 1);
    assert_eq!(verdict(&v, "CORS"), "fail");
}

#[test]
fn weak_jwt_open_cors_missing_rate_limit_and_loose_modes_fail() {
    let f = Fixture::new();
    f.write(
        ".env.production",
        "JWT_SECRET=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nALLOWED_ORIGINS=*\nRATE_LIMIT_MAX=0\n",
    );
    std::fs::set_permissions(f.path(".env.production"), std::fs::Permissions::from_mode(0o644)).unwrap();
    f.write("deploy/secrets-meta.toml", "[production.JWT_SECRET]\ngenerated = \"2001-01-01\"\n");
    let (code, v) = verdicts(&f);
    assert_eq!(code, 1);
    for item in ["JWT secret", "CORS", "rate limit", "env and secret files private", "secrets rotated"] {
        assert_eq!(verdict(&v, item), "fail", "{item}: {v:?}");
    }
    let human = f.xtask(&["audit"]);
    human.expect(1);
    assert!(human.stdout().contains("✗"));
}

#[test]
fn a_tracked_env_file_fails_secrets_outside_vcs() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    f.git(&["add", "-f", ".env.production"]);
    f.git(&["commit", "-qm", "oops"]);
    let (code, v) = verdicts(&f);
    assert_eq!(code, 1);
    assert_eq!(verdict(&v, "secrets stored outside VCS"), "fail");
}

/// Real engine: the busybox base image has no USER, so it runs as root and fails the check.
#[test]
fn an_image_without_user_fails_the_non_root_check() {
    let engine = xtask::rigs::engine::Engine::ensure().expect("the test Docker engine (cargo xtask test starts it)");
    engine.ensure_base_image("busybox:1.36").expect("the local busybox base image");
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--project-dir"])
        .arg(f.root())
        .args(["audit", "--image", "busybox:1.36", "--format", "json"])
        .env("DOCKER_HOST", engine.docker_host())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check =
        json["checks"].as_array().unwrap().iter().find(|c| c["item"] == "image runs as non-root").cloned().unwrap();
    assert_eq!(check["verdict"], "fail", "{check}");
    assert!(check["why"].as_str().unwrap().contains("USER"));
}
