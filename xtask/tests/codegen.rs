//! `cargo xtask codegen --check` on this repository: the committed generated files match the
//! schema (so plain `cargo test` catches drift), and a stale file fails with the fix command.

use std::path::Path;
use std::process::Command;

fn xtask(args: &[&str], project: Option<&Path>) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    if let Some(p) = project {
        cmd.arg("--project-dir").arg(p);
    }
    let out = cmd.args(args).env_remove("XTASK_PROJECT_DIR").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn committed_generated_files_are_current() {
    let (code, stdout, stderr) = xtask(&["codegen", "--check"], None);
    assert_eq!(code, 0, "generated files are stale; run `cargo xtask codegen`\n{stdout}{stderr}");
}

#[test]
fn a_stale_file_fails_the_check_naming_the_fix_and_codegen_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    // The generators read deploy/ (schema, compose template): copy its files.
    std::fs::create_dir_all(dir.path().join("deploy")).unwrap();
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
    for entry in std::fs::read_dir(&deploy).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), dir.path().join("deploy").join(entry.file_name())).unwrap();
        }
    }
    let (code, _, stderr) = xtask(&["codegen", "--check"], Some(dir.path()));
    assert_eq!(code, 1);
    assert!(stderr.contains(".env.production.example") && stderr.contains("cargo xtask codegen"), "{stderr}");
    let (code, stdout, _) = xtask(&["codegen"], Some(dir.path()));
    assert_eq!(code, 0);
    assert!(stdout.contains("updated docs/guides/environment-variables.md"), "{stdout}");
    let (code, _, stderr) = xtask(&["codegen", "--check"], Some(dir.path()));
    assert_eq!(code, 0, "{stderr}");
    // The example holds placeholders only: verify-env must reject it as it stands.
    std::fs::copy(dir.path().join(".env.production.example"), dir.path().join(".env.production")).unwrap();
    let (code, stdout, _) = xtask(&["verify-env", "--format", "json"], Some(dir.path()));
    assert_eq!(code, 1);
    assert!(stdout.contains("\"placeholder\""), "{stdout}");
}
