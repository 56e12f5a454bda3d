//! `cargo xtask lint dockerfile` against BuildKit's and hadolint's own test cases
//! (`../shared/reference/dockerfile-lint/cases.json`): every name the peers' tests flag is
//! flagged and every name they leave alone is left alone; plus bad input (binary, huge, an
//! unterminated continuation) gets a clear error or findings, never a hang.

use std::path::{Path, PathBuf};
use std::process::Command;

fn cases() -> Vec<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/dockerfile-lint/cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e} (the reference cases sit in ../shared beside the project)", path.display())
    });
    serde_json::from_str(&text).expect("cases.json parses")
}

/// A project dir with no schema, so only BuildKit's rule speaks.
fn lint(dockerfile: &str) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("Dockerfile");
    std::fs::write(&path, dockerfile).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("--project-dir")
        .arg(dir.path())
        .args(["lint", "dockerfile", "--format", "json"])
        .arg(&path)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), json, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_lint_agrees_with_buildkit_and_hadolint_on_every_tested_name() {
    let mut checked = 0;
    for case in cases() {
        let kind = case["kind"].as_str().unwrap_or("");
        if !["test", "test-implicit", "docs"].contains(&kind) {
            continue;
        }
        let (code, json, err) = lint(case["dockerfile"].as_str().unwrap());
        assert!(code == 0 || code == 1, "{}: exit {code}: {err}", case["id"]);
        let flagged: Vec<&str> = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "secret-arg-env")
            .filter_map(|f| f["variable"].as_str())
            .collect();
        for name in case["flag"].as_array().unwrap().iter().filter_map(|n| n.as_str()) {
            assert!(flagged.contains(&name), "{}: {name} not flagged ({flagged:?})", case["id"]);
            checked += 1;
        }
        for name in case["no_flag"].as_array().unwrap().iter().filter_map(|n| n.as_str()) {
            assert!(!flagged.contains(&name), "{}: {name} flagged", case["id"]);
            checked += 1;
        }
    }
    assert!(checked >= 23, "only {checked} names checked");
}

#[test]
fn onbuild_declarations_are_read() {
    let (_, json, _) = lint("FROM debian:bullseye\nONBUILD ARG GITHUB_TOKEN\nONBUILD ENV DB_PASSWORD=changeme\n");
    let names: Vec<&str> = json["findings"].as_array().unwrap().iter().filter_map(|f| f["variable"].as_str()).collect();
    assert_eq!(names, ["GITHUB_TOKEN", "DB_PASSWORD"]);
}

#[test]
fn bad_input_gets_a_clear_error_or_findings() {
    let dir = tempfile::tempdir().unwrap();
    let run = |bytes: &[u8]| {
        let path = dir.path().join("Dockerfile");
        std::fs::write(&path, bytes).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("--project-dir")
            .arg(dir.path())
            .args(["lint", "dockerfile"])
            .arg(&path)
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, err) = run(&[0xff, 0xfe, 0x00, 0x42, 0x13]);
    assert_eq!(code, 2);
    assert!(err.contains("not UTF-8 text"), "{err}");
    let (code, err) = run(&vec![b'#'; 10 * 1024 * 1024]);
    assert_eq!(code, 2);
    assert!(err.contains("over 4 MiB"), "{err}");
    let (code, _) = run(b"FROM x\nARG API_TOKEN \\");
    assert_eq!(code, 0, "a warning only, read to the end of the file");
}
