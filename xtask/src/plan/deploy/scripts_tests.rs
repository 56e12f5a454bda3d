//! Unit tests of the server scripts: each parses as POSIX sh, and the ones that only touch
//! files (lock, release dirs, prune) are run for real in a temp dir.

use super::*;

fn sh(script: &str) -> std::process::Output {
    std::process::Command::new("sh").arg("-c").arg(script).output().expect("sh runs")
}

#[test]
fn quoting_leaves_plain_words_and_escapes_the_rest() {
    assert_eq!(q("/srv/app/releases/1"), "/srv/app/releases/1");
    let quoted = q("it's $(rm -rf /)");
    let out = sh(&format!("printf %s {quoted}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "it's $(rm -rf /)");
}

#[test]
fn scripts_parse_as_posix_sh() {
    let d = "/srv/app/releases/r1";
    for script in [
        inspect("/srv/app", "app", "app-edge"),
        lock("/srv/app/.deploy.lock", "me@host pid 1", "tok", 900, 0),
        unlock("/srv/app/.deploy.lock", "tok"),
        make_release(d, "tok"),
        complete_release(d),
        remove_own_release("/srv/app", d, "tok"),
        remove_incomplete("/srv/app", &["r0".into(), "r1".into()]),
        own_secrets(d, 10001),
        has_image("sha256:ab"),
        pull_image("reg:5000/app:ab"),
        tag_image("sha256:ab", "app:ab"),
        ensure_edge("/srv/app", "app-edge", "app-edge", true),
        ensure_edge("/srv/app", "app-edge", "app-edge", false),
        await_certificate("app.example.com", 443, 60),
        start_slot(d, "app-blue"),
        gate_slot(d, "app-blue", "/health", 8080, 30),
        set_gate(d, "app-blue", true),
        set_gate(d, "app-blue", false),
        through_proxy("app.example.com", 443, "/health"),
        stop_slot(d, "app-blue"),
        discard_slot(d, "app-blue"),
        stop_legacy("app"),
        reslot(d, "green", "app-green"),
        last_logs(d, "app-blue", 20),
        point_current("/srv/app", "r1"),
        prune("/srv/app", 3, Some("r0")),
        audit("/srv/app/deploy.log", "2026 ok"),
    ] {
        let out = std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).output().expect("sh runs");
        assert!(out.status.success(), "{script}\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn lock_then_second_lock_is_refused_then_unlock_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let lock_dir = dir.path().join("app/.deploy.lock");
    let lock_dir = lock_dir.to_str().unwrap();
    assert!(sh(&lock(lock_dir, "a", "t1", 900, 0)).status.success());
    // The same deploy running the script again (after a cut link) still holds it.
    assert!(sh(&lock(lock_dir, "a", "t1", 900, 0)).status.success());
    let second = sh(&lock(lock_dir, "b", "t2", 900, 0));
    assert_eq!(second.status.code(), Some(LOCK_HELD));
    assert!(String::from_utf8_lossy(&second.stdout).starts_with("a\n"));
    sh(&unlock(lock_dir, "t2"));
    assert!(std::path::Path::new(lock_dir).exists(), "someone else's token must not release it");
    sh(&unlock(lock_dir, "t1"));
    assert!(!std::path::Path::new(lock_dir).exists());
}

#[test]
fn a_stale_lock_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let lock_dir = dir.path().join(".deploy.lock");
    std::fs::create_dir(&lock_dir).unwrap();
    std::fs::write(lock_dir.join("holder"), "old\n1000\nx\n").unwrap();
    assert!(sh(&lock(lock_dir.to_str().unwrap(), "new", "t", 900, 0)).status.success());
    assert!(std::fs::read_to_string(lock_dir.join("holder")).unwrap().starts_with("new\n"));
}

/// Regression: two deploys of the same image named their release alike; the loser's clean-up
/// removed the winner's (by then live) directory. A release dir is only ever made, and
/// removed, by the deploy whose token it holds.
#[test]
fn a_release_dir_belongs_to_the_deploy_that_made_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().to_str().unwrap();
    let r = format!("{app}/releases/r1");
    assert!(sh(&make_release(&r, "mine")).status.success());
    assert!(sh(&make_release(&r, "mine")).status.success(), "a retry of the same deploy is fine");
    assert_eq!(sh(&make_release(&r, "theirs")).status.code(), Some(RELEASE_EXISTS));
    sh(&remove_own_release(app, &r, "theirs"));
    assert!(std::path::Path::new(&r).exists(), "another deploy must not remove it");
    sh(&point_current(app, "r1"));
    sh(&remove_own_release(app, &r, "mine"));
    assert!(std::path::Path::new(&r).exists(), "the live release is never removed");
}

#[test]
fn prune_keeps_the_newest_complete_ones_current_and_previous() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path();
    for r in ["r1", "r2", "r3", "r4", "r5"] {
        std::fs::create_dir_all(app.join("releases").join(r)).unwrap();
        std::fs::write(app.join("releases").join(r).join(".complete"), "").unwrap();
    }
    std::fs::create_dir_all(app.join("releases/r6")).unwrap(); // incomplete: not pruned here
    let app_s = app.to_str().unwrap();
    assert!(sh(&point_current(app_s, "r1")).status.success());
    assert!(sh(&prune(app_s, 2, Some("r2"))).status.success());
    let mut left: Vec<_> = std::fs::read_dir(app.join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["r1", "r2", "r4", "r5", "r6"]);
}

/// Regression: a killed deploy left a half-made release that counted as kept and became the
/// default rollback target. Half-made releases (no `.complete`) are removed under the lock.
#[test]
fn incomplete_releases_are_removed_but_never_the_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path();
    for r in ["r1", "r2", "r3"] {
        std::fs::create_dir_all(app.join("releases").join(r)).unwrap();
    }
    std::fs::write(app.join("releases/r1/.complete"), "").unwrap();
    let app_s = app.to_str().unwrap();
    sh(&point_current(app_s, "r3"));
    let out = sh(&remove_incomplete(app_s, &["r1".into(), "r2".into(), "r3".into()]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "r2\n");
    assert!(app.join("releases/r1").exists() && app.join("releases/r3").exists() && !app.join("releases/r2").exists());
}
