//! CLI tests of `secrets gen`, `rotate` and `status` on fixture projects.

mod secrets_support;

use secrets_support::{Fixture, entries, mode, value};
use xtask::effects::clock::FixedClock;
use xtask::effects::files::{Fault, Writer};

#[test]
fn gen_creates_a_complete_file_with_private_modes_then_a_second_run_changes_nothing() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    assert_eq!(mode(&f.path(".env.production")), 0o600);
    assert_eq!(mode(&f.path("secrets")), 0o700);
    assert_eq!(mode(&f.path("secrets/postgres_password.txt")), 0o600);
    assert_eq!(mode(&f.path("secrets/npm_token.txt")), 0o600);
    let env = f.read(".env.production");
    let keys: Vec<String> = entries(&env).into_iter().map(|(k, _)| k).collect();
    for k in [
        "JWT_SECRET",
        "VITE_SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "DATABASE_URL",
        "NODE_ENV",
        "OPENROUTER_API_KEY",
    ] {
        assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
    }
    // File-delivered and build secrets never go into the env file.
    assert!(!keys.contains(&"POSTGRES_PASSWORD".to_string()));
    assert!(!keys.contains(&"NPM_TOKEN".to_string()));
    assert!(!env.contains('$'), "no value Compose would interpolate");
    let pw = f.read("secrets/postgres_password.txt");
    assert_eq!(value(&env, "DATABASE_URL"), format!("postgres://app:{pw}@db:5432/app"));
    assert!(value(&env, "OPENROUTER_API_KEY").starts_with("sk-or-throwaway-"));
    assert!(!f.path("deploy/secrets-meta.toml").exists(), "throwaway runs record no dates");

    let before = f.snapshot();
    let second = f.xtask(&["secrets", "gen", "--throwaway", "--format", "json"]);
    second.expect(0);
    assert_eq!(second.json()["changed"], false);
    assert!(f.snapshot() == before, "second gen run must leave every file byte-identical");
}

#[test]
fn gen_completes_a_partial_file_without_changing_existing_values() {
    let f = Fixture::new();
    let jwt = "existing-jwt-secret-kept-as-it-is-0123456789abcdef";
    f.write(".env.production", &format!("# mine\nJWT_SECRET={jwt}\nNODE_ENV=production"));
    f.xtask(&["secrets", "gen"]).expect(1);
    let env = f.read(".env.production");
    assert!(env.starts_with(&format!("# mine\nJWT_SECRET={jwt}\nNODE_ENV=production\n")), "{env}");
    // The new Supabase keys are signed with the secret that was already there.
    let anon = value(&env, "VITE_SUPABASE_ANON_KEY");
    assert_eq!(anon.split('.').count(), 3);
    let meta = f.read("deploy/secrets-meta.toml");
    assert!(!meta.contains("[production.JWT_SECRET]"), "kept values get no invented date:\n{meta}");
    assert!(meta.contains("[production.POSTGRES_PASSWORD]"), "{meta}");
}

#[test]
fn gen_without_throwaway_reports_provider_keys_and_exits_1() {
    let f = Fixture::new();
    let run = f.xtask(&["secrets", "gen"]);
    run.expect(1);
    assert!(f.read("deploy/secrets-meta.toml").contains("[production.JWT_SECRET]"), "real runs record dates");
    assert!(run.stdout().contains("OPENROUTER_API_KEY"));
    assert!(run.stdout().contains("https://openrouter.ai/keys"), "{}", run.stdout());
    assert!(!f.read(".env.production").contains("OPENROUTER_API_KEY"));
}

#[test]
fn gen_for_dev_writes_its_own_file_with_dev_values() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--env", "dev"]).expect(0);
    let env = f.read(".env.dev");
    assert_eq!(value(&env, "NODE_ENV"), "development");
    assert_eq!(value(&env, "ALLOWED_ORIGINS"), "http://localhost:5173");
    f.xtask(&["secrets", "gen", "--env", "staging"]).expect(2);
}

#[test]
fn rotate_jwt_secret_resigns_both_supabase_keys_and_nothing_else() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    let before = f.read(".env.production");
    let files_before = (f.read("secrets/postgres_password.txt"), f.read("secrets/npm_token.txt"));
    let run = f.xtask(&["secrets", "rotate", "JWT_SECRET", "--format", "json"]);
    run.expect(0);
    let after = f.read(".env.production");
    let changed: Vec<String> =
        entries(&before).into_iter().zip(entries(&after)).filter(|(a, b)| a != b).map(|(a, _)| a.0).collect();
    assert_eq!(changed, ["VITE_SUPABASE_ANON_KEY", "JWT_SECRET", "SUPABASE_SERVICE_ROLE_KEY"]);
    assert_eq!(before.lines().count(), after.lines().count());
    for (b, a) in before.lines().zip(after.lines()) {
        if !["VITE_SUPABASE_ANON_KEY=", "JWT_SECRET=", "SUPABASE_SERVICE_ROLE_KEY="].iter().any(|k| b.starts_with(k)) {
            assert_eq!(a, b, "unrelated line changed");
        }
    }
    assert_eq!((f.read("secrets/postgres_password.txt"), f.read("secrets/npm_token.txt")), files_before);
    assert!(f.read("deploy/secrets-meta.toml").contains("rotated"));
    let names: Vec<String> =
        run.json()["rotated"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, ["JWT_SECRET", "VITE_SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY"]);
}

