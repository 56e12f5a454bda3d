//! The sandbox's namespaces and sshd, step by step. Every step appends what it created to
//! the state file first-thing-after, so a half-finished start can be torn down exactly.
//!
//! Pitfalls this encodes (each cost time to find on these machines):
//! - enter the netns with `nsenter --net=`, not `ip netns exec` (that remounts /sys and the
//!   cgroup mounts runc needs vanish);
//! - never start the second dockerd in the host netns with `--bridge=none` (it deletes the
//!   first daemon's `docker0`): it gets its own netns, where it may own a bridge;
//! - a persistent mount-ns handle must sit on a mount with private propagation;
//! - sshd needs /run/sshd, `StrictModes no` for keys outside a home, and an explicit PATH
//!   (its default puts the 28.x CLI in /usr/local/bin first);
//! - `ip netns del` is asynchronous and a netns lives while a process is in it: kill first.

use super::{Layout, State};
use crate::effects::process;
use crate::rigs::engine::provision::{self, tail};
use anyhow::{Context, bail};
use std::path::Path;
use std::time::{Duration, Instant};

pub const NETNS: &str = "xtask-vps";
pub const VETH_HOST: &str = "xtvps-host";
pub const HOST_IP: &str = "10.213.7.1";
pub const VPS_IP: &str = "10.213.7.2";

/// Run a command, failing with its stderr.
pub fn sh(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = process::cmd(program).args(args).output()?;
    if !out.success() {
        bail!("{program} {} failed: {}", args.join(" "), tail(&out.stderr, 4));
    }
    Ok(())
}

/// A namespace left behind by a sandbox whose processes are all gone (a killed session, a
/// machine handed on) holds nothing of value: remove it and its host-side veth so the next
/// sandbox can start. One with a live process in it belongs to a running sandbox: keep it.
fn reclaim_stale_netns() -> anyhow::Result<()> {
    let out = process::cmd("ip").args(["netns", "pids", NETNS]).output().context("run ip netns pids")?;
    if !out.success() || !out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    eprintln!("sandbox: removing the stale network namespace {NETNS} (no process left in it)");
    // The host end may already be gone with its peer; only the netns removal must succeed.
    let _ = sh("ip", &["link", "del", VETH_HOST]);
    sh("ip", &["netns", "del", NETNS])
}

/// The network namespace and the veth pair: host 10.213.7.1 <-> VPS 10.213.7.2.
pub fn network(state: &mut State) -> anyhow::Result<()> {
    if Path::new("/run/netns").join(NETNS).exists() {
        reclaim_stale_netns()?;
    }
    if Path::new("/run/netns").join(NETNS).exists() {
        bail!(
            "network namespace {NETNS} already exists but this checkout did not record it: another checkout's sandbox? stop it there (`cargo xtask test --teardown`) or `ip netns del {NETNS}`"
        );
    }
    sh("ip", &["netns", "add", NETNS])?;
    state.record("netns", NETNS)?;
    sh("ip", &["link", "add", VETH_HOST, "type", "veth", "peer", "name", "xtvps-eth0"])?;
    state.record("link", VETH_HOST)?;
    sh("ip", &["link", "set", "xtvps-eth0", "netns", NETNS])?;
    sh("ip", &["addr", "add", &format!("{HOST_IP}/24"), "dev", VETH_HOST])?;
    sh("ip", &["link", "set", VETH_HOST, "up"])?;
    sh("ip", &["-n", NETNS, "link", "set", "lo", "up"])?;
    sh("ip", &["-n", NETNS, "link", "set", "xtvps-eth0", "name", "eth0"])?;
    sh("ip", &["-n", NETNS, "addr", "add", &format!("{VPS_IP}/24"), "dev", "eth0"])?;
    sh("ip", &["-n", NETNS, "link", "set", "eth0", "up"])?;
    sh("ip", &["-n", NETNS, "route", "add", "default", "via", HOST_IP])
}

/// A private mount namespace in which the VPS's /root, /srv and /opt are directories under
/// target/sandbox/fs/, so whatever a deploy writes "on the server" stays out of the host's.
pub fn mount_namespace(l: &Layout, state: &mut State) -> anyhow::Result<()> {
    let nsdir = l.dir.join("nsfiles");
    std::fs::create_dir_all(&nsdir)?;
    let d = nsdir.to_str().context("non-UTF-8 sandbox path")?;
    sh("mount", &["--bind", d, d])?;
    state.record("mount", d)?;
    sh("mount", &["--make-private", d])?;
    let handle = l.mount_handle();
    std::fs::write(&handle, b"")?;
    let h = handle.to_str().context("non-UTF-8 sandbox path")?;
    sh("unshare", &[&format!("--mount={h}"), "--propagation", "private", "true"])?;
    state.record("mount", h)?;
    let mut script = String::from("set -e\n");
    for dir in ["root", "srv", "opt"] {
        let src = l.dir.join("fs").join(dir);
        std::fs::create_dir_all(&src)?;
        script.push_str(&format!("mount --bind '{}' /{dir}\n", src.display()));
    }
    sh("nsenter", &[&format!("--mount={h}"), "sh", "-ec", &script])
}

