//! The git effect: facts about one file (ignored? tracked? ever committed?) for
//! `envfile::verify`, the tracked files and ignore rules for verify-git, found with the git CLI
//! through xshell and handed on as plain data.

use envfile::GitFacts;
use std::path::{Path, PathBuf};
use xshell::{Shell, cmd};

/// Git state of `file`, or `None` when git is missing, `root` is not inside a work tree, or
/// the file lies outside it.
pub fn facts(root: &Path, file: &Path) -> anyhow::Result<Option<GitFacts>> {
    let sh = Shell::new()?;
    let _dir = sh.push_dir(root);
    let Some(top) = toplevel(&sh) else { return Ok(None) };
    let Some(rel) = relative_to(&top, file) else { return Ok(None) };
    let _top = sh.push_dir(&top);
    let ok = |c: xshell::Cmd| c.quiet().ignore_stdout().ignore_stderr().run().is_ok();
    // --no-index: answer from the ignore rules even when the file is tracked.
    let ignored = ok(cmd!(sh, "git check-ignore -q --no-index -- {rel}"));
    let tracked = ok(cmd!(sh, "git ls-files --error-unmatch -- {rel}"));
    let history =
        cmd!(sh, "git log --all --format=%H -n 1 -- {rel}").quiet().ignore_stderr().read().unwrap_or_default();
    Ok(Some(GitFacts { ignored, tracked, in_history: !history.trim().is_empty() }))
}

fn toplevel(sh: &Shell) -> Option<PathBuf> {
    let out = cmd!(sh, "git rev-parse --show-toplevel").quiet().ignore_stderr().read().ok()?;
    let top = PathBuf::from(out.trim());
    top.canonicalize().ok()
}

/// `file` relative to `top`, resolving symlinks of the directory (the file may not exist).
fn relative_to(top: &Path, file: &Path) -> Option<PathBuf> {
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let dir = dir.canonicalize().ok()?;
    let rel = dir.strip_prefix(top).ok()?.join(file.file_name()?);
    Some(rel)
}

/// Every file git tracks under `root`, repository-relative.
pub fn tracked_files(root: &Path) -> anyhow::Result<Vec<String>> {
    let out = crate::effects::process::cmd("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()?;
    if !out.success() {
        anyhow::bail!("list tracked files: {} (is the project a git repository?)", out.stderr_text().trim());
    }
    Ok(out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect())
}

/// Whether `git add` would ignore `path` (repository-relative), from the ignore rules alone.
pub fn is_ignored(root: &Path, path: &str) -> anyhow::Result<bool> {
    let out = crate::effects::process::cmd("git")
        .arg("-C")
        .arg(root)
        .args(["check-ignore", "-q", "--no-index", path])
        .output()?;
    match out.code {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => anyhow::bail!("check git-ignore rules for {path}: {}", out.stderr_text().trim()),
    }
}
