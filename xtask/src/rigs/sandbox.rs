//! A throw-away VPS on this machine, reachable only over SSH: a second dockerd and an sshd
//! in their own network namespace (veth 10.213.7.1 <-> 10.213.7.2) and private mount
//! namespace, with a real ACME CA (Pebble) beside it, all state under
//! `<root>/target/sandbox/`. For the deploy tests and the demo. Needs root (namespaces);
//! installs openssh-server, docker-compose, docker.io, pebble and caddy if missing.

mod acme;
mod setup;
mod teardown;

pub use teardown::Lease;

use crate::effects::ssh::Ssh;
use crate::rigs::engine::dockerd::Dockerd;
use crate::rigs::engine::provision::{self, FileLock};
use anyhow::{Context, bail};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use acme::TEST_HOST;
pub use setup::{HOST_IP, NETNS, VETH_HOST, VPS_IP};

/// Where everything of one sandbox lives.
#[derive(Debug, Clone)]
struct Layout {
    dir: PathBuf,
    engine: Dockerd,
}

impl Layout {
    fn new(root: &Path) -> Layout {
        Layout::at(sandbox_dir(root))
    }

    fn at(dir: PathBuf) -> Layout {
        let engine = Dockerd {
            state_dir: dir.join("docker"),
            prefix: Vec::new(),
            // Own ranges inside the netns; a cgroup parent of its own so its containers are
            // told apart from the host engine's.
            extra_args: [
                "--bip",
                "10.214.0.1/24",
                "--default-address-pool",
                "base=10.215.0.0/16,size=24",
                "--cgroup-parent=xtask-vps",
            ]
            .map(String::from)
            .to_vec(),
            bridge: None,
        };
        let mut l = Layout { dir, engine };
        l.engine.prefix = l.nsenter_args();
        l
    }
    fn mount_handle(&self) -> PathBuf {
        self.dir.join("nsfiles/mnt")
    }
    fn sshd_config(&self) -> PathBuf {
        self.dir.join("ssh/sshd_config")
    }
    fn sshd_pidfile(&self) -> PathBuf {
        self.dir.join("ssh/sshd.pid")
    }
    fn ssh_config(&self) -> PathBuf {
        self.dir.join("ssh_config")
    }
    fn state_file(&self) -> PathBuf {
        self.dir.join("state")
    }
    /// `nsenter --net=... --mount=... --`: run a command "on the VPS".
    fn nsenter_args(&self) -> Vec<OsString> {
        let mut mount = OsString::from("--mount=");
        mount.push(self.mount_handle());
        vec!["nsenter".into(), format!("--net=/run/netns/{NETNS}").into(), mount, "--".into()]
    }
}

/// Environment variable naming the sandbox's state dir; `cargo xtask test` exports it so
/// the tests use the sandbox it started, whichever checkout they were built in.
pub const SANDBOX_DIR_VAR: &str = "XTASK_SANDBOX_DIR";

/// `XTASK_SANDBOX_DIR`, else `<root>/target/sandbox`.
pub fn sandbox_dir(root: &Path) -> PathBuf {
    match std::env::var_os(SANDBOX_DIR_VAR) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => root.join("target/sandbox"),
    }
}

/// What a start created, one `kind=value` line each, appended as it goes.
struct State {
    path: PathBuf,
}

impl State {
    fn record(&mut self, kind: &str, value: &str) -> anyhow::Result<()> {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        writeln!(f, "{kind}={value}").context("record sandbox state")
    }
    fn read(path: &Path) -> Vec<(String, String)> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect()
    }
}

/// A running sandbox VPS.
#[derive(Debug, Clone)]
pub struct Sandbox {
    layout: Layout,
}

impl Sandbox {
    /// The sandbox of this workspace, started if it is not up. Idempotent and safe for
    /// concurrent test processes (a file lock lets one of them start it).
    pub fn ensure() -> anyhow::Result<Sandbox> {
        Sandbox::ensure_in(&crate::rigs::engine::workspace_root())
    }

    pub fn ensure_in(root: &Path) -> anyhow::Result<Sandbox> {
        let sandbox = Sandbox { layout: Layout::new(root) };
        if sandbox.is_up() {
            return Ok(sandbox);
        }
        if !provision::is_root() {
            bail!("the sandbox VPS needs root (network namespaces, a second dockerd): run as root");
        }
        std::fs::create_dir_all(&sandbox.layout.dir)?;
        let _lock = FileLock::exclusive(&sandbox.layout.dir.join("lock"))?;
        if sandbox.is_up() {
            return Ok(sandbox);
        }
        // Whatever a crashed or half-finished start left behind goes first.
        sandbox.teardown_recorded();
        sandbox.start().context("start the sandbox VPS")?;
        Ok(sandbox)
    }

