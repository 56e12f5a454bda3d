//! `cargo xtask deploy` against the sandbox VPS: real sshd, real engines, real docker-compose.
//! Never skipped: when the engine or the sandbox cannot start, these fail with the reason.

mod deploy_support;

use deploy_support::{Fixture, Running, image, slow_image, text};

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("json output ({e}):\n{}", text(out)))
}

fn slot_of(j: &serde_json::Value) -> String {
    j["outcome"]["slot"].as_str().unwrap_or_default().to_string()
}

fn assert_no_failed(what: &str, r: &deploy_support::LoadResult) {
    assert!(r.total > 20, "{what}: the load loop barely ran ({} requests)", r.total);
    assert_eq!(r.failed, 0, "{what}: {} of {} requests failed: {:#?}", r.failed, r.total, r.failures);
}

#[test]
fn a_redeploy_and_a_rollback_under_load_fail_no_request() -> anyhow::Result<()> {
    let f = Fixture::new("flow", 18101)?;
    let _lease = f.sandbox.lease()?;
    // Variants of its own: another test cannot have put them on the server first.
    let v1 = image(&f.engine, "flow1", true, 0)?;
    let v2 = image(&f.engine, "flow2", true, 0)?;
    f.remove_on_server(&v1)?;
    f.remove_on_server(&v2)?;

    let out = f.xtask(&["deploy", "vps", "--image", &v1, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["outcome"]["result"], "deployed");
    assert!(f.page().contains("variant flow1"), "page: {}", f.page());

    // What landed on the server: private env file and secrets, no secret in the compose file.
    let release = j["outcome"]["release"].as_str().unwrap().to_string();
    let rdir = format!("{}/releases/{release}", f.app_dir);
    assert_eq!(f.ssh(&format!("stat -c %a {rdir}/.env.production"))?, "600", "the shipped env file");
    assert_eq!(f.ssh(&format!("stat -c %a {rdir}/secrets/postgres_password.txt"))?, "600");
    assert_eq!(f.ssh(&format!("stat -c %a {rdir}/secrets"))?, "700");
    f.assert_clean(&f.ssh(&format!("cat {rdir}/docker-compose.yml {rdir}/.env {}/edge/caddy.json", f.app_dir))?);
    assert!(
        f.ssh(&format!("cat {rdir}/.env.production"))?.contains(&f.jwt_secret()),
        "the env file carries the secret"
    );
    assert_eq!(f.ssh(&format!("readlink {}/current", f.app_dir))?, format!("releases/{release}"));
    // The app runs as the non-root user, sees the file secret, and publishes no host port.
    let slot = slot_of(&j);
    let cid = f.ssh(&format!(
        "docker ps -q --filter label=com.docker.compose.project=tflow-{slot} --filter label=com.docker.compose.service=web"
    ))?;
    assert_eq!(f.ssh(&format!("docker exec {cid} id -u"))?, "10001");
    let mounted = f.ssh(&format!("docker exec {cid} cat /run/secrets/postgres_password"))?;
    assert!(f.secrets.contains(&mounted), "the file secret is mounted with its value");
    let ports = f.ssh("docker ps --filter label=com.docker.compose.project=tflow-blue --format '{{.Ports}}'")?;
    assert!(!ports.contains("->"), "a slot publishes no port: {ports}");

    // A changed image under a steady stream of requests: none fails.
    let load = f.load();
    let out = f.xtask(&["deploy", "vps", "--image", &v2, "--format", "json"])?;
    let r = load.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_failed("redeploy", &r);
    let j = json(&out);
    assert_eq!(j["outcome"]["image_sent"], true);
    assert_ne!(slot_of(&j), slot, "the new release runs in the other slot");
    assert!(f.page().contains("variant flow2"));

    // The same image again: the server has it, nothing is sent.
    let out = f.xtask(&["deploy", "vps", "--image", &v2, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    assert_eq!(j["outcome"]["image_sent"], false);
    assert_eq!(j["outcome"]["image_bytes"], 0);
    // keep_releases = 2: the first release was pruned.
    assert_eq!(f.ssh(&format!("ls {}/releases | wc -l", f.app_dir))?, "2");

    // A rollback under load: none fails either.
    let load = f.load();
    let out = f.xtask(&["deploy", "rollback"])?;
    let r = load.finish();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_no_failed("rollback", &r);
    assert!(f.page().contains("variant flow2"));

    let out = f.xtask(&["deploy", "status", "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let st = json(&out);
    assert_eq!(st["healthy"], true, "{st}");
    assert_eq!(st["proxy"], "running");
    assert_eq!(st["lock"], serde_json::Value::Null);
    assert!(st["certificates"][0]["days_left"].as_i64().is_some_and(|d| d >= 0), "{st}");
    let audit = f.ssh(&format!("cat {}/deploy.log", f.app_dir))?;
    assert_eq!(audit.lines().filter(|l| l.contains("result=deployed")).count(), 3, "{audit}");
    assert!(audit.contains("rollback") && audit.contains("result=rolledback"), "{audit}");
    Ok(())
}

#[test]
fn a_release_failing_its_gate_never_gets_traffic_and_exits_1_with_masked_logs() -> anyhow::Result<()> {
    let f = Fixture::new("bad", 18102)?;
    let _lease = f.sandbox.lease()?;
    let good = image(&f.engine, "v1", true, 0)?;
    let bad = image(&f.engine, "broken", false, 0)?;
    let out = f.xtask(&["deploy", "vps", "--image", &good])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let before = f.ssh(&format!("readlink {}/current", f.app_dir))?;

    // The broken image prints JWT_SECRET in its log: the deploy shows that log line masked.
    let load = f.load();
    let out = f.xtask(&["deploy", "vps", "--image", &bad])?;
    let r = load.finish();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_no_failed("a failed deploy", &r);
    // The crash fails the gate at once (the gate saw it exit or restart), not by waiting out
    // the health timeout.
    assert!(t.contains("the app exited") || t.contains("the app is restarting"), "{t}");
    assert!(!t.contains("not healthy after"), "{t}");
    assert!(t.contains("never received traffic"), "{t}");
    assert!(t.contains("fatal: cannot start"), "the failing release's log is shown: {t}");
    assert!(t.contains("starting with JWT_SECRET=[masked"), "{t}");
    assert!(f.page().contains("variant v1"), "the live release kept serving");
    assert_eq!(f.ssh(&format!("readlink {}/current", f.app_dir))?, before);
    assert!(f.ssh(&format!("tail -n1 {}/deploy.log", f.app_dir))?.contains("result=rejected"));
    assert_eq!(f.ssh(&format!("test -d {}/.deploy.lock && echo held || echo free", f.app_dir))?, "free");
    assert_eq!(f.ssh(&format!("ls {}/releases | wc -l", f.app_dir))?, "1", "the failed release is gone");
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
    let waiting = Running::start(f.command(&["deploy", "vps", "--image", &v1, "--wait", "180"]))?;
    let (code, t) = first.finish()?;
    f.assert_clean(&t);
    assert_eq!(code, 0, "{t}");
    let t2 = text(&second);
    assert_eq!(second.status.code(), Some(2), "{t2}");
    assert!(t2.contains("another deploy holds the lock") && t2.contains("--wait"), "{t2}");
    let (code, t3) = waiting.finish()?;
    f.assert_clean(&t3);
    // It waited, found the server changed since its checks, planned again and deployed.
    assert_eq!(code, 0, "--wait deploy: {t3}");
    assert!(t3.contains("waiting up to 180s") && t3.contains("planning again"), "{t3}");
    assert!(f.page().contains("variant v1"));
    Ok(())
}

/// Regression: two deploys of the same image started together both named their release
/// `<second>-<image id>`; the waiting one's clean-up removed the live release dir.
#[test]
fn two_deploys_of_the_same_image_at_once_never_remove_the_live_release() -> anyhow::Result<()> {
    let f = Fixture::new("race", 18106)?;
    let _lease = f.sandbox.lease()?;
    let v1 = image(&f.engine, "v1", true, 0)?;
    let out = f.xtask(&["deploy", "vps", "--image", &v1])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let a = Running::start(f.command(&["deploy", "vps", "--image", &v1, "--wait", "120"]))?;
    let b = Running::start(f.command(&["deploy", "vps", "--image", &v1, "--wait", "120"]))?;
    let ((ca, ta), (cb, tb)) = (a.finish()?, b.finish()?);
    f.assert_clean(&ta);
    f.assert_clean(&tb);
    assert!(ca == 0 || cb == 0, "one of them deploys:\n{ta}\n---\n{tb}");
    let current = f.ssh(&format!("readlink -e {}/current || echo gone", f.app_dir))?;
    assert!(!current.ends_with("gone"), "current points at a removed release:\n{ta}\n---\n{tb}");
    assert!(f.page().contains("variant v1"));
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

/// Regression: a cut link during the health gate was read as an unhealthy release ("nothing
/// healthy is serving", exit 1) while the release was in fact fine.
#[test]
fn a_cut_link_during_the_health_gate_is_ridden_out() -> anyhow::Result<()> {
    let f = Fixture::new("gatecut", 18107)?;
    let v1 = image(&f.engine, "v1", true, 0)?;
    let slow = slow_image(&f.engine, "slow", 8)?;
    let _lease = f.sandbox.lease_exclusive()?;
    let out = f.xtask(&["deploy", "vps", "--image", &v1])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let run = Running::start(f.command(&["deploy", "vps", "--image", &slow]))?;
    assert!(run.wait_for("gating slot", 120), "the gate never started");
    f.sandbox.cut_network()?;
    std::thread::sleep(std::time::Duration::from_secs(20));
    f.sandbox.restore_network()?;
    let (code, t) = run.finish()?;
    f.assert_clean(&t);
    assert_eq!(code, 0, "{t}");
    assert!(t.contains("connection lost, retrying"), "{t}");
    assert!(f.page().contains("variant slow"), "{t}");
    Ok(())
}

/// Regression: a killed deploy left its half-made release (secret files, no image), which
/// counted as kept and became `deploy rollback`'s default target.
#[test]
fn a_killed_deploy_leaves_nothing_the_next_one_trusts() -> anyhow::Result<()> {
    let f = Fixture::new("kill", 18108)?;
    let _lease = f.sandbox.lease()?;
    let v1 = image(&f.engine, "v1", true, 0)?;
    let v2 = image(&f.engine, "v2", true, 0)?;
    let big = image(&f.engine, "big-kill", true, 150)?;
    f.remove_on_server(&big)?;
    for v in [&v1, &v2] {
        let out = f.xtask(&["deploy", "vps", "--image", v])?;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let mut run = Running::start(f.command(&["deploy", "vps", "--image", &big]))?;
    assert!(run.wait_for("shipping image", 120), "transfer never started");
    run.child.kill()?;
    let _ = run.finish();
    assert_eq!(f.ssh(&format!("ls {}/releases | wc -l", f.app_dir))?, "3", "the killed deploy's release is there");
    // The rollback target is the complete release before current, not the half-made one.
    let out = f.xtask(&["deploy", "rollback", "--dry-run", "--format", "json"])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let plan = json(&out);
    let to = plan["plan"]["release"].as_str().unwrap_or_default().to_string();
    assert!(f.ssh(&format!("test -f {}/releases/{to}/.complete && echo ok", f.app_dir))? == "ok", "{t}");
    // The next deploy breaks the dead deploy's lock and removes its leftovers.
    let out = f.xtask(&["deploy", "vps", "--image", &v1])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("no longer running here: breaking it"), "{t}");
    assert!(t.contains("removed half-made release"), "{t}");
    let left = f.ssh(&format!("cd {}/releases && for r in *; do [ -f $r/.complete ] || echo $r; done", f.app_dir))?;
    assert!(left.is_empty(), "half-made releases left: {left}");
    Ok(())
}

/// Regression: rollback refused for 15 minutes after a crashed deploy of this machine, and
/// called any failure of its lock step "another deploy holds the lock".
#[test]
fn rollback_breaks_the_lock_of_a_crashed_deploy_of_this_machine() -> anyhow::Result<()> {
    let f = Fixture::new("rblock", 18109)?;
    let _lease = f.sandbox.lease()?;
    for v in ["v1", "v2"] {
        let out = f.xtask(&["deploy", "vps", "--image", &image(&f.engine, v, true, 0)?])?;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
    let host =
        std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "unknown".into());
    f.ssh(&format!(
        "mkdir -p {a}/.deploy.lock && printf '%s\\n%s\\n%s\\n' '{user}@{host} pid 999999' \"$(date +%s)\" dead > {a}/.deploy.lock/holder",
        a = f.app_dir
    ))?;
    let out = f.xtask(&["deploy", "rollback"])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("breaking it"), "{t}");
    assert!(f.page().contains("variant v1"), "{t}");
    Ok(())
}

#[test]
fn the_dry_run_plan_is_what_runs() -> anyhow::Result<()> {
    let f = Fixture::new("plan", 18110)?;
    let _lease = f.sandbox.lease()?;
    let v1 = image(&f.engine, "v1", true, 0)?;
    let v2 = image(&f.engine, "v2", true, 0)?;
    let out = f.xtask(&["deploy", "vps", "--image", &v1])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let dry = f.xtask(&["deploy", "vps", "--image", &v2, "--dry-run"])?;
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    let dry_text = String::from_utf8_lossy(&dry.stdout).into_owned();
    let release_of = |t: &str| {
        t.lines().find_map(|l| l.strip_prefix("release ")).and_then(|l| l.split(' ').next()).unwrap_or("").to_string()
    };
    let planned: Vec<String> = dry_text
        .lines()
        .filter_map(|l| {
            l.trim_start().split_once(". ").filter(|(n, _)| n.parse::<u32>().is_ok()).map(|(_, s)| s.to_string())
        })
        .map(|l| l.replace(&release_of(&dry_text), "RELEASE"))
        .collect();
    let out = f.xtask(&["deploy", "vps", "--image", &v2, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out);
    let release = j["outcome"]["release"].as_str().unwrap_or_default();
    let ran: Vec<String> = j["outcome"]["steps_run"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).map(|s| s.replace(release, "RELEASE")).collect())
        .unwrap_or_default();
    assert!(planned.len() > 10, "{dry_text}");
    assert_eq!(planned, ran, "the printed plan and the steps that ran differ");
    Ok(())
}

#[test]
fn status_exits_1_when_the_app_is_down_and_2_when_the_server_is_unreachable() -> anyhow::Result<()> {
    let f = Fixture::new("status", 18111)?;
    let _lease = f.sandbox.lease()?;
    let out = f.xtask(&["deploy", "vps", "--image", &image(&f.engine, "v1", true, 0)?, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let slot = slot_of(&json(&out));
    f.ssh(&format!("docker stop $(docker ps -q --filter label=com.docker.compose.project=tstatus-{slot} --filter label=com.docker.compose.service=web)"))?;
    let out = f.xtask(&["deploy", "status"])?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("NOT healthy"), "{}", text(&out));
    // A target nobody answers for: an error, not a header and exit 0.
    let targets = f.root().join("deploy/targets.toml");
    let toml = std::fs::read_to_string(&targets)?;
    std::fs::write(
        &targets,
        format!("{toml}\n[target.gone]\nhost = \"127.0.0.1\"\nport = 9\napp_dir = \"/srv/x\"\napp_port = 8080\n"),
    )?;
    let out = f.xtask(&["deploy", "status", "gone"])?;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("reach gone"), "{}", text(&out));
    Ok(())
}

#[test]
fn a_stopped_proxy_is_started_again_before_the_switch() -> anyhow::Result<()> {
    let f = Fixture::new("proxy", 18112)?;
    let _lease = f.sandbox.lease()?;
    let out = f.xtask(&["deploy", "vps", "--image", &image(&f.engine, "v1", true, 0)?])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    f.ssh("docker stop $(docker ps -q --filter label=com.docker.compose.project=tproxy-edge)")?;
    assert!(f.page().is_empty(), "the proxy is down");
    let out = f.xtask(&["deploy", "vps", "--image", &image(&f.engine, "v2", true, 0)?])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("proxy running"), "{t}");
    assert!(f.page().contains("variant v2"));
    Ok(())
}

#[test]
fn a_host_name_that_is_not_a_dns_name_is_refused_before_anything_runs() -> anyhow::Result<()> {
    let f = Fixture::new("badhost", 18113)?;
    let targets = f.root().join("deploy/targets.toml");
    let toml = std::fs::read_to_string(&targets)?;
    std::fs::write(&targets, format!("{toml}hosts = [\"bad_host.example\"]\nacme_email = \"ops@example.com\"\n"))?;
    let out = f.xtask(&["deploy", "vps", "--image", &image(&f.engine, "v1", true, 0)?])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("not a DNS name"), "{t}");
    assert_eq!(f.ssh(&format!("test -e {} && echo touched || echo untouched", f.app_dir))?, "untouched");
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
    assert!(text(&out).contains("and docker pull it on the server"), "{}", text(&out));
    let out = f.xtask(&["deploy", "vps", "--image", &v1])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("pushing the image as") && t.contains("image pulled"), "{t}");
    assert!(!t.contains("docker save | ssh docker load)"), "{t}");
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

#[test]
fn a_host_name_gets_its_certificate_from_the_acme_ca_http_redirects_and_hsts_is_set() -> anyhow::Result<()> {
    use std::process::Command;
    use xtask::rigs::sandbox::{TEST_HOST, VPS_IP};
    // The ports a public CA validates on (Pebble is configured alike): 80 and 443.
    let extra = format!("hosts = [\"{TEST_HOST}\"]\nacme_email = \"ops@sandbox.test\"\nacme_ca = \"sandbox\"\n");
    let f = Fixture::with_target("acme", 443, 80, &extra)?;
    let _lease = f.sandbox.lease()?;
    let result = (|| -> anyhow::Result<()> {
        let out = f.xtask(&["deploy", "vps", "--image", &image(&f.engine, "v1", true, 0)?])?;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let root = f.root().join("pebble-root.pem");
        f.sandbox.fetch_acme_root(&root)?;
        let resolve = |port: u16| format!("{TEST_HOST}:{port}:{VPS_IP}");
        // The chain verifies against the CA's root for the host name (curl checks both).
        let got = Command::new("curl")
            .args(["-sS", "-m", "10", "-D", "-", "--resolve", &resolve(443), "--cacert"])
            .arg(&root)
            .arg(format!("https://{TEST_HOST}/health"))
            .output()?;
        let t = text(&got);
        assert!(got.status.success(), "{t}");
        assert!(t.starts_with("HTTP/2 200") || t.starts_with("HTTP/1.1 200"), "{t}");
        assert!(t.to_ascii_lowercase().contains("strict-transport-security: max-age=31536000"), "HSTS: {t}");
        // Not some other CA's: the proxy's internal CA does not verify it.
        let issuer = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl s_client -connect {VPS_IP}:443 -servername {TEST_HOST} -CAfile {} -verify_hostname {TEST_HOST} -verify_return_error </dev/null 2>&1",
                root.display()
            ))
            .output()?;
        let t = text(&issuer);
        assert!(t.contains("Verify return code: 0 (ok)"), "{t}");
        assert!(t.to_ascii_lowercase().contains("pebble"), "issued by Pebble: {t}");
        // Plain HTTP answers with a permanent redirect to HTTPS.
        let http = Command::new("curl")
            .args([
                "-sS",
                "-m",
                "10",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{redirect_url}",
                "--resolve",
                &resolve(80),
            ])
            .arg(format!("http://{TEST_HOST}/health"))
            .output()?;
        let t = String::from_utf8_lossy(&http.stdout).into_owned();
        assert!(
            t == format!("308 https://{TEST_HOST}/health") || t == format!("301 https://{TEST_HOST}/health"),
            "{t}"
        );
        // Status shows the certificate's expiry.
        let out = f.xtask(&["deploy", "status"])?;
        let expires = format!("certificate {TEST_HOST}: expires 20");
        assert!(text(&out).contains(&expires), "{}", text(&out));
        Ok(())
    })();
    // Ports 80 and 443 are the demo's too.
    f.remove_all_on_server()?;
    result
}

#[test]
fn a_changed_image_sends_only_the_layer_the_server_lacks() -> anyhow::Result<()> {
    let f = Fixture::new("layers", 18114)?;
    let _lease = f.sandbox.lease()?;
    // Variants of its own, removed on the server first: nothing of them is there.
    let base = image(&f.engine, "layers-base", true, 4)?;
    let top = deploy_support::derived_image(&f.engine, &base, "layers-top")?;
    f.remove_on_server(&top)?;
    f.remove_on_server(&base)?;
    let local = xtask::effects::docker::BollardEngine::new(f.engine.client()?)?;
    use xtask::effects::docker::ImageEngine;
    let (b, t) = (local.inspect(&base)?.unwrap(), local.inspect(&top)?.unwrap());
    assert_eq!(t.layers.len(), b.layers.len() + 1, "one layer on top");

    let out = f.xtask(&["deploy", "vps", "--image", &base, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out)["outcome"].clone();
    assert!(j["image_bytes"].as_u64().unwrap() > 4_000_000, "the random 4 MB layer went: {j}");

    let out = f.xtask(&["deploy", "vps", "--image", &top, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out)["outcome"].clone();
    assert_eq!(j["layers_sent"], 1, "{j}");
    assert_eq!(j["layers_skipped"], b.layers.len(), "{j}");
    assert!(j["image_bytes"].as_u64().unwrap() < 256 * 1024, "only the small top layer: {j}");
    // The server assembled exactly the local image.
    assert_eq!(f.ssh(&format!("docker image inspect --format '{{{{.Id}}}}' {}", t.id))?, t.id);
    assert!(f.page().contains("variant layers-top"), "page: {}", f.page());
    Ok(())
}

#[test]
fn a_server_of_the_old_layout_is_taken_over_by_the_proxy_and_slots() -> anyhow::Result<()> {
    use std::process::Command;
    use xtask::effects::docker::{BollardEngine, ImageEngine};
    use xtask::effects::ssh::Remote;
    let f = Fixture::new("takeover", 18115)?;
    let _lease = f.sandbox.lease()?;
    let v1 = image(&f.engine, "v1", true, 0)?;
    // The old layout by hand: one compose project named like the target, its port on the host
    // (the port the proxy's plain HTTP gets: 18115 + 100),
    // `current` pointing at a release that knows no slot.
    let mut export = BollardEngine::new(f.engine.client()?)?.export(&v1)?;
    f.sandbox.ssh().stream_stdin("docker load", &mut export)?.check("load v1 on the server")?;
    let old = format!("{}/releases/20260101T000000Z-old", f.app_dir);
    f.ssh(&format!(
        "set -e; mkdir -p {old}; cd {old}; printf 'services:\n  web:\n    image: {v1}\n    ports:\n      - \"18215:8080\"\n' > docker-compose.yml; \
         : > .env; touch .complete; docker-compose -p ttakeover up -d >/dev/null 2>&1; ln -sfn releases/20260101T000000Z-old {}/current",
        f.app_dir
    ))?;
    let old_url = format!("http://{}:18215/", xtask::rigs::sandbox::VPS_IP);
    let answers = |url: &str| {
        Command::new("curl").args(["-fsS", "-m", "3", url]).output().map(|o| o.status.success()).unwrap_or(false)
    };
    assert!(answers(&old_url), "the old layout serves before the takeover");

    let out = f.xtask(&["deploy", "vps", "--image", &image(&f.engine, "v2", true, 0)?, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let steps = json(&out)["outcome"]["steps_run"].to_string();
    assert!(steps.contains("stop the old-layout app (compose project ttakeover)"), "{steps}");
    assert!(f.page().contains("variant v2"), "the proxy serves the new release: {}", f.page());
    // The old app held the port the proxy's plain HTTP now owns (as an old app on :80 would):
    // it answers with the redirect to HTTPS.
    let redirect =
        Command::new("curl").args(["-sS", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", &old_url]).output()?;
    assert_eq!(String::from_utf8_lossy(&redirect.stdout), "308", "the proxy owns the old port now");
    let running = f.ssh("docker ps -q --filter label=com.docker.compose.project=ttakeover | wc -l")?;
    assert_eq!(running, "0");
    assert_ne!(f.ssh(&format!("readlink {}/current", f.app_dir))?, "releases/20260101T000000Z-old");
    Ok(())
}

#[test]
fn an_unreachable_acme_directory_stops_the_deploy_before_any_traffic_moves() -> anyhow::Result<()> {
    use xtask::rigs::sandbox::{HOST_IP, TEST_HOST};
    // Nothing listens on port 9 of the sandbox's host side.
    let extra = format!(
        "hosts = [\"{TEST_HOST}\"]\nacme_email = \"ops@sandbox.test\"\nacme_directory = \"https://{HOST_IP}:9/dir\"\n"
    );
    let f = Fixture::with_target("noacme", 18116, 18216, &extra)?;
    let _lease = f.sandbox.lease()?;
    let out = f.xtask(&["deploy", "vps", "--image", &image(&f.engine, "v1", true, 0)?])?;
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("nothing switched") && t.contains("ACME directory"),
        "says what failed and that nothing moved: {t}"
    );
    // No release went live, none is left half-made, and the lock is free.
    assert_eq!(f.ssh(&format!("readlink {0}/current || echo none; ls {0}/releases | wc -l", f.app_dir))?, "none\n0");
    assert_eq!(f.ssh(&format!("test -d {}/.deploy.lock && echo held || echo free", f.app_dir))?, "free");
    Ok(())
}

#[test]
fn a_server_that_lost_the_shared_layers_gets_them_again() -> anyhow::Result<()> {
    use xtask::effects::docker::{BollardEngine, ImageEngine};
    let f = Fixture::new("lost", 18117)?;
    let _lease = f.sandbox.lease()?;
    let base = image(&f.engine, "lost-base", true, 2)?;
    let one = deploy_support::derived_image(&f.engine, &base, "lost-one")?;
    let two = deploy_support::derived_image(&f.engine, &base, "lost-two")?;
    for tag in [&one, &two, &base] {
        f.remove_on_server(tag)?;
    }
    let out = f.xtask(&["deploy", "vps", "--image", &one])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The server loses the image and with it the padded base layer nothing else holds.
    f.ssh("for p in tlost-blue tlost-green; do docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=$p) >/dev/null 2>&1; done; true")?;
    for tag in [&one, &base] {
        f.remove_on_server(tag)?;
    }
    let out = f.xtask(&["deploy", "vps", "--image", &two, "--format", "json"])?;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let j = json(&out)["outcome"].clone();
    // busybox is still there (other images hold it); every layer above it goes again.
    let local = BollardEngine::new(f.engine.client()?)?.inspect(&two)?.unwrap();
    assert_eq!(j["layers_skipped"], 1, "{j}");
    assert_eq!(j["layers_sent"], local.layers.len() - 1, "{j}");
    assert!(j["image_bytes"].as_u64().unwrap() > 2_000_000, "the 2 MB random layer went again: {j}");
    let id = local.id;
    assert_eq!(f.ssh(&format!("docker image inspect --format '{{{{.Id}}}}' {id}"))?, id);
    assert!(f.page().contains("variant lost-two"), "page: {}", f.page());
    Ok(())
}
