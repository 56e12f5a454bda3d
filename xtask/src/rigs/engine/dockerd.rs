//! Starting, probing and stopping one private `dockerd`: its data-root, exec-root, pidfile,
//! socket and log all live in one state directory, so it never touches the system's engine.

use super::provision::{self, pid_is_ours, read_pid, tail_file};
use crate::effects::process;
use anyhow::{Context, bail};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The plain-HTTP registry the deploy-through-a-registry test runs on the sandbox veth's host
/// side. Docker refuses plain HTTP except on 127.0.0.0/8, and this address must be reachable
/// from both the local engine and the sandbox VPS's, so both engines trust it: one fixed,
/// test-only address that no real deploy uses.
pub const TEST_REGISTRY: &str = "10.213.7.1:5000";

/// Where one private daemon keeps everything, and how to launch it.
#[derive(Debug, Clone)]
pub struct Dockerd {
    /// Directory holding data/, exec/, dockerd.pid, docker.sock and dockerd.log.
    pub state_dir: PathBuf,
    /// Command prefix (e.g. `nsenter --net=... --mount=... --`) to start it elsewhere.
    pub prefix: Vec<OsString>,
    /// Extra dockerd flags (bridge ranges, cgroup parent).
    pub extra_args: Vec<String>,
    /// A bridge (name, address/prefix) to create in the host netns before start and to
    /// hand dockerd with `--bridge`, so this daemon never shares `docker0` with another.
    pub bridge: Option<(String, String)>,
}

impl Dockerd {
    pub fn socket(&self) -> PathBuf {
        self.state_dir.join("docker.sock")
    }
    pub fn pidfile(&self) -> PathBuf {
        self.state_dir.join("dockerd.pid")
    }
    pub fn log(&self) -> PathBuf {
        self.state_dir.join("dockerd.log")
    }
    fn data_root(&self) -> PathBuf {
        self.state_dir.join("data")
    }

    /// The string every process of this daemon has on its command line: its data-root.
    fn needle(&self) -> String {
        self.data_root().display().to_string()
    }

    /// Whether the daemon answers `GET /_ping` on its socket.
    pub fn answers(&self) -> bool {
        ping(&self.socket())
    }

    /// Whether the process recorded in the pidfile is still this daemon (it may be alive
    /// but slow to answer on a loaded machine).
    pub fn running(&self) -> bool {
        read_pid(&self.pidfile()).is_some_and(|pid| pid_is_ours(pid, &self.needle()))
    }

    /// Whether its bridge (if it has one of its own) still exists: without it every
    /// container start fails although the daemon answers.
    pub fn bridge_present(&self) -> bool {
        self.bridge.as_ref().is_none_or(|(name, _)| Path::new("/sys/class/net").join(name).exists())
    }