    fn start(&self) -> anyhow::Result<()> {
        let l = &self.layout;
        let mut need = Vec::new();
        if provision::find_program("dockerd").is_none() {
            need.push("docker.io");
        }
        if !Path::new("/usr/sbin/sshd").exists() {
            need.push("openssh-server");
        }
        if !Path::new("/usr/bin/docker-compose").exists() {
            need.push("docker-compose");
        }
        for program in ["pebble", "openssl", "curl"] {
            if provision::find_program(program).is_none() {
                need.push(program);
            }
        }
        provision::apt_install(&need, "the sandbox VPS")?;
        eprintln!("infra: starting the sandbox VPS ({VPS_IP}, state in {})", l.dir.display());
        let mut state = State { path: l.state_file() };
        setup::network(&mut state).context("create the sandbox network")?;
        setup::mount_namespace(l, &mut state).context("create the sandbox mount namespace")?;
        let pid = l.engine.start().context("start the sandbox dockerd")?;
        state.record("dockerd", &pid.to_string())?;
        setup::ssh_files(l)?;
        setup::start_sshd(l, &mut state)?;
        acme::start(l, &mut state).context("start the sandbox's ACME CA (Pebble)")?;
        self.ensure_service_images()?;
        self.wait_for_login()?;
        eprintln!("infra: sandbox VPS up: ssh -F {} vps", l.ssh_config().display());
        Ok(())
    }

