//! CLI tests of `cargo xtask env show`: values as Compose reads them, secrets
//! masked unless --reveal, `${VAR}` from the process environment, a rejected file -> exit 1.

use envfile::sample;
use std::path::Path;
use std::process::Command;

fn project(env: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/env.schema.toml"),
        dir.path().join("deploy/env.schema.toml"),
    )
    .unwrap();
    std::fs::write(dir.path().join(".env.production"), env).unwrap();
    dir
}

fn show(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--project-dir")
        .arg(dir)
        .args(["env", "show"])
        .args(args)
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const CANARY: &str = "canary-Wq8dZ1xL0pV7sK3nB5mT";

fn env_text() -> String {
    format!(
        "NODE_ENV=production\nLOG_LEVEL=\"${{SHELL_LEVEL:-info}}\"\nJWT_SECRET={}\nMYSTERY='{CANARY}'\nSHORT=abc\nLOG_LEVEL=warn # last wins\n",
        sample::JWT_SECRET
    )
}

#[test]
fn secrets_and_unknown_variables_are_masked() {
    let dir = project(env_text().as_bytes());
    let (code, stdout, stderr) = show(dir.path(), &["--format", "json"], &[]);
    assert_eq!(code, 0, "{stderr}");
    for secret in [CANARY, sample::JWT_SECRET] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{stdout}");
    }
    insta::assert_snapshot!("masked_json", stdout);
    let (code, human, _) = show(dir.path(), &[], &[]);
    assert_eq!(code, 0);
    assert!(!human.contains(CANARY) && !human.contains(sample::JWT_SECRET), "{human}");
    insta::assert_snapshot!("masked_human", human);
}

#[test]
fn reveal_prints_values_and_lookups_use_the_process_environment() {
    let text = "LOG_LEVEL=${SHELL_LEVEL:-info}\nMYSTERY='x y'\n";
    let dir = project(text.as_bytes());
    let (code, stdout, _) = show(dir.path(), &["--format", "json", "--reveal"], &[("SHELL_LEVEL", "debug")]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["variables"]["LOG_LEVEL"], "debug");
    assert_eq!(v["variables"]["MYSTERY"], "x y");
}

#[test]
fn a_file_compose_rejects_exits_1_with_line_and_reason() {
    let dir = project(format!("A=1\nB='{CANARY}\n").as_bytes());
    let (code, stdout, stderr) = show(dir.path(), &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains(".env.production:2:") && stderr.contains("unterminated single quote"), "{stderr}");
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
    let dir = project(b"A=1\n\xff\xfe\n");
    let (code, _, stderr) = show(dir.path(), &[], &[]);
    assert_eq!(code, 1);
    assert!(stderr.contains(":2:") && stderr.contains("UTF-8"), "{stderr}");
}

#[test]
fn a_missing_file_is_exit_2() {
    let dir = project(b"");
    let (code, _, stderr) = show(dir.path(), &["--env-file", "nope.env"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("read env file"), "{stderr}");
}
