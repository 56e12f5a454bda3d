//! Git history: a secret committed and then deleted is still found, named by the commit
//! that added it; a repository that never held it is clean.

mod common;

use leakscan::Location;
use std::path::Path;
use std::process::Command;

const SECRET: &str = "git-Secret-Vn63Kq9Tz";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn secret_committed_then_deleted_is_found_in_history() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    std::fs::write(d.join("README.md"), "hello\n").unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "init"]);
    std::fs::write(d.join(".env.production"), format!("DB_PASSWORD={SECRET}\n")).unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "oops"]);
    let leaked = git(d, &["rev-parse", "HEAD"]);
    git(d, &["rm", "-q", ".env.production"]);
    git(d, &["commit", "-q", "-m", "remove env"]);
    // Another branch, so "every ref" matters.
    git(d, &["checkout", "-q", "-b", "side"]);
    std::fs::write(d.join("notes.txt"), "nothing\n").unwrap();
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "side"]);

    let s = common::scanner(&[("DB_PASSWORD", SECRET)]);
    let report = leakscan::scan_git(&s, d).unwrap();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    assert_eq!(report.findings[0].location, Location::Commit { commit: leaked, path: ".env.production".into() });

    let clean = common::scanner(&[("OTHER", "never-committed-Value-1")]);
    assert!(leakscan::scan_git(&clean, d).unwrap().findings.is_empty());
}

#[test]
fn not_a_repository_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::scanner(&[("X", SECRET)]);
    let err = leakscan::scan_git(&s, dir.path()).unwrap_err();
    assert!(err.to_string().contains("list objects"), "{err}");
}
