//! `cargo xtask demo`: the whole job end to end on a local sandbox VPS: throwaway secrets,
//! verify, build, deploy behind the edge proxy with a certificate from the sandbox's ACME CA,
//! health over HTTPS, the URL with a copy-paste curl line, and a headless-Chromium look at
//! the page. `--stop` tears down exactly what the demo started (recorded in target/demo/state).

use crate::effects::browser;
use crate::effects::ssh::Remote;
use crate::project::Project;
use crate::report::{Format, Status, print_json};
use crate::rigs::engine::{BASE_IMAGE, Engine};
use crate::rigs::sandbox::{Sandbox, TEST_HOST, VPS_IP};
use anyhow::{Context, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The image tag the demo builds and deploys.
pub const DEMO_IMAGE: &str = "reference-app:demo";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Tear down what a previous `cargo xtask demo` started, and nothing else
    #[arg(long)]
    pub stop: bool,
    /// Skip the headless-Chromium page check
    #[arg(long)]
    pub no_browser: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Serialize)]
struct Report {
    url: String,
    /// A curl command that fetches the health URL as printed, chain verified.
    curl: String,
    /// The root certificate the served chain verifies against (the sandbox CA's).
    ca_file: PathBuf,
    health: String,
    page_status: Option<String>,
    screenshot: Option<PathBuf>,
}

fn demo_dir(root: &Path) -> PathBuf {
    root.join("target/demo")
}

impl Args {
    pub fn run(self, p: &Project) -> anyhow::Result<Status> {
        let root = p.root().to_path_buf();
        if self.stop {
            return stop(&root);
        }
        let human = self.format == Format::Human;
        let say = |line: &str| {
            if human {
                eprintln!("demo: {line}");
            }
        };
        let dir = demo_dir(&root);
        std::fs::create_dir_all(&dir)?;
        let state = dir.join("state");

        say("starting the local Docker engine");
        let engine = Engine::ensure_in(&root).context("start the local Docker engine")?;
        if engine.started_here() {
            append(&state, "engine=started")?;
        }
        // The reference Dockerfile builds FROM it, and BuildKit would try to pull it otherwise.
        if engine.ensure_build_base().context("make the local base image")? {
            say(&format!("base image {BASE_IMAGE} made locally from busybox-static"));
        }
        let sandbox_was_up = sandbox_answers(&root);
        say("starting the sandbox VPS");
        let sandbox = Sandbox::ensure_in(&root).context("start the sandbox VPS")?;
        if !sandbox_was_up {
            append(&state, "sandbox=started")?;
        }

        // A private dir for the throwaway env file and secret files, gone with --stop.
        let env_dir = dir.join("env");
        std::fs::create_dir_all(&env_dir)?;
        set_mode(&env_dir, 0o700)?;
        // The sandbox target deploys the dev environment: throwaway values are refused in
        // production.
        let env_file = env_dir.join(".env.dev");
        let xtask = |args: &[&str]| -> anyhow::Result<()> {
            let mut argv: Vec<std::ffi::OsString> = vec!["--project-dir".into(), root.clone().into()];
            argv.extend(args.iter().map(Into::into));
            let mut c = duct::cmd(std::env::current_exe()?, argv).env("DOCKER_HOST", engine.docker_host()).unchecked();
            if !human {
                // stdout carries only the demo's own JSON report; the steps' tables go to stderr.
                c = c.stdout_to_stderr();
            }
            let status = c.run().with_context(|| format!("run xtask {}", args.join(" ")))?.status;
            if !status.success() {
                bail!("`cargo xtask {}` failed ({status}); see its output above", args.join(" "));
            }
            Ok(())
        };
        let env_arg = env_file.to_str().context("non-UTF-8 path")?;
        say("generating throwaway secrets");
        // `secrets gen` writes file secrets to <root>/secrets/; remember the ones it adds.
        let before = secret_files(&root);
        xtask(&["secrets", "gen", "--throwaway", "--env", "dev", "--env-file", env_arg])?;
        for added in secret_files(&root).difference(&before) {
            append(&state, &format!("file={}", added.display()))?;
        }
        say("building the image (verify-env, frontend, BuildKit, verify-image)");
        xtask(&["build-image", "--env", "dev", "--env-file", env_arg, "--tag", DEMO_IMAGE])?;
        say("deploying to the sandbox VPS (edge proxy, certificate from the sandbox's ACME CA)");
        append(&state, "deployed=sandbox")?;
        xtask(&["deploy", "vps", "sandbox", "--env", "dev", "--env-file", env_arg, "--image", DEMO_IMAGE])?;

        // No DNS here knows the sandbox's host name: curl and Chromium are told its address.
        let url = format!("https://{TEST_HOST}/");
        let ca_file = dir.join("acme-root.pem");
        sandbox.fetch_acme_root(&ca_file).context("fetch the sandbox CA's root certificate")?;
        let ca = ca_file.strip_prefix(&root).unwrap_or(&ca_file).display().to_string();
        let curl = format!("curl --cacert {ca} --resolve {TEST_HOST}:443:{VPS_IP} {url}health");
        let health =
            https_get(&format!("{url}health"), &ca_file).context("the deployed app does not answer /health")?;
        say(&format!("health: {}", health.trim()));
        let (page_status, screenshot) = if self.no_browser {
            (None, None)
        } else {
            say("loading the page in headless Chromium");
            let shot = dir.join("page.png");
            let rules = format!("--host-resolver-rules=MAP {TEST_HOST} {VPS_IP}");
            let page = browser::check_page(&url, &shot, &[rules])?;
            (Some(page.status), Some(shot))
        };
        let report = Report { url: url.clone(), curl: curl.clone(), ca_file, health, page_status, screenshot };
        if human {
            if let Some(s) = &report.page_status {
                println!("page #status: {s}");
            }
            if let Some(p) = &report.screenshot {
                println!("screenshot: {}", p.display());
            }
            println!("serving at {url}  (stop with: cargo xtask demo --stop)");
            println!("try it: {curl}");
        } else {
            print_json(&report)?;
        }
        Ok(Status::Ok)
    }
}

