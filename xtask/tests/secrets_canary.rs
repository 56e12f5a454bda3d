//! A canary secret never appears in any output of any secrets-lifecycle command,
//! including error paths and JSON, even when verify-git finds it in history.

mod secrets_support;

use base64::Engine;
use secrets_support::Fixture;

const JWT: &str = "canaryJWT7f3e9b2d4c1a8e6f0b5d3c7a9e1f4b2dAAAA";
const KEY: &str = "sk-or-canaryKEY0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4";
const PW: &str = "canaryPW-5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f";

fn assert_clean(what: &str, out: &str) {
    for canary in [JWT, KEY, PW] {
        assert!(!out.contains(canary), "{what} printed a canary:\n{out}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(canary);
        assert!(!out.contains(&b64), "{what} printed a canary in base64:\n{out}");
        assert!(!out.contains(&canary[4..20]), "{what} printed part of a canary:\n{out}");
    }
}

#[test]
fn no_command_prints_a_canary() {
    let f = Fixture::new();
    f.write(".env.production", &format!("JWT_SECRET={JWT}\nOPENROUTER_API_KEY=\"{KEY}\"\nALLOWED_ORIGINS=*\n"));
    f.write("secrets/postgres_password.txt", &format!("{PW}\n"));
    // A leak in history, so verify-git has something to report.
    f.write("leak.txt", &format!("oops {KEY}\n"));
    f.git(&["add", "leak.txt"]);
    f.git(&["commit", "-qm", "leak"]);

    let manifest_path = f.path("k8s.yaml").display().to_string();
    let runs: &[&[&str]] = &[
        &["secrets", "gen"],
        &["secrets", "gen", "--format", "json"],
        &["secrets", "status"],
        &["secrets", "status", "--format", "json"],
        &["secrets", "rotate", "OPENROUTER_API_KEY"],
        &["secrets", "rotate", "DATABASE_URL"],
        &["secrets", "export", "--to", "swarm", "--dry-run"],
        &["secrets", "export", "--to", "k8s", "--dry-run", "--format", "json"],
        &["secrets", "export", "--to", "k8s", "--output", &manifest_path],
        &["verify-git"],
        &["verify-git", "--format", "json"],
        &["audit"],
        &["audit", "--format", "json"],
        &["secrets", "rotate", "JWT_SECRET", "--format", "json"],
        &["secrets", "rotate", "POSTGRES_PASSWORD"],
        &["audit"],
    ];
    for args in runs {
        let run = f.xtask(args);
        assert!(run.code() >= 0 && run.code() <= 2, "{args:?}: {}", run.all());
        assert_clean(&format!("{args:?}"), &run.all());
    }
    // verify-git did find it, masked.
    let vg = f.xtask(&["verify-git"]);
    vg.expect(1);
    assert!(vg.stdout().contains("leak.txt") && vg.stdout().contains("OPENROUTER_API_KEY"));
    // The manifest went to the 0600 file the user asked for.
    assert_eq!(secrets_support::mode(&f.path("k8s.yaml")), 0o600);
    let manifest = f.read("k8s.yaml");
    assert!(manifest.contains(&base64::engine::general_purpose::STANDARD.encode(KEY)));
    // The rotated env file kept the provider key and replaced the canary JWT secret.
    let env = f.read(".env.production");
    assert!(env.contains(KEY) && !env.contains(JWT));
}
