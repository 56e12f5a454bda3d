//! `cargo xtask bench deploy`: deploys to the sandbox VPS measured side by side in one run
//! against the bare `docker save | ssh docker load` of the same image (the transfer a deploy
//! cannot beat): a first deploy, a redeploy of an image whose only new layer is small, a
//! redeploy of the same image; the bytes and layers sent, the SSH connections each opened
//! (counted in the sandbox sshd's log), and a bounded HTTPS request loop during the switch
//! against the same loop at rest (failed requests, p99 latency as a ratio).

use crate::effects::docker::{BollardEngine, BuildRequest, ImageEngine, context_tar_gz};
use crate::effects::process;
use crate::effects::ssh::Remote;
use crate::project::Project;
use crate::report::{Format, Status, print_json};
use crate::rigs::engine::{BASE_IMAGE, Engine};
use crate::rigs::sandbox::{Sandbox, VPS_IP};
use anyhow::{Context, bail};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const HTTPS_PORT: u16 = 18300;
const APP_DIR: &str = "/srv/bench-deploy";
const PROJECT: &str = "bench";

#[derive(Debug, Serialize)]
struct Figures {
    image_mb: u32,
    runs: usize,
    bare_transfer_s: f64,
    first_deploy_s: f64,
    /// Median first deploy / median bare transfer.
    first_vs_bare: f64,
    first_deploy_bytes: u64,
    changed_deploy_s: f64,
    /// Uncompressed size of the one layer the changed image adds.
    changed_layer_bytes: u64,
    changed_deploy_bytes: u64,
    changed_layers_sent: u64,
    changed_layers_skipped: u64,
    /// The most the changed image may send: 1.2x its new layer plus 256 KiB for the config
    /// and manifest.
    changed_allowance_bytes: u64,
    same_deploy_s: f64,
    same_deploy_bytes: u64,
    ssh_connections_first: usize,
    ssh_connections_changed: usize,
    ssh_connections_same: usize,
    /// Requests of the loop during the changed deploy, and how many failed.
    switch_requests: usize,
    switch_failed: usize,
    rest_requests: usize,
    p99_rest_ms: f64,
    p99_switch_ms: f64,
    p99_switch_vs_rest: f64,
}

pub fn run(quick: bool, format: Format, p: &Project) -> anyhow::Result<Status> {
    let (mb, runs) = if quick { (5, 1) } else { (50, 3) };
    let root = p.root().to_path_buf();
    let engine = Engine::ensure_in(&root)?;
    let sandbox = Sandbox::ensure_in(&root)?;
    let _lease = sandbox.lease()?;
    let images = BollardEngine::new(engine.client()?)?;
    let base = bench_image(&engine, &images, &format!("base-{mb}"), &padded(mb))?;
    let a = bench_image(&engine, &images, &format!("a-{mb}"), &top_layer(&base, "a"))?;
    let b = bench_image(&engine, &images, &format!("b-{mb}"), &top_layer(&base, "b"))?;
    let info = |tag: &str| images.inspect(tag)?.with_context(|| format!("no local image {tag}"));
    let (base_info, b_info) = (info(&base)?, info(&b)?);
    let ids: Vec<String> = [&base, &a, &b].into_iter().map(|t| info(t).map(|i| i.id)).collect::<Result<_, _>>()?;
    let dir = tempfile::tempdir()?;
    fixture(&root, dir.path(), &sandbox)?;
    let ssh = sandbox.ssh();
    let ca = dir.path().join("target/deploy/sandbox/internal-ca.pem");
    let mut m = Measured::default();
    for _ in 0..runs {
        clean(&ssh, &ids)?;
        let t = Instant::now();
        let mut tar = images.export(&a)?;
        ssh.stream_stdin("docker load", &mut tar)?.check("bare docker load")?;
        m.bare.push(t.elapsed().as_secs_f64());
        clean(&ssh, &ids)?;

        let first = deploy(dir.path(), &engine, &sandbox, &a)?;
        m.first.push(first.secs);
        let rest = Load::start(url(), ca.clone());
        std::thread::sleep(Duration::from_secs(if quick { 3 } else { 8 }));
        m.rest = rest.finish();
        let load = Load::start(url(), ca.clone());
        let changed = deploy(dir.path(), &engine, &sandbox, &b)?;
        m.switch = load.finish();
        m.changed.push(changed.secs);
        let same = deploy(dir.path(), &engine, &sandbox, &b)?;
        m.same.push(same.secs);
        m.last = Some((first, changed, same));
    }
    clean(&ssh, &ids)?;
    let (first, changed, same) = m.last.take().context("no run")?;
    let layer = b_info.size.saturating_sub(base_info.size).max(1);
    let (p99_rest, p99_switch) = (m.rest.p99_ms(), m.switch.p99_ms());
    let f = Figures {
        image_mb: mb,
        runs,
        bare_transfer_s: median(&mut m.bare),
        first_deploy_s: median(&mut m.first),
        first_vs_bare: 0.0,
        first_deploy_bytes: first.bytes,
        changed_deploy_s: median(&mut m.changed),
        changed_layer_bytes: layer,
        changed_deploy_bytes: changed.bytes,
        changed_layers_sent: changed.layers_sent,
        changed_layers_skipped: changed.layers_skipped,
        changed_allowance_bytes: (layer as f64 * 1.2) as u64 + 256 * 1024,
        same_deploy_s: median(&mut m.same),
        same_deploy_bytes: same.bytes,
        ssh_connections_first: first.ssh_connections,
        ssh_connections_changed: changed.ssh_connections,
        ssh_connections_same: same.ssh_connections,
        switch_requests: m.switch.latencies_ms.len() + m.switch.failed,
        switch_failed: m.switch.failed,
        rest_requests: m.rest.latencies_ms.len() + m.rest.failed,
        p99_rest_ms: p99_rest,
        p99_switch_ms: p99_switch,
        p99_switch_vs_rest: p99_switch / p99_rest.max(1e-9),
    };
    let f = Figures { first_vs_bare: f.first_deploy_s / f.bare_transfer_s.max(1e-9), ..f };
    match format {
        Format::Human => print_human(&f),
        _ => print_json(&f)?,
    }
    Ok(Status::Ok)
}