#[test]
fn rotate_postgres_password_remakes_database_url_only() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    let before = f.read(".env.production");
    let pw_before = f.read("secrets/postgres_password.txt");
    f.xtask(&["secrets", "rotate", "POSTGRES_PASSWORD"]).expect(0);
    let after = f.read(".env.production");
    let pw = f.read("secrets/postgres_password.txt");
    assert_ne!(pw, pw_before);
    assert_eq!(value(&after, "DATABASE_URL"), format!("postgres://app:{pw}@db:5432/app"));
    let strip = |t: &str| t.lines().filter(|l| !l.starts_with("DATABASE_URL=")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&before), strip(&after));
}

#[test]
fn rotate_refuses_what_it_cannot_make() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    let before = f.snapshot();
    let provider = f.xtask(&["secrets", "rotate", "OPENROUTER_API_KEY"]);
    provider.expect(2);
    assert!(provider.stderr().contains("openrouter.ai"), "{}", provider.stderr());
    let derived = f.xtask(&["secrets", "rotate", "DATABASE_URL"]);
    derived.expect(2);
    assert!(derived.stderr().contains("POSTGRES_PASSWORD"), "{}", derived.stderr());
    f.xtask(&["secrets", "rotate", "NODE_ENV"]).expect(2);
    f.xtask(&["secrets", "rotate", "NOPE"]).expect(2);
    assert!(f.snapshot() == before);
}

#[test]
fn an_interrupted_rotation_leaves_the_old_files_intact() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    let before = f.snapshot();
    let project =
        xtask::project::Project::with_clock(f.root().to_path_buf(), std::sync::Arc::new(FixedClock(1_800_000_000)));
    for name in ["JWT_SECRET", "POSTGRES_PASSWORD", "JWT_KEYS"] {
        let args = xtask::commands::secrets::RotateArgs {
            name: name.into(),
            env: xtask::project::EnvArgs::default(),
            recorded: false,
            finish: false,
            format: Default::default(),
        };
        let err = args.run(&project, &Writer::with_fault(Fault::BeforeRename)).unwrap_err();
        assert!(format!("{err:#}").contains("injected fault"), "{err:#}");
        assert!(f.snapshot() == before, "{name}: a failed rotation changed or left files");
    }
}

#[test]
fn status_shows_ages_and_exits_1_when_a_secret_is_overdue() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen"]).expect(1);
    let fresh = f.xtask(&["secrets", "status", "--format", "json"]);
    fresh.expect(0);
    let jwt = fresh.json()["secrets"].as_array().unwrap().iter().find(|s| s["name"] == "JWT_SECRET").cloned().unwrap();
    assert_eq!(jwt["age_days"], 0);
    assert_eq!(jwt["rotation_days"], 90);
    assert!(jwt["invalidates"].as_str().unwrap().contains("sessions"));
    f.write("deploy/secrets-meta.toml", "[production.JWT_SECRET]\ngenerated = \"2001-01-01\"\n");
    let late = f.xtask(&["secrets", "status"]);
    late.expect(1);
    assert!(late.stdout().contains("OVERDUE"), "{}", late.stdout());
    assert!(late.stdout().contains("secrets rotate"));
}

#[test]
fn placeholder_examples_need_set_and_set_refuses_secrets() {
    let f = Fixture::new();
    let run = f.xtask(&["secrets", "gen", "--format", "json"]);
    run.expect(1);
    let items = run.json()["items"].as_array().unwrap().clone();
    let origins = items.iter().find(|i| i["name"] == "ALLOWED_ORIGINS").unwrap();
    assert_eq!(origins["action"], "needs-value", "never the schema's example.com placeholder: {origins}");
    assert!(origins["provided_by"].as_str().unwrap().contains("--set ALLOWED_ORIGINS="));
    assert_eq!(items.iter().find(|i| i["name"] == "LOG_LEVEL").unwrap()["action"], "config");

    let g = Fixture::new();
    g.xtask(&["secrets", "gen", "--throwaway", "--set", "ALLOWED_ORIGINS=https://app.acme.io"]).expect(0);
    assert_eq!(value(&g.read(".env.production"), "ALLOWED_ORIGINS"), "https://app.acme.io");
    let refused = g.xtask(&["secrets", "gen", "--set", "JWT_SECRET=hunter2hunter2hunter2"]);
    refused.expect(2);
    assert!(refused.stderr().contains("command line") && !refused.all().contains("hunter2"), "{}", refused.all());
}

#[test]
fn a_provider_key_rotated_by_hand_is_recorded_without_touching_values() {
    let f = Fixture::new();
    f.xtask(&["secrets", "gen", "--throwaway"]).expect(0);
    f.write("deploy/secrets-meta.toml", "[production.OPENROUTER_API_KEY]\ngenerated = \"2001-01-01\"\n");
    f.xtask(&["secrets", "status"]).expect(1);
    let env = f.read(".env.production");
    f.xtask(&["secrets", "rotate", "OPENROUTER_API_KEY", "--recorded"]).expect(0);
    assert_eq!(f.read(".env.production"), env);
    assert!(f.read("deploy/secrets-meta.toml").contains("rotated = "));
    f.xtask(&["secrets", "status"]).expect(0);
    f.xtask(&["secrets", "rotate", "ANTHROPIC_API_KEY", "--recorded"]).expect(2);
}
