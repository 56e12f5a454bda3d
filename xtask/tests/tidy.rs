//! Tidy checks that hold the house style in CI: every Rust source opens with a `//!` line
//! saying what it is for, and no comment or doc names a file the project does not have, or
//! points at notes outside it by a label ("seed 001", "issue 2") a reader cannot follow.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

/// Every file of the project that git knows (tracked or not ignored), so generated output,
/// dependencies and the build directory are left out.
fn project_files() -> Vec<PathBuf> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| root().join(String::from_utf8_lossy(p).as_ref()))
        .filter(|p| p.is_file())
        .collect()
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

#[test]
fn every_rust_file_opens_with_a_doc_line() {
    let bad: Vec<String> = project_files()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter(|p| !std::fs::read_to_string(p).unwrap_or_default().starts_with("//!"))
        .map(|p| rel(&p))
        .collect();
    assert!(bad.is_empty(), "these files do not open with a `//!` line saying what they are for: {bad:#?}");
}

/// The comment text of a source line (`//`, `//!`, `///`, `#` in TOML/shell), if any.
fn comment(line: &str, ext: &str) -> Option<String> {
    let t = line.trim_start();
    match ext {
        "rs" | "ts" => t.find("//").map(|i| t[i..].to_string()),
        "toml" | "sh" | "yml" => t.strip_prefix('#').map(str::to_string),
        "md" => Some(line.to_string()),
        _ => None,
    }
}

/// Words in a comment that point into the project: a path whose first part is one of its
/// top-level directories (`xtask/src/...`, `docs/guides/...`), no placeholder or glob in it.
/// Paths on a server or in a container (`/app/...`) and files a user names are not ours.
fn named_files(text: &str, top: &[String]) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "./_-".contains(c)))
        .map(|w| w.trim_start_matches("./").trim_end_matches(['.', ',']))
        .filter(|w| w.split_once('/').is_some_and(|(first, rest)| !rest.is_empty() && top.iter().any(|t| t == first)))
        .map(str::to_string)
        .collect()
}

#[test]
fn comments_name_only_files_the_project_has() {
    let files = project_files();
    let mut top: Vec<String> =
        files.iter().filter_map(|p| rel(p).split_once('/').map(|(d, _)| d.to_string())).collect();
    top.sort();
    top.dedup();
    // Git-ignored on purpose, but real places the project writes to and names.
    top.extend(["target".to_string(), "secrets".to_string()]);
    // Build output, and files the docs warn about, are named without existing in a checkout.
    const MADE_OR_WARNED: &[&str] = &["target/", "secrets/", "web/dist", "web/node_modules", "web/.env"];
    let exists = |w: &str| root().join(w).exists() || MADE_OR_WARNED.iter().any(|m| w.starts_with(m));
    let mut bad = Vec::new();
    for path in &files {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        for (n, line) in text.lines().enumerate() {
            let Some(c) = comment(line, ext) else { continue };
            for w in named_files(&c, &top) {
                if !exists(&w) {
                    bad.push(format!("{}:{}: names {w}, which the project does not have", rel(path), n + 1));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn no_label_points_outside_the_project() {
    let labels = ["seed 0", "Seed 0", "issue 1", "issue 2", "issue 3", "issue 4", "issue 5", "issue 6", "issue 7"];
    let labels: Vec<String> = labels
        .iter()
        .map(|s| s.to_string())
        .chain(["PRODUCT.md".into(), "ENVIRONMENT.md".into(), "ARCHITECTURE.md".into(), "STYLE.md".into()])
        .collect();
    let mut bad = Vec::new();
    for path in project_files() {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !["rs", "md", "toml", "ts", "yml", "sh"].contains(&ext) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        for (n, line) in text.lines().enumerate() {
            if let Some(l) = labels.iter().find(|l| line.contains(l.as_str())) {
                bad.push(format!("{}:{}: {l:?}", rel(&path), n + 1));
            }
        }
    }
    // This file names the labels it looks for.
    bad.retain(|b| !b.starts_with("xtask/tests/tidy.rs"));
    assert!(bad.is_empty(), "labels a reader of the project cannot follow: {bad:#?}");
}