/// Host key, client key (kept across restarts), authorized_keys and sshd_config.
pub fn ssh_files(l: &Layout) -> anyhow::Result<()> {
    let ssh = l.dir.join("ssh");
    std::fs::create_dir_all(&ssh)?;
    set_mode(&ssh, 0o700)?;
    for (key, comment) in [("host_ed25519_key", "xtask-vps-host"), ("client_key", "xtask-vps-client")] {
        let path = ssh.join(key);
        if !path.exists() {
            let p = path.to_str().context("non-UTF-8 sandbox path")?;
            sh("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", p])?;
        }
    }
    let client_pub = std::fs::read_to_string(ssh.join("client_key.pub"))?;
    // environment= is honoured because of PermitUserEnvironment below: sessions talk to the
    // VPS engine and find Debian's 20.10 CLI and compose v1 before /usr/local/bin.
    let authorized = format!(
        "environment=\"DOCKER_HOST=unix://{}\",environment=\"PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/bin\" {}",
        l.engine.socket().display(),
        client_pub.trim()
    );
    write_private(&ssh.join("authorized_keys"), &authorized)?;
    let config = format!(
        "Port 22\nListenAddress {VPS_IP}\nHostKey {host_key}\nPidFile {pid}\nAuthorizedKeysFile {ak}\n\
         PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPermitUserEnvironment DOCKER_HOST,PATH\n\
         AllowTcpForwarding yes\nX11Forwarding no\nPrintMotd no\nLogLevel VERBOSE\nMaxStartups 50:30:100\n\
         MaxSessions 50\nSubsystem sftp /usr/lib/openssh/sftp-server\n",
        host_key = ssh.join("host_ed25519_key").display(),
        pid = l.sshd_pidfile().display(),
        ak = ssh.join("authorized_keys").display(),
    );
    write_private(&l.sshd_config(), &config)?;
    let host_pub = std::fs::read_to_string(ssh.join("host_ed25519_key.pub"))?;
    let key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
    write_private(&ssh.join("known_hosts"), &format!("{VPS_IP} {}\n", key.join(" ")))?;
    let client = format!(
        "# The sandbox VPS: ssh -F {cfg} vps\nHost vps {VPS_IP}\n  HostName {VPS_IP}\n  Port 22\n  User root\n  \
         IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  StrictHostKeyChecking yes\n  \
         BatchMode yes\n  LogLevel ERROR\n",
        cfg = l.ssh_config().display(),
        key = ssh.join("client_key").display(),
        kh = ssh.join("known_hosts").display(),
    );
    write_private(&l.ssh_config(), &client)
}

/// Start sshd inside the VPS namespaces and wait until it accepts TCP connections.
pub fn start_sshd(l: &Layout, state: &mut State) -> anyhow::Result<u32> {
    let sshd = provision::find_program("sshd").context("sshd not found (install openssh-server)")?;
    // Privilege separation dir: nothing creates it without the packaged service running.
    std::fs::create_dir_all("/run/sshd")?;
    let config = l.sshd_config();
    let out = process::cmd(&sshd).arg("-t").arg("-f").arg(&config).output()?;
    if !out.success() {
        bail!("sshd -t rejected {}: {}", config.display(), tail(&out.stderr, 4));
    }
    let _ = std::fs::remove_file(l.sshd_pidfile());
    // sshd forks itself into the background once it listens; this returns when it has.
    let started = process::cmd("nsenter")
        .args(l.nsenter_args())
        .arg(&sshd)
        .arg("-f")
        .arg(&config)
        .arg("-E")
        .arg(l.dir.join("ssh/sshd.log"))
        .output()
        .context("start sshd")?;
    if !started.success() {
        bail!("sshd failed to start: {}", provision::tail_file(&l.dir.join("ssh/sshd.log"), 10));
    }
    let start = Instant::now();
    let pid = loop {
        if let Some(pid) = provision::read_pid(&l.sshd_pidfile()) {
            break pid;
        }
        if start.elapsed() > Duration::from_secs(10) {
            bail!("sshd wrote no pidfile: {}", provision::tail_file(&l.dir.join("ssh/sshd.log"), 10));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    state.record("sshd", &pid.to_string())?;
    let addr = format!("{VPS_IP}:22").parse()?;
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        if start.elapsed() > Duration::from_secs(15) {
            bail!("sshd (pid {pid}) does not accept connections on {addr}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(pid)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    set_mode(path, 0o600)
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("chmod {}", path.display()))
}
