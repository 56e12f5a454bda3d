//! CLI tests of `cargo xtask verify-env`: one fixture project per check, good and
//! bad, in a temp dir with a real `git init`; snapshots of the JSON (and one human) output
//! with the exit code. No secret value of a fixture may appear in any output.

use envfile::sample;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A git repository with the committed schema, a .gitignore that ignores the env file,
    /// and `env` as `.env.production` (mode 0600).
    fn new(env: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("deploy")).unwrap();
        let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/env.schema.toml");
        std::fs::copy(schema, root.join("deploy/env.schema.toml")).unwrap();
        std::fs::write(root.join(".gitignore"), ".env.production\n").unwrap();
        let p = Project { dir };
        p.git(&["init", "-q"]);
        p.git(&["add", ".gitignore", "deploy"]);
        p.commit("skeleton");
        p.write_env(env);
        p
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn env_path(&self) -> PathBuf {
        self.root().join(".env.production")
    }

    fn write_env(&self, env: &str) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(self.env_path(), env).unwrap();
        std::fs::set_permissions(self.env_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn git(&self, args: &[&str]) {
        let out = Command::new("git").args(args).current_dir(self.root()).output().expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn commit(&self, msg: &str) {
        self.git(&["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", msg]);
    }

    /// Run verify-env; returns "exit: N" + stdout, after checking no secret leaked.
    fn verify(&self, extra: &[&str], secrets: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("--project-dir")
            .arg(self.root())
            .arg("verify-env")
            .args(extra)
            .env("NO_COLOR", "1")
            .output()
            .expect("xtask runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let all = fixture_secrets();
        for s in secrets.iter().copied().chain(all.iter().map(String::as_str)) {
            assert!(!stdout.contains(s) && !stderr.contains(s), "a secret value leaked:\n{stdout}\n{stderr}");
        }
        let root = self.root().display().to_string();
        format!("exit: {}\n{}{}", out.status.code().unwrap_or(-1), stdout, stderr).replace(&root, "[ROOT]")
    }

    fn json(&self, secrets: &[&str]) -> String {
        self.verify(&["--format", "json"], secrets)
    }
}

/// Every secret value the fixtures contain: the canaries that must never be printed.
fn fixture_secrets() -> Vec<String> {
    vec![
        sample::JWT_SECRET.into(),
        sample::POSTGRES_PASSWORD.into(),
        sample::OPENROUTER_API_KEY.into(),
        key("anon"),
        key("service_role"),
    ]
}

fn key(role: &str) -> String {
    sample::supabase_key(role, sample::JWT_SECRET, sample::FAR_FUTURE)
}

fn good() -> String {
    sample::production_env()
}

/// The good file with one substring replaced.
fn with(from: &str, to: &str) -> String {
    let g = good();
    assert!(g.contains(from), "fixture text {from:?} not in the sample");
    g.replacen(from, to, 1)
}

fn check(name: &str, env: &str, secrets: &[&str]) {
    let out = Project::new(env).json(secrets);
    insta::assert_snapshot!(name, out);
}

#[test]
fn good_file_passes_with_exit_0() {
    let out = Project::new(&good()).verify(&[], &[]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
    insta::assert_snapshot!("good_human", out);
    check("good_json", &good(), &[]);
}

#[test]
fn crlf_and_bom_read_like_the_plain_file() {
    let crlf = format!("\u{feff}{}", good().replace('\n', "\r\n"));
    let out = Project::new(&crlf).json(&[]);
    assert!(out.starts_with("exit: 0\n"), "{out}");
}

#[test]
fn missing_unknown_empty_and_format() {
    check("missing_required", &with("NODE_ENV=production\n", ""), &[]);
    check("unknown_variable", &with("LOG_LEVEL=info", "LOG_LEVL=info"), &[]);
    check("empty_value", &with("RATE_LIMIT_MAX=100", "RATE_LIMIT_MAX="), &[]);
    check("invalid_format", &with("RATE_LIMIT_WINDOW_MS=60000", "RATE_LIMIT_WINDOW_MS=1m"), &[]);
}

#[test]
fn placeholders_and_weak_secrets() {
    check("placeholder", &with(sample::OPENROUTER_API_KEY, "YOUR_OPENROUTER_KEY_HERE"), &[]);
    // Supabase's published demo secret, and keys signed with it.
    let demo = "your-super-secret-jwt-token-with-at-least-32-characters-long";
    let demo_env = good()
        .replace(&key("anon"), &sample::supabase_key("anon", demo, sample::FAR_FUTURE))
        .replace(&key("service_role"), &sample::supabase_key("service_role", demo, sample::FAR_FUTURE))
        .replace(sample::JWT_SECRET, demo);
    check("placeholder_supabase_demo", &demo_env, &[]);
    let weak = "Tr0ub4dor&3x";
    check("weak_secret", &with(sample::POSTGRES_PASSWORD, weak).replace(sample::POSTGRES_PASSWORD, weak), &[weak]);
    check(
        "weak_secret_denylist",
        &with(sample::POSTGRES_PASSWORD, "postgres").replace(sample::POSTGRES_PASSWORD, "postgres"),
        &[],
    );
}

#[test]
fn supabase_keys() {
    let other = sample::supabase_key("anon", "some-other-secret-some-other-secret-1234", sample::FAR_FUTURE);
    check("supabase_key_signature", &with(&key("anon"), &other), &[&other]);
    let swapped = with(
        &format!("VITE_SUPABASE_ANON_KEY={}", key("anon")),
        &format!("VITE_SUPABASE_ANON_KEY={}", key("service_role")),
    );
    check("supabase_key_role_and_public_secret", &swapped, &[]);
    let expired = sample::supabase_key("service_role", sample::JWT_SECRET, 1_000_000);
    check("supabase_key_expired", &with(&key("service_role"), &expired), &[&expired]);
}

#[test]
fn leaks_between_variables() {
    let public = format!("{}VITE_ANALYTICS_TOKEN=sb_secret_Zk29fLw81NqPd03XyTmA\n", good());
    check("secret_in_public", &public, &["sb_secret_Zk29fLw81NqPd03XyTmA"]);
    let reused = with(sample::OPENROUTER_API_KEY, &format!("sk-or-{}", sample::JWT_SECRET));
    check("secret_reuse", &reused, &[]);
    check(
        "build_secret_in_env_file",
        &format!("{}NPM_TOKEN=4b649d46c3946ac6d3a627e16278a29d\n", good()),
        &["4b649d46c3946ac6d3a627e16278a29d"],
    );
    check("cors_wildcard", &with("ALLOWED_ORIGINS=https://app.acme.io,https://www.acme.io", "ALLOWED_ORIGINS=*"), &[]);
}

#[test]
fn how_lines_are_written() {
    check("duplicate_key", &format!("{}LOG_LEVEL=debug\n", good()), &[]);
    // Compose reads `$word` as a (missing) variable; the `${POSTGRES_PASSWORD}` reference in
    // DATABASE_URL is deliberate and not reported.
    let dollar = "pa$word-Vq81LmXz0Rt6YbNc2KsJ4eHwQ7sd0PzUe5";
    let env = with(sample::POSTGRES_PASSWORD, dollar)
        .replace(&format!("app:{}", sample::POSTGRES_PASSWORD), "app:${POSTGRES_PASSWORD}");
    check("unquoted_dollar", &env, &[dollar, "pa-Vq81LmXz0Rt6YbNc2KsJ4eHwQ7sd0PzUe5"]);
    check("reader_divergence", &with("LOG_LEVEL=info", "LOG_LEVEL: info"), &[]);
}

#[test]
fn file_mode_and_git() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new(&good());
    std::fs::set_permissions(p.env_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    insta::assert_snapshot!("file_mode", p.json(&[]));

    let p = Project::new(&good());
    std::fs::write(p.root().join(".gitignore"), "").unwrap();
    insta::assert_snapshot!("git_not_ignored", p.json(&[]));

    let p = Project::new(&good());
    p.git(&["add", "-f", ".env.production"]);
    p.commit("oops");
    insta::assert_snapshot!("git_tracked_and_in_history", p.json(&[]));

    let p = Project::new(&good());
    p.git(&["add", "-f", ".env.production"]);
    p.commit("oops");
    p.git(&["rm", "-q", "--cached", ".env.production"]);
    p.commit("remove it again");
    insta::assert_snapshot!("git_in_history_only", p.json(&[]));
}

#[test]
fn files_compose_would_reject() {
    check("parse_error_unterminated", &format!("{}BROKEN=\"no end\n", good()), &[]);
    let p = Project::new("");
    std::fs::write(p.env_path(), b"A=1\n\x7fELF\x00\x01\x02binary").unwrap();
    std::fs::set_permissions(p.env_path(), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = p.json(&[]);
    assert!(out.starts_with("exit: 1\n") && out.contains("\"line\": 2") && out.contains("NUL"), "{out}");
    std::fs::write(p.env_path(), b"A=1\nB=\xc3\x28\n").unwrap();
    let out = p.json(&[]);
    assert!(out.starts_with("exit: 1\n") && out.contains("\"line\": 2") && out.contains("UTF-8"), "{out}");
    let big = "A=".to_string() + &"x".repeat(100 * 1024 * 1024);
    std::fs::write(p.env_path(), big).unwrap();
    let out = p.json(&[]);
    assert!(out.starts_with("exit: 1\n") && out.contains("MiB"), "{out}");
}

#[test]
fn human_output_groups_findings_with_fixes() {
    let env =
        with("ALLOWED_ORIGINS=https://app.acme.io,https://www.acme.io", "ALLOWED_ORIGINS=*") + "LOG_LEVEL=debug\n";
    let out = Project::new(&env).verify(&[], &[]);
    insta::assert_snapshot!("bad_human", out);
}

#[test]
fn usage_and_io_errors_exit_2() {
    let p = Project::new(&good());
    let out = p.verify(&["--env", "staging"], &[]);
    assert!(out.starts_with("exit: 2\n") && out.contains("unknown environment"), "{out}");
    let out = p.verify(&["--env-file", "does-not-exist.env"], &[]);
    assert!(out.starts_with("exit: 2\n") && out.contains("read env file"), "{out}");
}

#[test]
fn dev_environment_uses_its_own_file_and_requirements() {
    let p = Project::new(&good());
    std::fs::write(p.root().join(".env.dev"), "NODE_ENV=development\n").unwrap();
    let out = p.verify(&["--env", "dev", "--format", "json"], &[]);
    assert!(out.starts_with("exit: 1\n") && out.contains("is required in dev"), "{out}");
    assert!(!out.contains("OPENROUTER_API_KEY is required"), "production-only requirement leaked into dev: {out}");
}