    /// Start the daemon (caller holds the state dir's lock) and wait until it answers.
    /// Returns its PID (from the pidfile dockerd writes itself).
    pub fn start(&self) -> anyhow::Result<u32> {
        let dockerd = provision::find_program("dockerd").context("dockerd not found (install Debian's docker.io)")?;
        let socket = self.socket();
        // A UNIX socket path is limited to 107 bytes; fail clearly instead of with EINVAL.
        if socket.as_os_str().len() > 100 {
            bail!(
                "engine socket path {} is too long for a UNIX socket: move the checkout to a shorter path",
                socket.display()
            );
        }
        if let Some(pid) = read_pid(&self.pidfile()).filter(|p| pid_is_ours(*p, &self.needle())) {
            // Started by someone else and still coming up (or hung): give it time.
            return self.wait_until_up(pid);
        }
        // Someone listens on the socket but answered slowly (a loaded machine): that is a
        // live engine. Starting a second dockerd on the same path would unlink its socket
        // and leave it running but unreachable, so wait for it instead.
        if UnixStream::connect(&socket).is_ok() {
            return self.wait_until_answering(None);
        }
        // Leftovers of a daemon that died: dockerd refuses a pidfile, and a stale socket
        // would make a later probe hang on a dead path.
        let _ = std::fs::remove_file(self.pidfile());
        let _ = std::fs::remove_file(&socket);
        for dir in [self.data_root(), self.state_dir.join("exec")] {
            std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        }
        if let Some((name, cidr)) = &self.bridge {
            ensure_bridge(name, cidr)?;
        }
        // setsid: the daemon outlives the test process that started it and is in no
        // process group a test runner might signal.
        let mut argv: Vec<OsString> = self.prefix.clone();
        argv.push("setsid".into());
        argv.push(dockerd.into_os_string());
        for a in [
            "--data-root".into(),
            self.data_root().into_os_string(),
            "--exec-root".into(),
            self.state_dir.join("exec").into_os_string(),
            "--pidfile".into(),
            self.pidfile().into_os_string(),
            "-H".into(),
            format!("unix://{}", socket.display()).into(),
            "--iptables=false".into(),
            "--ip-masq=false".into(),
            "--insecure-registry".into(),
            TEST_REGISTRY.into(),
        ] {
            argv.push(a);
        }
        argv.extend(self.extra_args.iter().map(OsString::from));
        argv.extend(self.bridge.iter().map(|(name, _)| OsString::from(format!("--bridge={name}"))));
        let launcher = process::spawn_daemon(&argv, &self.log())?;
        let start = Instant::now();
        // The pidfile appears once dockerd has initialised; until then watch the launcher.
        loop {
            if let Some(pid) = read_pid(&self.pidfile()) {
                return self.wait_until_up(pid);
            }
            if !pid_is_ours(launcher, &self.needle()) && start.elapsed() > Duration::from_secs(2) {
                bail!(
                    "dockerd exited while starting; its log ({}):\n{}",
                    self.log().display(),
                    tail_file(&self.log(), 20)
                );
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("dockerd wrote no pidfile within 60 s; its log:\n{}", tail_file(&self.log(), 20));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_until_up(&self, pid: u32) -> anyhow::Result<u32> {
        self.wait_until_answering(Some(pid))?;
        Ok(pid)
    }

    /// Wait up to 90 s for a ping answer; with a PID, fail early when that process exits.
    /// Returns the PID from the pidfile (0 when there is none).
    fn wait_until_answering(&self, pid: Option<u32>) -> anyhow::Result<u32> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(90) {
            if self.answers() {
                return Ok(read_pid(&self.pidfile()).unwrap_or(0));
            }
            if let Some(pid) = pid.filter(|p| !pid_is_ours(*p, &self.needle())) {
                bail!(
                    "dockerd (pid {pid}) exited; its log ({}):\n{}",
                    self.log().display(),
                    tail_file(&self.log(), 20)
                );
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        bail!(
            "dockerd ({pid:?}) did not answer on {} within 90 s; its log:\n{}",
            self.socket().display(),
            tail_file(&self.log(), 20)
        )
    }

    /// Stop the daemon if the recorded PID is still this daemon. Returns whether it ran.
    pub fn stop(&self) -> bool {
        let stopped = read_pid(&self.pidfile())
            .is_some_and(|pid| provision::stop_pid(pid, &self.needle(), Duration::from_secs(40)));
        // Never unlink a socket something still listens on: that orphans a live daemon.
        if stopped || UnixStream::connect(self.socket()).is_err() {
            let _ = std::fs::remove_file(self.socket());
        }
        if let (true, Some((name, _))) = (stopped, &self.bridge) {
            // Only our own, uniquely named bridge; dockerd leaves it behind on exit.
            let _ = process::cmd("ip").args(["link", "del", name]).output();
        }
        if stopped {
            // dockerd leaves its namespace handles (exec-root/netns/*) mounted on exit, and a
            // mounted handle makes the checkout impossible to delete.
            let netns = self.state_dir.join("exec/netns");
            for handle in std::fs::read_dir(&netns).into_iter().flatten().flatten() {
                let _ = process::cmd("umount").arg("-l").arg(handle.path()).output();
            }
        }
        stopped
    }
}

/// Create bridge `name` with address `cidr` unless it exists. Why not `docker0`: two
/// daemons in one netns would both manage it and hand out the same container addresses.
fn ensure_bridge(name: &str, cidr: &str) -> anyhow::Result<()> {
    if process::cmd("ip").args(["link", "show", name]).succeeds() {
        return Ok(());
    }
    for args in [
        vec!["link", "add", "name", name, "type", "bridge"],
        vec!["addr", "add", cidr, "dev", name],
        vec!["link", "set", name, "up"],
    ] {
        process::cmd("ip").args(&args).checked().context("set up the engine's bridge (install iproute2)")?;
    }
    Ok(())
}

/// `GET /_ping` over a UNIX socket with short timeouts: a plain blocking probe that works
/// from any context (inside or outside a tokio runtime) and never hangs a test.
pub fn ping(socket: &Path) -> bool {
    let probe = || -> std::io::Result<bool> {
        let mut s = UnixStream::connect(socket)?;
        // Generous: on a loaded 2-core machine a healthy engine can take seconds to answer,
        // and "no answer" leads callers to start or restart things.
        s.set_read_timeout(Some(Duration::from_secs(20)))?;
        s.set_write_timeout(Some(Duration::from_secs(20)))?;
        s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
        let mut buf = Vec::new();
        s.take(4096).read_to_end(&mut buf)?;
        let text = String::from_utf8_lossy(&buf);
        Ok(text.starts_with("HTTP/1.") && text.split_whitespace().nth(1) == Some("200"))
    };
    probe().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_of_a_missing_socket_is_false() {
        assert!(!ping(Path::new("/nonexistent/xtask-test.sock")));
    }

    #[test]
    fn paths_live_in_the_state_dir() {
        let d = Dockerd { state_dir: "/x/engine".into(), prefix: vec![], extra_args: vec![], bridge: None };
        assert_eq!(d.socket(), Path::new("/x/engine/docker.sock"));
        assert_eq!(d.pidfile(), Path::new("/x/engine/dockerd.pid"));
        assert_eq!(d.needle(), "/x/engine/data");
    }
}
