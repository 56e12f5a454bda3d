//! Real tests of the sandbox VPS: SSH in, a separate engine there, compose v1 present, and
//! a small compose project with `env_file` and a `secrets:` file comes up and is reachable
//! from the host. Never skipped: if the sandbox cannot start, these fail with the reason.

use anyhow::Context;
use std::io::{Read, Write};
use xtask::effects::ssh::Remote;
use xtask::rigs::engine::{Engine, block_on};
use xtask::rigs::sandbox::Sandbox;

fn ssh_out(sandbox: &Sandbox, script: &str) -> anyhow::Result<String> {
    let out = sandbox.ssh().run_ok(script, script)?;
    Ok(out.stdout_text().trim().to_string())
}

#[test]
fn ssh_reaches_a_different_engine_than_the_host() -> anyhow::Result<()> {
    let sandbox = Sandbox::ensure()?;
    let _lease = sandbox.lease()?;
    let engine = Engine::ensure()?;
    // Not the engine ID: Docker 20.10 derives it from /etc/docker/key.json, which both
    // daemons on this machine share. The data root tells them apart.
    let host_root = block_on(async { Ok(engine.client()?.info().await?.docker_root_dir) })?
        .context("host engine has no root dir")?;
    let vps_root = ssh_out(&sandbox, "docker info --format '{{.DockerRootDir}}'")?;
    assert!(vps_root.ends_with("target/sandbox/docker/data"), "VPS engine root: {vps_root}");
    assert_ne!(vps_root, host_root, "the VPS must run its own engine");
    let docker_host = ssh_out(&sandbox, "echo $DOCKER_HOST")?;
    assert_eq!(docker_host, sandbox.docker_host());
    // The session's PATH must find Debian's 20.10 CLI, not the 28.x one in /usr/local/bin.
    assert_eq!(ssh_out(&sandbox, "command -v docker")?, "/usr/bin/docker");
    Ok(())
}

#[test]
fn compose_v1_is_present_on_the_vps() -> anyhow::Result<()> {
    let sandbox = Sandbox::ensure()?;
    let _lease = sandbox.lease()?;
    let version = ssh_out(&sandbox, "docker-compose version --short")?;
    assert!(version.starts_with("1.29"), "compose version: {version}");
    Ok(())
}

#[test]
fn ssh_config_snippet_works_with_plain_ssh() -> anyhow::Result<()> {
    let sandbox = Sandbox::ensure()?;
    let _lease = sandbox.lease()?;
    let out =
        std::process::Command::new("ssh").arg("-F").arg(sandbox.ssh_config()).args(["vps", "hostname"]).output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(sandbox.ssh_config())?;
    assert!(text.contains("Host vps"));
    Ok(())
}

#[test]
fn cut_network_breaks_ssh_and_restore_brings_it_back() -> anyhow::Result<()> {
    let sandbox = Sandbox::ensure()?;
    let _lease = sandbox.lease_exclusive()?;
    let mut ssh = sandbox.ssh();
    ssh.connect_timeout = 2;
    sandbox.cut_network()?;
    let during = ssh.run("true");
    sandbox.restore_network()?;
    let during = during?;
    assert!(during.ssh_failed(), "ssh must fail while the network is cut: {during:?}");
    ssh.run_ok("true", "ssh after restoring the network")?;
    Ok(())
}

#[test]
fn stop_removes_what_it_created_and_ensure_starts_it_again() -> anyhow::Result<()> {
    let sandbox = Sandbox::ensure()?;
    let _lease = sandbox.lease_exclusive()?;
    sandbox.stop()?;
    let netns = std::process::Command::new("ip").args(["netns", "list"]).output()?;
    assert!(!String::from_utf8_lossy(&netns.stdout).contains(xtask::rigs::sandbox::NETNS));
    let link = std::process::Command::new("ip").args(["link", "show", xtask::rigs::sandbox::VETH_HOST]).output()?;
    assert!(!link.status.success(), "veth still there after stop");
    assert!(sandbox.ssh().run("true")?.ssh_failed());
    let again = Sandbox::ensure()?;
    again.ssh().run_ok("true", "ssh after restart")?;
    Ok(())
}

const COMPOSE: &str = r#"services:
  web:
    image: busybox:1.36
    env_file: .env.production
    user: "10001"
    secrets:
      - db_password
    ports:
      - "18091:8080"
    command:
      - sh
      - -c
      - |
        mkdir -p /tmp/www
        echo "greeting=$$APP_GREETING" > /tmp/www/index.html
        exec httpd -f -p 8080 -h /tmp/www
secrets:
  db_password:
    file: ./secrets/db_password.txt
"#;

#[test]
fn compose_project_with_env_file_and_secret_file_comes_up() -> anyhow::Result<()> {
    let sandbox = Sandbox::ensure()?;
    let _lease = sandbox.lease()?;
    sandbox.ensure_base_image("busybox:1.36")?;
    let ssh = sandbox.ssh();
    let canary = "canary-sandbox-4f9d2c7e1b";
    ssh.run_ok("rm -rf ~/xtask-smoke && mkdir -p ~/xtask-smoke/secrets && chmod 700 ~/xtask-smoke/secrets", "mkdir")?;
    ssh.upload(&mut COMPOSE.as_bytes(), "xtask-smoke/docker-compose.yml", 0o644)?;
    ssh.upload(&mut &b"APP_GREETING=hello-from-env-file\n"[..], "xtask-smoke/.env.production", 0o600)?;
    ssh.upload(&mut canary.as_bytes(), "xtask-smoke/secrets/db_password.txt", 0o644)?;
    assert_eq!(ssh_out(&sandbox, "stat -c %a xtask-smoke/.env.production")?, "600");

    let up = ssh.run("cd ~/xtask-smoke && docker-compose -p xtasksmoke up -d 2>&1")?;
    let result = (|| -> anyhow::Result<()> {
        up.check("docker-compose up")?;
        let secret = ssh_out(&sandbox, "docker exec xtasksmoke_web_1 cat /run/secrets/db_password")?;
        assert_eq!(secret, canary);
        let body = http_get_retry(&sandbox.app_url(18091))?;
        assert!(body.contains("greeting=hello-from-env-file"), "page: {body}");
        Ok(())
    })();
    ssh.run("cd ~/xtask-smoke && docker-compose -p xtasksmoke down -t 1 2>&1")?.check("docker-compose down")?;
    result
}

/// GET a URL from the host (plain HTTP/1.0), retrying while the server starts.
fn http_get_retry(url: &str) -> anyhow::Result<String> {
    let addr = url.strip_prefix("http://").context("http URL")?.to_string();
    let mut last = String::new();
    for _ in 0..50 {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = std::net::TcpStream::connect(&addr)?;
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
            s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
            let mut body = String::new();
            s.read_to_string(&mut body)?;
            Ok(body)
        })();
        match attempt {
            Ok(body) if body.contains(" 200 ") => return Ok(body),
            Ok(body) => last = body,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    anyhow::bail!("{url} did not answer 200: {last}")
}
