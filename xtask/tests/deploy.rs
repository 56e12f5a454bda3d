//! `cargo xtask deploy` against the sandbox VPS: real sshd, real engines, real docker-compose.
//! Never skipped: when the engine or the sandbox cannot start, these fail with the reason.

mod deploy_support;

use deploy_support::{Fixture, Running, image, text};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("json output ({e}):\n{}", text(out)))
}

#[test]
fn first_deploy_redeploy_same_image_and_manual_rollback() -> anyhow::Result<()> {
    let f = Fixture::new("flow", 18101)?;
    let _lease = f.sandbox.lease()?;
    let v1 = image(&f.engine, "v1", true, 0)?;
    let v2 = image(&f.engine, "v2", true, 0)?;

    let out = f.xtask(&["deploy", "vps", "--image", &v1, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["outcome"]["result"], "deployed");
    assert!(f.page().contains("variant v1"), "page: {}", f.page());

    // What landed on the server: private env file and secrets, no secret in the compose file.
    let release = j["outcome"]["release"].as_str().unwrap().to_string();
    let rdir = format!("{}/releases/{release}", f.app_dir);
    assert_eq!(f.ssh(&format!("stat -c %a {rdir}/.env.production"))?, "600");
    assert_eq!(f.ssh(&format!("stat -c %a {rdir}/secrets/postgres_password.txt"))?, "600");
    assert_eq!(f.ssh(&format!("stat -c %a {rdir}/secrets"))?, "700");
    let compose = f.ssh(&format!("cat {rdir}/docker-compose.yml {rdir}/.env"))?;
    f.assert_clean(&compose);
    assert!(
        f.ssh(&format!("cat {rdir}/.env.production"))?.contains(&f.jwt_secret()),
        "the env file carries the secret"
    );
    assert_eq!(f.ssh(&format!("readlink {}/current", f.app_dir))?, format!("releases/{release}"));
    // The app container sees the file secret and runs as the non-root user.
    let cid = f.ssh("docker ps -q --filter label=com.docker.compose.project=tflow")?;
    assert_eq!(f.ssh(&format!("docker exec {cid} id -u"))?, "10001");
    let mounted = f.ssh(&format!("docker exec {cid} cat /run/secrets/postgres_password"))?;
    assert!(f.secrets.contains(&mounted), "the file secret is mounted with its value");

    // A changed image: a new release that serves the new page.
    let out = f.xtask(&["deploy", "vps", "--image", &v2, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["outcome"]["image_sent"], true);
    assert!(f.page().contains("variant v2"));

    // The same image again: the server has it, nothing is sent.
    let out = f.xtask(&["deploy", "vps", "--image", &v2, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["outcome"]["image_sent"], false);
    assert_eq!(j["outcome"]["image_bytes"], 0);
    // keep_releases = 2: the first release was pruned.
    assert_eq!(f.ssh(&format!("ls {}/releases | wc -l", f.app_dir))?, "2");

    // Manual rollback goes to the release before current (the first v2 one).
    let out = f.xtask(&["deploy", "rollback"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(f.page().contains("variant v2"));

    let out = f.xtask(&["deploy", "status"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status = text(&out);
    assert!(status.contains("current: ") && status.contains("lock: free"), "{status}");
    let audit = f.ssh(&format!("cat {}/deploy.log", f.app_dir))?;
    assert_eq!(audit.lines().filter(|l| l.contains("result=deployed")).count(), 3, "{audit}");
    assert!(audit.contains("rollback"));
    Ok(())
}

#[test]
fn failing_health_check_rolls_back_and_exits_1_with_masked_logs() -> anyhow::Result<()> {
    let f = Fixture::new("bad", 18102)?;
    let _lease = f.sandbox.lease()?;
    let good = image(&f.engine, "v1", true, 0)?;
    let bad = image(&f.engine, "broken", false, 0)?;
    let out = f.xtask(&["deploy", "vps", "--image", &good])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = f.ssh(&format!("readlink {}/current", f.app_dir))?;

    // The broken image prints JWT_SECRET in its log: the deploy shows that log line masked.
    let out = f.xtask(&["deploy", "vps", "--image", &bad])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("rolled back to"), "{t}");
    assert!(t.contains("fatal: cannot start"), "the failing container's log is shown: {t}");
    assert!(t.contains("starting with JWT_SECRET=[masked"), "{t}");
    assert!(f.page().contains("variant v1"), "previous release serving again");
    assert_eq!(f.ssh(&format!("readlink {}/current", f.app_dir))?, before);
    assert!(f.ssh(&format!("tail -n1 {}/deploy.log", f.app_dir))?.contains("result=rolledback"));
    assert_eq!(f.ssh(&format!("test -d {}/.deploy.lock && echo held || echo free", f.app_dir))?, "free");
    Ok(())
}

#[test]
fn two_deploys_at_once_one_is_refused_and_wait_gets_through() -> anyhow::Result<()> {
    let f = Fixture::new("lock", 18103)?;
    let _lease = f.sandbox.lease()?;
    let v1 = image(&f.engine, "v1", true, 0)?;
    // The first deploy ships a big image, so it holds the lock for a few seconds.
    let big = image(&f.engine, "big-lock", true, 150)?;
    f.remove_on_server(&big)?;
    let first = Running::start(f.command(&["deploy", "vps", "--image", &big]))?;
    assert!(first.wait_for("shipping image", 120), "first deploy never started its transfer");
    let second = f.xtask(&["deploy", "vps", "--image", &v1])?;
    let waiting = Running::start(f.command(&["deploy", "vps", "--image", &v1, "--wait", "120"]))?;
    let (code, t) = first.finish()?;
    f.assert_clean(&t);
    assert_eq!(code, 0, "{t}");
    let t2 = text(&second);
    assert_eq!(second.status.code(), Some(2), "{t2}");
    assert!(t2.contains("another deploy holds the lock") && t2.contains("--wait"), "{t2}");
    let (code, t3) = waiting.finish()?;
    f.assert_clean(&t3);
    assert_eq!(code, 0, "--wait deploy: {t3}");
    Ok(())
}

#[test]
fn ssh_cut_during_image_transfer_keeps_the_old_release_and_frees_the_lock() -> anyhow::Result<()> {
    let f = Fixture::new("cut", 18104)?;
    let old = image(&f.engine, "v1", true, 0)?;
    // Big enough that the transfer is still running when the link goes down.
    let big = image(&f.engine, "big", true, 300)?;
    let _lease = f.sandbox.lease_exclusive()?;
    f.remove_on_server(&big)?;
    let out = f.xtask(&["deploy", "vps", "--image", &old])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let run = Running::start(f.command(&["deploy", "vps", "--image", &big]))?;
    assert!(run.wait_for("shipping image", 120), "transfer never started");
    std::thread::sleep(std::time::Duration::from_millis(300));
    f.sandbox.cut_network()?;
    // Long enough for ssh's keep-alive to give up on the transfer (about 15 s).
    std::thread::sleep(std::time::Duration::from_secs(22));
    f.sandbox.restore_network()?;
    let (code, t) = run.finish()?;
    f.assert_clean(&t);
    assert_ne!(code, 0, "the cut deploy must fail: {t}");
    assert!(f.page().contains("variant v1"), "old release still serving: {t}");
    assert_eq!(f.ssh(&format!("test -d {}/.deploy.lock && echo held || echo free", f.app_dir))?, "free", "{t}");
    assert_eq!(f.ssh(&format!("ls {}/releases | wc -l", f.app_dir))?, "1", "the half-made release is gone");
    Ok(())
}

/// A plain-HTTP registry (Debian's docker-registry) on the sandbox veth's host side, which both
/// engines trust (`engine::dockerd::TEST_REGISTRY`). Killed when dropped.
struct Registry {
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> anyhow::Result<Registry> {
        use anyhow::Context;
        let bin = std::path::Path::new("/usr/bin/docker-registry");
        anyhow::ensure!(
            bin.exists(),
            "no /usr/bin/docker-registry: `cargo xtask test` installs it (apt-get install -y docker-registry)"
        );
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {}\n",
                dir.path().join("data").display(),
                xtask::rigs::engine::dockerd::TEST_REGISTRY
            ),
        )?;
        let child = std::process::Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("registry.log"))?)
            .spawn()
            .context("start docker-registry")?;
        let mut r = Registry { child, _dir: dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(xtask::rigs::engine::dockerd::TEST_REGISTRY).is_ok() {
                return Ok(r);
            }
            if let Some(status) = r.child.try_wait()? {
                let log = std::fs::read_to_string(r._dir.path().join("registry.log")).unwrap_or_default();
                anyhow::bail!("docker-registry exited ({status}): {log}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        anyhow::bail!("docker-registry never listened on {}", xtask::rigs::engine::dockerd::TEST_REGISTRY)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_registry_target_pushes_and_the_server_pulls_instead_of_docker_load() -> anyhow::Result<()> {
    let f = Fixture::new("reg", 18105)?;
    let _lease = f.sandbox.lease()?;
    let _registry = Registry::start()?;
    let targets = f.root().join("deploy/targets.toml");
    let mut toml = std::fs::read_to_string(&targets)?;
    toml.push_str(&format!("registry = \"{}/treg\"\n", xtask::rigs::engine::dockerd::TEST_REGISTRY));
    std::fs::write(&targets, toml)?;
    // Its own variant: removing it on the server cannot touch an image another test runs.
    let v1 = image(&f.engine, "registry", true, 0)?;
    f.remove_on_server(&v1)?;

    let out = f.xtask(&["deploy", "vps", "--image", &v1, "--dry-run"])?;
    assert!(text(&out).contains("then docker pull it on the server"), "{}", text(&out));
    let out = f.xtask(&["deploy", "vps", "--image", &v1])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("docker pull") && !t.contains("docker save | ssh docker load)"), "{t}");
    assert!(f.page().contains("variant registry"), "page: {}", f.page());
    // Again: the server has the image ID, so nothing is pushed or pulled.
    let out = f.xtask(&["deploy", "vps", "--image", &v1, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(json(&out)["outcome"]["image_sent"], false, "{}", text(&out));
    // The server holds the image under the registry reference and the release's own tag.
    let tags = f.ssh("docker images --format '{{.Repository}}:{{.Tag}}'")?;
    assert!(tags.contains(&format!("{}/treg:", xtask::rigs::engine::dockerd::TEST_REGISTRY)), "{tags}");
    Ok(())
}