    fn wait_for_login(&self) -> anyhow::Result<()> {
        let start = std::time::Instant::now();
        loop {
            let out = self.ssh_run(&["true"])?;
            if out.success() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(15) {
                bail!("cannot log in to the sandbox: {}", provision::tail(&out.stderr, 4));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Up = sshd and dockerd are the recorded processes. Not a TCP
    /// probe: while a test has cut the network on purpose the sandbox is still up, and a
    /// restart by another test process would pull it from under that test.
    fn is_up(&self) -> bool {
        let l = &self.layout;
        let sshd_ok = provision::read_pid(&l.sshd_pidfile())
            .is_some_and(|pid| provision::pid_is_ours(pid, &l.sshd_config().display().to_string()));
        // A running but slow engine still counts: tearing it down would pull the sandbox
        // from under whoever is using it.
        sshd_ok && l.state_file().exists() && (l.engine.running() || l.engine.answers())
    }

    /// The sandbox's state directory (holds `ssh_config`, `state`, the VPS's files).
    pub fn dir(&self) -> &Path {
        &self.layout.dir
    }

    /// The sandbox of `root` as laid out on disk, whether or not it runs (for paths).
    pub fn at(root: &Path) -> Sandbox {
        Sandbox { layout: Layout::new(root) }
    }

    /// Stop the sandbox of `root` if one was started there (no-op otherwise).
    pub fn stop_in(root: &Path) -> anyhow::Result<()> {
        Sandbox { layout: Layout::new(root) }.stop()
    }

    /// Tear down exactly what the recorded start created, in reverse dependency order.
    pub fn stop(&self) -> anyhow::Result<()> {
        if !self.layout.state_file().exists() {
            return Ok(()); // nothing recorded: nothing of ours to stop
        }
        let _lock = FileLock::exclusive(&self.layout.dir.join("lock"))?;
        self.teardown_recorded();
        Ok(())
    }

    fn teardown_recorded(&self) {
        teardown::teardown(&self.layout);
    }

    /// Host (IP) sshd listens on.
    pub fn host(&self) -> &'static str {
        VPS_IP
    }
    pub fn port(&self) -> u16 {
        22
    }
    pub fn user(&self) -> &'static str {
        "root"
    }
    pub fn private_key(&self) -> PathBuf {
        self.layout.dir.join("ssh/client_key")
    }
    /// An ssh_config with a `vps` host: `ssh -F <this> vps`.
    pub fn ssh_config(&self) -> PathBuf {
        self.layout.ssh_config()
    }
    /// The [`Ssh`] remote for this sandbox (host alias `vps` in [`Sandbox::ssh_config`]).
    pub fn ssh(&self) -> Ssh {
        Ssh { config: Some(self.ssh_config()), ..Ssh::new("vps") }
    }
    /// Run `ssh -F <config> vps ARGS...` to completion.
    pub fn ssh_run(&self, args: &[&str]) -> anyhow::Result<crate::effects::process::Output> {
        crate::effects::process::cmd("ssh").arg("-F").arg(self.ssh_config()).arg("vps").args(args).output()
    }
    /// The sandbox engine's socket on this host: for test assertions and the base image
    /// only; the product must reach the VPS through SSH.
    pub fn docker_host(&self) -> String {
        format!("unix://{}", self.layout.engine.socket().display())
    }
    /// Where a port published by a container on the VPS is reachable from the host.
    pub fn app_url(&self, port: u16) -> String {
        format!("http://{VPS_IP}:{port}")
    }
    /// Load the local busybox base image into the VPS engine (see `engine::base_image`).
    pub fn ensure_base_image(&self, reference: &str) -> anyhow::Result<String> {
        crate::rigs::engine::ensure_base_image_at(&self.layout.engine.socket(), reference)
    }

    /// The images a server pulls from a registry, as local stand-ins on the VPS engine: the
    /// default proxy and gate references of a target (a real server pulls the official ones).
    pub fn ensure_service_images(&self) -> anyhow::Result<()> {
        use crate::plan::deploy::targets::{GATE_IMAGE, PROXY_IMAGE};
        use crate::rigs::engine::base_image::Kind;
        let socket = self.layout.engine.socket();
        crate::rigs::engine::ensure_image_at(&socket, GATE_IMAGE, Kind::Busybox)?;
        crate::rigs::engine::ensure_image_at(&socket, PROXY_IMAGE, Kind::Caddy)?;
        Ok(())
    }

    /// How many SSH logins the sandbox's sshd has accepted so far (from its log): the
    /// deploy bench counts the connections a deploy opens.
    pub fn ssh_logins(&self) -> usize {
        std::fs::read_to_string(self.layout.dir.join("ssh/sshd.log"))
            .map(|t| t.lines().filter(|l| l.contains("Accepted publickey")).count())
            .unwrap_or(0)
    }

    /// The sandbox's ACME directory URL (Pebble).
    pub fn acme_directory(&self) -> String {
        acme::directory()
    }
    /// The CA bundle a client of [`Sandbox::acme_directory`] must trust.
    pub fn acme_ca_bundle(&self) -> PathBuf {
        acme::ca_bundle(&self.layout)
    }
    /// Write Pebble's current root certificate (what issued certificates chain to) to `dest`.
    pub fn fetch_acme_root(&self, dest: &Path) -> anyhow::Result<()> {
        let pem = acme::fetch_root(&self.layout)?;
        std::fs::write(dest, pem).with_context(|| format!("write {}", dest.display()))
    }

    /// Take the host side of the veth down: open SSH sessions stall and fail (ssh's
    /// ServerAlive gives up after ~15 s), new ones time out. Hold [`Sandbox::lease_exclusive`]
    /// while the network is cut, so no other test is using the sandbox.
    pub fn cut_network(&self) -> anyhow::Result<()> {
        setup::sh("ip", &["link", "set", VETH_HOST, "down"]).context("cut the sandbox network")
    }
    /// Undo [`Sandbox::cut_network`].
    pub fn restore_network(&self) -> anyhow::Result<()> {
        setup::sh("ip", &["link", "set", VETH_HOST, "up"]).context("restore the sandbox network")?;
        acme::restore_routes().context("restore the routes to the sandbox's containers")
    }

    /// A shared lease: hold it for the whole of a test that uses the sandbox normally.
    pub fn lease(&self) -> anyhow::Result<Lease> {
        Lease::take(&self.layout.dir.join("use.lock"), false)
    }
    /// An exclusive lease: waits until no other test holds one; for disruptive tests
    /// (network cut, stopping containers). Never take it while holding a shared one.
    pub fn lease_exclusive(&self) -> anyhow::Result<Lease> {
        Lease::take(&self.layout.dir.join("use.lock"), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_keeps_everything_under_target_sandbox() {
        let l = Layout::at(PathBuf::from("/w/target/sandbox"));
        assert_eq!(l.engine.socket(), Path::new("/w/target/sandbox/docker/docker.sock"));
        assert_eq!(l.ssh_config(), Path::new("/w/target/sandbox/ssh_config"));
        assert_eq!(l.nsenter_args()[0], "nsenter");
        assert_eq!(l.engine.prefix.last().map(|s| s.to_string_lossy().into_owned()), Some("--".into()));
    }

    #[test]
    fn state_lines_round_trip() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut s = State { path: dir.path().join("state") };
        s.record("netns", "x")?;
        s.record("sshd", "42")?;
        assert_eq!(State::read(&s.path), vec![("netns".into(), "x".into()), ("sshd".into(), "42".into())]);
        Ok(())
    }
}
