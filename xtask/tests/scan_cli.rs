//! `cargo xtask scan` end to end against fixture projects in a temp dir: known values from the
//! env file and secrets/*.txt, public values never findings, exit codes, JSON and SARIF, and
//! the canary never printed.

use std::path::Path;
use std::process::{Command, Output};

const CANARY: &str = "canary-Postgres-Zq81kLm2Xv";
const FILE_CANARY: &str = "canary-file-Secret-Hn52";
const PUBLIC_URL: &str = "https://public-project.supabase.co";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("deploy")).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/env.schema.toml");
    std::fs::copy(schema, root.join("deploy/env.schema.toml")).unwrap();
    std::fs::write(
        root.join(".env.production"),
        format!("POSTGRES_PASSWORD={CANARY}\nVITE_SUPABASE_URL={PUBLIC_URL}\nNODE_ENV=production\n"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("secrets")).unwrap();
    std::fs::write(root.join("secrets/jwt_secret.txt"), format!("{FILE_CANARY}\n")).unwrap();
    dir
}

fn scan(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--project-dir")
        .arg(root)
        .arg("scan")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn assert_no_canary(out: &Output) {
    for text in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(text);
        assert!(!text.contains(CANARY) && !text.contains(FILE_CANARY), "a secret was printed:\n{text}");
    }
}

#[test]
fn leaked_values_fail_with_json_findings_and_public_values_pass() {
    let p = project();
    let dist = p.path().join("dist");
    std::fs::create_dir_all(dist.join("assets")).unwrap();
    // base64 of the env file's secret, the raw secrets/ file value, and a public value.
    let b64 = base64_std(format!("user:{CANARY}").as_bytes());
    std::fs::write(dist.join("assets/app.js"), format!("const a=\"{b64}\";const u=\"{PUBLIC_URL}\";")).unwrap();
    std::fs::write(dist.join("index.html"), format!("<!-- {FILE_CANARY} -->")).unwrap();
    let out = scan(p.path(), &["--format", "json", dist.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_no_canary(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    let vars: Vec<(&str, &str, &str)> = findings
        .iter()
        .map(|f| (f["variable"].as_str().unwrap(), f["location"].as_str().unwrap(), f["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(vars, vec![("POSTGRES_PASSWORD", "assets/app.js", "known"), ("JWT_SECRET", "index.html", "known")]);
    assert_eq!(findings[0]["severity"], "error");
    assert!(findings[0]["offset"].is_u64());
}

#[test]
fn clean_directory_exits_zero_and_sarif_is_2_1_0() {
    let p = project();
    let dist = p.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join("index.html"), format!("<a href=\"{PUBLIC_URL}\">x</a>")).unwrap();
    let out = scan(p.path(), &["--format", "sarif", dist.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 0);
    assert!(v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap().len() > 10);
}

#[test]
fn tarball_and_git_targets_and_human_output() {
    let p = project();
    let repo = p.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .unwrap();
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    };
    git(&["init", "-q"]);
    std::fs::write(repo.join("config.json"), format!("{{\"pw\":\"{CANARY}\"}}")).unwrap();
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "add"]);
    git(&["rm", "-q", "config.json"]);
    git(&["commit", "-q", "-m", "rm"]);
    let out = scan(p.path(), &[&format!("git:{}", repo.display())]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_canary(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("error[known-value] commit ") && text.contains("config.json value of POSTGRES_PASSWORD (raw)"),
        "{text}"
    );

    // A tarball holding a gzip-compressed copy of the secret file.
    let tar_path = p.path().join("bundle.tar");
    let status =
        Command::new("tar").arg("-C").arg(p.path()).arg("-czf").arg(&tar_path).arg("secrets").status().unwrap();
    assert!(status.success());
    let out = scan(p.path(), &[tar_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_canary(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("error[known-value] secrets/jwt_secret.txt value of JWT_SECRET (raw)"), "{text}");
}

#[test]
fn usage_errors_exit_two() {
    let p = project();
    let out = scan(p.path(), &["/no/such/target"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file or directory"));
    let out = scan(p.path(), &["--env-file", "/no/such/env", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert_no_canary(&out);
}

fn base64_std(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..=c.len() {
            s.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    s
}
