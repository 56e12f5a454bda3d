//! `cargo xtask bench deploy`: first deploy, redeploy of a changed image and redeploy of the
//! same image to the sandbox VPS, with bytes sent; each against the baseline of a bare
//! `docker save | ssh docker load` of the same image (the transfer a deploy cannot beat).

use crate::effects::docker::{BollardEngine, BuildRequest, ImageEngine, context_tar_gz};
use crate::effects::process;
use crate::effects::ssh::Remote;
use crate::project::Project;
use crate::report::{Format, Status, print_json};
use crate::rigs::engine::{BASE_IMAGE, Engine};
use crate::rigs::sandbox::Sandbox;
use anyhow::{Context, bail};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

const PORT: u16 = 18200;
const APP_DIR: &str = "/srv/bench-deploy";

#[derive(Debug, Serialize)]
struct Figures {
    image_mb: u32,
    runs: usize,
    first_deploy_s: f64,
    redeploy_changed_s: f64,
    redeploy_same_s: f64,
    bare_transfer_s: f64,
    first_deploy_bytes: u64,
    redeploy_same_bytes: u64,
    /// Median first deploy / median bare transfer.
    first_vs_bare: f64,
}

pub fn run(quick: bool, format: Format, p: &Project) -> anyhow::Result<Status> {
    let (mb, runs) = if quick { (5, 1) } else { (50, 3) };
    let root = p.root().to_path_buf();
    let engine = Engine::ensure_in(&root)?;
    let sandbox = Sandbox::ensure_in(&root)?;
    let _lease = sandbox.lease()?;
    let images = BollardEngine::new(engine.client()?)?;
    let a = bench_image(&engine, &images, "a", mb)?;
    let b = bench_image(&engine, &images, "b", mb)?;
    let dir = tempfile::tempdir()?;
    fixture(&root, dir.path(), &sandbox)?;
    let ssh = sandbox.ssh();
    let (mut first, mut changed, mut same, mut bare) = (vec![], vec![], vec![], vec![]);
    let (mut first_bytes, mut same_bytes) = (0, 0);
    for _ in 0..runs {
        let ids: Vec<String> = [&a, &b]
            .iter()
            .map(|t| images.inspect(t).map(|i| i.map(|i| i.id).unwrap_or_default()))
            .collect::<Result<_, _>>()?;
        ssh.run(&format!("rm -rf {APP_DIR}; docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=bench) 2>/dev/null; docker rmi -f {} >/dev/null 2>&1; true", ids.join(" ")))?;
        let t = Instant::now();
        let mut tar = images.export(&a)?;
        ssh.stream_stdin("docker load", &mut tar)?.check("bare docker load")?;
        bare.push(t.elapsed().as_secs_f64());
        ssh.run(&format!("docker rmi -f {} >/dev/null 2>&1; true", ids[0]))?;
        let (s, bytes) = deploy(dir.path(), &engine, &a)?;
        first.push(s);
        first_bytes = bytes;
        changed.push(deploy(dir.path(), &engine, &b)?.0);
        let (s, bytes) = deploy(dir.path(), &engine, &b)?;
        same.push(s);
        same_bytes = bytes;
    }
    ssh.run(&format!(
        "cd {APP_DIR}/current 2>/dev/null && docker-compose -p bench down >/dev/null 2>&1; rm -rf {APP_DIR}; true"
    ))?;
    let f = Figures {
        image_mb: mb,
        runs,
        first_deploy_s: median(&mut first),
        redeploy_changed_s: median(&mut changed),
        redeploy_same_s: median(&mut same),
        bare_transfer_s: median(&mut bare),
        first_deploy_bytes: first_bytes,
        redeploy_same_bytes: same_bytes,
        first_vs_bare: 0.0,
    };
    let f = Figures { first_vs_bare: f.first_deploy_s / f.bare_transfer_s.max(1e-9), ..f };
    match format {
        Format::Human => {
            println!("deploy bench: {mb} MB padded image, {runs} run(s), medians");
            println!("  bare docker save | ssh docker load: {:.2} s", f.bare_transfer_s);
            println!(
                "  first deploy:            {:.2} s, {} bytes sent ({:.2}x the bare transfer)",
                f.first_deploy_s, f.first_deploy_bytes, f.first_vs_bare
            );
            println!("  redeploy, changed image: {:.2} s", f.redeploy_changed_s);
            println!("  redeploy, same image:    {:.2} s, {} bytes sent", f.redeploy_same_s, f.redeploy_same_bytes);
        }
        _ => print_json(&f)?,
    }
    Ok(Status::Ok)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// One timed `deploy vps` through the binary; returns seconds and image bytes sent.
fn deploy(project: &Path, engine: &Engine, image: &str) -> anyhow::Result<(f64, u64)> {
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
    Ok((secs, j["outcome"]["image_bytes"].as_u64().unwrap_or(0)))
}

fn bench_image(engine: &Engine, images: &BollardEngine, name: &str, mb: u32) -> anyhow::Result<String> {
    let tag = format!("xtask-bench-deploy:{name}-{mb}-term");
    if images.inspect(&tag)?.is_some() {
        return Ok(tag);
    }
    engine.ensure_base_image(BASE_IMAGE)?;
    let dockerfile = format!(
        "FROM {BASE_IMAGE}\nRUN head -c {mb}000000 /dev/urandom > /pad && mkdir -p /www && echo ok > /www/health\nUSER 10001:10001\nCMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait\"]\n"
    );
    let request = BuildRequest {
        tag: tag.clone(),
        context_tar_gz: context_tar_gz(&[("Dockerfile".into(), 0o644, dockerfile.into_bytes())])?,
        ..BuildRequest::default()
    };
    images.build(&request, &mut |_| {})?;
    Ok(tag)
}

/// A project whose target is the sandbox, with throwaway (non-secret) values.
fn fixture(root: &Path, dir: &Path, sandbox: &Sandbox) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("deploy"))?;
    for f in ["deploy/env.schema.toml", "deploy/compose.template.yml", "deploy/leakscan-allow.toml"] {
        std::fs::copy(root.join(f), dir.join(f)).with_context(|| format!("copy {f}"))?;
    }
    std::fs::write(
        dir.join("deploy/targets.toml"),
        format!(
            "default = \"sandbox\"\n[target.sandbox]\nssh_alias = \"vps\"\nssh_config = \"{}\"\napp_dir = \"{APP_DIR}\"\napp_port = {PORT}\nhealth_url = \"http://127.0.0.1:{PORT}/health\"\nkeep_releases = 2\nproject = \"bench\"\n",
            sandbox.ssh_config().display()
        ),
    )?;
    // Throwaway values from the project's generator, so verify-env passes as for a real deploy.
    let env_file = dir.join(".env.production");
    let out = process::cmd(std::env::current_exe()?)
        .arg("--project-dir")
        .arg(dir)
        .args(["secrets", "gen", "--throwaway", "--env-file"])
        .arg(&env_file)
        .output()?;
    if !out.success() {
        bail!("secrets gen for the bench fixture failed: {}", out.stderr_text());
    }
    Ok(())
}