fn secret_files(root: &Path) -> std::collections::BTreeSet<PathBuf> {
    std::fs::read_dir(root.join("secrets"))
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "txt")).collect())
        .unwrap_or_default()
}

fn sandbox_answers(root: &Path) -> bool {
    let config = crate::rigs::sandbox::sandbox_dir(root).join("ssh_config");
    config.exists()
        && crate::effects::ssh::Ssh { config: Some(config), connect_timeout: 3, ..crate::effects::ssh::Ssh::new("vps") }
            .run("true")
            .is_ok_and(|o| o.success())
}

fn append(path: &Path, line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(f, "{line}")?;
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// GET an URL of the sandbox host over HTTPS, the chain verified against `ca`.
fn https_get(url: &str, ca: &Path) -> anyhow::Result<String> {
    let out = crate::effects::process::cmd("curl")
        .args(["-fsS", "-m", "10", "--resolve", &format!("{TEST_HOST}:443:{VPS_IP}"), "--cacert"])
        .arg(ca)
        .arg(url)
        .output()?;
    if !out.success() {
        bail!("GET {url}: {}", out.stderr_text().trim());
    }
    Ok(out.stdout_text())
}

/// Undo what the recorded demo started: its app on the sandbox, the sandbox and the private
/// engine if the demo started them, and its throwaway env files.
fn stop(root: &Path) -> anyhow::Result<Status> {
    let dir = demo_dir(root);
    let state = std::fs::read_to_string(dir.join("state")).unwrap_or_default();
    if state.is_empty() {
        println!("no demo recorded in {}: nothing to stop", dir.display());
        return Ok(Status::Ok);
    }
    let deployed = state.lines().any(|l| l == "deployed=sandbox");
    if deployed && !sandbox_answers(root) && !state.lines().any(|l| l == "sandbox=started") {
        // Someone else's sandbox that we cannot reach right now: keep the record for a retry.
        bail!("cannot reach the sandbox VPS to stop the demo app; try `cargo xtask demo --stop` again");
    }
    if deployed && sandbox_answers(root) {
        let targets = crate::project::Project::open(root.to_path_buf()).targets()?;
        let t = targets.get(Some("sandbox"))?;
        let ssh = crate::commands::deploy::connect::ssh(root, t)?;
        let script = crate::plan::deploy::scripts::remove_target(&t.app_dir, &t.project);
        ssh.run_ok(&script, "stop the demo app on the sandbox")?;
        eprintln!("demo: stopped the app and removed {} on the sandbox", t.app_dir);
    }
    if state.lines().any(|l| l == "sandbox=started") {
        Sandbox::stop_in(root).context("stop the sandbox VPS")?;
        eprintln!("demo: stopped the sandbox VPS it had started");
    }
    if state.lines().any(|l| l == "engine=started") {
        Engine::stop_private(root).context("stop the private Docker engine")?;
        eprintln!("demo: stopped the private Docker engine it had started");
    }
    for file in state.lines().filter_map(|l| l.strip_prefix("file=")) {
        // Only throwaway secret files the demo's `secrets gen` created.
        let _ = std::fs::remove_file(file);
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("remove {}", dir.display()))?;
    println!("demo stopped");
    Ok(Status::Ok)
}
