//! CLI tests of `verify-git` on fixture repositories.

mod secrets_support;

use secrets_support::Fixture;

fn generated() -> Fixture {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    f.git(&["add", "-A"]);
    f.git(&["commit", "-qm", "project"]);
    f
}

#[test]
fn a_clean_repository_passes() {
    let f = generated();
    let run = f.xtask(&["verify-git", "--format", "json"]);
    run.expect(0);
    assert_eq!(run.json()["findings"].as_array().unwrap().len(), 0);
    assert!(run.json()["known_values"].as_u64().unwrap() >= 5);
}

#[test]
fn a_secret_committed_then_deleted_is_found_with_its_commit_and_masked() {
    let f = generated();
    let jwt = secrets_support::value(&f.read(".env.production"), "JWT_SECRET");
    f.write("notes.txt", &format!("temporary: {jwt}\n"));
    f.git(&["add", "notes.txt"]);
    f.git(&["commit", "-qm", "oops"]);
    let leak_commit = f.git(&["rev-parse", "HEAD"]).trim().to_string();
    f.git(&["rm", "-q", "notes.txt"]);
    f.git(&["commit", "-qm", "remove"]);

    let run = f.xtask(&["verify-git"]);
    run.expect(1);
    let out = run.all();
    assert!(out.contains("notes.txt") && out.contains("JWT_SECRET"), "{out}");
    assert!(out.contains(&leak_commit), "the commit that added it: {out}");
    assert!(out.contains("rotate") && out.contains("filter-repo") && out.contains("force"), "{out}");
    assert!(!out.contains(&jwt), "the value itself is never printed");
    let json = f.xtask(&["verify-git", "--format", "json"]).json();
    assert_eq!(json["findings"][0]["problem"], "in-history");
    assert_eq!(json["findings"][0]["commit"], leak_commit);
}

#[test]
fn a_tracked_env_file_and_a_missing_ignore_rule_are_reported() {
    let f = generated();
    f.git(&["add", "-f", ".env.production"]);
    f.git(&["commit", "-qm", "tracked"]);
    let json = f.xtask(&["verify-git", "--format", "json"]).json();
    let problems: Vec<String> =
        json["findings"].as_array().unwrap().iter().map(|f| format!("{} {}", f["problem"], f["path"])).collect();
    assert!(problems.iter().any(|p| p == "\"tracked\" \".env.production\""), "{problems:?}");

    let g = Fixture::new();
    g.write(".gitignore", "/target/\n");
    let run = g.xtask(&["verify-git", "--format", "json"]);
    run.expect(1);
    let paths: Vec<String> =
        run.json()["findings"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap().to_string()).collect();
    assert!(
        paths.contains(&".env.production".to_string()) && paths.contains(&"secrets/postgres_password.txt".to_string()),
        "{paths:?}"
    );
}

#[test]
fn a_base64_encoded_secret_in_history_is_found_too() {
    use base64::Engine;
    let f = generated();
    let jwt = secrets_support::value(&f.read(".env.production"), "SUPABASE_SERVICE_ROLE_KEY");
    f.write("k8s/secret.yaml", &format!("data:\n  key: {}\n", base64::engine::general_purpose::STANDARD.encode(&jwt)));
    f.git(&["add", "k8s/secret.yaml"]);
    f.git(&["commit", "-qm", "manifest"]);
    let run = f.xtask(&["verify-git", "--format", "json"]);
    run.expect(1);
    let finding = &run.json()["findings"][0];
    assert_eq!(finding["path"], "k8s/secret.yaml");
    assert_eq!(finding["variable"], "SUPABASE_SERVICE_ROLE_KEY");
    assert!(finding["masked"].as_str().unwrap().contains("base64"), "{finding}");
}
