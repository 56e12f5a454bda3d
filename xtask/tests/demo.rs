//! `cargo xtask demo`, the README's main command, run as a user runs it on this checkout:
//! throwaway secrets, verify, build, deploy to the sandbox VPS, health, a headless-Chromium
//! look at the page; then `demo --stop` removes exactly what it started. Real engine, real
//! sandbox, real browser; never skipped.

mod deploy_support;

use anyhow::Context;
use bollard::query_parameters::RemoveImageOptionsBuilder;
use deploy_support::{secret_env_values, text, workspace};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use xtask::effects::ssh::Remote;
use xtask::rigs::engine::{BASE_IMAGE, Engine, block_on};
use xtask::rigs::sandbox::{Sandbox, TEST_HOST, VPS_IP};

fn xtask(args: &[&str]) -> anyhow::Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).env("NO_COLOR", "1").output()?)
}

/// Secret-plane values of the demo's env file, plus the secret files it recorded: the canaries.
fn canaries(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = secret_env_values(root, &root.join("target/demo/env/.env.dev")).context("the demo's env file")?;
    for file in recorded_files(root) {
        out.push(std::fs::read_to_string(&file)?.trim().to_string());
    }
    Ok(out)
}

/// The secret files the demo recorded as its own (removed again by `--stop`).
fn recorded_files(root: &Path) -> Vec<PathBuf> {
    let state = std::fs::read_to_string(root.join("target/demo/state")).unwrap_or_default();
    state.lines().filter_map(|l| l.strip_prefix("file=")).map(PathBuf::from).collect()
}

/// Untag the local base image, so the demo meets the engine as a fresh machine has it.
/// Images built on it keep their layers; the demo must make the tag again.
fn untag_base_image(engine: &Engine) -> anyhow::Result<()> {
    let docker = engine.client()?;
    block_on(async {
        let opts = RemoveImageOptionsBuilder::default().noprune(true).build();
        let _ = docker.remove_image(BASE_IMAGE, Some(opts), None).await;
        anyhow::ensure!(docker.inspect_image(BASE_IMAGE).await.is_err(), "{BASE_IMAGE} is still tagged");
        Ok(())
    })
}

#[test]
fn demo_deploys_shows_the_servers_answer_in_chromium_and_stop_removes_it() -> anyhow::Result<()> {
    let root = workspace();
    let engine = Engine::ensure()?;
    let sandbox = Sandbox::ensure_in(&root)?;
    let _lease = sandbox.lease()?;
    // A demo an earlier aborted run left behind would make this one a redeploy.
    let out = xtask(&["demo", "--stop"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    untag_base_image(&engine)?;

    let out = xtask(&["demo", "--format", "json"])?;
    let all = text(&out);
    let secrets = canaries(&root)?;
    assert!(secrets.len() >= 4, "expected the demo's generated secrets, got {}", secrets.len());
    for s in &secrets {
        assert!(!all.contains(s.as_str()), "a secret value leaked into the demo's output:\n{all}");
    }
    assert_eq!(out.status.code(), Some(0), "{all}");
    let docker = engine.client()?;
    block_on(async { Ok(docker.inspect_image(BASE_IMAGE).await?) }).context("the demo made the base image again")?;
    // stdout is the demo's report alone, whatever its steps printed.
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).with_context(|| format!("json report:\n{all}"))?;
    assert_eq!(report["url"], format!("https://{TEST_HOST}/"));
    assert!(report["health"].as_str().unwrap_or("").contains("ok"), "{report}");
    // The printed curl line works as printed, from the checkout (its --cacert is relative).
    let line = report["curl"].as_str().context("curl line")?;
    let words = shlex::split(line).context("the curl line splits as a shell would")?;
    assert_eq!(words[0], "curl");
    assert!(line.contains(&format!("--resolve {TEST_HOST}:443:{VPS_IP}")), "{line}");
    let fetched = Command::new("curl").args(&words[1..]).args(["-fsS", "-m", "10"]).current_dir(&root).output()?;
    assert!(
        fetched.status.success(),
        "the printed curl line fails: {line}
{}",
        text(&fetched)
    );
    assert!(String::from_utf8_lossy(&fetched.stdout).contains("ok"), "{}", text(&fetched));
    // Without the sandbox CA's root the chain does not verify: the line's --cacert matters.
    let unverified = Command::new("curl")
        .args(["-fsS", "-m", "10", "--resolve", &format!("{TEST_HOST}:443:{VPS_IP}")])
        .arg(format!("https://{TEST_HOST}/health"))
        .output()?;
    assert_eq!(unverified.status.code(), Some(60), "a chain no system root signs: {}", text(&unverified));
    assert_eq!(report["page_status"], "role: anon ✓", "the page shows what the server verified");
    let shot = PathBuf::from(report["screenshot"].as_str().context("screenshot path")?);
    let png = std::fs::read(&shot).with_context(|| format!("read {}", shot.display()))?;
    assert!(png.starts_with(b"\x89PNG") && png.len() > 1000, "a real screenshot at {}", shot.display());
    let files = recorded_files(&root);
    assert!(!files.is_empty(), "the demo records the secret files it created");

    let out = xtask(&["demo", "--stop"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let page = Command::new("curl")
        .args(["-ksS", "-m", "5", "--resolve", &format!("{TEST_HOST}:443:{VPS_IP}")])
        .arg(format!("https://{TEST_HOST}/health"))
        .output()?;
    assert!(!page.status.success(), "the demo app still answers after --stop");
    for f in &files {
        assert!(!f.exists(), "{} is left behind", f.display());
    }
    assert!(!root.join("target/demo").exists(), "target/demo is left behind");
    // It did not start the sandbox (the suite did), so the sandbox is still up.
    assert_eq!(sandbox.ssh().run("echo up")?.stdout_text().trim(), "up");
    Ok(())
}