fn print_human(f: &Figures) {
    println!("deploy bench: {} MB random layer under a small app layer, {} run(s), medians", f.image_mb, f.runs);
    println!("  bare docker save | ssh docker load: {:.2} s", f.bare_transfer_s);
    println!(
        "  first deploy:            {:.2} s ({:.2}x the bare transfer), {} bytes, {} ssh connection(s)",
        f.first_deploy_s, f.first_vs_bare, f.first_deploy_bytes, f.ssh_connections_first
    );
    println!(
        "  redeploy, changed image: {:.2} s, {} bytes for a {} byte layer (allowance {}), layers {} sent / {} skipped, {} ssh connection(s)",
        f.changed_deploy_s,
        f.changed_deploy_bytes,
        f.changed_layer_bytes,
        f.changed_allowance_bytes,
        f.changed_layers_sent,
        f.changed_layers_skipped,
        f.ssh_connections_changed
    );
    println!(
        "  redeploy, same image:    {:.2} s, {} bytes, {} ssh connection(s)",
        f.same_deploy_s, f.same_deploy_bytes, f.ssh_connections_same
    );
    println!(
        "  requests during the switch: {} failed of {}; p99 {:.1} ms vs {:.1} ms at rest ({:.2}x, {} requests at rest)",
        f.switch_failed, f.switch_requests, f.p99_switch_ms, f.p99_rest_ms, f.p99_switch_vs_rest, f.rest_requests
    );
}

#[derive(Default)]
struct Measured {
    bare: Vec<f64>,
    first: Vec<f64>,
    changed: Vec<f64>,
    same: Vec<f64>,
    rest: Latencies,
    switch: Latencies,
    last: Option<(Deployed, Deployed, Deployed)>,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn url() -> String {
    format!("https://{VPS_IP}:{HTTPS_PORT}/health")
}

/// Remove the bench's projects, app dir and images from the server.
fn clean(ssh: &dyn Remote, ids: &[String]) -> anyhow::Result<()> {
    ssh.run(&format!(
        "{}docker rmi -f {} >/dev/null 2>&1; true",
        crate::plan::deploy::scripts::remove_target(APP_DIR, PROJECT),
        ids.join(" ")
    ))?
    .check("clean the bench's state on the sandbox")?;
    Ok(())
}

struct Deployed {
    secs: f64,
    bytes: u64,
    layers_sent: u64,
    layers_skipped: u64,
    ssh_connections: usize,
}

/// One timed `deploy vps` through the binary, with what it sent and the ssh logins it made.
fn deploy(project: &Path, engine: &Engine, sandbox: &Sandbox, image: &str) -> anyhow::Result<Deployed> {
    let logins = sandbox.ssh_logins();
    let t = Instant::now();
    let out = process::cmd(std::env::current_exe()?)
        .arg("--project-dir")
        .arg(project)
        .args(["deploy", "vps", "--image", image, "--format", "json"])
        .env("DOCKER_HOST", engine.docker_host())
        .output()?;
    let secs = t.elapsed().as_secs_f64();
    if !out.success() {
        bail!("bench deploy of {image} failed: {}", out.stderr_text());
    }
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).context("deploy json")?;
    let o = &j["outcome"];
    Ok(Deployed {
        secs,
        bytes: o["image_bytes"].as_u64().unwrap_or(0),
        layers_sent: o["layers_sent"].as_u64().unwrap_or(0),
        layers_skipped: o["layers_skipped"].as_u64().unwrap_or(0),
        ssh_connections: sandbox.ssh_logins().saturating_sub(logins),
    })
}

fn padded(mb: u32) -> String {
    format!(
        "FROM {BASE_IMAGE}\nRUN head -c {mb}000000 /dev/urandom > /pad && mkdir -p /www && echo ok > /www/health\nUSER 10001:10001\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]\n"
    )
}

fn top_layer(base: &str, variant: &str) -> String {
    format!("FROM {base}\nUSER root\nRUN echo {variant} > /www/variant\nUSER 10001:10001\n")
}

fn bench_image(engine: &Engine, images: &BollardEngine, name: &str, dockerfile: &str) -> anyhow::Result<String> {
    let tag = format!("xtask-bench-deploy:{name}");
    if images.inspect(&tag)?.is_some() {
        return Ok(tag);
    }
    engine.ensure_base_image(BASE_IMAGE)?;
    let request = BuildRequest {
        tag: tag.clone(),
        context_tar_gz: context_tar_gz(&[("Dockerfile".into(), 0o644, dockerfile.as_bytes().to_vec())])?,
        ..BuildRequest::default()
    };
    images.build(&request, &mut |_| {})?;
    Ok(tag)
}

/// A project whose target is the sandbox (internal CA, its own ports), with throwaway values.
fn fixture(root: &Path, dir: &Path, sandbox: &Sandbox) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("deploy"))?;
    for f in ["deploy/env.schema.toml", "deploy/compose.template.yml", "deploy/leakscan-allow.toml"] {
        std::fs::copy(root.join(f), dir.join(f)).with_context(|| format!("copy {f}"))?;
    }
    std::fs::write(
        dir.join("deploy/targets.toml"),
        format!(
            "default = \"sandbox\"\n[target.sandbox]\nssh_alias = \"vps\"\nssh_config = \"{}\"\naddress = \"{VPS_IP}\"\n\
             app_dir = \"{APP_DIR}\"\napp_port = 8080\nhealth_path = \"/health\"\nhealth_timeout_secs = 60\n\
             drain_secs = 1\nkeep_releases = 2\nproject = \"{PROJECT}\"\nhttps_port = {HTTPS_PORT}\n\
             http_port = {}\nenvironment = \"dev\"\n",
            sandbox.ssh_config().display(),
            HTTPS_PORT + 100
        ),
    )?;
    // Throwaway values from the project's generator, so verify-env passes as for a real deploy.
    let out = process::cmd(std::env::current_exe()?)
        .arg("--project-dir")
        .arg(dir)
        .args(["secrets", "gen", "--throwaway", "--env", "dev", "--env-file"])
        .arg(dir.join(".env.dev"))
        .output()?;
    if !out.success() {
        bail!("secrets gen for the bench fixture failed: {}", out.stderr_text());
    }
    Ok(())
}

/// Latencies of the successful requests of a loop, and the failures.
#[derive(Default)]
struct Latencies {
    latencies_ms: Vec<f64>,
    failed: usize,
}

impl Latencies {
    fn p99_ms(&self) -> f64 {
        let mut v = self.latencies_ms.clone();
        v.sort_by(|a, b| a.total_cmp(b));
        let i = ((v.len() as f64) * 0.99).ceil() as usize;
        v.get(i.saturating_sub(1)).copied().unwrap_or(0.0)
    }
}

/// A bounded request loop (at most 5000 requests or 300 s) on its own thread.
struct Load {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Latencies>,
}

impl Load {
    fn start(url: String, ca: PathBuf) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let start = Instant::now();
            let mut l = Latencies::default();
            while !flag.load(Ordering::SeqCst)
                && l.latencies_ms.len() + l.failed < 5000
                && start.elapsed() < Duration::from_secs(300)
            {
                let out = process::cmd("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-m", "5", "--cacert"])
                    .arg(&ca)
                    .arg(&url)
                    .output();
                let text = out.map(|o| o.stdout_text()).unwrap_or_default();
                match text.split_once(' ') {
                    Some(("200", secs)) => l.latencies_ms.push(secs.trim().parse::<f64>().unwrap_or(0.0) * 1000.0),
                    _ => l.failed += 1,
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            l
        });
        Load { stop, handle }
    }

    fn finish(self) -> Latencies {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap_or_default()
    }
}
